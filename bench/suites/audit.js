'use strict';

/**
 * Tamper-evident audit log: append, verification and Merkle proofs.
 *
 * Every append and verification row is in EVENTS per second (one op = one event), so rows compare
 * directly with each other and with the floor:
 * - node:crypto   the floor: a bare SHA-256 hash chain, sha256(prev || JSON.stringify(event)) per
 *                 event, no validation, no redaction, no canonical JSON, no Merkle tree, no store.
 * - bulwark       AuditLog (validation, redaction, RFC 8785 canonical JSON, leaf hash, hash chain,
 *                 RFC 6962 Merkle tree) with group commit: events arrive in bursts of 250
 *                 concurrent `append()` calls (20 in --quick), and each burst becomes one store
 *                 write (one fsync / one transaction with multi-row INSERTs on the durable stores).
 * - bulwark 1 INSERT/event (SQL stores)
 *                 group commit as above, but TypeOrmAuditStore with insertChunkSize 1: one INSERT
 *                 statement per event inside each burst's transaction.
 * - bulwark 1 event/commit
 *                 the same AuditLog with maxBatchSize 1, each append awaited before the next: one
 *                 transaction, one INSERT and one fsync per event (what logging without batching
 *                 costs), measured in the same run as the batched form.
 *
 * Cases:
 * - append: memory, file (JSON lines, fsync per commit), SQLite (WAL, synchronous=FULL) and
 *   PostgreSQL (synchronous_commit=on) through @bulwark/typeorm's TypeOrmAuditStore. PostgreSQL at
 *   BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) in a schema unique to the
 *   run, dropped afterwards; skipped with the reason printed when unreachable.
 * - verify: full verification (seq, links, every leaf hash recomputed from content, Merkle root)
 *   of a memory-store log, per entry; the floor re-hashes its chain.
 * - proofs at 1,000,000 entries (1,000 in --quick): an inclusion proof generated, an inclusion
 *   proof checked against a trusted root, and a consistency proof generated and checked. The
 *   1M-entry log is built once, in bursts of 10,000 concurrent appends, over a store that keeps
 *   only its head (the proofs come from the log's in-memory Merkle tree; holding a million entry
 *   objects would only slow every other case's GC).
 *
 * How bursts fit the harness (which times one `run()` call per op, awaiting it when it returns a
 * promise): `run()` queues one event and returns at once; every BURST-th call appends the queued
 * events concurrently and returns the promise of the whole burst. All the work of every event is
 * therefore inside the timed batches; a batch ending mid-burst leaves up to BURST - 1 events to the
 * next batch, noise of at most BURST / batch (a few %), which the median over rounds absorbs.
 * (In --quick mode one op is a whole burst, see `wholeBurstPerOp`; quick numbers are not read.)
 *
 * Correctness: every burst's output is checked (consecutive seqs, each prevHash is the previous
 * leafHash), each impl's extra checks run before timing (a tampered entry or proof is rejected),
 * and close() fully verifies every log the suite wrote; any failure aborts the suite.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { cliCases, cliTargets, rssSource } = require('../lib/audit-cli');

const PG_URL = process.env.BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const HEX64 = /^[0-9a-f]{64}$/;
const QUEUED = Object.freeze({ queued: true });

// ---------------------------------------------------------------------------------------------
// Loading the built packages

function loadCore() {
  let core;
  try {
    // The head-only store below is a store implementation: it takes checkAppendContinuity from
    // the store implementer's entry, as any third-party AuditStore would.
    core = { ...require('@bulwark/core'), ...require('@bulwark/core/store') };
  } catch (err) {
    throw new Error(`cannot load @bulwark/core (run \`npm run build\` first): ${err.message}`, {
      cause: err,
    });
  }
  const missing = ['AuditLog', 'MemoryAuditStore', 'FileAuditStore', 'verifyAuditLog'].filter(
    (name) => !(name in core),
  );
  if (missing.length > 0) {
    throw new Error(
      `@bulwark/core does not export ${missing.join(', ')} (stale build? run \`npm run build\`)`,
    );
  }
  return core;
}

function loadTypeorm() {
  try {
    return require('@bulwark/typeorm');
  } catch (err) {
    throw new Error(`cannot load @bulwark/typeorm (run \`npm run build\` first): ${err.message}`, {
      cause: err,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Events: a fixed, seeded pool cycled by every implementation

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Realistic request-scoped events (PCI DSS 10.2 fields), about 300 bytes of JSON each. */
function makeEvents(count) {
  const rand = mulberry32(0xa0d17);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const actions = ['patient.read', 'patient.update', 'record.export', 'auth.login', 'invoice.read'];
  const outcomes = ['success', 'success', 'success', 'failure', 'denied'];
  const base = Date.UTC(2025, 0, 1);
  const events = [];
  for (let i = 0; i < count; i++) {
    const action = pick(actions);
    events.push({
      actor: {
        id: `user-${Math.floor(rand() * 500)}`,
        type: 'user',
        ip: `203.0.113.${Math.floor(rand() * 250)}`,
        sessionId: `s-${Math.floor(rand() * 1e9).toString(36)}`,
      },
      action,
      resource: { type: action.split('.')[0], id: `r-${Math.floor(rand() * 1e6)}` },
      outcome: pick(outcomes),
      requestId: `req-${i.toString(36)}-${Math.floor(rand() * 1e9).toString(36)}`,
      time: new Date(base + i * 37).toISOString(),
      details: { fields: ['name', 'dob'].slice(0, 1 + (i % 2)), count: i % 50, reason: 'care' },
    });
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// The floor: a bare SHA-256 chain

const ZERO = '0'.repeat(64);
/** One-shot crypto.hash where available (Node >= 20.12): the cheapest SHA-256 call there is. */
const chainHash =
  typeof crypto.hash === 'function'
    ? (prev, event) => crypto.hash('sha256', prev + JSON.stringify(event))
    : (prev, event) => crypto.createHash('sha256').update(prev).update(JSON.stringify(event)).digest('hex');

function floorAppendImpl(events) {
  let prev = ZERO;
  let i = 0;
  return {
    impl: 'node:crypto',
    run() {
      prev = chainHash(prev, events[i]);
      i = i + 1 === events.length ? 0 : i + 1;
      return prev;
    },
  };
}

/** Verifying the floor chain: recompute each link and compare (the floor has nothing else to check). */
function floorVerifyImpl(events, length) {
  const hashes = [];
  let prev = ZERO;
  for (let i = 0; i < length; i++) hashes.push((prev = chainHash(prev, events[i % events.length])));
  let i = 0;
  return {
    impl: 'node:crypto',
    run() {
      const ok = chainHash(i === 0 ? ZERO : hashes[i - 1], events[i % events.length]) === hashes[i];
      i = i + 1 === length ? 0 : i + 1;
      return ok;
    },
    verify() {
      const tampered = { ...events[3], outcome: 'success', action: 'auth.logout' };
      if (chainHash(hashes[2], tampered) === hashes[3])
        throw new Error('floor chain accepted a tampered event');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Bursts (see the header)

/**
 * Set by setup(). In --quick mode one op is a whole burst (see burstRunner): quick numbers are not
 * read, and with 5 ms rounds the harness's calibration could otherwise size a round from a probe
 * that happened to hold no burst at all, and run for minutes.
 */
let wholeBurstPerOp = false;

/**
 * A `run()` that queues one event per call and appends `burst` of them concurrently every
 * `burst`-th call (the very first call flushes at once, so the harness sees a promise and awaits).
 * `appendAll(events)` returns the promise of the stored entries.
 *
 * Full-mode rounds (400 ms) are long against one burst (a durable burst of 250 takes ~10-30 ms),
 * which matters beyond noise: the harness calibrates from the fastest of three probes, and a
 * probe must hold at least one burst for that to mean anything.
 */
function burstRunner(events, burst, appendAll) {
  let queued = [];
  let i = 0;
  let first = true;
  return () => {
    queued.push(events[i]);
    i = i + 1 === events.length ? 0 : i + 1;
    if (wholeBurstPerOp) {
      while (queued.length < burst) {
        queued.push(events[i]);
        i = i + 1 === events.length ? 0 : i + 1;
      }
    }
    if (!first && queued.length < burst) return QUEUED;
    first = false;
    const batch = queued;
    queued = [];
    return appendAll(batch);
  };
}

/** Output of an append impl: QUEUED, one entry, or a burst of entries forming a valid chain piece. */
function checkAppendOutput(output, impl) {
  if (output === QUEUED) return;
  if (impl === 'node:crypto') {
    if (typeof output !== 'string' || !HEX64.test(output)) throw new Error('not a hex SHA-256');
    return;
  }
  const entries = Array.isArray(output) ? output : [output];
  if (entries.length === 0) throw new Error('an append burst stored nothing');
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k];
    if (typeof e?.leafHash !== 'string' || !HEX64.test(e.leafHash))
      throw new Error('entry without a leaf hash');
    if (k > 0 && (e.seq !== entries[k - 1].seq + 1 || e.prevHash !== entries[k - 1].leafHash)) {
      throw new Error(`entries ${entries[k - 1].seq} and ${e.seq} do not form a chain`);
    }
  }
}

/**
 * AuditLogs over stores from `openStore(storeOptions)`: group commit (`bulwark`), optionally the
 * same with one INSERT statement per row (`insertChunkSize: 1`, SQL stores), and optionally one
 * commit per event. `logs` collects every log opened, for the final verification in close().
 */
async function appendImpls(core, events, { openStore, burst, rotateAt, perEvent, perRowInsert, logs }) {
  const open = async (options, storeOptions) => {
    const store = await openStore(storeOptions);
    const log = await core.AuditLog.open({ store, ...options });
    logs.push(log);
    return log;
  };
  const grouped = async (impl, storeOptions) => {
    let log = await open({}, storeOptions);
    return {
      impl,
      run: burstRunner(events, burst, async (batch) => {
        // A memory log is replaced once large, so the suite's heap (and GC cost) stays flat.
        if (rotateAt !== undefined && log.size >= rotateAt) {
          logs.splice(logs.indexOf(log), 1);
          await log.close();
          log = await open({}, storeOptions);
        }
        const current = log;
        return Promise.all(batch.map((event) => current.append(event)));
      }),
      async verify() {
        const report = await log.verify();
        if (!report.ok) throw new Error(`log does not verify: ${report.firstBad?.message}`);
      },
    };
  };
  const impls = [await grouped('bulwark')];
  if (perRowInsert) impls.push(await grouped('bulwark 1 INSERT/event', { insertChunkSize: 1 }));
  if (perEvent) {
    const single = await open({ maxBatchSize: 1 });
    let i = 0;
    impls.push({
      impl: 'bulwark 1 event/commit',
      run() {
        const event = events[i];
        i = i + 1 === events.length ? 0 : i + 1;
        return single.append(event);
      },
    });
  }
  return impls;
}

// ---------------------------------------------------------------------------------------------
// Stores

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-bench-audit-'));
}

async function sqliteStores(typeorm, dir, cleanups) {
  let n = 0;
  return async (storeOptions) => {
    const dataSource = await typeorm.createAuditDataSource({ url: path.join(dir, `audit-${n++}.sqlite`) });
    cleanups.push(() => (dataSource.isInitialized ? dataSource.destroy() : undefined));
    return new typeorm.TypeOrmAuditStore(dataSource, storeOptions);
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A store factory on PostgreSQL (one fresh schema per store), or a reason it cannot run. */
async function postgresStores(typeorm, cleanups) {
  let Client;
  try {
    ({ Client } = require('pg'));
  } catch (err) {
    return { skip: `the pg driver is not installed (${err.message})` };
  }
  const runId = `bw_bench_${process.pid}_${Date.now().toString(36)}`;
  const schemas = [];
  const dropAll = async () => {
    if (schemas.length === 0) return;
    const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  };
  // Reachability first, with a short timeout, so an absent server costs seconds, not minutes.
  try {
    const probe = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    await withTimeout(probe.connect(), 6000, 'connecting');
    await probe.end();
  } catch (err) {
    return { skip: `PostgreSQL at ${PG_URL.replace(/\/\/[^@]*@/, '//…@')} is unreachable (${err.message})` };
  }
  cleanups.push(dropAll);
  return {
    open: async (storeOptions) => {
      const schema = `${runId}_${schemas.length}`;
      schemas.push(schema);
      const dataSource = await withTimeout(
        typeorm.createAuditDataSource({ url: PG_URL, schema }),
        30_000,
        'creating the PostgreSQL audit tables',
      );
      cleanups.unshift(() => (dataSource.isInitialized ? dataSource.destroy() : undefined));
      return new typeorm.TypeOrmAuditStore(dataSource, storeOptions);
    },
  };
}

/**
 * An AuditStore that keeps only its head (and every `sampleEvery`-th entry, for content checks):
 * the 1M-entry proof log's store. Honours the append contract (continuity check, serialised
 * appends) so AuditLog runs its normal path.
 */
function headOnlyStore(core, sampleEvery, fd) {
  let head = { seq: 0, leafHash: ZERO };
  const samples = new Map();
  let tail = Promise.resolve();
  return {
    samples,
    head: async () => head,
    append(prepare) {
      const result = tail.then(async () => {
        const batch = await prepare(head);
        core.checkAppendContinuity(head, batch);
        if (batch.length > 0) {
          // The CLI cases' JSON-lines log: the lines FileAuditStore writes, without its fsyncs.
          if (fd !== undefined) fs.writeSync(fd, batch.map((e) => JSON.stringify(e)).join('\n') + '\n');
          const last = batch[batch.length - 1];
          head = { seq: last.seq, leafHash: last.leafHash };
          for (const e of batch) if (e.seq % sampleEvery === 0) samples.set(e.seq, e);
        }
        return batch;
      });
      tail = result.catch(() => undefined);
      return result;
    },
    read: async () => [],
    query: async () => ({ entries: [] }),
    redact: async () => 0,
    close: async () => undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Proof cases

/** Appends `size` events to `auditLog` in bursts of 10,000 concurrent appends. */
async function appendInBursts(auditLog, events, size) {
  const burst = 10_000;
  for (let done = 0; done < size;) {
    const n = Math.min(burst, size - done);
    const appends = new Array(n);
    for (let k = 0; k < n; k++) appends[k] = auditLog.append(events[(done + k) % events.length]);
    await Promise.all(appends);
    done += n;
  }
}

/**
 * The proof cases' log, also written to `file` as a JSON-lines log (the CLI cases read it): the
 * entries AuditLog made, hashed and chained by its normal append path, one line each.
 */
async function buildProofLog(core, events, size, log, file) {
  const fd = fs.openSync(file, 'wx', 0o600);
  const store = headOnlyStore(core, Math.max(1, Math.floor(size / 1000)), fd);
  const auditLog = await core.AuditLog.open({ store, maxBatchSize: 10_000 });
  const started = Date.now();
  try {
    await appendInBursts(auditLog, events, size);
  } finally {
    fs.closeSync(fd);
  }
  const seconds = (Date.now() - started) / 1000;
  log(
    `  audit: built a ${size.toLocaleString('en-US')}-entry log for the proof cases (and ${path.basename(file)}) in ${seconds.toFixed(1)} s`,
  );
  return { auditLog, samples: store.samples };
}

/**
 * The same `size` events in a fresh PostgreSQL database (created here, dropped by a cleanup), through
 * AuditLog and TypeOrmAuditStore's multi-row INSERTs: the database `bulwark audit verify --db` reads.
 * Returns its URL and a query function, or a reason it cannot run.
 */
async function buildPostgresLog(core, typeorm, events, size, log, cleanups) {
  let Client;
  try {
    ({ Client } = require('pg'));
  } catch (err) {
    return { skip: `the pg driver is not installed (${err.message})` };
  }
  const admin = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await withTimeout(admin.connect(), 6000, 'connecting');
  } catch (err) {
    return { skip: `PostgreSQL at ${PG_URL.replace(/\/\/[^@]*@/, '//…@')} is unreachable (${err.message})` };
  }
  const database = `bw_bench_cli_${process.pid}_${Date.now().toString(36)}`;
  try {
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_URL);
  url.pathname = `/${database}`;
  cleanups.push(async () => {
    const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const started = Date.now();
  const dataSource = await withTimeout(
    typeorm.createAuditDataSource({ url: url.href }),
    30_000,
    'creating the PostgreSQL audit tables',
  );
  try {
    const store = new typeorm.TypeOrmAuditStore(dataSource, { insertChunkSize: 1000 });
    const auditLog = await core.AuditLog.open({ store, maxBatchSize: 10_000 });
    await appendInBursts(auditLog, events, size);
    await auditLog.close();
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
  log(
    `  audit: wrote the ${size.toLocaleString('en-US')} entries to PostgreSQL database ${database} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return {
    url: url.href,
    async query(sql) {
      const client = new Client({ connectionString: url.href, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    },
  };
}

function proofCases(core, built, size, label) {
  const { AuditLog } = core;
  const { auditLog, samples } = built;
  const root = auditLog.root();
  const oldSize = Math.floor(size / 3) + 1;
  const oldRoot = auditLog.root(oldSize);
  const rand = mulberry32(0x9e3779b9);
  // Seqs spread over the whole log, generated up front so no random number is timed.
  const seqs = Array.from({ length: 4096 }, () => 1 + Math.floor(rand() * size));
  const proofs = seqs.map((seq) => auditLog.proveInclusion(seq));
  let g = 0;
  let c = 0;
  let k = 0;
  const flip = (hex) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

  return [
    {
      name: `inclusion proof: generate ${label}`,
      check(proof) {
        if (
          proof.treeSize !== size ||
          proof.root !== root ||
          proof.proof.length < Math.floor(Math.log2(size))
        ) {
          throw new Error('proof for the wrong tree');
        }
      },
      impls: [
        {
          impl: 'bulwark',
          run() {
            const proof = auditLog.proveInclusion(seqs[g]);
            g = (g + 1) & 4095;
            return proof;
          },
          verify() {
            // Tie a proof to stored content (not just the leaf hash) for a sample of entries.
            for (const entry of samples.values()) {
              const proof = auditLog.proveInclusion(entry.seq);
              if (!AuditLog.verifyInclusion(proof, { root, entry }))
                throw new Error(`entry ${entry.seq} not proved`);
              const forged = { ...entry, outcome: entry.outcome === 'success' ? 'denied' : 'success' };
              if (AuditLog.verifyInclusion(proof, { root, entry: forged })) {
                throw new Error('a proof accepted a forged entry');
              }
            }
          },
        },
      ],
    },
    {
      name: `inclusion proof: check ${label}`,
      check(ok) {
        if (ok !== true) throw new Error('a valid proof was rejected');
      },
      impls: [
        {
          impl: 'bulwark',
          run() {
            const ok = AuditLog.verifyInclusion(proofs[c], { root });
            c = (c + 1) & 4095;
            return ok;
          },
          verify() {
            const p = proofs[0];
            const bad = [
              { ...p, proof: [flip(p.proof[0]), ...p.proof.slice(1)] },
              { ...p, leafHash: flip(p.leafHash) },
              { ...p, seq: p.seq === 1 ? 2 : p.seq - 1 },
              { ...p, proof: p.proof.slice(1) },
            ];
            for (const proof of bad) {
              if (AuditLog.verifyInclusion(proof, { root })) throw new Error('a tampered proof was accepted');
            }
            if (AuditLog.verifyInclusion(p, { root: flip(root) }))
              throw new Error('a proof passed under another root');
          },
        },
      ],
    },
    {
      name: `consistency proof: generate + check ${label}`,
      check(ok) {
        if (ok !== true) throw new Error('a valid consistency proof was rejected');
      },
      impls: [
        {
          impl: 'bulwark',
          run() {
            // Old sizes vary, so the proof shapes (and their lengths) vary too.
            const from = 1 + ((k * 7919) % (size - 1));
            k = (k + 1) & 4095;
            const proof = auditLog.proveConsistency(from);
            return AuditLog.verifyConsistency(proof, { toRoot: root });
          },
          verify() {
            const proof = auditLog.proveConsistency(oldSize);
            if (!AuditLog.verifyConsistency(proof, { fromRoot: oldRoot, toRoot: root })) {
              throw new Error('consistency proof rejected');
            }
            const forged = { ...proof, fromRoot: flip(oldRoot) };
            if (AuditLog.verifyConsistency(forged, { toRoot: root }))
              throw new Error('a rewritten history passed');
          },
        },
      ],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Targets

function rowOf(rows, caseName, impl) {
  return rows.find((row) => row.case.startsWith(caseName) && row.impl === impl);
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

function atLeast({ description, caseName, impl = 'bulwark', min, unit }) {
  return {
    description,
    evaluate(rows) {
      const row = rowOf(rows, caseName, impl);
      if (!row) return { met: false, detail: `${caseName} ${impl}: not measured` };
      return { met: row.opsPerSec >= min, detail: `${fmt(row.opsPerSec)} ${unit}` };
    },
  };
}

function postgresTarget() {
  return {
    description: 'PostgreSQL: >= 10,000 durable appends/s with group commit (vs one commit per event)',
    evaluate(rows) {
      const batched = rowOf(rows, 'append: PostgreSQL', 'bulwark');
      const single = rowOf(rows, 'append: PostgreSQL', 'bulwark 1 event/commit');
      if (!batched) return { met: false, detail: 'not measured (PostgreSQL skipped)' };
      const vs = single
        ? `, ${(batched.opsPerSec / single.opsPerSec).toFixed(1)}x one commit per event (${fmt(single.opsPerSec)}/s)`
        : '';
      return { met: batched.opsPerSec >= 10_000, detail: `${fmt(batched.opsPerSec)} events/s${vs}` };
    },
  };
}

function proofTarget() {
  return {
    description: 'inclusion proof at 1,000,000 entries: generate + check in < 1 ms',
    evaluate(rows) {
      const gen = rowOf(rows, 'inclusion proof: generate @1,000,000', 'bulwark');
      const chk = rowOf(rows, 'inclusion proof: check @1,000,000', 'bulwark');
      if (!gen || !chk) return { met: false, detail: 'not measured (1M cases run in full mode only)' };
      const micros = 1e6 / gen.opsPerSec + 1e6 / chk.opsPerSec;
      return {
        met: micros < 1000,
        detail: `${(1e6 / gen.opsPerSec).toFixed(1)} µs + ${(1e6 / chk.opsPerSec).toFixed(1)} µs = ${micros.toFixed(1)} µs`,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------

module.exports = {
  name: 'audit',
  title: 'tamper-evident audit log: events/s appended and verified, Merkle proofs',
  baseline: 'node:crypto',
  subject: 'bulwark',
  // Long rounds: a round must hold many bursts (a durable burst of 250 takes ~10-30 ms), so
  // whether a round ends mid-burst barely moves its rate (see burstRunner).
  settings: { rounds: 11, roundMs: 400, warmupMs: 300 },
  targets: [
    atLeast({
      description: 'memory: >= 100,000 appends/s',
      caseName: 'append: memory',
      min: 100_000,
      unit: 'events/s',
    }),
    postgresTarget(),
    atLeast({
      description: 'full verification: >= 300,000 entries/s',
      caseName: 'verify: full',
      min: 300_000,
      unit: 'entries/s',
    }),
    proofTarget(),
    ...cliTargets(),
  ],

  async setup({ quick, log, only }) {
    // --case (run.js): build only what the selected cases need.
    const want = (name) => only === undefined || only(name);
    const core = loadCore();
    const typeorm = loadTypeorm();
    const events = makeEvents(4096);
    const cleanups = [];
    const logs = [];
    const dir = tempDir();
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    wholeBurstPerOp = quick;
    const burst = quick ? 20 : 250;
    const cases = [];
    let verifyLog;
    try {
      // Appends
      if (want('append: memory'))
        cases.push({
          name: 'append: memory',
          check: checkAppendOutput,
          impls: [
            floorAppendImpl(events),
            ...(await appendImpls(core, events, {
              openStore: async () => new core.MemoryAuditStore(),
              burst,
              rotateAt: 100_000,
              perEvent: false,
              logs,
            })),
          ],
        });
      let fileN = 0;
      if (want('append: file (JSON lines, fsync per commit)'))
        cases.push({
          name: 'append: file (JSON lines, fsync per commit)',
          check: checkAppendOutput,
          impls: await appendImpls(core, events, {
            openStore: () => core.FileAuditStore.open({ path: path.join(dir, `audit-${fileN++}.jsonl`) }),
            burst,
            perEvent: true,
            logs,
          }),
        });
      if (want('append: SQLite (WAL, synchronous=FULL)'))
        cases.push({
          name: 'append: SQLite (WAL, synchronous=FULL)',
          check: checkAppendOutput,
          impls: await appendImpls(core, events, {
            openStore: await sqliteStores(typeorm, dir, cleanups),
            burst,
            perEvent: true,
            perRowInsert: true,
            logs,
          }),
        });
      const pg = want('append: PostgreSQL (synchronous_commit=on)')
        ? await postgresStores(typeorm, cleanups)
        : { skip: 'not selected (--case)' };
      if (pg.skip === 'not selected (--case)') {
        // left out on purpose
      } else if (pg.skip !== undefined) {
        log(`  audit: SKIPPED append: PostgreSQL: ${pg.skip}`);
        console.log(`audit: PostgreSQL case skipped: ${pg.skip}`);
      } else {
        cases.push({
          name: 'append: PostgreSQL (synchronous_commit=on)',
          check: checkAppendOutput,
          impls: await appendImpls(core, events, {
            openStore: pg.open,
            burst,
            perEvent: true,
            perRowInsert: true,
            logs,
          }),
        });
      }

      // Verification: a flush verifies a whole log of `length` entries; one op = one entry.
      const length = quick ? 200 : 1000;
      const verifyName = `verify: full (${length.toLocaleString('en-US')}-entry log, per entry)`;
      const verifyStore = new core.MemoryAuditStore();
      verifyLog = await core.AuditLog.open({ store: verifyStore });
      await Promise.all(Array.from({ length }, (_, k) => verifyLog.append(events[k % events.length])));
      const entries = verifyStore.rawEntries;
      let left = 0;
      if (want(verifyName))
        cases.push({
          name: verifyName,
          check(output) {
            if (output === QUEUED || output === true) return;
            if (output?.ok !== true || output.treeSize !== length) throw new Error('the log did not verify');
          },
          impls: [
            floorVerifyImpl(events, length),
            {
              impl: 'bulwark',
              // Same shape as burstRunner: every `length`-th call verifies the whole log.
              run() {
                if (left > 0 && !wholeBurstPerOp) {
                  left--;
                  return QUEUED;
                }
                left = length - 1;
                return core.verifyAuditLog(verifyStore);
              },
              async verify() {
                const copy = entries.map((e) => ({ ...e }));
                copy[length >> 1] = { ...copy[length >> 1], outcome: 'failure' };
                const report = await core.verifyAuditLog(copy);
                if (
                  report.ok ||
                  report.firstBad?.seq !== (length >> 1) + 1 ||
                  report.firstBad.reason !== 'hash-mismatch'
                ) {
                  throw new Error('verification missed an edited entry');
                }
                const dropped = entries.filter((e) => e.seq !== 7);
                if ((await core.verifyAuditLog(dropped)).firstBad?.reason !== 'gap') {
                  throw new Error('verification missed a removed entry');
                }
              },
            },
          ],
        });

      // Proofs
      const size = quick ? 1000 : 1_000_000;
      const cliLog = path.join(dir, 'cli-audit.jsonl');
      const built = await buildProofLog(core, events, size, log, cliLog);
      cases.push(...proofCases(core, built, size, `@${size.toLocaleString('en-US')}`));

      // The CLI, as child processes, on the same entries: a JSON-lines file and PostgreSQL.
      const pgLog = want(`cli verify: PostgreSQL @${size.toLocaleString('en-US')}`)
        ? await buildPostgresLog(core, typeorm, events, size, log, cleanups)
        : { skip: 'not selected (--case)' };
      if (pgLog.skip !== undefined && pgLog.skip !== 'not selected (--case)') {
        log(`  audit: SKIPPED cli verify: PostgreSQL: ${pgLog.skip}`);
        console.log(`audit: CLI verify on PostgreSQL skipped: ${pgLog.skip}`);
      }
      const rand = mulberry32(0x51ed);
      cases.push(
        ...cliCases({
          core,
          size,
          root: built.auditLog.root(),
          file: cliLog,
          dir,
          pgUrl: pgLog.url,
          pgQuery: pgLog.query,
          quick,
          seqs: Array.from({ length: 64 }, () => 1 + Math.floor(rand() * size)),
        }),
      );
      console.log(`audit: CLI rows: wall time median of the runs, peak RSS the largest (${rssSource})`);
    } catch (err) {
      for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch(() => undefined);
      throw err;
    }

    return {
      cases,
      async close() {
        let failure;
        try {
          // Everything written during the run must still verify end to end.
          for (const auditLog of logs) {
            const report = await auditLog.verify();
            if (!report.ok)
              failure ??= new Error(`an appended log failed verification: ${report.firstBad?.message}`);
            await auditLog.close();
          }
          await verifyLog.close();
        } finally {
          for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch(() => undefined);
        }
        if (failure) throw failure;
      },
    };
  },
};
