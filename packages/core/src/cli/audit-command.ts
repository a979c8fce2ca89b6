import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeyPair, exportJWK, type JWK } from 'jose';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../errors';
import { AuditLog } from '../audit/audit-log';
import type { AuditEntry } from '../audit/audit-event';
import type { AuditQuery, AuditStore } from '../audit/audit-store';
import { exportCheckpoint, type Checkpoint } from '../audit/checkpoint';
import { CheckpointSigner } from '../audit/checkpoint-signer';
import { FileAuditStore } from '../audit/file-audit-store';
import { FileCheckpointStore } from '../audit/file-checkpoint-store';
import { verifyAuditLog } from '../audit/verify-audit-log';
import { writeFileAtomic } from '../util/write-file-atomic';
import { ExitCode, UsageError, type CliIo } from './cli-io';

export const AUDIT_HELP = `Usage: bulwark audit <command> [options]

Work with a tamper-evident audit log: a JSON-lines file (--file) or a SQL database
(--db, needs @bulwark/typeorm installed: a postgres:// URL or a SQLite file path).

Commands:
  append                 Append events read as JSON lines on stdin; prints one seq per event
  verify                 Recompute every hash, link and the Merkle root, check checkpoints;
                         exit 1 naming the first bad sequence number
  prove <seq>            Inclusion proof of entry <seq> (JSON); --size N for a past tree size
  prove --consistency <from> [<to>]
                         Consistency proof between two tree sizes (JSON)
  checkpoint             Sign the current tree head (Ed25519 JWS) and save it
  tail                   Print the last -n entries as JSON lines (--follow to keep printing)
  export                 Print matching entries (JSON lines, or --format json)
  keygen --out FILE      New Ed25519 checkpoint key: private JWK to FILE (0600), public JWK printed

Options:
  --file FILE            JSON-lines log (default: $BULWARK_AUDIT_FILE or .bulwark/audit.jsonl)
  --db URL|PATH          SQL log instead (default: $BULWARK_AUDIT_DB when set)
  --checkpoints FILE     Checkpoint file (default: <log file>.checkpoints, or
                         .bulwark/audit-checkpoints.jsonl with --db)
  --signing-key FILE     Private Ed25519 JWK (checkpoint)
  --public-key FILE      Public Ed25519 JWK that checkpoints must verify with (verify)
  --hmac-key-file FILE   HMAC key of the log's leaf hashes (or $BULWARK_AUDIT_HMAC_KEY)
  --from-checkpoint      verify: incremental, from the latest checkpoint
  --export FILE          checkpoint: also write a portable copy (with the public key) to FILE
  -n N                   tail: number of entries (default 10)
  --follow               tail: keep printing new entries (Ctrl-C to stop)
  --actor ID --action A --resource-type T --resource-id ID --outcome O
  --category C --from TIME --to TIME
                         export: filters (action may end in * for a prefix)
  --format jsonl|json    export: output format (default jsonl)
  --json                 verify / checkpoint: machine-readable output
  -h, --help             Show this help

verify, prove, tail and export open a --file log read-only, so they run next to the
application that writes it; append and checkpoint need the writer lock.

Exit codes: 0 ok, 1 check failed (tampering found), 2 usage or configuration error
(including a --file log locked by a running writer, for append / checkpoint).`;

const OPTIONS = {
  file: { type: 'string' },
  db: { type: 'string' },
  checkpoints: { type: 'string' },
  'signing-key': { type: 'string' },
  'public-key': { type: 'string' },
  'hmac-key-file': { type: 'string' },
  'from-checkpoint': { type: 'boolean', default: false },
  export: { type: 'string' },
  consistency: { type: 'boolean', default: false },
  size: { type: 'string' },
  n: { type: 'string', short: 'n' },
  follow: { type: 'boolean', default: false },
  actor: { type: 'string' },
  action: { type: 'string' },
  'resource-type': { type: 'string' },
  'resource-id': { type: 'string' },
  outcome: { type: 'string' },
  category: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
}

/** The subset of @bulwark/typeorm the CLI uses; loaded only when --db is given. */
interface TypeOrmAuditModule {
  createAuditDataSource(options: { url: string }): Promise<{ destroy(): Promise<void> }>;
  TypeOrmAuditStore: new (dataSource: unknown) => AuditStore;
}

interface OpenedStore {
  store: AuditStore;
  /** The file store, when --file: read-only for verify/prove/tail/export. */
  file?: FileAuditStore;
  checkpointsPath: string;
  close(): Promise<void>;
}

export async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message, AUDIT_HELP);
  }
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined || sub === 'help') {
    io.stdout(AUDIT_HELP + '\n');
    return sub === undefined && !values.help ? ExitCode.USAGE : ExitCode.OK;
  }
  switch (sub) {
    case 'keygen':
      noExtra(rest, 0);
      return keygen(values, io);
    // append and checkpoint write (an entry / a checkpoint of the head), so they take the file
    // store's writer lock; the others only read and open it read-only, so they work next to a
    // running application that holds the lock.
    case 'append':
      noExtra(rest, 0);
      return withStore(values, io, 'write', (opened, hmacKey) => append(opened, hmacKey, io));
    case 'verify':
      noExtra(rest, 0);
      return withStore(values, io, 'read', (opened, hmacKey) => verify(opened, hmacKey, values, io));
    case 'prove':
      return withStore(values, io, 'read', (opened, hmacKey) => prove(opened, hmacKey, rest, values, io));
    case 'checkpoint':
      noExtra(rest, 0);
      return withStore(values, io, 'write', (opened, hmacKey) => checkpoint(opened, hmacKey, values, io));
    case 'tail':
      noExtra(rest, 0);
      return withStore(values, io, 'read', (opened) => tail(opened, values, io));
    case 'export':
      noExtra(rest, 0);
      return withStore(values, io, 'read', (opened) => exportEntries(opened, values, io));
    default:
      throw new UsageError(`unknown audit command "${sub}"`, AUDIT_HELP);
  }
}

function noExtra(rest: string[], allowed: number): void {
  if (rest.length > allowed) throw new UsageError(`unexpected argument "${rest[allowed]}"`, AUDIT_HELP);
}

function positiveInt(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${name} must be a positive integer, got "${raw}"`);
  }
  return n;
}

async function withStore(
  values: Values,
  io: CliIo,
  mode: 'read' | 'write',
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

async function openStore(values: Values, io: CliIo, mode: 'read' | 'write'): Promise<OpenedStore> {
  const db = values.db ?? (values.file === undefined ? io.env.BULWARK_AUDIT_DB : undefined);
  if (db !== undefined && db !== '') {
    let mod: TypeOrmAuditModule;
    try {
      mod = require('@bulwark/typeorm') as TypeOrmAuditModule;
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
  const file = path.resolve(
    io.cwd,
    values.file ?? io.env.BULWARK_AUDIT_FILE ?? path.join('.bulwark', 'audit.jsonl'),
  );
  const store = await FileAuditStore.open(
    mode === 'read' ? { path: file, readOnly: true } : { path: file, fsync: 'every-append' },
  );
  return {
    store,
    file: store,
    checkpointsPath: path.resolve(io.cwd, values.checkpoints ?? `${file}.checkpoints`),
    close: () => store.close(),
  };
}

/** The HMAC key as given (base64url / base64 / hex text, >= 32 bytes); never echoed. */
async function readHmacKey(values: Values, io: CliIo): Promise<Uint8Array | undefined> {
  let text: string | undefined;
  if (values['hmac-key-file'] !== undefined) {
    try {
      text = await fs.readFile(path.resolve(io.cwd, values['hmac-key-file']), 'utf8');
    } catch (err) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'cannot read --hmac-key-file',
        { path: 'hmac-key-file' },
        { cause: err },
      );
    }
  } else {
    text = io.env.BULWARK_AUDIT_HMAC_KEY;
  }
  if (text === undefined || text.trim() === '') return undefined;
  const t = text.trim();
  const key =
    /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64url');
  if (key.length < 32) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'the audit HMAC key must be at least 32 bytes (hex or base64url)',
      {
        path: 'hmac-key',
      },
    );
  }
  return key;
}

async function readJwk(file: string, io: CliIo, option: string): Promise<JWK> {
  try {
    return JSON.parse(await fs.readFile(path.resolve(io.cwd, file), 'utf8')) as JWK;
  } catch (err) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `--${option} must be a readable JWK JSON file`,
      { path: option },
      { cause: err },
    );
  }
}

async function publicKeyFor(values: Values, io: CliIo): Promise<JWK | undefined> {
  if (values['public-key'] !== undefined) return readJwk(values['public-key'], io, 'public-key');
  if (values['signing-key'] !== undefined) {
    const signer = await CheckpointSigner.fromJWK(await readJwk(values['signing-key'], io, 'signing-key'));
    return signer.exportPublicJwk();
  }
  return undefined;
}

async function keygen(values: Values, io: CliIo): Promise<number> {
  if (values.out === undefined)
    throw new UsageError('keygen needs --out FILE for the private key', AUDIT_HELP);
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const priv = await exportJWK(privateKey);
  const pub = await exportJWK(publicKey);
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
  const report = await verifyAuditLog(opened.store, {
    hmacKey,
    checkpoints,
    ...(publicKey ? { publicKey } : {}),
    ...(from ? { from } : {}),
  });
  noteInProgressTail(opened, io);
  if (values.json) {
    io.stdout(JSON.stringify(report, null, 2) + '\n');
  } else if (report.ok) {
    io.stdout(
      `ok: ${report.treeSize} entries, ${report.checkedEntries} checked${from ? ` (incremental from tree size ${from.treeSize})` : ''}, ` +
        `${report.checkpointsVerified} checkpoint(s) verified, root ${report.root}\n`,
    );
  } else {
    const bad = report.firstBad!;
    io.stdout(`TAMPERED: first bad entry at seq ${bad.seq}: ${bad.reason}: ${bad.message}\n`);
  }
  return report.ok ? ExitCode.OK : ExitCode.CHECK_FAILED;
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
  const log = await AuditLog.open({ store: opened.store, hmacKey, closeStore: false });
  try {
    if (values.consistency) {
      noExtra(rest, 2);
      const fromSize = positiveInt(rest[0], '<from>');
      if (fromSize === undefined) throw new UsageError('prove --consistency needs <from> [<to>]', AUDIT_HELP);
      const toSize = positiveInt(rest[1], '<to>') ?? log.size;
      checkSize(toSize, log.size);
      io.stdout(JSON.stringify(log.proveConsistency(fromSize, toSize), null, 2) + '\n');
    } else {
      noExtra(rest, 1);
      const seq = positiveInt(rest[0], '<seq>');
      if (seq === undefined) throw new UsageError('prove needs <seq>', AUDIT_HELP);
      const size = positiveInt(values.size, '--size') ?? log.size;
      checkSize(size, log.size);
      if (seq > size) throw new UsageError(`seq ${seq} is beyond tree size ${size}`);
      io.stdout(JSON.stringify(log.proveInclusion(seq, size), null, 2) + '\n');
    }
    return ExitCode.OK;
  } finally {
    await log.close();
  }
}

function checkSize(size: number, logSize: number): void {
  if (size > logSize) throw new UsageError(`tree size ${size} is beyond the log's size ${logSize}`);
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
  const signer = await CheckpointSigner.fromJWK(await readJwk(values['signing-key'], io, 'signing-key'));
  const checkpointStore = new FileCheckpointStore({ path: opened.checkpointsPath });
  const log = await AuditLog.open({
    store: opened.store,
    hmacKey,
    signer,
    checkpointStore,
    closeStore: false,
  });
  try {
    // Never sign a head that does not verify: a checkpoint vouches for everything before it.
    const report = await log.verify();
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
      values.json
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
      await opened.file?.refresh();
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
  if (format !== 'jsonl' && format !== 'json')
    throw new UsageError(`--format must be jsonl or json, got "${format}"`);
  const filter: AuditQuery = {
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
  try {
    let cursor: string | undefined;
    do {
      const page = await log.query({ ...filter, limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const entry of page.entries) {
        if (format === 'jsonl') io.stdout(JSON.stringify(entry) + '\n');
        else out.push(entry);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  } finally {
    await log.close();
  }
  if (format === 'json') io.stdout(JSON.stringify(out, null, 2) + '\n');
  return ExitCode.OK;
}
