import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { AuditLog, verifyAuditLog } from '@bulwark/core';
import { describeWithService } from '../../../test/support/services';
import { TypeOrmAuditStore } from '../src';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from './support/backends';

/*
 * Real OS processes appending to one database at once. The workers run the BUILT packages
 * (`npm test` builds first); a missing or stale dist fails here with instructions.
 */
const WORKER = path.join(__dirname, 'workers', 'append-worker.js');
const DIST = path.join(__dirname, '..', 'dist', 'index.js');

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

function assertBuilt(): void {
  const build =
    'run `npm run build` (or `npx tsc -p packages/core/tsconfig.build.json && npx tsc -p packages/typeorm/tsconfig.build.json`)';
  for (const pkg of ['core', 'typeorm']) {
    const dist = path.join(__dirname, '..', '..', pkg, 'dist', 'index.js');
    if (!fs.existsSync(dist))
      throw new Error(`${dist} is missing: the multi-process tests run the built packages; ${build}`);
  }
  const src = newest(path.join(__dirname, '..', 'src'));
  if (fs.statSync(DIST).mtimeMs < src - 1000) {
    throw new Error(`packages/typeorm/dist is older than src: the workers would test stale code; ${build}`);
  }
}

interface WorkerConfig {
  url: string;
  schema?: string;
  worker: number;
  count: number;
  burst: number;
  mode: 'count' | 'loop';
}

function start(cfg: WorkerConfig): {
  child: ChildProcess;
  exited: Promise<{ code: number | null; stderr: string }>;
} {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}

function processBehaviour(backend: Backend): void {
  let db: TestDatabase;
  beforeAll(assertBuilt);
  beforeEach(async () => {
    db = await backend.create();
  });
  afterEach(() => db.drop());

  it('4 processes x 2000 concurrent appends make one chain: seq 1..8000, no duplicate, verifies', async () => {
    const workers = [0, 1, 2, 3].map((worker) =>
      start({ url: db.url, schema: db.schema, worker, count: 2000, burst: 40, mode: 'count' }),
    );
    // Release all workers together once each has opened its log (see the worker's start barrier).
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let out = '';
            w.child.stdout!.on('data', (d) => {
              out += d;
              if (out.includes('ready\n')) resolve();
            });
            w.child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
          }),
      ),
    );
    for (const w of workers) w.child.stdin!.end('go\n');
    const results = await Promise.all(workers.map((w) => w.exited));
    for (const r of results) expect(r).toEqual({ code: 0, stderr: '' });

    const store = await TypeOrmAuditStore.open(db.dataSource);
    const all = await store.read(1, 10_000);
    expect(all).toHaveLength(8000);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 8000 }, (_, i) => i + 1));
    // Every worker's 2000 events are there exactly once.
    for (let w = 0; w < 4; w++) {
      const ids = all.filter((e) => e.actor?.id === `worker-${w}`).map((e) => Number(e.resource!.id));
      expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    }
    // The workers really interleaved (otherwise this proves nothing about the lock): four writers
    // running one after the other give exactly 3 switches between actors; more means at least one
    // writer appended between another's batches. (SQLite's busy back-off lets the lock holder keep
    // it for several batches, so the count varies a lot with machine load.)
    const switches = all.filter((e, i) => i > 0 && e.actor!.id !== all[i - 1]!.actor!.id).length;
    expect(switches).toBeGreaterThan(3);
    const report = await verifyAuditLog(store);
    expect(report).toMatchObject({ ok: true, checkedEntries: 8000, treeSize: 8000 });
    expect(await store.head()).toEqual({ seq: 8000, leafHash: all[7999]!.leafHash });
    await store.close();
  }, 90_000);

  it('SIGKILL mid-append loses no acknowledged event and leaves a chain that verifies and extends', async () => {
    const { child, exited } = start({
      url: db.url,
      schema: db.schema,
      worker: 9,
      count: 0,
      burst: 25,
      mode: 'loop',
    });
    const acked: number[] = [];
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        const m = /^ack (\d+)$/.exec(line);
        if (m) acked.push(Number(m[1]));
        // Kill while the worker is busy appending (well past its first transactions).
        if (acked.length >= 600 && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      void exited.then(({ code, stderr }) => reject(new Error(`worker exited early (${code}): ${stderr}`)));
    });
    const { code } = await exited;
    expect(code).toBeNull(); // killed by the signal

    const store = await TypeOrmAuditStore.open(db.dataSource);
    const all = await store.read(1, 100_000);
    const stored = new Set(all.map((e) => e.seq));
    expect(acked.filter((s) => !stored.has(s))).toEqual([]);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect((await verifyAuditLog(store)).ok).toBe(true);
    // The lock died with the process: a new writer continues the chain.
    const log = await AuditLog.open({ store, closeStore: false });
    const next = await log.append({
      actor: { id: 'after', type: 'system' },
      action: 'audit.resumed',
      outcome: 'success',
    });
    expect(next.seq).toBe(all.length + 1);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
    await store.close();
  }, 60_000);
}

describe('TypeOrmAuditStore, several OS processes, SQLite file database', () =>
  processBehaviour(sqliteBackend));
describeWithService('postgres', 'TypeOrmAuditStore, several OS processes, PostgreSQL', () =>
  processBehaviour(postgresBackend),
);
