import * as path from 'node:path';
import type { KeyRing } from '@bulwark/core';
import {
  activeEncryption,
  encryptExistingRows,
  migrateFromTypeormEncrypted,
  registerBulwarkEncryption,
  type EncryptExistingRowsReport,
  type EncryptProgress,
  type MigrateFromTypeormEncryptedOptions,
} from '@bulwark/typeorm';
import type { DataSource } from 'typeorm';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { parseCommandLine, renderHelp, type CommandSpec } from './command-line';
import { closeConfig, loadConfigModule } from './config-module';
import { startProgress } from './progress';

const OPTIONS = {
  config: {
    type: 'string',
    arg: 'FILE',
    help: 'A module returning { dataSource, keyRing, entities?, typeormEncrypted?, close? }',
  },
  entity: { type: 'string', arg: 'NAME', help: 'Only this entity (its TypeORM name)' },
  'batch-size': { type: 'string', arg: 'N', help: 'Rows per page (default 100)' },
  'dry-run': { type: 'boolean', help: 'Read and count only: nothing is written' },
  'from-typeorm-encrypted': {
    type: 'boolean',
    help: "Convert typeorm-encrypted ciphertexts (the config's typeormEncrypted: { entity, columns,\nkey, algorithm, ivLength, authTagLength? }, or a list of them) instead of plaintext",
  },
  'plaintext-ids': {
    type: 'string',
    arg: 'IDS',
    help: 'Row ids (as the report prints them, e.g. [7], comma-separated: [7],[9]) whose values\nlook like an envelope but do not open and are plaintext: encrypt them as such',
  },
  json: { type: 'boolean', help: 'Print the report as JSON' },
} as const;

export const TYPEORM_COMMAND: CommandSpec<typeof OPTIONS> = {
  name: 'bulwark typeorm',
  description: 'TypeORM data migrations for @EncryptedField / @BlindIndex columns.',
  options: OPTIONS,
  subcommands: [
    {
      name: 'encrypt',
      summary: 'Encrypt the plaintext rows of encrypted columns in place, build blind indexes, verify',
      details:
        'For a database that already has data: every @EncryptedField value that is not a Bulwark\n' +
        'envelope is encrypted in place (keyset pages, one compare-and-set UPDATE per row, safe while\n' +
        "the app runs with registerBulwarkEncryption(..., { plaintextReads: 'accept' })), its\n" +
        '@BlindIndex columns are built, and every processed column is verified at the end. Stopped\n' +
        '(Ctrl-C) or crashed, run it again: values already encrypted are skipped.\n' +
        'With --from-typeorm-encrypted, typeorm-encrypted ciphertexts are decrypted with their key\n' +
        'and format and turned into envelopes the same way. Without it, the columns the config lists\n' +
        'under typeormEncrypted are left out (they hold ciphertexts, not plaintext).\n\n' +
        'Exit 0 when every value is encrypted and verified; 1 when some row failed or verification\n' +
        'found plaintext, an envelope that does not open, or a wrong blind index (listed by id);\n' +
        '3 when the run was stopped before the end.',
      options: [
        'config',
        'entity',
        'batch-size',
        'dry-run',
        'from-typeorm-encrypted',
        'plaintext-ids',
        'json',
      ],
    },
  ],
};

interface EncryptConfig {
  dataSource: DataSource;
  keyRing: KeyRing;
  /** Entities to process (default: every entity with an @EncryptedField). */
  entities?: Array<string | (new () => unknown)>;
  typeormEncrypted?: MigrateFromTypeormEncryptedOptions | MigrateFromTypeormEncryptedOptions[];
  /** registerBulwarkEncryption's defaultKeyId when the module did not register the DataSource. */
  defaultKeyId?: string;
  close?(): unknown;
}

function isEncryptConfig(value: unknown): value is EncryptConfig {
  const v = value as Partial<EncryptConfig> | null;
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v.dataSource as { createQueryRunner?: unknown } | undefined)?.createQueryRunner === 'function' &&
    typeof v.keyRing?.encrypt === 'function' &&
    (v.entities === undefined || Array.isArray(v.entities))
  );
}

function entityName(entity: unknown): string {
  return typeof entity === 'string' ? entity : String((entity as { name?: unknown })?.name);
}

export async function typeormCommand(argv: string[], io: CliIo): Promise<number> {
  const { sub, values, positionals, help } = parseCommandLine(argv, TYPEORM_COMMAND);
  if (sub === undefined) {
    io.stdout(renderHelp(TYPEORM_COMMAND));
    return help ? ExitCode.OK : ExitCode.USAGE;
  }
  if (help) {
    io.stdout(renderHelp(TYPEORM_COMMAND, sub));
    return ExitCode.OK;
  }
  const hint = `bulwark typeorm ${sub.name} --help`;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, hint);
  if (values.config === undefined) {
    throw new UsageError('--config is required: a module that returns { dataSource, keyRing }', hint);
  }
  let batchSize: number | undefined;
  if (values['batch-size'] !== undefined) {
    batchSize = /^[0-9]+$/.test(values['batch-size']) ? Number(values['batch-size']) : NaN;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
      throw new UsageError(
        `--batch-size must be an integer from 1 to 100000, got "${values['batch-size']}"`,
        hint,
      );
    }
  }
  let plaintextIds: string[] | undefined;
  if (values['plaintext-ids'] !== undefined) {
    plaintextIds = values['plaintext-ids'].match(/\[[^\]]*\]/g) ?? [];
    if (plaintextIds.length === 0 || values['from-typeorm-encrypted'] === true) {
      throw new UsageError(
        '--plaintext-ids takes the ids the report printed, e.g. [7],[9] (plaintext pass only)',
        hint,
      );
    }
  }
  const config = await loadConfigModule(path.resolve(io.cwd, values.config), io, hint, 'createEncryptConfig');
  try {
    if (!isEncryptConfig(config)) {
      throw new UsageError(
        `--config ${values.config} must return { dataSource, keyRing, entities?, typeormEncrypted? } (a TypeORM DataSource and a KeyRing)`,
        hint,
      );
    }
    if (!config.dataSource.isInitialized) await config.dataSource.initialize();
    await config.keyRing.refresh();
    const legacyList = config.typeormEncrypted === undefined ? [] : [config.typeormEncrypted].flat();
    const active = activeEncryption();
    const registration =
      active?.dataSource === config.dataSource && active.keyRing === config.keyRing
        ? undefined
        : await registerBulwarkEncryption(config.dataSource, {
            keyRing: config.keyRing,
            typeormEncrypted: legacyList.map((o) => ({ entity: o.entity, columns: o.columns })),
            ...(config.defaultKeyId === undefined ? {} : { defaultKeyId: config.defaultKeyId }),
          });
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    const progress = startProgress(io, 'encrypt', 'rows', values.json === true);
    // Rows read so far in the current phase (encrypt, then verify), every entity.
    const seen = new Map<string, number>();
    const onProgress = (p: EncryptProgress) => {
      seen.set(`${p.phase}\u0000${p.entity}`, p.rows);
      let done = 0;
      for (const [k, n] of seen) if (k.startsWith(`${p.phase}\u0000`)) done += n;
      progress.update(done);
    };
    const common = {
      ...(batchSize === undefined ? {} : { batchSize }),
      dryRun: values['dry-run'] === true,
      signal: controller.signal,
      onProgress,
    };
    const reports: EncryptExistingRowsReport[] = [];
    try {
      if (values['from-typeorm-encrypted'] === true) {
        const chosen = legacyList.filter(
          (o) => values.entity === undefined || entityName(o.entity) === values.entity,
        );
        if (chosen.length === 0) {
          throw new UsageError(
            values.entity === undefined
              ? `--from-typeorm-encrypted needs the config to return typeormEncrypted: { entity, columns, key, algorithm, ivLength }`
              : `the config's typeormEncrypted has no entry for ${values.entity}`,
            hint,
          );
        }
        for (const options of chosen)
          reports.push(await migrateFromTypeormEncrypted(config.dataSource, { ...options, ...common }));
      } else {
        const entities = values.entity !== undefined ? [values.entity] : config.entities;
        reports.push(
          await encryptExistingRows(config.dataSource, {
            ...common,
            // typeorm-encrypted columns hold ciphertexts: never encrypted as if they were plaintext.
            exclude: legacyList.map((o) => ({ entity: o.entity, columns: o.columns })),
            ...(plaintextIds === undefined ? {} : { plaintextIds }),
            ...(entities === undefined ? {} : { entities: entities as Array<string> }),
          }),
        );
      }
    } finally {
      progress.end();
      process.removeListener('SIGINT', onSigint);
      registration?.unregister();
    }
    const report = merge(reports);
    if (values.json === true) io.stdout(JSON.stringify(report, null, 2) + '\n');
    else io.stdout(render(report, values['from-typeorm-encrypted'] === true));
    if (!report.complete) return ExitCode.ERROR;
    return report.ok ? ExitCode.OK : ExitCode.CHECK_FAILED;
  } finally {
    if (typeof (config as { close?: unknown } | null)?.close === 'function') await closeConfig(config);
    else if (isEncryptConfig(config)) {
      await config.keyRing.close().catch(() => undefined);
      if (config.dataSource.isInitialized) await config.dataSource.destroy().catch(() => undefined);
    }
  }
}

function merge(reports: EncryptExistingRowsReport[]): EncryptExistingRowsReport {
  if (reports.length === 1) return reports[0]!;
  const verifications = reports.map((r) => r.verification).filter((v) => v !== undefined);
  return {
    ok: reports.every((r) => r.ok),
    complete: reports.every((r) => r.complete),
    dryRun: reports.some((r) => r.dryRun),
    rows: reports.reduce((n, r) => n + r.rows, 0),
    columns: reports.flatMap((r) => r.columns),
    blindIndexes: reports.flatMap((r) => r.blindIndexes),
    ...(verifications.length === 0
      ? {}
      : {
          verification: {
            ok: verifications.every((v) => v.ok),
            rows: verifications.reduce((n, v) => n + v.rows, 0),
            plaintext: verifications.flatMap((v) => v.plaintext),
            unreadable: verifications.flatMap((v) => v.unreadable),
            indexMismatches: verifications.flatMap((v) => v.indexMismatches),
          },
        }),
  };
}

/** The human report: counts per column, failures by id (never values), the verdict. */
function render(report: EncryptExistingRowsReport, legacy: boolean): string {
  const lines: string[] = [];
  const verb = report.dryRun ? 'to encrypt' : 'encrypted';
  for (const c of report.columns) {
    lines.push(
      `${c.entity}.${c.column}: ${c.scanned} value(s) read, ${c.encrypted} ${verb}, ${c.skipped} already encrypted, ` +
        `${c.conflicts} conflict(s) retried, ${c.failed.length} failed`,
    );
    for (const f of c.failed) lines.push(`  FAILED ${c.entity}.${c.column} ${f.id}: ${f.code}`);
    for (const a of c.ambiguous)
      lines.push(
        `  AMBIGUOUS ${c.entity}.${c.column} ${a.id}: starts like an envelope but does not open (${a.code}); if it is plaintext, run again with --plaintext-ids ${a.id}`,
      );
  }
  for (const i of report.blindIndexes) {
    if (!report.dryRun) lines.push(`${i.entity}.${i.index} (blind index of ${i.source}): ${i.built} built`);
  }
  const v = report.verification;
  if (v !== undefined) {
    if (v.ok) {
      lines.push(
        `verification: ${v.rows} row(s) read again: no plaintext left, every envelope opens, every blind index matches`,
      );
    } else {
      lines.push(
        `verification FAILED: ${v.plaintext.length} plaintext value(s), ${v.unreadable.length} envelope(s) that do not open, ` +
          `${v.indexMismatches.length} wrong blind index(es)`,
      );
      for (const p of v.plaintext) lines.push(`  PLAINTEXT ${p.entity}.${p.column} ${p.id}`);
      for (const u of v.unreadable) lines.push(`  UNREADABLE ${u.entity}.${u.column} ${u.id}: ${u.code}`);
      for (const m of v.indexMismatches) lines.push(`  WRONG INDEX ${m.entity}.${m.index} ${m.id}`);
    }
  }
  if (!report.complete) lines.push('stopped before the end: run the same command again to continue');
  else if (report.dryRun) lines.push('dry run: nothing was written');
  else if (report.ok && legacy)
    lines.push('done: remove these columns from typeormEncrypted (registerBulwarkEncryption and the config)');
  else if (report.ok)
    lines.push("done: switch the application back to plaintextReads: 'refuse' (the default)");
  else lines.push('NOT done: fix the rows listed above, then run the same command again');
  return lines.join('\n') + '\n';
}
