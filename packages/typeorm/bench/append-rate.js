/*
 * Durable append rate of TypeOrmAuditStore through AuditLog, on SQLite (file, WAL,
 * synchronous=FULL) and PostgreSQL (synchronous_commit=on). Uses the BUILT packages:
 *
 *   npm run build && node packages/typeorm/bench/append-rate.js [postgres-url]
 *
 * Modes (every acknowledged event is committed durably in all of them):
 *   group commit       bursts of 1000 concurrent append() calls: one transaction per burst,
 *                      multi-row INSERTs of up to 500 rows
 *   one INSERT/event   the same transactions, but insertChunkSize 1 (one INSERT statement per row)
 *   one txn/event      append() awaited one at a time: one transaction (and one fsync) per event
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const { AuditLog } = require('@bulwark/core');
const { createAuditDataSource, TypeOrmAuditStore } = require('../dist/index.js');

const PG_URL = process.argv[2] || process.env.POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

const evt = (i) => ({
  actor: { id: `user-${i % 97}`, type: 'user', ip: '203.0.113.9' },
  action: 'patient.read',
  resource: { type: 'patient', id: `p-${i % 1000}` },
  outcome: 'success',
  requestId: `req-${i}`,
  details: { i, fields: ['name', 'dob'] },
});

async function run(db, storeOptions, total, burst) {
  const store = new TypeOrmAuditStore(db.dataSource, storeOptions);
  const log = await AuditLog.open({ store, closeStore: false });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i += burst) {
    const n = Math.min(burst, total - i);
    if (n === 1) await log.append(evt(i));
    else await Promise.all(Array.from({ length: n }, (_, j) => log.append(evt(i + j))));
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const ok = (await log.verify()).ok;
  await log.close();
  await store.close();
  return { rate: Math.round(total / secs), secs, ok };
}

async function sqlite() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-bench-'));
  return {
    name: 'SQLite',
    dataSource: await createAuditDataSource({ url: path.join(dir, 'audit.sqlite') }),
    drop: async function () {
      await this.dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres() {
  const schema = `bw_bench_${process.pid}`;
  const dataSource = await createAuditDataSource({ url: PG_URL, schema });
  return {
    name: 'PostgreSQL',
    dataSource,
    drop: async () => {
      await dataSource.destroy();
      const c = new Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA "${schema}" CASCADE`);
      await c.end();
    },
  };
}

async function main() {
  const modes = [
    ['group commit (multi-row INSERT)', {}, 20000, 1000],
    ['group commit, one INSERT per event', { insertChunkSize: 1 }, 20000, 1000],
    ['one transaction per event', {}, 1000, 1],
  ];
  for (const make of [sqlite, postgres]) {
    let db;
    try {
      db = await make();
    } catch (err) {
      console.log(`skipped ${make.name}: ${err.message}`);
      continue;
    }
    for (const [label, options, total, burst] of modes) {
      const r = await run(db, options, total, burst);
      console.log(
        `${db.name.padEnd(10)} ${label.padEnd(36)} ${String(r.rate).padStart(7)} events/s  (${total} in ${r.secs.toFixed(2)} s, verify ${r.ok ? 'ok' : 'FAILED'})`,
      );
    }
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
