// Types only at start-up: @bulwark/core loads with the command that needs it (see COMMANDS).
import type * as BulwarkErrors from '@bulwark/core/audit-log';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { closestMatch } from './closest-match';
import { EXIT_CODES_HELP } from './command-line';

export const MAIN_HELP = `Usage: bulwark <command> [options]

Commands:
  keys      Manage data keys: master, generate, rotate, retire, rotate-master, rewrap, list, check
  audit     Tamper-evident audit log: append, verify, prove, checkpoint, tail, export, keygen
  report    Compliance report from live evidence or a signed snapshot (--format json|md|html|oscal)
  evidence  Signed evidence snapshots: collect, keygen
  dsr       Data-subject requests: list, show, export, erase, receipt-verify
  security-report  Security report over a period from the audit log (--from --to --format md|json|html)
  typeorm   TypeORM data migrations: encrypt (plaintext or typeorm-encrypted rows -> envelopes)

Run "bulwark <command> --help" for a command's subcommands, and
"bulwark <command> <subcommand> --help" for its options (bulwark audit verify --help).
  -v, --version   Print the version

${EXIT_CODES_HELP}
`;

type Command = (argv: string[], io: CliIo) => Promise<number>;

/**
 * Each command's module is required when the command runs, not at start-up: `bulwark audit prove`
 * then loads the audit engine only, not the key ring, the compliance kit and the report renderers
 * (start-up is most of a proof's wall time; see docs/audit-verification.md). One line a command.
 */
const COMMANDS: Readonly<Record<string, () => Command>> = {
  keys: () => (require('./keys-command') as typeof import('./keys-command')).keysCommand,
  // A warm `audit prove --file` is answered from the Merkle node cache before the engine loads.
  audit: () => async (argv, io) =>
    (await (require('./audit-prove') as typeof import('./audit-prove')).fastProve(argv, io)) ??
    (require('./audit-command') as typeof import('./audit-command')).auditCommand(argv, io),
  report: () => (require('./report-command') as typeof import('./report-command')).reportCommand,
  evidence: () => (require('./evidence-command') as typeof import('./evidence-command')).evidenceCommand,
  dsr: () => (require('./dsr-command') as typeof import('./dsr-command')).dsrCommand,
  typeorm: () => (require('./typeorm-command') as typeof import('./typeorm-command')).typeormCommand,
  'security-report': () => (argv, io) =>
    (require('./audit-command') as typeof import('./audit-command')).auditCommand(['report', ...argv], io),
};

/** Codes that mean "fix your configuration or arguments" rather than "a check failed". */
const configLike = ({ ErrorCodes }: typeof BulwarkErrors): ReadonlySet<string> =>
  new Set<string>([
    ErrorCodes.CRYPTO_KEY_PROVIDER,
    ErrorCodes.CRYPTO_KEY_FILE_INSECURE,
    ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    ErrorCodes.CONFIG_INVALID,
    ErrorCodes.AUDIT_INVALID_QUERY,
    ErrorCodes.AUDIT_INVALID_ARGUMENT,
  ]);

/** Runs the CLI in-process and returns the exit code (see ExitCode); never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  // `bulwark help audit verify` is `bulwark audit verify --help`
  if (command === 'help' && rest.length > 0) return runCli([...rest, '--help'], io);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(MAIN_HELP);
    return command === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  if (command === '--version' || command === '-v') {
    io.stdout(`${(require('../package.json') as { version: string }).version}\n`);
    return ExitCode.OK;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load === undefined) {
    const guess = closestMatch(command.replace(/^-+/, ''), Object.keys(COMMANDS));
    const what = command.startsWith('-') ? 'option' : 'command';
    io.stderr(
      `bulwark: unknown ${what} "${command}"${guess ? `; did you mean "${guess}"?` : ''}\n` +
        `Run "bulwark --help" for the list of commands.\n`,
    );
    return ExitCode.USAGE;
  }
  try {
    return await load()(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`bulwark ${command}: ${err.message}\n${err.hint ? `Run "${err.hint}" for usage.\n` : ''}`);
      return ExitCode.USAGE;
    }
    // The command has loaded @bulwark/core by now; its error classes are the same objects here.
    const errors = require('@bulwark/core/audit-log') as typeof BulwarkErrors;
    if (err instanceof errors.BulwarkError) {
      // Bulwark messages never carry key material or personal data, so they are safe to print.
      io.stderr(`bulwark ${command}: ${err.message} [${err.code}]\n`);
      return err instanceof errors.BulwarkConfigError || configLike(errors).has(err.code)
        ? ExitCode.USAGE
        : ExitCode.CHECK_FAILED;
    }
    // Not a verdict: nothing was checked (a database that does not answer, an I/O error, a bug).
    io.stderr(`bulwark ${command}: could not run: ${(err as Error)?.message ?? String(err)}\n`);
    return ExitCode.ERROR;
  }
}
