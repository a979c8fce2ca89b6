import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/** What the writer thread needs: its own connection to the file and the store's statements. */
export interface SqliteWriterSetup {
  /** Absolute path of the database file. */
  file: string;
  /** Absolute path of the better-sqlite3 module the DataSource uses. */
  binding: string;
  /** How long BEGIN IMMEDIATE waits for another connection's write lock (the store's lockTimeoutMs). */
  busyTimeoutMs: number;
  /** The DataSource connection's `synchronous` and `secure_delete`, mirrored on the thread's connection. */
  synchronous: number;
  secureDelete: number;
  headSql: string;
  tailSql: string;
  updateHeadSql: string;
  /** `INSERT INTO ... (...) VALUES ` and one row's placeholder tuple. */
  insertPrefix: string;
  insertTuple: string;
}

/** The head row and the rows from its seq on, as the thread read them under the write lock. */
export interface LockedHeadRows {
  head: Record<string, unknown> | undefined;
  tail: Record<string, unknown>[];
}

/** One batch: committed only if the head under the lock is still `expect`. */
export interface SqliteWriteRequest {
  expect: { seq: number; leafHash: string };
  /** Multi-row INSERTs: [rows in the statement, their values flattened]. */
  parts: [number, unknown[]][];
  last: { seq: number; leafHash: string };
}

export type SqliteWriteOutcome =
  | { committed: true }
  | { committed: false; conflict: LockedHeadRows }
  | { committed: false; error: { code?: string; message: string } };

type Reply = SqliteWriteOutcome & { id: number };

/**
 * The body of the writer thread. It runs in a worker started from its source text (`eval`), so it
 * must stay self-contained: no imports, no helpers from outside, nothing the TypeScript emit would
 * hoist out of it. Every message is handled synchronously, start to finish, so the write lock is
 * never held while waiting for the main thread: BEGIN IMMEDIATE, head and tail read, and either
 * ROLLBACK (the head moved since the batch was prepared: the main thread prepares again) or the
 * INSERTs, the head UPDATE and COMMIT (with its fsync).
 */
function writerThread(): void {
  const { parentPort, workerData } = require('node:worker_threads');
  const Database = require(workerData.binding);
  const db = new Database(workerData.file, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
  db.pragma('synchronous = ' + Number(workerData.synchronous));
  db.pragma('secure_delete = ' + Number(workerData.secureDelete));
  const head = db.prepare(workerData.headSql);
  const tail = db.prepare(workerData.tailSql);
  const updateHead = db.prepare(workerData.updateHeadSql);
  const inserts = new Map();
  const insert = (rows: number) => {
    let s = inserts.get(rows);
    if (s === undefined) {
      s = db.prepare(workerData.insertPrefix + new Array(rows).fill(workerData.insertTuple).join(', '));
      inserts.set(rows, s);
    }
    return s;
  };
  parentPort.on('message', (m: SqliteWriteRequest & { id: number; op?: 'close' }) => {
    if (m.op === 'close') {
      db.close();
      parentPort.close();
      return;
    }
    try {
      db.exec('BEGIN IMMEDIATE');
      const h = head.get();
      const t = h === undefined ? [] : tail.all(h.seq);
      const continues =
        h !== undefined &&
        h.seq === m.expect.seq &&
        h.leaf_hash === m.expect.leafHash &&
        (h.seq === 0
          ? t.length === 0
          : t.length === 1 && t[0].seq === h.seq && t[0].leaf_hash === h.leaf_hash);
      if (!continues) {
        db.exec('ROLLBACK');
        parentPort.postMessage({ id: m.id, committed: false, conflict: { head: h, tail: t } });
        return;
      }
      for (const [rows, values] of m.parts) insert(rows).run(values);
      updateHead.run(m.last.seq, m.last.leafHash);
      db.exec('COMMIT');
      parentPort.postMessage({ id: m.id, committed: true });
    } catch (err: unknown) {
      if (db.inTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // the original error matters more; SQLite rolls back when the connection closes
        }
      }
      const e = err as { code?: unknown; message?: unknown } | null;
      parentPort.postMessage({
        id: m.id,
        committed: false,
        error: {
          code: typeof e?.code === 'string' ? e.code : undefined,
          message: String(e?.message ?? err),
        },
      });
    }
  });
}

/** Thrown when the thread stopped (crashed or was terminated) with a batch in flight. */
export class WriterThreadStopped extends Error {
  constructor(cause: unknown) {
    super('the SQLite audit writer thread stopped', { cause });
  }
}

/**
 * A worker thread with its own better-sqlite3 connection that commits audit batches, so the
 * event loop never runs SQLite's inserts, the commit or its fsync. One batch at a time (the store
 * serialises appends); the thread is unref'd while idle, so it never keeps a process alive.
 */
export class SqliteAuditWriter {
  private readonly worker: Worker;
  private nextId = 1;
  private inFlight?: { id: number; resolve: (r: SqliteWriteOutcome) => void; reject: (e: unknown) => void };
  private stopped?: unknown;
  #answered = false;

  constructor(setup: SqliteWriterSetup) {
    this.worker = new Worker(`(${writerThread.toString()})()`, {
      eval: true,
      workerData: setup,
      // No heap limit of its own: a batch (up to maxBatchSize events) must always fit, or every
      // retry of it would fail the same way.
    });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const op = this.inFlight;
      if (op === undefined || reply.id !== op.id) return;
      this.inFlight = undefined;
      this.#answered = true;
      this.worker.unref();
      op.resolve(reply);
    });
    const stop = (cause: unknown) => {
      this.stopped ??= cause;
      const op = this.inFlight;
      this.inFlight = undefined;
      op?.reject(new WriterThreadStopped(cause));
    };
    this.worker.on('error', stop);
    this.worker.on('exit', (code) => stop(new Error(`writer thread exited with code ${code}`)));
  }

  /** True once the thread has answered a batch (it started: its connection opened). */
  get answered(): boolean {
    return this.#answered;
  }

  /** False once the thread has stopped: the store starts a new one for the next batch. */
  get alive(): boolean {
    return this.stopped === undefined;
  }

  write(request: SqliteWriteRequest): Promise<SqliteWriteOutcome> {
    if (this.stopped !== undefined) return Promise.reject(new WriterThreadStopped(this.stopped));
    if (this.inFlight !== undefined) return Promise.reject(new Error('one batch at a time'));
    return new Promise<SqliteWriteOutcome>((resolve, reject) => {
      const id = this.nextId++;
      this.inFlight = { id, resolve, reject };
      // Referenced while a batch is in flight: the process must not exit before it is durable.
      this.worker.ref();
      this.worker.postMessage({ id, ...request });
    });
  }

  /** Closes the thread's connection and waits for the thread to end. */
  async close(): Promise<void> {
    if (this.stopped !== undefined) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref();
    this.worker.postMessage({ op: 'close' });
    await exited;
  }
}

/**
 * Where the better-sqlite3 module TypeORM loaded lives (TypeORM requires it from its own
 * package), or undefined if it cannot be found from there.
 */
export function betterSqlite3Path(): string | undefined {
  try {
    const fromTypeorm = createRequire(require.resolve('typeorm'));
    return path.resolve(fromTypeorm.resolve('better-sqlite3'));
  } catch {
    return undefined;
  }
}
