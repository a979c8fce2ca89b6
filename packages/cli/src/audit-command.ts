import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  AuditLog,
  BulwarkAuditError,
  BulwarkConfigError,
  CheckpointSigner,
  ErrorCodes,
  detectAuditKeying,
  FileAuditStore,
  FileCheckpointStore,
  JsonLinesLogReader,
  exportCheckpoint,
  verifyAuditLog,
  verificationEvent,
  type AuditEntry,
  type AuditQuery,
  type AuditLogQuery,
  type AuditSeverity,
  toOcsf,
  toSyslog,
  type AuditStore,
  type AuditVerificationReport,
  type Checkpoint,
} from '@bulwark/core/audit-log';
// Types only: @bulwark/typeorm is an optional peer, loaded at run time only for --db (see openStore).
import type * as BulwarkTypeOrm from '@bulwark/typeorm';
import { ExitCode, UsageError, type CliIo } from './cli-io';
import { parseCommandLine, renderHelp } from './command-line';
import { AUDIT_COMMAND, auditDb, auditLogFile, positiveInt, type Values } from './audit-spec';
import { readHmacKey } from './audit-hmac-key';
import { printProof, proveArgs, proveFromCache } from './audit-prove';
import { readJwkFile } from './jwk-file';
import { reportingReads, startProgress } from './progress';

export { AUDIT_COMMAND };

/** `bulwark audit --help` (rendered here, not in audit-spec: the prove fast path never needs it). */
export const AUDIT_HELP = renderHelp(AUDIT_COMMAND);

type Jwk = Parameters<typeof CheckpointSigner.fromJWK>[0];

/** The store entry loads when a command writes a file (keygen, checkpoint export), not on every start. */
const writeFileAtomic: (typeof import('@bulwark/core/store'))['writeFileAtomic'] = (...args) =>
  (require('@bulwark/core/store') as typeof import('@bulwark/core/store')).writeFileAtomic(...args);

interface OpenedStore {
  store: AuditStore;
  /** The JSON-lines file, when --file. */
  logPath?: string;
  /** The file store, when --file: read-only for verify/prove/tail/export. */
  file?: {
    readonly inProgressTail?: { length: number; writerPid?: number };
    refresh?(): Promise<number>;
  };
  checkpointsPath: string;
  close(): Promise<void>;
}

export async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  const { sub, values, positionals: rest, help } = parseCommandLine(argv, AUDIT_COMMAND);
  if (sub === undefined) {
    io.stdout(AUDIT_HELP);
    return help ? ExitCode.OK : ExitCode.USAGE;
  }
  if (help) {
    io.stdout(renderHelp(AUDIT_COMMAND, sub));
    return ExitCode.OK;
  }
  const hint = `bulwark audit ${sub.name} --help`;
  const noExtra = (allowed: number): void => {
    if (rest.length > allowed) throw new UsageError(`unexpected argument "${rest[allowed]}"`, hint);
  };
  switch (sub.name) {
    case 'keygen':
      noExtra(0);
      return keygen(values, io);
    case 'repair':
      noExtra(1);
      if (rest[0] !== undefined && values.file !== undefined) {
        throw new UsageError('give the log as FILE or --file, not both', hint);
      }
      return repair({ ...values, ...(rest[0] !== undefined ? { file: rest[0] } : {}) }, io);
    // append and checkpoint write (an entry / a checkpoint of the head), so they take the file
    // store's writer lock; the others only read and open it read-only, so they work next to a
    // running application that holds the lock.
    case 'append':
      noExtra(0);
      return withStore(values, io, 'write', (opened, hmacKey) => append(opened, hmacKey, io));
    case 'verify':
      noExtra(0);
      return withStore(values, io, 'stream', (opened, hmacKey) => verify(opened, hmacKey, values, io));
    case 'prove':
      noExtra(values.consistency ? 2 : 1);
      return withStore(values, io, 'stream', (opened, hmacKey) => prove(opened, hmacKey, rest, values, io));
    case 'checkpoint':
      noExtra(0);
      return withStore(values, io, 'write', (opened, hmacKey) => checkpoint(opened, hmacKey, values, io));
    case 'tail':
      noExtra(0);
      return withStore(values, io, 'read', (opened) => tail(opened, values, io));
    case 'report':
      noExtra(0);
      return withStore(values, io, 'read', (opened) => periodReport(opened, values, io));
    default:
      noExtra(0);
      return withStore(values, io, 'read', (opened) => exportEntries(opened, values, io));
  }
}

async function withStore(
  values: Values,
  io: CliIo,
  mode: 'read' | 'write' | 'stream',
  run: (opened: OpenedStore, hmacKey: Uint8Array | undefined) => Promise<number>,
): Promise<number> {
  if (values.file !== undefined && values.db !== undefined) {
    throw new UsageError('give either --file or --db, not both');
  }
  const hmacKey = await readHmacKey(values, io);
  let opened: OpenedStore;
  try {
    opened = await openStore(values, io, mode);
  } catch (err) {
    // Another process (usually the running application) is the log's writer. Nothing was
    // checked, so this is not "check failed" (1): it is a configuration problem (2).
    if (err instanceof BulwarkAuditError && err.code === ErrorCodes.AUDIT_STORE_LOCKED) {
      const pid = typeof err.details?.pid === 'number' ? ` (pid ${err.details.pid})` : '';
      io.stderr(
        `bulwark audit: the log is locked by a writer${pid}; stop it or append through it ` +
          `(verify, prove, tail and export read without the lock) [${err.code}]\n`,
      );
      return ExitCode.USAGE;
    }
    throw err;
  }
  try {
    return await run(opened, hmacKey);
  } finally {
    await opened.close();
  }
}

async function openStore(values: Values, io: CliIo, mode: 'read' | 'write' | 'stream'): Promise<OpenedStore> {
  const db = auditDb(values, io);
  if (db !== undefined) {
    let mod: typeof BulwarkTypeOrm;
    try {
      // An optional peer: required here, at run time, so every other command works without it.
      mod = require('@bulwark/typeorm') as typeof BulwarkTypeOrm;
    } catch (err) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        '--db needs the @bulwark/typeorm package (npm install @bulwark/typeorm typeorm and the driver: pg or better-sqlite3)',
        { path: 'db' },
        { cause: err },
      );
    }
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(db) ? db : path.resolve(io.cwd, db);
    const dataSource = await mod.createAuditDataSource({ url });
    const store = new mod.TypeOrmAuditStore(dataSource);
    return {
      store,
      checkpointsPath: path.resolve(
        io.cwd,
        values.checkpoints ?? path.join('.bulwark', 'audit-checkpoints.jsonl'),
      ),
      async close() {
        await store.close();
        await dataSource.destroy();
      },
    };
  }
  const file = auditLogFile(values, io);
  if (mode === 'stream') {
    // verify walks the log once, in order: stream it (flat memory) instead of loading every entry.
    const reader = await JsonLinesLogReader.open(file);
    return {
      store: reader,
      file: reader,
      logPath: file,
      checkpointsPath: path.resolve(io.cwd, values.checkpoints ?? `${file}.checkpoints`),
      close: () => reader.close(),
    };
  }
  const store = await FileAuditStore.open(
    mode === 'read' ? { path: file, readOnly: true } : { path: file, fsync: 'every-append' },
  );
  return {
    store,
    file: store,
    logPath: file,
    checkpointsPath: path.resolve(io.cwd, values.checkpoints ?? `${file}.checkpoints`),
    close: () => store.close(),
  };
}

async function publicKeyFor(values: Values, io: CliIo): Promise<Jwk | undefined> {
  if (values['public-key'] !== undefined) return readJwkFile(values['public-key'], io, 'public-key');
  if (values['signing-key'] !== undefined) {
    const signer = await CheckpointSigner.fromJWK(
      await readJwkFile(values['signing-key'], io, 'signing-key'),
    );
    return signer.exportPublicJwk();
  }
  return undefined;
}

async function repair(values: Values, io: CliIo): Promise<number> {
  const file = auditLogFile(values, io);
  try {
    await fs.access(file);
  } catch {
    // The writer would create an empty log: a mistyped path must not "repair" a new file.
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `no audit log at ${file}`, { path: 'file' });
  }
  let store: FileAuditStore;
  try {
    store = await FileAuditStore.open({ path: file });
  } catch (err) {
    if (err instanceof BulwarkAuditError && err.code === ErrorCodes.AUDIT_STORE_LOCKED) {
      const pid = typeof err.details?.pid === 'number' ? ` (pid ${err.details.pid})` : '';
      io.stderr(
        `bulwark audit: the log is locked by a writer${pid}; stop it before repairing (or open the ` +
          `store with repairTornTail: true) [${err.code}]\n`,
      );
      return ExitCode.USAGE;
    }
    throw err;
  }
  try {
    const torn = store.tornTail;
    if (torn === undefined) {
      io.stdout(
        values.json === true
          ? JSON.stringify({ repaired: false }) + '\n'
          : 'nothing to repair: the log ends with a complete line\n',
      );
      return ExitCode.OK;
    }
    const backup = `${file}.bak-${Date.now()}`;
    try {
      // The whole log first: if anything below goes wrong, the operator still has it as it was.
      await fs.copyFile(file, backup, fsConstants.COPYFILE_EXCL);
    } catch (err) {
      await fs.rm(backup, { force: true }).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new BulwarkAuditError(
          ErrorCodes.AUDIT_NO_SPACE,
          `no space left for the backup copy of the log (${code}); free space and run repair again (the log was not changed)`,
          { operation: 'repair-backup', errno: code },
          { cause: err },
        );
      }
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_STORE,
        'cannot make the backup copy of the log; the log was not changed',
        { operation: 'repair-backup', ...(code !== undefined ? { errno: code } : {}) },
        { cause: err },
      );
    }
    const done = await store.repair();
    io.stdout(
      values.json === true
        ? JSON.stringify({
            repaired: true,
            offset: torn.offset,
            bytes: done.bytes,
            movedTo: done.movedTo,
            backup,
          }) + '\n'
        : `repaired: cut a partial last line of ${done.bytes} bytes at byte ${torn.offset} ` +
            `(kept in ${done.movedTo}); backup of the log before repair: ${backup}\n`,
    );
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof BulwarkAuditError && err.code === ErrorCodes.AUDIT_NO_SPACE) {
      // Not a verdict about the log: the command could not run (exit 3), and changed nothing.
      io.stderr(`bulwark audit repair: ${err.message} [${err.code}]\n`);
      return ExitCode.ERROR;
    }
    throw err;
  } finally {
    await store.close();
  }
}

async function keygen(values: Values, io: CliIo): Promise<number> {
  if (values.out === undefined) {
    throw new UsageError('keygen needs --out FILE for the private key', 'bulwark audit keygen --help');
  }
  const signer = await CheckpointSigner.generate();
  const priv = await signer.exportPrivateJwk();
  const pub = await signer.exportPublicJwk();
  await writeFileAtomic(path.resolve(io.cwd, values.out), JSON.stringify(priv) + '\n', 0o600);
  io.stdout(JSON.stringify({ kty: pub.kty, crv: pub.crv, x: pub.x }) + '\n');
  return ExitCode.OK;
}

async function readStdin(io: CliIo): Promise<string> {
  if (!io.stdin) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

async function append(opened: OpenedStore, hmacKey: Uint8Array | undefined, io: CliIo): Promise<number> {
  const lines = (await readStdin(io)).split('\n');
  const events: { line: number; event: unknown }[] = [];
  // Parse everything first: a malformed line appends nothing.
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    try {
      events.push({ line: i + 1, event: JSON.parse(text) });
    } catch {
      throw new UsageError(`stdin line ${i + 1} is not valid JSON; nothing was appended`);
    }
  });
  const log = await AuditLog.open({ store: opened.store, hmacKey, closeStore: false });
  let failed = 0;
  try {
    const results = await Promise.allSettled(events.map(({ event }) => log.append(event as never)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        io.stdout(`${r.value.seq}\n`);
      } else {
        failed++;
        const err = r.reason as { code?: string; message?: string };
        io.stderr(
          `stdin line ${events[i]!.line}: ${err.message ?? String(err)}${err.code ? ` [${err.code}]` : ''}\n`,
        );
      }
    });
  } finally {
    await log.close();
  }
  return failed === 0 ? ExitCode.OK : ExitCode.USAGE;
}

async function verify(
  opened: OpenedStore,
  hmacKey: Uint8Array | undefined,
  values: Values,
  io: CliIo,
): Promise<number> {
  const checkpoints = await new FileCheckpointStore({ path: opened.checkpointsPath }).list();
  const publicKey = await publicKeyFor(values, io);
  if (checkpoints.length > 0 && publicKey === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `${checkpoints.length} checkpoint(s) found in ${opened.checkpointsPath}: pass --public-key (or --signing-key) to check them`,
      { path: 'public-key' },
    );
  }
  let from: Checkpoint | undefined;
  if (values['from-checkpoint']) {
    from = checkpoints[checkpoints.length - 1];
    if (from === undefined) throw new UsageError('--from-checkpoint: there is no checkpoint yet');
  }
  const json = values.json === true;
  const logSize = await storedSize(opened.store);
  const progress = startProgress(io, 'verify', 'entries', json);
  let report: AuditVerificationReport;
  try {
    // verifyAuditLog also holds the entries to the store's head: rows cut off the end fail as truncated.
    report = await verifyAuditLog(
      reportingReads(opened.store, (n) => progress.update(n, logSize)),
      { hmacKey, checkpoints, ...(publicKey ? { publicKey } : {}), ...(from ? { from } : {}) },
    );
  } finally {
    progress.end();
  }
  // treeSize: what the log holds (not 0 when the fault is found before any entry is read, as with
  // a bad checkpoint signature); verifiedTreeSize and root: the entries before the first fault.
  const treeSize = Math.max(logSize ?? 0, report.treeSize);
  noteInProgressTail(opened, io);
  const verdict = await verdictOf(report, opened.store, hmacKey);
  if (json) {
    const { treeSize: verifiedTreeSize, ...rest } = report;
    io.stdout(JSON.stringify({ ...rest, verdict: verdict.name, treeSize, verifiedTreeSize }, null, 2) + '\n');
  } else if (report.ok) {
    io.stdout(
      `ok: ${report.treeSize} entries, ${report.checkedEntries} checked${from ? ` (incremental from tree size ${from.treeSize})` : ''}, ` +
        `${report.checkpointsVerified} checkpoint(s) verified, root ${report.root}\n`,
    );
  } else {
    io.stdout(verdict.line(treeSize) + '\n');
  }
  if (report.ok && !json) noteUncheckpointedTail(checkpoints, report.treeSize, io);
  if (values.record === true)
    await recordVerification(opened, hmacKey, report, from ? 'incremental' : 'full', io);
  return verdict.exit;
}

/**
 * `verify --record`: appends the run as an `audit.verified` entry (source `cli`), which the
 * security report lists as an integrity check. Needs the writer lock of a file log; a log that
 * cannot take it (a running writer) or cannot be opened for writing is reported on stderr and
 * the verdict stands.
 */
async function recordVerification(
  opened: OpenedStore,
  hmacKey: Uint8Array | undefined,
  report: AuditVerificationReport,
  mode: 'full' | 'incremental',
  io: CliIo,
): Promise<void> {
  let own: AuditStore | undefined; // a file log's writer store, opened here
  let log: AuditLog | undefined;
  try {
    if (opened.logPath !== undefined) {
      own = await FileAuditStore.open({ path: opened.logPath, fsync: 'every-append' });
    }
    log = await AuditLog.open({
      store: own ?? opened.store,
      hmacKey,
      closeStore: false,
      recordVerifications: false,
    });
    const entry = await log.append(verificationEvent(report, CLI_ACTOR, mode, 'cli'));
    io.stderr(`recorded as audit entry ${entry.seq} (audit.verified)\n`);
  } catch (err) {
    const code = (err as { code?: string })?.code;
    io.stderr(
      `note: the verification was not recorded: ${(err as Error)?.message ?? String(err)}${code ? ` [${code}]` : ''}\n`,
    );
  } finally {
    await log?.close();
    await own?.close();
  }
}

const CLI_ACTOR = Object.freeze({ id: 'bulwark-cli', type: 'system' as const });

interface Verdict {
  /** `ok`, `tampered`, `truncated`, `torn-tail`, `hmac-key-missing`, `hmac-key-wrong`, `not-hmac-keyed`. */
  name: string;
  exit: number;
  line(treeSize: number): string;
}

/**
 * What a failed report means for the operator. Only `tampered` and `truncated` are findings about
 * the log (exit 1); a torn tail (an interrupted write, never acknowledged) and a key that is
 * missing, wrong or not needed are things to fix before the log can be checked (exit 2).
 */
async function verdictOf(
  report: AuditVerificationReport,
  store: AuditStore,
  hmacKey: Uint8Array | undefined,
): Promise<Verdict> {
  if (report.ok) return { name: 'ok', exit: ExitCode.OK, line: () => 'ok' };
  const bad = report.firstBad!;
  const tampered: Verdict = {
    name: 'tampered',
    exit: ExitCode.CHECK_FAILED,
    line: (treeSize) =>
      `TAMPERED: first bad entry at seq ${bad.seq}: ${bad.reason}: ${bad.message} (the log holds ${treeSize} entries)`,
  };
  switch (bad.reason) {
    case 'torn-tail': {
      const offset = report.tornTail?.offset;
      return {
        name: 'torn-tail',
        exit: ExitCode.USAGE,
        line: () =>
          `TORN TAIL (incomplete last line at byte ${offset ?? '?'}; run bulwark audit repair): ` +
          `the ${report.treeSize} entries before it verify; the partial line was never acknowledged`,
      };
    }
    case 'truncated':
      return {
        name: 'truncated',
        exit: ExitCode.CHECK_FAILED,
        line: () =>
          `TRUNCATED: entries from seq ${bad.seq} on are missing: ${bad.message} (the newest entries were deleted)`,
      };
    case 'hash-mismatch': {
      // Every entry failing is what verifying a keyed log without its key (or with another key)
      // looks like; tampering changes some entries, not all. Decided from the entries themselves.
      const { keying } = await detectAuditKeying(store, hmacKey !== undefined ? { hmacKey } : {});
      if (keying === 'keyed' && hmacKey === undefined) {
        return {
          name: 'hmac-key-missing',
          exit: ExitCode.USAGE,
          line: () =>
            'the log is HMAC-keyed (no entry hashes without the key); pass --hmac-key-file FILE or set ' +
            'BULWARK_AUDIT_HMAC_KEY to verify it',
        };
      }
      if (keying === 'wrong-key') {
        return {
          name: 'hmac-key-wrong',
          exit: ExitCode.USAGE,
          line: () =>
            'the HMAC key does not match this log (no entry hashes with it); check --hmac-key-file / BULWARK_AUDIT_HMAC_KEY',
        };
      }
      if (keying === 'unkeyed' && hmacKey !== undefined) {
        return {
          name: 'not-hmac-keyed',
          exit: ExitCode.USAGE,
          line: () =>
            'the log is not HMAC-keyed (its entries hash without a key); verify it without --hmac-key-file / BULWARK_AUDIT_HMAC_KEY',
        };
      }
      return tampered;
    }
    default:
      return tampered;
  }
}

/**
 * A second stdout line: entries after the newest signed checkpoint can be cut off the end (with
 * the store's head moved back) without any check noticing. Automatic checkpoints close that window.
 */
function noteUncheckpointedTail(checkpoints: readonly Checkpoint[], size: number, io: CliIo): void {
  const covered = checkpoints.reduce((max, cp) => Math.max(max, cp.treeSize), 0);
  if (size === 0 || covered >= size) return;
  io.stdout(
    covered === 0
      ? `note: no signed checkpoint covers this log: deleting its newest entries would not be detected; ` +
          `sign checkpoints (bulwark audit checkpoint, or AuditLog checkpoint: { every })\n`
      : `note: ${size - covered} entries after the last checkpoint (tree size ${covered}) are not covered by a ` +
          `signed checkpoint: deleting them would not be detected until the next one\n`,
  );
}

/** The size the store records (its head's seq), or undefined when it cannot say. */
async function storedSize(store: AuditStore): Promise<number | undefined> {
  try {
    return (await store.head()).seq;
  } catch {
    return undefined; // verification itself reports what is wrong with the store
  }
}

/** stderr (so --json output stays parseable): a partial last line the writer was still writing. */
function noteInProgressTail(opened: OpenedStore, io: CliIo): void {
  const tail = opened.file?.inProgressTail;
  if (tail === undefined) return;
  const pid = tail.writerPid === undefined ? '' : ` (pid ${tail.writerPid})`;
  io.stderr(
    `note: left out a partial last line of ${tail.length} bytes that the running writer${pid} ` +
      `is still writing; it is not an acknowledged entry yet\n`,
  );
}

async function prove(
  opened: OpenedStore,
  hmacKey: Uint8Array | undefined,
  rest: string[],
  values: Values,
  io: CliIo,
): Promise<number> {
  // Parse the arguments before reading the log: a typo should not wait for a 200k-entry load.
  const args = proveArgs(rest, values);
  if (opened.logPath !== undefined) {
    // A file log: proofs from the persisted tree (<log>.merkle/), which reads only the entries
    // appended since the last proof, then O(log n) nodes. (Usually answered before this module
    // loads: see fastProve in audit-prove.ts.)
    const code = await proveFromCache(opened.logPath, args, io, await storedSize(opened.store));
    if (code !== undefined) return code;
  }
  // Proofs need the whole Merkle tree: AuditLog.open reads every entry, which is what takes time.
  const total = await storedSize(opened.store);
  const progress = startProgress(io, 'prove: reading the log', 'entries', false);
  let log: AuditLog;
  try {
    log = await AuditLog.open({
      store: reportingReads(opened.store, (n) => progress.update(n, total)),
      hmacKey,
      closeStore: false,
    });
  } finally {
    progress.end();
  }
  try {
    return printProof(
      log.size,
      (s) => log.proveConsistency(args.fromSize!, s),
      (q, s) => log.proveInclusion(q, s),
      args,
      io,
    );
  } finally {
    await log.close();
  }
}

async function checkpoint(
  opened: OpenedStore,
  hmacKey: Uint8Array | undefined,
  values: Values,
  io: CliIo,
): Promise<number> {
  if (values['signing-key'] === undefined) {
    throw new UsageError(
      'checkpoint needs --signing-key FILE (make one with `bulwark audit keygen --out FILE`)',
    );
  }
  const signer = await CheckpointSigner.fromJWK(await readJwkFile(values['signing-key'], io, 'signing-key'));
  const checkpointStore = new FileCheckpointStore({ path: opened.checkpointsPath });
  // Opening reads the log once (the Merkle tree), verifying reads it again: progress counts both.
  const total = await storedSize(opened.store);
  const progress = startProgress(io, 'checkpoint: reading and verifying', 'entries', values.json === true);
  const store = reportingReads(opened.store, (n) =>
    progress.update(n, total === undefined ? undefined : 2 * total),
  );
  let log: AuditLog;
  try {
    log = await AuditLog.open({ store, hmacKey, signer, checkpointStore, closeStore: false });
  } catch (err) {
    progress.end();
    throw err;
  }
  try {
    // Never sign a head that does not verify: a checkpoint vouches for everything before it.
    // Not recorded: a pre-check of the head about to be signed, not a run of its own.
    const report = await log.verify({ record: false }).finally(() => progress.end());
    if (!report.ok) {
      const bad = report.firstBad!;
      io.stdout(`refusing to sign: first bad entry at seq ${bad.seq}: ${bad.reason}: ${bad.message}\n`);
      return ExitCode.CHECK_FAILED;
    }
    const cp = await log.checkpoint();
    if (values.export !== undefined) {
      await writeFileAtomic(
        path.resolve(io.cwd, values.export),
        exportCheckpoint(cp, { publicKey: await signer.exportPublicJwk() }),
        0o644,
      );
    }
    io.stdout(
      values.json === true
        ? JSON.stringify(cp, null, 2) + '\n'
        : `checkpoint: tree size ${cp.treeSize}, root ${cp.rootHash}, saved to ${opened.checkpointsPath}\n`,
    );
    return ExitCode.OK;
  } finally {
    await log.close();
  }
}

async function tail(opened: OpenedStore, values: Values, io: CliIo): Promise<number> {
  const n = positiveInt(values.n, '-n') ?? 10;
  let next = Math.max(1, (await opened.store.head()).seq - n + 1);
  const print = async (): Promise<void> => {
    for (;;) {
      const page = await opened.store.read(next, 1000);
      for (const entry of page) io.stdout(JSON.stringify(entry) + '\n');
      next += page.length;
      if (page.length < 1000) return;
    }
  };
  await print();
  if (!values.follow) return ExitCode.OK;
  // Follow: poll the store until interrupted (SIGINT/SIGTERM end the loop and close the store).
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop) {
      await new Promise((r) => setTimeout(r, 1000));
      // A read-only file store holds a snapshot: load what the writer appended since.
      await opened.file?.refresh?.();
      await print();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return ExitCode.OK;
}

async function exportEntries(opened: OpenedStore, values: Values, io: CliIo): Promise<number> {
  const format = values.format ?? 'jsonl';
  if (!['jsonl', 'json', 'ocsf', 'syslog'].includes(format))
    throw new UsageError(`--format must be jsonl, json, ocsf or syslog, got "${format}"`);
  const minSeverity = values['min-severity'];
  if (minSeverity !== undefined && !['low', 'medium', 'high', 'critical'].includes(minSeverity)) {
    throw new UsageError(`--min-severity must be low, medium, high or critical, got "${minSeverity}"`);
  }
  const minRisk = values['min-risk'] === undefined ? undefined : Number(values['min-risk']);
  if (minRisk !== undefined && !(Number.isFinite(minRisk) && minRisk >= 0 && minRisk <= 100)) {
    throw new UsageError(`--min-risk must be a number from 0 to 100, got "${values['min-risk']}"`);
  }
  const filter: AuditLogQuery = {
    ...(minSeverity !== undefined ? { minSeverity: minSeverity as AuditSeverity } : {}),
    ...(minRisk !== undefined ? { minRisk } : {}),
    ...(values.actor !== undefined ? { actorId: values.actor } : {}),
    ...(values.action !== undefined ? { action: values.action } : {}),
    ...(values['resource-type'] !== undefined ? { resourceType: values['resource-type'] } : {}),
    ...(values['resource-id'] !== undefined ? { resourceId: values['resource-id'] } : {}),
    ...(values.outcome !== undefined ? { outcome: values.outcome as AuditQuery['outcome'] } : {}),
    ...(values.category !== undefined ? { category: values.category } : {}),
    ...(values.from !== undefined ? { from: values.from } : {}),
    ...(values.to !== undefined ? { to: values.to } : {}),
  };
  if (filter.outcome !== undefined && !['success', 'failure', 'denied'].includes(filter.outcome)) {
    throw new UsageError(`--outcome must be success, failure or denied, got "${filter.outcome}"`);
  }
  // Reading through AuditLog.query validates the filter exactly as the library does.
  const log = await AuditLog.open({ store: opened.store, closeStore: false }).catch((err: unknown) => {
    if (err instanceof BulwarkAuditError) {
      throw new BulwarkAuditError(
        err.code,
        `${err.message}; export refuses a broken log, run \`bulwark audit verify\``,
        err.details,
      );
    }
    throw err;
  });
  const out: AuditEntry[] = [];
  // Progress in seq order: the last seq reached of the log's size (the filter may match few).
  const progress = startProgress(io, 'export: up to seq', 'entries', io.stdoutIsTTY === true);
  try {
    let cursor: string | undefined;
    do {
      const page = await log.query({ ...filter, limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const entry of page.entries) {
        if (format === 'jsonl') io.stdout(JSON.stringify(entry) + '\n');
        else if (format === 'syslog') io.stdout(toSyslog(entry) + '\n');
        else if (format === 'ocsf') {
          const event = toOcsf(entry);
          if (event !== undefined) io.stdout(JSON.stringify(event) + '\n');
        } else out.push(entry);
      }
      const last = page.entries[page.entries.length - 1];
      if (last !== undefined) progress.update(last.seq, log.size);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  } finally {
    progress.end();
    await log.close();
  }
  if (format === 'json') io.stdout(JSON.stringify(out, null, 2) + '\n');
  return ExitCode.OK;
}

async function periodReport(opened: OpenedStore, values: Values, io: CliIo): Promise<number> {
  const format = values.format ?? 'md';
  if (!['md', 'json', 'html'].includes(format)) {
    throw new UsageError(`--format must be md, json or html, got "${format}"`);
  }
  if (values.from === undefined || values.to === undefined) {
    throw new UsageError('--from and --to are required (ISO 8601, e.g. --from 2026-04-01 --to 2026-05-01)');
  }
  for (const [flag, v] of [
    ['--from', values.from],
    ['--to', values.to],
  ] as const) {
    if (!Number.isFinite(Date.parse(v))) throw new UsageError(`${flag} must be an ISO 8601 time, got "${v}"`);
  }
  if (Date.parse(values.from) >= Date.parse(values.to)) throw new UsageError('--to must be after --from');
  // The report renderers live on the main entry: loaded only by this subcommand.
  const core = require('@bulwark/core') as typeof import('@bulwark/core');
  const log = await AuditLog.open({ store: opened.store, closeStore: false });
  try {
    const report = await core.securityReport(log, { from: values.from, to: values.to });
    io.stdout(
      format === 'json'
        ? core.renderSecurityReportJson(report)
        : format === 'html'
          ? core.renderSecurityReportHtml(report)
          : core.renderSecurityReportMarkdown(report),
    );
  } finally {
    await log.close();
  }
  return ExitCode.OK;
}
