import { closestMatch } from './closest-match';
import { UsageError } from './cli-io';

/** One option of a command: its kind, an optional one-letter alias, and its help line. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder of the value in help (`FILE` in `--file FILE`); string options only. */
  readonly arg?: string;
  readonly help: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The parsed options: a string option's value, `true` for a boolean given; absent when not given. */
export type OptionValues<O extends OptionTable> = {
  readonly [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string;
};

/** A subcommand (`bulwark audit verify`): its usage, help text, and the options it accepts. */
export interface SubcommandSpec<O extends OptionTable> {
  readonly name: string;
  /** What follows the name in the usage line, e.g. `<seq> [--size N]`. */
  readonly args?: string;
  /** One line, for the group's command list. */
  readonly summary: string;
  /** Paragraphs for the subcommand's own help. */
  readonly details?: string;
  readonly options: readonly (keyof O & string)[];
}

/** A command (`bulwark audit`), with or without subcommands. */
export interface CommandSpec<O extends OptionTable> {
  /** `bulwark audit` */
  readonly name: string;
  /** Usage line after the name when there are no subcommands (`--config FILE [options]`). */
  readonly args?: string;
  readonly description: string;
  readonly options: O;
  readonly subcommands?: readonly SubcommandSpec<O>[];
  /** Extra paragraphs at the end of the group help (notes, examples). */
  readonly notes?: string;
}

export interface ParsedCommandLine<O extends OptionTable> {
  /** The subcommand named (undefined when none was given, or the command has none). */
  sub?: SubcommandSpec<O>;
  values: OptionValues<O>;
  /** Positional arguments after the subcommand's name. */
  positionals: string[];
  /** `--help`, `-h`, or `help` in the subcommand's place. */
  help: boolean;
}

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  a check failed (tampering found, a key does not unwrap, a control failed)
  2  usage or configuration error (nothing was checked)
  3  unexpected error (database unreachable, I/O failure): nothing was checked`;

interface Flag {
  /** As typed: `--jsno`, `-x`. */
  display: string;
  /** The long name it resolves to, when it resolves. */
  name?: string;
  value?: string;
  /** The value was missing (a string option at the end of the line). */
  missingValue?: boolean;
  /** `--flag=value` given for a boolean. */
  inlineValue?: boolean;
}

/**
 * Parses a command line against a command's options, strictly: an unknown option, an option that
 * the subcommand does not take, an option given twice, a string option without its value or a
 * boolean with one is a UsageError naming the culprit, with a "did you mean" when a known name is
 * close, and pointing at the help of the command concerned. No raw parser text, no help dump.
 */
export function parseCommandLine<O extends OptionTable>(
  argv: readonly string[],
  command: CommandSpec<O>,
): ParsedCommandLine<O> {
  const options = command.options;
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) if (spec.short) byShort.set(spec.short, name);
  const flags: Flag[] = [];
  const positionals: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token.startsWith('--') && token.length > 2) {
      const eq = token.indexOf('=');
      const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
      const display = `--${name}`;
      if (name === 'help') {
        help = true;
        continue;
      }
      const spec = Object.hasOwn(options, name) ? options[name] : undefined;
      if (spec === undefined) {
        flags.push({ display });
      } else if (spec.type === 'boolean') {
        flags.push({ display, name, inlineValue: eq !== -1 });
      } else if (eq !== -1) {
        flags.push({ display, name, value: token.slice(eq + 1) });
      } else if (i + 1 < argv.length) {
        flags.push({ display, name, value: argv[++i] });
      } else {
        flags.push({ display, name, missingValue: true });
      }
      continue;
    }
    if (token.startsWith('-') && token.length > 1) {
      // One short option, possibly with its value attached (`-n5`); clusters of booleans are not
      // used by any bulwark command, so `-abc` is read as `-a` with value `bc` or refused.
      const letter = token[1]!;
      if (letter === 'h' && token.length === 2) {
        help = true;
        continue;
      }
      const name = byShort.get(letter);
      const display = `-${letter}`;
      if (name === undefined) {
        flags.push({ display: token });
      } else if (options[name]!.type === 'boolean') {
        flags.push(token.length === 2 ? { display, name } : { display: token });
      } else if (token.length > 2) {
        flags.push({ display, name, value: token.slice(2) });
      } else if (i + 1 < argv.length) {
        flags.push({ display, name, value: argv[++i] });
      } else {
        flags.push({ display, name, missingValue: true });
      }
      continue;
    }
    positionals.push(token);
  }

  let sub: SubcommandSpec<O> | undefined;
  if (command.subcommands !== undefined && positionals.length > 0) {
    let name = positionals.shift()!;
    if (name === 'help') {
      help = true;
      if (positionals.length === 0) return { values: {}, positionals, help };
      name = positionals.shift()!;
    }
    sub = command.subcommands.find((s) => s.name === name);
    if (sub === undefined) {
      const guess = closestMatch(
        name,
        command.subcommands.map((s) => s.name),
      );
      throw new UsageError(
        `unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ''}`,
        `${command.name} --help`,
      );
    }
  }
  const where = sub ? `${command.name} ${sub.name}` : command.name;
  const hint = `${where} --help`;
  // Help wins over option errors: `bulwark audit verify --jsno --help` shows verify's help.
  if (help) return { sub, values: {}, positionals, help };

  const allowed = new Set<string>(sub ? sub.options : Object.keys(options));
  const values: Record<string, string | boolean> = {};
  for (const flag of flags) {
    if (flag.name === undefined) {
      const guess = closestMatch(flag.display.replace(/^-+/, ''), allowed);
      throw new UsageError(
        `unknown option ${flag.display}${guess ? `; did you mean --${guess}?` : ''}`,
        hint,
      );
    }
    if (!allowed.has(flag.name)) {
      const guess = closestMatch(flag.name, allowed);
      throw new UsageError(
        `${flag.display} is not an option of "${where}"${guess ? `; did you mean --${guess}?` : ''}`,
        hint,
      );
    }
    const spec = options[flag.name]!;
    if (flag.missingValue) {
      throw new UsageError(`${flag.display} needs a value: ${flag.display} ${spec.arg ?? 'VALUE'}`, hint);
    }
    if (flag.inlineValue) throw new UsageError(`${flag.display} takes no value`, hint);
    if (Object.hasOwn(values, flag.name)) {
      // Two --public-key (or two --file) is a mistake to point out, not one to resolve silently.
      throw new UsageError(`--${flag.name} is given more than once`, hint);
    }
    values[flag.name] = spec.type === 'boolean' ? true : flag.value!;
  }
  return { sub, values: values as OptionValues<O>, positionals, help };
}

/** The help of a command, or of one of its subcommands. */
export function renderHelp<O extends OptionTable>(command: CommandSpec<O>, sub?: SubcommandSpec<O>): string {
  if (sub !== undefined) {
    const usage = `${command.name} ${sub.name}${sub.args ? ` ${sub.args}` : ''}`;
    const blocks = [`Usage: ${usage}${sub.options.length > 0 ? ' [options]' : ''}`, sub.summary];
    if (sub.details) blocks.push(sub.details);
    if (sub.options.length > 0) blocks.push(`Options:\n${renderOptions(command.options, sub.options)}`);
    blocks.push(EXIT_CODES_HELP);
    return blocks.join('\n\n') + '\n';
  }
  const blocks = [`Usage: ${command.name} ${command.args ?? '<command> [options]'}`, command.description];
  if (command.subcommands !== undefined) {
    const names = command.subcommands.map((s) => s.name + (s.args ? ` ${s.args}` : ''));
    const width = Math.min(Math.max(...names.map((n) => n.length)), 24) + 2;
    // A long usage gets its summary on the next line, aligned with the others.
    const row = (name: string, summary: string): string =>
      name.length + 2 > width
        ? `  ${name}\n  ${' '.repeat(width)}${summary}`
        : `  ${name.padEnd(width)}${summary}`;
    blocks.push('Commands:\n' + command.subcommands.map((s, i) => row(names[i]!, s.summary)).join('\n'));
    blocks.push(`Run "${command.name} <command> --help" for a command's options.`);
  } else {
    blocks.push(`Options:\n${renderOptions(command.options, Object.keys(command.options))}`);
  }
  if (command.notes) blocks.push(command.notes);
  blocks.push(EXIT_CODES_HELP);
  return blocks.join('\n\n') + '\n';
}

function renderOptions(options: OptionTable, names: readonly string[]): string {
  const rows = [
    ...names.map((name) => {
      const spec = options[name]!;
      // A one-letter option is shown by its short form only (`-n N`, not `-n, --n N`).
      const names = name.length === 1 ? `-${name}` : `${spec.short ? `-${spec.short}, ` : ''}--${name}`;
      const flag = `${names}${spec.arg ? ` ${spec.arg}` : ''}`;
      return [flag, spec.help] as const;
    }),
    ['-h, --help', 'Show this help'] as const,
  ];
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows
    .map(([flag, text]) => {
      const lines = text.split('\n');
      return [
        `  ${flag.padEnd(width)}${lines[0]}`,
        ...lines.slice(1).map((l) => `  ${' '.repeat(width)}${l}`),
      ].join('\n');
    })
    .join('\n');
}
