import {
  BulwarkAuditError,
  BulwarkConfigError,
  BulwarkError,
  ErrorCodes,
  type AuditEntry,
  type AuditHead,
  type AuditPage,
  type AuditRedaction,
  type AuditStore,
} from '@bulwark/core';
import {
  checkAppendContinuity,
  encodeAuditCursor,
  type AuditPrepare,
  type NormalizedAuditQuery,
} from '@bulwark/core/store';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import { CONTENT_COLUMNS, ENTRY_COLUMNS, entryToRow, rowToEntry, type EntryRow } from './audit-row';
import { connectionLost, pgUnavailable, runPgSession, type PgDeadlines, type PgSession } from './pg-session';
import { dialectOf, quoteIdentifier, type SqlDialect } from './sql-dialect';
import { encodeSqlText } from './sql-text-codec';
import {
  betterSqlite3Path,
  SqliteAuditWriter,
  WriterThreadStopped,
  type SqliteWriterSetup,
} from './sqlite-audit-writer';

export interface TypeOrmAuditStoreOptions {
  /**
   * SQLite only: on first use set `journal_mode = WAL` (readers never block the writer) and
   * `synchronous = FULL` (each commit is fsynced, so an acknowledged append survives power loss).
   * Default true. Set false only if you configure the connection yourself.
   */
  configureSqlite?: boolean;
  /** How long an append or redaction waits for the write lock. Default 30000 ms. */
  lockTimeoutMs?: number;
  /** Rows per INSERT statement (1..1000). Default 500. */
  insertChunkSize?: number;
  /**
   * SQLite on a file: commit appends on a worker thread with its own connection to the file, so the
   * event loop never runs the INSERTs, the COMMIT or its fsync (the thread mirrors the DataSource
   * connection's `synchronous` and `secure_delete`). Default true. `false`, an in-memory database
   * or an encrypted one (TypeORM's `key` option) append on the DataSource's connection.
   */
  writerThread?: boolean;
  /** `close()` also destroys the DataSource (for one created by `createAuditDataSource`). Default false. */
  destroyDataSourceOnClose?: boolean;
  /**
   * PostgreSQL: the longest wait for a connection from the pool (a partition or a dead server then
   * fails with ERR_AUDIT_STORE_UNAVAILABLE instead of hanging). Default 10000 ms.
   */
  connectTimeoutMs?: number;
  /**
   * PostgreSQL: the longest one statement may take, enforced by the client (the connection is
   * destroyed, ERR_AUDIT_STORE_UNAVAILABLE) and by the server (`statement_timeout` in the
   * transaction). The statement that waits for the append lock gets `lockTimeoutMs` on top.
   * Default 15000 ms.
   */
  statementTimeoutMs?: number;
  /**
   * PostgreSQL: when the connection dies after COMMIT was sent, how long the store keeps trying to
   * read back whether the batch was stored before giving up with ERR_AUDIT_OUTCOME_UNKNOWN.
   * Default 30000 ms.
   */
  resolveTimeoutMs?: number;
}

/** The better-sqlite3 surface the store uses (kept narrow; TypeORM types it as `any`). */
interface SqliteDatabase {
  readonly inTransaction: boolean;
  readonly memory: boolean;
  readonly name: string;
  exec(sql: string): unknown;
  pragma(sql: string, options?: { simple: true }): unknown;
  prepare(sql: string): SqliteStatement;
}
interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}

/** Appends of one DataSource share a mutex: on SQLite they share its single connection. */
const mutexes = new WeakMap<DataSource, Mutex>();

class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const SELECT_COLUMNS = ENTRY_COLUMNS.map(quoteIdentifier).join(', ');
const MAX_READ = 10_000;
const isThenable = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as { then?: unknown } | null)?.then === 'function';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function storeError(message: string, cause?: unknown, details?: Record<string, unknown>): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_STORE,
    message,
    details,
    cause === undefined ? undefined : { cause },
  );
}

function wrap(err: unknown, what: string): BulwarkError {
  return err instanceof BulwarkError ? err : storeError(`the SQL audit store failed to ${what}`, err);
}

function sqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function warnNoThread(cause: unknown): void {
  const reason = cause instanceof Error ? cause.message : String(cause);
  process.emitWarning(
    `the SQLite audit writer thread could not start (${reason.slice(0, 200)}); appends run on the DataSource connection, on the event loop`,
    { code: 'BULWARK_AUDIT_WRITER_THREAD' },
  );
}

function lockTimeout(ms: number, hint = ''): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_STORE_LOCKED,
    `timed out after ${ms} ms waiting for the audit write lock${hint}`,
    { timeoutMs: ms },
  );
}

/**
 * `AuditStore` on SQLite (better-sqlite3) or PostgreSQL through TypeORM, for logs written by many
 * processes at once.
 *
 * Every append is ONE transaction that first takes a lock every writer of the database must take:
 * PostgreSQL `SELECT ... FROM bulwark_audit_head WHERE id = 1 FOR UPDATE`, SQLite `BEGIN IMMEDIATE`
 * (the database's single write lock). Holding it, the store reads the head row, calls
 * `prepare(head)`, checks the entries continue the head, inserts them with multi-row INSERTs,
 * moves the head row and commits. Two writers can therefore never build on the same head (no
 * fork), a batch is all-or-nothing (no gap), and a batch is acknowledged only after COMMIT returned
 * (PostgreSQL `synchronous_commit = on` for the transaction; SQLite WAL with `synchronous = FULL`).
 *
 * Give the store its own DataSource on SQLite (`createAuditDataSource`): TypeORM runs all of a
 * SQLite DataSource's queries on one connection, so an application transaction open on it would
 * hold the audit lock, or an append would wait for it.
 */
export class TypeOrmAuditStore implements AuditStore {
  private readonly dialect: SqlDialect;
  private readonly entryTable: string;
  private readonly headTable: string;
  private readonly mutex: Mutex;
  private readonly lockTimeoutMs: number;
  private readonly chunk: number;
  private readonly configureSqlite: boolean;
  private readonly destroyOnClose: boolean;
  private readonly deadlines: PgDeadlines;
  private readonly resolveTimeoutMs: number;
  private readonly statements = new Map<string, SqliteStatement>();
  /** SQLite: the prepared multi-row INSERT per chunk size (few sizes: see `chunks`). */
  private readonly inserts = new Map<number, SqliteStatement>();
  private ready?: Promise<void>;
  private closed = false;
  private readonly useWriterThread: boolean;
  /** SQLite: what the writer thread is started with (set by init when it can be used). */
  private writerSetup?: SqliteWriterSetup;
  private writer?: SqliteAuditWriter;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmAuditStoreOptions = {},
  ) {
    if (dataSource === null || typeof dataSource !== 'object' || dataSource.options === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.dataSource must be a TypeORM DataSource',
        {
          path: 'audit.dataSource',
        },
      );
    }
    this.dialect = dialectOf(dataSource);
    const o = options ?? {};
    const timeout = o.lockTimeoutMs ?? 30_000;
    if (!Number.isInteger(timeout) || timeout < 1) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.lockTimeoutMs must be a positive integer',
        {
          path: 'audit.lockTimeoutMs',
        },
      );
    }
    const chunk = o.insertChunkSize ?? 500;
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > 1000) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.insertChunkSize must be an integer from 1 to 1000',
        { path: 'audit.insertChunkSize' },
      );
    }
    const ms = (value: number | undefined, name: string, fallback: number): number => {
      const v = value ?? fallback;
      if (!Number.isInteger(v) || v < 1 || v > 3_600_000) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          `audit.${name} must be an integer from 1 to 3600000 (ms)`,
          { path: `audit.${name}` },
        );
      }
      return v;
    };
    this.deadlines = {
      connectTimeoutMs: ms(o.connectTimeoutMs, 'connectTimeoutMs', 10_000),
      statementTimeoutMs: ms(o.statementTimeoutMs, 'statementTimeoutMs', 15_000),
      lockTimeoutMs: timeout,
      onLockTimeout: () => lockTimeout(timeout),
    };
    this.resolveTimeoutMs = ms(o.resolveTimeoutMs, 'resolveTimeoutMs', 30_000);
    this.lockTimeoutMs = timeout;
    this.chunk = chunk;
    this.configureSqlite = o.configureSqlite ?? true;
    this.destroyOnClose = o.destroyDataSourceOnClose ?? false;
    this.useWriterThread = o.writerThread ?? true;
    this.entryTable = this.dialect.table('bulwark_audit_entry');
    this.headTable = this.dialect.table('bulwark_audit_head');
    let mutex = mutexes.get(dataSource);
    if (mutex === undefined) mutexes.set(dataSource, (mutex = new Mutex()));
    this.mutex = mutex;
  }

  /** Creates a store and checks the tables are there (ERR_AUDIT_STORE naming the migration if not). */
  static async open(dataSource: DataSource, options?: TypeOrmAuditStoreOptions): Promise<TypeOrmAuditStore> {
    const store = new TypeOrmAuditStore(dataSource, options);
    await store.init();
    return store;
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      if (!this.dataSource.isInitialized) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'audit.dataSource must be initialised (await dataSource.initialize()) before use',
          { path: 'audit.dataSource' },
        );
      }
      if (this.dialect.kind === 'sqlite' && this.configureSqlite) {
        const db = this.sqlite();
        if (!db.memory) db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
      }
      if (this.dialect.kind === 'sqlite') this.writerSetup = this.threadSetup();
      try {
        await this.head();
        await this.select(`SELECT "batch_id" FROM ${this.entryTable} WHERE 1 = 0`, []);
      } catch (err) {
        if (connectionLost(err)) throw err;
        throw storeError(
          'the audit tables are missing or incomplete: add bulwarkEntities and run bulwarkMigrations',
          err,
        );
      }
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  private checkOpen(): void {
    if (this.closed) throw new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'audit store is closed');
  }

  private sqlite(): SqliteDatabase {
    return (this.dataSource.driver as unknown as { databaseConnection: SqliteDatabase }).databaseConnection;
  }

  private stmt(sql: string): SqliteStatement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.sqlite().prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Runs a read: better-sqlite3 synchronously, PostgreSQL on a pooled connection with the deadlines. */
  private async select(sql: string, params: unknown[]): Promise<EntryRow[]> {
    if (this.dialect.kind === 'sqlite') return this.stmt(sql).all(...params) as EntryRow[];
    return this.pgSession(false, (s) => s.query(sql, params));
  }

  private p(i: number): string {
    return this.dialect.kind === 'postgres' ? `$${i}` : '?';
  }

  async head(): Promise<AuditHead> {
    this.checkOpen();
    const rows = await this.select(`SELECT "seq", "leaf_hash" FROM ${this.headTable} WHERE "id" = 1`, []);
    return this.toHead(rows[0]);
  }

  private toHead(row: Record<string, unknown> | undefined): AuditHead {
    if (row === undefined) {
      throw storeError('bulwark_audit_head has no row 1 (the append lock); run bulwarkMigrations');
    }
    const seq = Number(row.seq);
    if (!Number.isSafeInteger(seq) || seq < 0 || typeof row.leaf_hash !== 'string') {
      throw storeError('bulwark_audit_head holds an invalid head; verify the log');
    }
    return { seq, leafHash: row.leaf_hash };
  }

  private headSql(forUpdate: boolean): string {
    return `SELECT "seq", "leaf_hash" FROM ${this.headTable} WHERE "id" = 1${forUpdate ? ' FOR UPDATE' : ''}`;
  }

  private tailSql(): string {
    return `SELECT "seq", "leaf_hash" FROM ${this.entryTable} WHERE "seq" >= ${this.p(1)} ORDER BY "seq" LIMIT 2`;
  }

  /**
   * The head read under the lock must match the last stored entry: if someone deleted or added
   * rows at the end outside the store, appending would bury that, so refuse (fail closed).
   */
  private checkHead(head: AuditHead, tail: EntryRow[]): AuditHead {
    const ok =
      head.seq === 0
        ? tail.length === 0
        : tail.length === 1 && Number(tail[0]!.seq) === head.seq && tail[0]!.leaf_hash === head.leafHash;
    if (!ok) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_CHAIN_BROKEN,
        `the audit head row (seq ${head.seq}) does not match the last stored entry: the table was changed outside the store; run verify, appends are refused`,
        { headSeq: head.seq },
      );
    }
    return head;
  }

  private sqliteLockedHead(): AuditHead {
    const head = this.toHead(this.stmt(this.headSql(false)).get() as EntryRow | undefined);
    return this.checkHead(head, this.stmt(this.tailSql()).all(head.seq) as EntryRow[]);
  }

  private async pgLockedHead(s: PgSession): Promise<AuditHead> {
    const head = this.toHead((await s.query(this.headSql(true), [], this.lockTimeoutMs))[0]);
    // A separate statement on purpose: in READ COMMITTED it takes a fresh snapshot after the lock
    // wait, so it sees the rows the previous lock holder committed.
    return this.checkHead(head, await s.query(this.tailSql(), [head.seq]));
  }

  append(prepare: AuditPrepare): Promise<AuditEntry[]> {
    return this.mutex.run(async () => {
      this.checkOpen();
      await this.init();
      // The batch's idempotency key, stored in every row: what the read-back looks for.
      const batchId = randomUUID();
      try {
        if (this.dialect.kind !== 'sqlite') return await this.pgAppendResolved(prepare, batchId);
        return this.writerSetup === undefined
          ? await this.sqliteWrite(() => this.sqliteAppend(prepare, batchId))
          : await this.threadAppend(this.writerSetup, prepare, batchId);
      } catch (err) {
        throw wrap(err, 'append');
      }
    });
  }

  /**
   * The writer thread's setup, or undefined when appends stay on the DataSource's connection: turned
   * off, an in-memory database (another connection would open another database), an encrypted one
   * (the thread could not key its connection), or a better-sqlite3 that cannot be found from TypeORM.
   */
  private threadSetup(): SqliteWriterSetup | undefined {
    const db = this.sqlite();
    const options = this.dataSource.options as { key?: unknown };
    if (!this.useWriterThread || db.memory || typeof db.name !== 'string' || db.name === '') return undefined;
    if (options.key !== undefined) return undefined;
    const binding = betterSqlite3Path();
    if (binding === undefined) return undefined;
    const n = ENTRY_COLUMNS.length + 1;
    return {
      file: path.resolve(db.name),
      binding,
      busyTimeoutMs: this.lockTimeoutMs,
      synchronous: Number(db.pragma('synchronous', { simple: true })),
      secureDelete: Number(db.pragma('secure_delete', { simple: true })),
      headSql: this.headSql(false),
      tailSql: this.tailSql(),
      updateHeadSql: `UPDATE ${this.headTable} SET "seq" = ?, "leaf_hash" = ? WHERE "id" = 1`,
      insertPrefix: `INSERT INTO ${this.entryTable} (${SELECT_COLUMNS}, "batch_id") VALUES `,
      insertTuple: `(${new Array<string>(n).fill('?').join(', ')})`,
    };
  }

  /**
   * A SQLite append committed by the writer thread. The batch is prepared on this thread against the
   * head as last committed (read without the lock); the thread takes the write lock, and commits
   * only if the head is still that one, otherwise it rolls back and hands over the head it found,
   * and the batch is prepared again on that (another process appended meanwhile). The thread never
   * holds the lock while waiting for this thread, so a write on the DataSource's own connection to
   * the same file waits at most for one commit.
   */
  private async threadAppend(
    setup: SqliteWriterSetup,
    prepare: AuditPrepare,
    batchId: string,
  ): Promise<AuditEntry[]> {
    const deadline = Date.now() + this.lockTimeoutMs;
    let head = this.toHead(this.stmt(this.headSql(false)).get() as EntryRow | undefined);
    for (;;) {
      const entries = await prepare(head);
      const rows = this.rowsOf(head, entries, batchId);
      if (entries.length === 0) return entries;
      const parts = this.insertParts(rows);
      const last = entries[entries.length - 1]!;
      if (this.writer === undefined || !this.writer.alive) this.writer = new SqliteAuditWriter(setup);
      const writer = this.writer;
      let outcome;
      try {
        outcome = await writer.write({
          expect: { seq: head.seq, leafHash: head.leafHash },
          parts,
          last: { seq: last.seq, leafHash: last.leafHash },
        });
      } catch (err) {
        if (!(err instanceof WriterThreadStopped)) throw err;
        // The thread stopped with the batch in flight, before or after its COMMIT.
        if (this.batchStored(entries, batchId)) return entries;
        if (writer.answered) {
          throw storeError(
            `the SQLite audit writer thread stopped before committing seq ${head.seq + 1}-${last.seq}; read back: not stored (nothing written, safe to retry)`,
            err.cause,
            { batchId, firstSeq: head.seq + 1, lastSeq: last.seq, outcome: 'not-stored' },
          );
        }
        // A thread that never answered could not start (a better-sqlite3 build that cannot load in
        // a worker, a file it cannot open): nothing was written, and this store's appends run on
        // the DataSource's connection from now on, durable as before, with a warning.
        this.writerSetup = undefined;
        this.writer = undefined;
        warnNoThread(err.cause);
        return this.sqliteWrite(() => this.sqliteAppend(prepare, batchId));
      }
      if (outcome.committed) return entries;
      if ('error' in outcome) {
        if (sqliteBusy(outcome.error)) {
          throw lockTimeout(
            this.lockTimeoutMs,
            this.sqlite().inTransaction
              ? ': a transaction is open on the DataSource connection to the same file; give the audit store its own DataSource'
              : '',
          );
        }
        throw storeError(
          'the SQL audit store failed to append',
          Object.assign(new Error(outcome.error.message), { code: outcome.error.code }),
        );
      }
      // The head moved (another writer) or the table was changed outside the store (refused here).
      const locked = this.checkHead(this.toHead(outcome.conflict.head), outcome.conflict.tail as EntryRow[]);
      if (Date.now() >= deadline) throw lockTimeout(this.lockTimeoutMs);
      head = locked;
    }
  }

  /**
   * Whether a batch whose writer thread stopped before answering was committed: the rows say (a
   * rolled-back or never-begun transaction leaves none), read on the DataSource's connection.
   */
  private batchStored(entries: AuditEntry[], batchId: string): boolean {
    const first = entries[0]!;
    const last = entries[entries.length - 1]!;
    const rows = this.stmt(
      `SELECT "seq", "batch_id", "leaf_hash" FROM ${this.entryTable} WHERE "seq" IN (?, ?) ORDER BY "seq"`,
    ).all(first.seq, last.seq) as Record<string, unknown>[];
    const stored = (entry: AuditEntry) =>
      rows.some(
        (r) => Number(r.seq) === entry.seq && r.batch_id === batchId && r.leaf_hash === entry.leafHash,
      );
    return stored(first) && stored(last);
  }

  /**
   * A PostgreSQL append whose outcome is never guessed. Lost before COMMIT was sent: the server
   * rolls the transaction back, ERR_AUDIT_STORE_UNAVAILABLE (nothing stored, safe to retry). Lost
   * after: read back (see `resolve`); stored means success, not stored means
   * ERR_AUDIT_STORE_UNAVAILABLE, and no answer within `resolveTimeoutMs` ERR_AUDIT_OUTCOME_UNKNOWN.
   */
  private async pgAppendResolved(prepare: AuditPrepare, batchId: string): Promise<AuditEntry[]> {
    let attempted: AuditEntry[] | undefined;
    let commitSent = false;
    try {
      return await this.pgSession(
        true,
        async (s) => (attempted = await this.pgAppend(s, prepare, batchId)),
        () => (commitSent = true),
      );
    } catch (err) {
      if (!commitSent || attempted === undefined || attempted.length === 0 || !connectionLost(err)) {
        throw err;
      }
      return this.resolve(attempted, batchId, err);
    }
  }

  /**
   * Learns whether a batch whose COMMIT got no answer was stored. The read runs under the head row
   * lock, which the lost transaction held: taking it waits until that transaction has committed or
   * been rolled back by the server, so the answer is never "not yet".
   */
  private async resolve(entries: AuditEntry[], batchId: string, cause: unknown): Promise<AuditEntry[]> {
    const first = entries[0]!;
    const last = entries[entries.length - 1]!;
    const details = { batchId, firstSeq: first.seq, lastSeq: last.seq };
    const deadline = Date.now() + this.resolveTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      let rows: Record<string, unknown>[];
      try {
        rows = await this.pgSession(true, async (s) => {
          await s.query(this.headSql(true), [], this.lockTimeoutMs);
          return s.query(
            `SELECT "seq", "batch_id", "leaf_hash" FROM ${this.entryTable} WHERE "seq" IN (${this.p(1)}, ${this.p(2)}) ORDER BY "seq"`,
            [first.seq, last.seq],
          );
        });
      } catch (err) {
        if (Date.now() >= deadline || this.closed) {
          throw new BulwarkAuditError(
            ErrorCodes.AUDIT_OUTCOME_UNKNOWN,
            `the connection to PostgreSQL was lost after COMMIT was sent, and whether seq ${first.seq}-${last.seq} ` +
              `were stored could not be read back within ${this.resolveTimeoutMs} ms; do not append them again: ` +
              `look for batch_id ${batchId} once the database is back`,
            details,
            { cause: err },
          );
        }
        await sleep(Math.min(1000, 50 * 2 ** attempt, Math.max(1, deadline - Date.now())));
        continue;
      }
      const stored = (row: Record<string, unknown> | undefined, entry: AuditEntry) =>
        row !== undefined && row.batch_id === batchId && row.leaf_hash === entry.leafHash;
      const byseq = new Map(rows.map((r) => [Number(r.seq), r]));
      if (stored(byseq.get(first.seq), first) && stored(byseq.get(last.seq), last)) return entries;
      throw pgUnavailable(
        `the connection to PostgreSQL was lost while committing seq ${first.seq}-${last.seq}; read back: not stored (nothing written, safe to retry)`,
        cause,
        { ...details, outcome: 'not-stored' },
      );
    }
  }

  private insertSql(rows: number, start = 1): string {
    const n = ENTRY_COLUMNS.length + 1;
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const params: string[] = [];
      for (let c = 0; c < n; c++) params.push(this.p(start + r * n + c));
      tuples.push(`(${params.join(', ')})`);
    }
    return `INSERT INTO ${this.entryTable} (${SELECT_COLUMNS}, "batch_id") VALUES ${tuples.join(', ')}`;
  }

  /** Chunk sizes for `count` rows: full chunks, then powers of two (few distinct statements to cache). */
  private chunks(count: number): number[] {
    const out: number[] = [];
    let left = count;
    while (left >= this.chunk) {
      out.push(this.chunk);
      left -= this.chunk;
    }
    for (let size = 1 << 10; size >= 1; size >>= 1) {
      if (left >= size) {
        out.push(size);
        left -= size;
      }
    }
    return out;
  }

  /** Continuity check and row encoding (the batch id last): both before anything is written. */
  /** SQLite: the rows in multi-row INSERTs of `chunks` sizes, as [rows in the statement, their values flattened]. */
  private insertParts(rows: unknown[][]): [number, unknown[]][] {
    const parts: [number, unknown[]][] = [];
    let i = 0;
    for (const size of this.chunks(rows.length)) {
      parts.push([size, size === 1 ? rows[i]! : rows.slice(i, i + size).flat()]);
      i += size;
    }
    return parts;
  }

  private rowsOf(head: AuditHead, entries: AuditEntry[], batchId: string): unknown[][] {
    if (!Array.isArray(entries)) throw storeError('append rejected: prepare did not return an array');
    checkAppendContinuity(head, entries);
    return entries.map((e) => [...entryToRow(e), batchId]);
  }

  /**
   * Synchronous unless `prepare` returns a promise (AuditLog's never does): nothing else in this
   * process can then run between BEGIN IMMEDIATE and COMMIT on the shared connection.
   */
  private sqliteAppend(prepare: AuditPrepare, batchId: string): AuditEntry[] | Promise<AuditEntry[]> {
    const head = this.sqliteLockedHead();
    const prepared = prepare(head);
    return isThenable(prepared)
      ? prepared.then((entries) => this.sqliteInsert(head, entries, batchId))
      : this.sqliteInsert(head, prepared, batchId);
  }

  private sqliteInsert(head: AuditHead, entries: AuditEntry[], batchId: string): AuditEntry[] {
    const rows = this.rowsOf(head, entries, batchId);
    if (entries.length === 0) return entries;
    for (const [size, values] of this.insertParts(rows)) {
      let insert = this.inserts.get(size);
      if (insert === undefined) this.inserts.set(size, (insert = this.stmt(this.insertSql(size))));
      insert.run(...values);
    }
    const last = entries[entries.length - 1]!;
    this.stmt(`UPDATE ${this.headTable} SET "seq" = ?, "leaf_hash" = ? WHERE "id" = 1`).run(
      last.seq,
      last.leafHash,
    );
    return entries;
  }

  private async pgAppend(s: PgSession, prepare: AuditPrepare, batchId: string): Promise<AuditEntry[]> {
    const head = await this.pgLockedHead(s);
    const entries = await prepare(head);
    const rows = this.rowsOf(head, entries, batchId);
    if (entries.length === 0) return entries;
    for (let i = 0; i < rows.length; i += this.chunk) {
      const part = rows.slice(i, i + this.chunk);
      await s.query(this.insertSql(part.length), part.flat());
    }
    const last = entries[entries.length - 1]!;
    await s.query(`UPDATE ${this.headTable} SET "seq" = $1, "leaf_hash" = $2 WHERE "id" = 1`, [
      last.seq,
      last.leafHash,
    ]);
    return entries;
  }

  /**
   * One SQLite write transaction. `BEGIN IMMEDIATE` takes the database's write lock up front (a
   * deferred BEGIN would take it at the first INSERT, after two writers had read the same head).
   * The connection's busy timeout waits synchronously; beyond it we back off asynchronously, so a
   * long wait does not freeze the event loop for the whole `lockTimeoutMs`.
   */
  private async sqliteWrite<T>(body: () => T | Promise<T>): Promise<T> {
    const db = this.sqlite();
    const deadline = Date.now() + this.lockTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      let hint = '';
      if (db.inTransaction) {
        hint =
          ': another transaction is open on this SQLite connection; give the audit store its own DataSource';
      } else {
        try {
          db.exec('BEGIN IMMEDIATE');
          break;
        } catch (err) {
          if (!sqliteBusy(err)) throw err;
        }
      }
      if (Date.now() >= deadline) throw lockTimeout(this.lockTimeoutMs, hint);
      await sleep(Math.min(2 ** attempt, 50) * (0.5 + Math.random()));
    }
    try {
      const pending = body();
      const result = isThenable(pending) ? await pending : pending;
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.inTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // the original error matters more; SQLite rolls back on its own when the handle closes
        }
      }
      throw err;
    }
  }

  /** One PostgreSQL session with the store's deadlines (see `runPgSession`). */
  private pgSession<T>(
    transaction: boolean,
    body: (s: PgSession) => Promise<T>,
    beforeCommit?: () => void,
  ): Promise<T> {
    return runPgSession(this.dataSource, this.deadlines, transaction, body, beforeCommit);
  }

  async read(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    this.checkOpen();
    if (!Number.isSafeInteger(fromSeq) || !Number.isInteger(limit) || limit < 0) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        'read needs an integer fromSeq and limit',
        {
          fromSeq,
          limit,
        },
      );
    }
    if (limit === 0) return [];
    await this.init();
    // Position p is seq p in a gap-free table (seq is the primary key and CHECKed >= 1). The first
    // page has no lower bound, so a row slipped in below seq 1 (constraint dropped) still shows up
    // first and fails verification instead of being skipped.
    const from = fromSeq <= 1 ? '' : `WHERE "seq" >= ${this.p(1)} `;
    const params: unknown[] = fromSeq <= 1 ? [] : [fromSeq];
    params.push(Math.min(limit, MAX_READ));
    try {
      const rows = await this.select(
        `SELECT ${SELECT_COLUMNS} FROM ${this.entryTable} ${from}ORDER BY "seq" LIMIT ${this.p(params.length)}`,
        params,
      );
      return rows.map(rowToEntry);
    } catch (err) {
      throw wrap(err, 'read');
    }
  }

  async query(q: NormalizedAuditQuery): Promise<AuditPage> {
    this.checkOpen();
    await this.init();
    const where: string[] = [];
    const params: unknown[] = [];
    const bind = (value: unknown) => {
      params.push(value);
      return this.p(params.length);
    };
    const eq = (column: string, value: string | undefined) => {
      if (value !== undefined) where.push(`"${column}" = ${bind(encodeSqlText(value))}`);
    };
    if (q.after !== undefined) where.push(`"seq" ${q.order === 'desc' ? '<' : '>'} ${bind(q.after)}`);
    if (q.includeRedacted === false) where.push('"redacted_at" IS NULL AND "redacted_reason" IS NULL');
    if (q.from !== undefined) where.push(`"time" >= ${bind(encodeSqlText(q.from))}`);
    if (q.to !== undefined) where.push(`"time" < ${bind(encodeSqlText(q.to))}`);
    eq('category', q.category);
    eq('actor_id', q.actorId);
    eq('actor_type', q.actorType);
    eq('outcome', q.outcome);
    eq('resource_type', q.resourceType);
    eq('resource_id', q.resourceId);
    eq('request_id', q.requestId);
    if (q.action !== undefined) {
      if (q.action.endsWith('*')) {
        const prefix = encodeSqlText(q.action.slice(0, -1));
        if (this.dialect.kind === 'postgres') {
          // LIKE is case-sensitive on PostgreSQL; escape its wildcards so `a_b.*` is a literal prefix.
          where.push(`"action" LIKE ${bind(prefix.replace(/[\\%_]/g, '\\$&') + '%')} ESCAPE '\\'`);
        } else {
          // SQLite's LIKE ignores ASCII case; GLOB is case-sensitive and also uses the index for a prefix.
          where.push(`"action" GLOB ${bind(prefix.replace(/[*?[]/g, '[$&]') + '*')}`);
        }
      } else eq('action', q.action);
    }
    const sql =
      `SELECT ${SELECT_COLUMNS} FROM ${this.entryTable}` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY "seq" ${q.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${bind(q.limit + 1)}`;
    let rows: EntryRow[];
    try {
      rows = await this.select(sql, params);
    } catch (err) {
      throw wrap(err, 'query');
    }
    // One row beyond the page tells whether a next page exists (same semantics as the memory store).
    const entries = rows.slice(0, q.limit).map(rowToEntry);
    return rows.length > q.limit
      ? { entries, nextCursor: encodeAuditCursor(entries[entries.length - 1]!.seq) }
      : { entries };
  }

  redact(seqs: readonly number[], redaction: AuditRedaction): Promise<number> {
    if (
      !Array.isArray(seqs) ||
      !seqs.every((s) => Number.isSafeInteger(s) && s >= 1) ||
      typeof redaction?.at !== 'string' ||
      typeof redaction?.reason !== 'string'
    ) {
      return Promise.reject(
        new BulwarkAuditError(
          ErrorCodes.AUDIT_INVALID_ARGUMENT,
          'redact needs positive integer seqs and a redaction { at, reason }',
        ),
      );
    }
    const unique = [...new Set(seqs)];
    return this.mutex.run(async () => {
      this.checkOpen();
      await this.init();
      if (unique.length === 0) return 0;
      // Content columns to NULL, the marker set: exactly `redactedEntry(entry, redaction)`, and the
      // old values are gone from the row (dead tuples / free pages are the operator's VACUUM policy).
      const set = (first: number) =>
        `${CONTENT_COLUMNS.map((c) => `"${c}" = NULL`).join(', ')}, "redacted_at" = ${this.p(first)}, ` +
        `"redacted_reason" = ${this.p(first + 1)}`;
      const at = encodeSqlText(redaction.at);
      const reason = encodeSqlText(redaction.reason);
      const untouched = '"redacted_at" IS NULL AND "redacted_reason" IS NULL';
      try {
        if (this.dialect.kind === 'sqlite') {
          return await this.sqliteWrite(() => {
            let changed = 0;
            for (let i = 0; i < unique.length; i += 500) {
              const part = unique.slice(i, i + 500);
              changed += this.stmt(
                `UPDATE ${this.entryTable} SET ${set(1)} WHERE ${untouched} AND "seq" IN (${part.map(() => '?').join(', ')})`,
              ).run(at, reason, ...part).changes;
            }
            return changed;
          });
        }
        return await this.pgSession(true, (s) =>
          s.change(
            `UPDATE ${this.entryTable} SET ${set(1)} WHERE ${untouched} AND "seq" = ANY(${this.p(3)}::bigint[])`,
            [at, reason, unique],
          ),
        );
      } catch (err) {
        throw wrap(err, 'redact');
      }
    });
  }

  /** Waits for in-flight writes, then refuses further calls. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.mutex.run(async () => {
      if (this.closed) return;
      this.closed = true;
      this.statements.clear();
      this.inserts.clear();
      const writer = this.writer;
      this.writer = undefined;
      await writer?.close();
      if (this.destroyOnClose && this.dataSource.isInitialized) await this.dataSource.destroy();
    });
  }
}
