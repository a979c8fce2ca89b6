import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  EnvKeyProvider,
  FileKeyProvider,
  FileKeyStore,
  KeyRing,
  AuditLog,
  FileAuditStore,
  generateMasterKey,
  type AeadAlgorithm,
  type KeyInfo,
  type KeyProvider,
  type KeyRingOptions,
  type MasterRotationProgress,
  type MasterRotationReport,
  type RotationOptions,
  ROTATION_PRESETS,
  BulwarkError,
  ErrorCodes,
} from '@bulwark/core';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { keysRewrap } from './keys-rewrap';
import { readHmacKey } from './audit-hmac-key';
import { closeConfig, loadConfigModule } from './config-module';
import { parseCommandLine, renderHelp, type CommandSpec } from './command-line';
import { writeFileAtomic } from '@bulwark/core/store';

const ALGORITHMS: readonly AeadAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

const OPTIONS = {
  store: {
    type: 'string',
    arg: 'FILE',
    help: 'Key store file (default: $BULWARK_KEY_STORE or .bulwark/keys.json)',
  },
  'master-key-file': {
    type: 'string',
    arg: 'FILE',
    help: 'Read the master key from FILE (mode 0600) instead of $BULWARK_MASTER_KEY',
  },
  'new-master-key-file': {
    type: 'string',
    arg: 'FILE',
    help: 'rotate-master: the new master key from FILE (mode 0600) instead of $BULWARK_NEW_MASTER_KEY',
  },
  algorithm: { type: 'string', arg: 'ALG', help: 'aes-256-gcm (default) or chacha20-poly1305' },
  'min-version': { type: 'string', arg: 'N', help: 'Lowest version that may still decrypt' },
  out: { type: 'string', arg: 'FILE', help: 'Write the key to FILE (mode 0600) instead of printing it' },
  config: {
    type: 'string',
    arg: 'FILE',
    help: 'rewrap: a module returning { dataSource, keyRing, entities?, totp? }; rotate-master: one returning { keyRing } (any key store, e.g. TypeOrmKeyStore)',
  },
  resume: {
    type: 'string',
    arg: 'CURSOR',
    help: 'rewrap: continue after the cursor an interrupted run printed',
  },
  'batch-size': { type: 'string', arg: 'N', help: 'rewrap: rows per page and batch (default 100)' },
  due: {
    type: 'boolean',
    help: 'check: exit 1 if a key is due for rotation; rotate: rotate every due key (no <keyId>)',
  },
  'rotate-every': {
    type: 'string',
    arg: 'DAYS|PRESET',
    help: 'With --due: the rotation period, in days or pci / hipaa / strict (default 90)',
  },
  json: { type: 'boolean', help: 'Machine-readable output' },
  'audit-file': {
    type: 'string',
    arg: 'FILE',
    help:
      'rotate, rotate-master: record each rotation as a key.rotated entry in this JSON-lines audit\n' +
      'log (default: $BULWARK_AUDIT_FILE when set; takes its writer lock; HMAC key from\n' +
      '$BULWARK_AUDIT_HMAC_KEY)',
  },
} as const;

const STORE = ['store', 'master-key-file'] as const;

export const KEYS_COMMAND: CommandSpec<typeof OPTIONS> = {
  name: 'bulwark keys',
  description:
    'Manage the data keys of a file key store. Data keys are wrapped by a master key (KEK) that\n' +
    'comes from --master-key-file or the BULWARK_MASTER_KEY environment variable (32 bytes,\n' +
    'base64url, base64 or hex); the store never holds a key in clear.',
  options: OPTIONS,
  subcommands: [
    {
      name: 'master',
      summary: 'Print (or write, mode 0600) a new random master key',
      details: 'Keep it out of version control and apart from the key store.',
      options: ['out'],
    },
    {
      name: 'generate',
      args: '<keyId>',
      summary: 'Create a data key (version 1, primary)',
      options: [...STORE, 'algorithm', 'json'],
    },
    {
      name: 'rotate',
      args: '<keyId> | --due',
      summary: 'Add a new primary version; older versions keep decrypting',
      details:
        'Rewrap stored values in code (KeyRing.reencrypt / rewrap), then retire the old versions.\n' +
        'With --due instead of a key id: rotates every key whose primary is older than the rotation\n' +
        'period (--rotate-every, default 90 days). Safe to run from cron on several hosts at once: a\n' +
        'due key gets exactly one new version.',
      options: [...STORE, 'due', 'rotate-every', 'audit-file', 'json'],
    },
    {
      name: 'retire',
      args: '<keyId> --min-version N',
      summary: 'Stop decrypting versions below N (rewrap first!)',
      options: [...STORE, 'min-version', 'json'],
    },
    {
      name: 'rotate-master',
      summary: 'Re-wrap every data, subject and ring key under a new master key',
      details:
        'First restart every process with the new master key as its provider and the old one as\n' +
        'previousProvider (a process on the old key alone would wrap new keys under it, and could not\n' +
        'read keys already re-wrapped), then run this command.\n' +
        'The current master key comes from --master-key-file or $BULWARK_MASTER_KEY, the new one from\n' +
        '--new-master-key-file or $BULWARK_NEW_MASTER_KEY (make one with `bulwark keys master`).\n' +
        'Crash-safe: each wrapped key records which master key wraps it and is replaced on its own,\n' +
        'so an interrupted run leaves a store that both keys read, and running the same command\n' +
        'again finishes it. Data keys do not change: no stored value is re-encrypted.\n' +
        'Exit 0: every key is under the new master key; drop previousProvider everywhere, then\n' +
        'destroy the old key.\n' +
        'Exit 1: some keys could not be re-wrapped (listed); exit 3: interrupted, run it again.\n' +
        'Keys in a database (TypeOrmKeyStore) or any other store: --config names a CommonJS module\n' +
        'whose function (module.exports, default or createRotateMasterConfig; called with { env, cwd })\n' +
        'returns { keyRing, close? }, the KeyRing opened as your processes open it (provider: the new\n' +
        'master key, previousProvider: the old one); --store and the key options are then not used.',
      options: [...STORE, 'new-master-key-file', 'config', 'audit-file', 'json'],
    },
    {
      name: 'rewrap',
      args: '--config FILE',
      summary: 'Re-encrypt stored values (TypeORM entities, TOTP secrets) under the primary key versions',
      details:
        'Run after `keys rotate` and before `keys retire`. --config names a CommonJS module whose\n' +
        'function (module.exports, default or createRewrapConfig; called with { env, cwd }) returns\n' +
        '{ dataSource, keyRing, entities?, totp?, close? }: every @EncryptedField of `entities` (default:\n' +
        'all encrypted entities) and, with `totp` (a TotpFactor), every stored TOTP secret is\n' +
        're-encrypted by compare-and-set; values already current are skipped, so re-running is safe.\n' +
        'Exit 0: nothing failed; 1: some values failed (listed, left as they were); 3: broke off\n' +
        '(the printed cursor resumes it with --resume).',
      options: ['config', 'resume', 'batch-size', 'json'],
    },
    {
      name: 'list',
      summary: 'Show keys, versions, states and ages',
      details: 'Reads only: a missing key store is reported, never created.',
      options: [...STORE, 'json'],
    },
    {
      name: 'check',
      summary: 'Unwrap every key version; exit 1 if any fails (with --due: if any key is due for rotation)',
      details:
        'Reads only: a missing key store is a usage error (exit 2), never created.\n' +
        'With --due: lists the keys whose primary is older than the rotation period (--rotate-every,\n' +
        'default 90 days) and how overdue they are; exit 1 if there is any (for monitoring / CI).',
      options: [...STORE, 'due', 'rotate-every', 'json'],
    },
  ],
};

/** `bulwark keys --help` */
export const KEYS_HELP = renderHelp(KEYS_COMMAND);

export async function keysCommand(argv: string[], io: CliIo): Promise<number> {
  const { sub, values, positionals: rest, help } = parseCommandLine(argv, KEYS_COMMAND);
  if (sub === undefined) {
    io.stdout(KEYS_HELP);
    return help ? ExitCode.OK : ExitCode.USAGE;
  }
  if (help) {
    io.stdout(renderHelp(KEYS_COMMAND, sub));
    return ExitCode.OK;
  }
  const hint = `bulwark keys ${sub.name} --help`;
  const needsKeyId =
    sub.name === 'generate' || (sub.name === 'rotate' && values.due !== true) || sub.name === 'retire';
  if (sub.name === 'rotate' && values.due === true && rest.length > 0) {
    throw new UsageError('keys rotate takes a <keyId> or --due, not both', hint);
  }
  if (values['rotate-every'] !== undefined && values.due !== true) {
    throw new UsageError('--rotate-every goes with --due', hint);
  }
  const rotation = values.due === true ? rotationFrom(values['rotate-every'], hint) : undefined;
  const keyId = rest[0];
  if (needsKeyId && !keyId) throw new UsageError(`keys ${sub.name} needs a <keyId>`, hint);
  if (rest.length > (needsKeyId ? 1 : 0)) {
    throw new UsageError(`unexpected argument "${rest[rest.length - 1]}"`, hint);
  }

  if (sub.name === 'master') {
    const key = generateMasterKey();
    if (values.out) {
      await writeFileAtomic(path.resolve(io.cwd, values.out), key + '\n', 0o600);
      io.stdout(`wrote a new master key to ${values.out} (mode 0600); keep it out of version control\n`);
    } else {
      io.stdout(key + '\n');
    }
    return ExitCode.OK;
  }

  if (sub.name === 'rewrap') return keysRewrap(values, io, hint);
  if (sub.name === 'rotate-master' && values.config !== undefined) {
    for (const o of ['store', 'master-key-file', 'new-master-key-file'] as const) {
      if (values[o] !== undefined) throw new UsageError(`--${o} cannot be used with --config`, hint);
    }
    return rotateMasterFromConfig(values.config, values.json, io, hint);
  }

  if (values.algorithm !== undefined && !ALGORITHMS.includes(values.algorithm as AeadAlgorithm)) {
    throw new UsageError(
      `--algorithm must be one of ${ALGORITHMS.join(', ')}, got "${values.algorithm}"`,
      hint,
    );
  }
  let minVersion: number | undefined;
  if (sub.name === 'retire') {
    const raw = values['min-version'];
    minVersion = raw !== undefined && /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(minVersion) || minVersion < 1) {
      throw new UsageError(`keys retire needs --min-version <positive integer>, got "${raw ?? ''}"`, hint);
    }
  }

  const storePath = path.resolve(
    io.cwd,
    values.store ?? io.env.BULWARK_KEY_STORE ?? path.join('.bulwark', 'keys.json'),
  );
  // list and check only read. Opening a ring on a missing store would create it (with the ring's
  // secret), so a mistyped --store or a first `keys list` would leave a new file behind.
  const readsOnly =
    sub.name === 'list' || sub.name === 'check' || sub.name === 'rotate-master' || values.due === true;
  if (readsOnly && !(await exists(storePath))) {
    const shown = path.relative(io.cwd, storePath) || storePath;
    if (sub.name !== 'list') {
      throw new UsageError(
        `no key store at ${shown}: nothing to ${sub.name === 'check' ? 'check' : sub.name === 'rotate' ? 'rotate' : 're-wrap'} (--store FILE names another)`,
        hint,
      );
    }
    if (values.json) io.stdout('[]\n');
    else io.stdout(`no key store at ${shown} yet: create a key with \`bulwark keys generate <keyId>\`\n`);
    return ExitCode.OK;
  }
  const provider: KeyProvider = values['master-key-file']
    ? new FileKeyProvider({ path: path.resolve(io.cwd, values['master-key-file']) })
    : new EnvKeyProvider({ env: io.env });
  if (sub.name === 'rotate-master') {
    const next: KeyProvider = values['new-master-key-file']
      ? new FileKeyProvider({ path: path.resolve(io.cwd, values['new-master-key-file']) })
      : newMasterFromEnv(io.env, hint);
    const audit = await openAuditLog(values['audit-file'], io);
    try {
      return await rotateMaster(io, values.json, {
        provider: next,
        previousProvider: provider,
        store: new FileKeyStore({ path: storePath }),
        ...(audit !== undefined ? { auditLog: audit } : {}),
      });
    } finally {
      await audit?.close();
    }
  }
  const audit = sub.name === 'rotate' ? await openAuditLog(values['audit-file'], io) : undefined;
  let ring: KeyRing;
  try {
    ring = await KeyRing.open({
      provider,
      store: new FileKeyStore({ path: storePath }),
      ...(rotation === undefined ? {} : { rotation }),
      ...(audit !== undefined ? { auditLog: audit } : {}),
    });
  } catch (err) {
    await audit?.close();
    throw err;
  }
  try {
    if (values.due === true) return await dueCommand(io, ring, sub.name === 'rotate', values.json);
    switch (sub.name) {
      case 'generate': {
        const info = await ring.createKey(keyId!, {
          algorithm: values.algorithm as AeadAlgorithm | undefined,
        });
        report(io, values.json, info, `created key "${info.keyId}" version ${info.primaryVersion}`);
        return ExitCode.OK;
      }
      case 'rotate': {
        const info = await ring.rotate(keyId!);
        report(
          io,
          values.json,
          info,
          `rotated "${info.keyId}": version ${info.primaryVersion} is now primary`,
        );
        return ExitCode.OK;
      }
      case 'retire': {
        const info = await ring.retire(keyId!, minVersion!);
        report(io, values.json, info, `"${info.keyId}": versions below ${minVersion} can no longer decrypt`);
        return ExitCode.OK;
      }
      case 'list': {
        const keys = ring.list();
        if (values.json) io.stdout(JSON.stringify(keys, null, 2) + '\n');
        else io.stdout(formatKeyTable(keys, new Date()));
        return ExitCode.OK;
      }
      default: {
        // check: opening the ring already unwrapped every version; an unwrap failure throws above
        const keys = ring.list();
        const versions = keys.reduce((n, k) => n + k.versions.length, 0);
        io.stdout(`ok: ${keys.length} key(s), ${versions} version(s) unwrap with this master key\n`);
        return ExitCode.OK;
      }
    }
  } finally {
    await ring.close();
    await audit?.close();
  }
}

/**
 * The audit log `keys rotate` / `rotate-master` record key.rotated entries in: --audit-file, else
 * $BULWARK_AUDIT_FILE when set; none otherwise. Opened before any key changes, so that a log that
 * cannot be written (another writer holds its lock) stops the command before it rotates anything.
 */
async function openAuditLog(file: string | undefined, io: CliIo): Promise<AuditLog | undefined> {
  const given = file ?? (io.env.BULWARK_AUDIT_FILE === '' ? undefined : io.env.BULWARK_AUDIT_FILE);
  if (given === undefined) return undefined;
  const hmacKey = await readHmacKey({}, io);
  const store = await FileAuditStore.open({ path: path.resolve(io.cwd, given), fsync: 'every-append' });
  try {
    return await AuditLog.open({ store, hmacKey });
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** `--rotate-every DAYS|pci|hipaa|strict` as ring rotation settings (applied to every key). */
function rotationFrom(text: string | undefined, hint: string): RotationOptions {
  if (text === undefined) return {};
  if (Object.hasOwn(ROTATION_PRESETS, text)) {
    return { rotateEvery: ROTATION_PRESETS[text as keyof typeof ROTATION_PRESETS].rotateEvery };
  }
  const days = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
  if (!(days > 0 && days <= 36_500)) {
    throw new UsageError(
      `--rotate-every must be a number of days or one of ${Object.keys(ROTATION_PRESETS).join(', ')}, got "${text}"`,
      hint,
    );
  }
  return { rotateEvery: days };
}

/**
 * `keys check --due` (exit 1 when a key is due) and `keys rotate --due` (rotates the due keys;
 * exit 0). Every process sharing the store may run the latter at once.
 */
async function dueCommand(
  io: CliIo,
  ring: KeyRing,
  rotate: boolean,
  json: boolean | undefined,
): Promise<number> {
  if (rotate) {
    const rotated = await ring.rotateDue();
    if (json) io.stdout(JSON.stringify({ rotated }, null, 2) + '\n');
    else if (rotated.length === 0) io.stdout('no key is due for rotation (or another process rotated it)\n');
    else
      for (const d of rotated)
        io.stdout(`rotated "${d.keyId}" (v${d.primaryVersion} was ${d.overdueDays} day(s) overdue)\n`);
    return ExitCode.OK;
  }
  const due = ring.rotationDue();
  if (json) io.stdout(JSON.stringify({ due }, null, 2) + '\n');
  else if (due.length === 0) io.stdout('ok: no key is due for rotation\n');
  else {
    for (const d of due) {
      io.stdout(
        `DUE "${d.keyId}": v${d.primaryVersion} created ${d.primaryCreatedAt}, due ${d.dueAt} ` +
          `(${d.overdueDays} day(s) overdue, period ${d.rotateEvery} days)` +
          (d.expired ? `, EXPIRED ${d.expiresAt}: it no longer encrypts` : '') +
          '\n',
      );
    }
    io.stdout('rotate them: bulwark keys rotate --due (then rewrap and retire)\n');
  }
  return due.length === 0 ? ExitCode.OK : ExitCode.CHECK_FAILED;
}

function newMasterFromEnv(env: NodeJS.ProcessEnv, hint: string): KeyProvider {
  if (env.BULWARK_NEW_MASTER_KEY === undefined || env.BULWARK_NEW_MASTER_KEY.trim() === '') {
    throw new UsageError(
      'keys rotate-master needs the new master key: --new-master-key-file FILE or $BULWARK_NEW_MASTER_KEY (make one with `bulwark keys master`)',
      hint,
    );
  }
  return new EnvKeyProvider({ env, variable: 'BULWARK_NEW_MASTER_KEY' });
}

/**
 * `keys rotate-master`: opens the ring with both master keys (which also proves the current one
 * is right: every named key and the ring secret unwrap) and re-wraps everything. Exit 0 when
 * complete, 1 when some records could not be re-wrapped, 3 when the store failed midway (re-run).
 * @internal exported for tests
 */
export async function rotateMaster(
  io: CliIo,
  json: boolean | undefined,
  options: Pick<KeyRingOptions, 'provider' | 'previousProvider' | 'store' | 'auditLog'>,
): Promise<number> {
  const ring = await KeyRing.open({ ...options, refreshIntervalMs: 0 });
  try {
    return await rotateRing(io, json, ring);
  } finally {
    await ring.close();
  }
}

/**
 * `keys rotate-master --config FILE`: the app's own KeyRing (over its database key store), opened
 * with the new master key as `provider` and the old one as `previousProvider`.
 */
async function rotateMasterFromConfig(
  file: string,
  json: boolean | undefined,
  io: CliIo,
  hint: string,
): Promise<number> {
  const config = await loadConfigModule(path.resolve(io.cwd, file), io, hint, 'createRotateMasterConfig');
  try {
    const ring = (config as { keyRing?: Partial<KeyRing> } | null)?.keyRing;
    if (typeof ring?.rotateMaster !== 'function' || typeof ring.refresh !== 'function') {
      throw new UsageError(`--config ${file} must return { keyRing } (a KeyRing)`, hint);
    }
    await ring.refresh();
    return await rotateRing(io, json, ring as KeyRing);
  } finally {
    await closeConfig(config);
  }
}

async function rotateRing(io: CliIo, json: boolean | undefined, ring: KeyRing): Promise<number> {
  let seen: MasterRotationProgress = { rewrapped: 0, alreadyCurrent: 0, failed: 0 };
  let report: MasterRotationReport;
  try {
    report = await ring.rotateMaster({ onProgress: (p) => (seen = p) });
  } catch (error) {
    if (error instanceof BulwarkError && error.code === ErrorCodes.CRYPTO_KEY_STORE) {
      io.stderr(
        `bulwark keys: interrupted: the key store failed after ${seen.rewrapped} key(s) were re-wrapped ` +
          `(${error.message}). The store is consistent (each key is under the old or the new master ` +
          'key); run the same command again to finish.\n',
      );
      return ExitCode.ERROR;
    }
    throw error;
  }
  if (json) io.stdout(JSON.stringify(report, null, 2) + '\n');
  else {
    io.stdout(
      `re-wrapped ${report.rewrapped} key(s) under master key ${report.masterKeyId}; ` +
        `${report.alreadyCurrent} already were, ${report.tombstones} shredded subject(s) skipped\n`,
    );
    for (const f of report.failed) io.stdout(`  FAILED ${f.record}: ${f.code}\n`);
    if (report.conflicts > 0) {
      io.stdout(`  ${report.conflicts} key(s) changed by another process meanwhile: run it again\n`);
    }
    io.stdout(
      report.complete
        ? 'complete: drop the old master key (previousProvider) from every process, then destroy it\n'
        : 'NOT complete: keep the old master key; fix the keys above and run it again\n',
    );
  }
  return report.complete ? ExitCode.OK : ExitCode.CHECK_FAILED;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

function report(io: CliIo, json: boolean | undefined, info: KeyInfo, text: string): void {
  io.stdout(json ? JSON.stringify(info, null, 2) + '\n' : text + '\n');
}

/** A fixed-width table: key, version, state, algorithm, age in days. */
export function formatKeyTable(keys: KeyInfo[], now: Date): string {
  if (keys.length === 0) return 'no keys yet: create one with `bulwark keys generate <keyId>`\n';
  const rows = [['KEY', 'VERSION', 'STATE', 'ALGORITHM', 'CREATED', 'AGE (days)']];
  for (const key of keys) {
    for (const v of key.versions) {
      const ageDays = Math.floor((now.getTime() - Date.parse(v.createdAt)) / 86_400_000);
      rows.push([key.keyId, String(v.version), v.state, v.algorithm, v.createdAt, String(ageDays)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
