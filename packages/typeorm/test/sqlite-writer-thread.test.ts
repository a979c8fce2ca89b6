import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { AuditLog, ErrorCodes, verifyAuditLog, type AuditEvent } from '@bulwark/core';
import { createAuditDataSource, TypeOrmAuditStore, type TypeOrmAuditStoreOptions } from '../src';
import { sqliteBackend, type TestDatabase } from './support/backends';

/*
 * TypeOrmAuditStore on a SQLite file commits appends on a worker thread with its own connection.
 * The store behaviour suite (typeorm-audit-store.test.ts) runs on both paths; these are the
 * thread's own cases: lock waits against the DataSource's connection, another writer moving the
 * head between prepare and commit, the thread dying with a batch in flight, and process exit.
 */

interface Internals {
  writer?: { worker: Worker; alive: boolean };
  writerSetup?: { synchronous: number; secureDelete: number; binding: string };
}
const internals = (store: TypeOrmAuditStore) => store as unknown as Internals;

interface Connection {
  exec(sql: string): unknown;
  prepare(sql: string): {
    all(...params: unknown[]): Record<string, unknown>[];
    run(...params: unknown[]): unknown;
  };
}
const connectionOf = (db: TestDatabase) =>
  (db.dataSource.driver as unknown as { databaseConnection: Connection }).databaseConnection;

const event = (requestId: string): AuditEvent => ({
  actor: { id: 'alice', type: 'user' },
  action: 'patient.read',
  resource: { type: 'patient', id: 'p-1' },
  outcome: 'success',
  requestId,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TypeOrmAuditStore on SQLite: the writer thread', () => {
  let db: TestDatabase;
  let store: TypeOrmAuditStore;
  let log: AuditLog;
  const open = async (options?: TypeOrmAuditStoreOptions) => {
    store = await TypeOrmAuditStore.open(db.dataSource, options);
    log = await AuditLog.open({ store, closeStore: false });
  };

  beforeEach(async () => {
    db = await sqliteBackend.create();
  });
  afterEach(async () => {
    await log?.close();
    await store?.close();
    await db.drop();
  });

  it('commits on a thread whose connection keeps the DataSource connection durability (synchronous FULL, secure_delete)', async () => {
    await open();
    expect((await log.append(event('r-1'))).seq).toBe(1);
    expect(internals(store).writer?.alive).toBe(true);
    expect(internals(store).writerSetup).toMatchObject({ synchronous: 2, secureDelete: 1 });
    const rows = await db.raw(`SELECT seq, request_id FROM bulwark_audit_entry`);
    expect(rows).toEqual([{ seq: 1, request_id: 'r-1' }]);
  });

  it('appends on the DataSource connection when turned off, and always for an in-memory database', async () => {
    await open({ writerThread: false });
    await log.append(event('r-1'));
    expect(internals(store).writer).toBeUndefined();
    await log.close();
    await store.close();

    const memory = await createAuditDataSource({ url: ':memory:' });
    try {
      const memoryStore = await TypeOrmAuditStore.open(memory);
      const memoryLog = await AuditLog.open({ store: memoryStore });
      expect((await memoryLog.append(event('m-1'))).seq).toBe(1);
      expect(internals(memoryStore).writer).toBeUndefined();
      expect(internals(memoryStore).writerSetup).toBeUndefined();
      await memoryLog.close();
    } finally {
      if (memory.isInitialized) await memory.destroy();
    }
  });

  it('waits for a write transaction open on the DataSource connection, then commits', async () => {
    await open();
    await log.append(event('r-1')); // the thread is up
    const connection = connectionOf(db);
    connection.exec('BEGIN IMMEDIATE');
    let settled = false;
    const appended = log.append(event('r-2')).finally(() => (settled = true));
    await sleep(150);
    expect(settled).toBe(false);
    connection.exec('COMMIT');
    await expect(appended).resolves.toMatchObject({ seq: 2 });
    expect((await verifyAuditLog(store)).ok).toBe(true);
  });

  it('an append awaited inside a write transaction on the same file fails with ERR_AUDIT_STORE_LOCKED naming it', async () => {
    await open({ lockTimeoutMs: 200 });
    const connection = connectionOf(db);
    connection.exec('BEGIN IMMEDIATE');
    try {
      const err = await log.append(event('r-1')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCodes.AUDIT_STORE_LOCKED });
      expect((err as Error).message).toMatch(/transaction is open on the DataSource connection/);
    } finally {
      connection.exec('ROLLBACK');
    }
    expect((await log.append(event('r-2'))).seq).toBe(1);
  });

  it('writes on the DataSource connection to the same file, between appends, only ever wait for a commit (no deadlock)', async () => {
    await open();
    const connection = connectionOf(db);
    connection.exec('CREATE TABLE "scratch" ("n" integer)');
    const insert = connection.prepare('INSERT INTO "scratch" ("n") VALUES (?)');
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      appends.push(log.append(event(`w-${i}`)));
      // Synchronous on this thread: had the writer thread held the lock while waiting for this
      // thread, this would wait out the busy timeout and throw SQLITE_BUSY.
      await new Promise((r) => setImmediate(r));
      insert.run(i);
    }
    await Promise.all(appends);
    expect(connection.prepare('SELECT COUNT(*) AS n FROM "scratch"').all()).toEqual([{ n: 40 }]);
    expect((await store.head()).seq).toBe(40);
    expect((await verifyAuditLog(store)).ok).toBe(true);
  });

  it('another writer moving the head between prepare and commit: the batch is prepared again on the new head', async () => {
    await open();
    const other = await createAuditDataSource({ url: db.url });
    const otherStore = await TypeOrmAuditStore.open(other);
    const otherLog = await AuditLog.open({ store: otherStore });
    try {
      await log.append(event('a-1'));
      const heads: number[] = [];
      const append = store.append.bind(store);
      jest.spyOn(store, 'append').mockImplementation((prepare) =>
        append(async (head) => {
          heads.push(head.seq);
          if (heads.length === 1) await otherLog.append(event('b-1')); // lands at seq 2
          return prepare(head);
        }),
      );
      expect((await log.append(event('a-2'))).seq).toBe(3);
      expect(heads).toEqual([1, 2]);
      const rows = await db.raw(`SELECT seq, request_id FROM bulwark_audit_entry ORDER BY seq`);
      expect(rows).toEqual([
        { seq: 1, request_id: 'a-1' },
        { seq: 2, request_id: 'b-1' },
        { seq: 3, request_id: 'a-2' },
      ]);
      expect((await verifyAuditLog(store)).ok).toBe(true);
      expect((await log.verify()).ok).toBe(true);
    } finally {
      await otherLog.close();
      if (other.isInitialized) await other.destroy();
    }
  });

  it('commits a batch far larger than a small worker heap (1,200 events with 60 KB of details each)', async () => {
    await open();
    const details = { note: 'x'.repeat(60 * 1024) };
    const appended = await Promise.all(
      Array.from({ length: 1200 }, (_, i) => log.append({ ...event(`big-${i}`), details })),
    );
    expect(appended[appended.length - 1]!.seq).toBe(1200);
    expect((await store.head()).seq).toBe(1200);
  });

  it('a thread that cannot start: the batch is stored on the DataSource connection, with a warning, and so are the next ones', async () => {
    await open();
    // A better-sqlite3 the thread cannot load (as an addon build that cannot run in a worker).
    internals(store).writerSetup!.binding = path.join(__dirname, 'no-such-better-sqlite3');
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect((await log.append(event('r-1'))).seq).toBe(1);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]![1]).toMatchObject({ code: 'BULWARK_AUDIT_WRITER_THREAD' });
      expect(String(warn.mock.calls[0]![0])).toMatch(/could not start .*no-such-better-sqlite3/);
      expect(internals(store).writerSetup).toBeUndefined();
      expect((await log.append(event('r-2'))).seq).toBe(2);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
    const rows = await db.raw(`SELECT seq, request_id FROM bulwark_audit_entry ORDER BY seq`);
    expect(rows).toEqual([
      { seq: 1, request_id: 'r-1' },
      { seq: 2, request_id: 'r-2' },
    ]);
    expect((await verifyAuditLog(store)).ok).toBe(true);
  });

  it('a thread stopped with a batch in flight: acknowledged only if stored, refused only if not, and the next thread goes on', async () => {
    await open();
    await log.append(event('warm-up'));
    const outcomes = { stored: 0, refused: 0 };
    for (let i = 0; i < 12; i++) {
      const writer = internals(store).writer!;
      const requestId = `kill-${i}`;
      const appended = log.append(event(requestId)).then(
        () => 'stored' as const,
        (err: unknown) => {
          expect(err).toMatchObject({ code: ErrorCodes.AUDIT_STORE, details: { outcome: 'not-stored' } });
          return 'refused' as const;
        },
      );
      // Stop the thread at a different point of the batch each time (before, during or after COMMIT).
      for (let turn = 0; turn < i % 4; turn++) await new Promise((r) => setImmediate(r));
      if (i % 3 === 0) await sleep(i % 2);
      await writer.worker.terminate();
      const outcome = await appended;
      outcomes[outcome]++;
      const rows = await db.raw(`SELECT seq FROM bulwark_audit_entry WHERE request_id = $1`, [requestId]);
      expect(rows).toHaveLength(outcome === 'stored' ? 1 : 0);
      // A new thread takes over.
      expect((await log.append(event(`after-${i}`))).seq).toBe((await store.head()).seq);
    }
    expect(outcomes.stored + outcomes.refused).toBe(12);
    expect((await verifyAuditLog(store)).ok).toBe(true);
    expect((await log.verify()).ok).toBe(true);
  });

  it('an idle thread does not keep the process alive, and one with a batch in flight does until it is durable', async () => {
    for (const pkg of ['core', 'typeorm']) {
      const dist = path.join(__dirname, '..', '..', pkg, 'dist', 'index.js');
      if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\``);
    }
    const dist = (pkg: string) => JSON.stringify(path.join(__dirname, '..', '..', pkg, 'dist', 'index.js'));
    const script = `
      const { AuditLog } = require(${dist('core')});
      const { TypeOrmAuditStore, createAuditDataSource } = require(${dist('typeorm')});
      (async () => {
        const ds = await createAuditDataSource({ url: process.argv[1], migrate: false });
        const log = await AuditLog.open({ store: await TypeOrmAuditStore.open(ds) });
        const event = (requestId) => ({ actor: { id: 'a', type: 'user' }, action: 'x.y', outcome: 'success', requestId });
        await log.append(event('exit-0')); // the thread is up, and idle from here
        process.stdout.write('ready\\n');
        process.stdin.once('data', () => {
          process.stdin.destroy();
          log.append(event('exit-1'));
          process.on('exit', () => process.stdout.write('exiting\\n'));
          process.stdout.write('appending\\n');
          // neither awaited nor closed: the batch must still land, then the process ends on its own
        });
      })();`;
    const connection = connectionOf(db);
    const child = spawn(process.execPath, ['-e', script, db.url], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 15_000;
      while (!stdout.includes(text) && Date.now() < deadline) await sleep(20);
    };
    await waitFor('ready');
    // The test holds the write lock, so the child's next batch waits in its thread until we let go.
    connection.exec('BEGIN IMMEDIATE');
    child.stdin.write('go\n');
    await waitFor('appending');
    await sleep(500);
    // The child's event loop must not have ended while its batch waits for the lock.
    const exitingEarly = stdout.includes('exiting');
    connection.exec('COMMIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(timer);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(exitingEarly).toBe(false);
    expect(stdout).toContain('exiting');
    const rows = connection.prepare(`SELECT request_id FROM bulwark_audit_entry ORDER BY seq`).all();
    expect(rows).toEqual([{ request_id: 'exit-0' }, { request_id: 'exit-1' }]);
  });
});
