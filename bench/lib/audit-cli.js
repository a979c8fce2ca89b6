'use strict';

/**
 * The audit suite's CLI rows: `bulwark audit verify` on a JSON-lines log and on a PostgreSQL
 * database, and `bulwark audit prove --file`, each at the proof log's size (1,000,000 entries;
 * 1,000 in --quick), run as child processes of the real CLI. Each row reports the median wall time
 * and the peak RSS (the largest over its runs) next to its target.
 *
 * These rows are not ops/s loops: one CLI call is seconds of work in its own process, so a case
 * brings its own `measure` (run.js) that runs the process a few times in a row and takes the
 * median wall time. `opsPerSec` is entries/s for verify (comparable with the in-process verify
 * row) and calls/s for prove.
 *
 * Correctness: every verify must exit 0 and report ok with the expected tree size and root (the
 * root of the in-process AuditLog that wrote the entries); every proof must check against that
 * root; a log with one edited entry must exit 1 (a small file copy; the PostgreSQL database itself
 * after its timed runs).
 */

const fs = require('node:fs');
const path = require('node:path');
const { runCli, runNode, rssSource } = require('./cli-process');

const MB = 1024 * 1024;
const MEMORY_TARGET_MB = 256;
const PROVE_TARGET_MS = 100;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const mad = (values) => {
  const m = median(values);
  return m === 0 ? 0 : median(values.map((v) => Math.abs(v - m))) / m;
};

/** A result row (run.js `toRows` shape) from several runs of one CLI call. */
function resultOf(impl, runs, { entries, target }) {
  const walls = runs.map((r) => r.wallMs);
  const wallMs = median(walls);
  const peakRssMb = Math.max(...runs.map((r) => r.peakRssBytes)) / MB;
  const perSecond = (ms) => (entries ?? 1) / (ms / 1000);
  const result = {
    impl,
    opsPerSec: perSecond(wallMs),
    samples: runs.length,
    spread: mad(walls),
    rounds: walls.map(perSecond),
    batch: 1,
    wallMs: Number(wallMs.toFixed(1)),
    peakRssMb: Number(peakRssMb.toFixed(1)),
  };
  if (target) {
    const value = target.kind === 'memory' ? peakRssMb : wallMs;
    result.target = `${value < target.max ? 'MET' : 'MISSED'} < ${target.max} ${target.kind === 'memory' ? 'MB' : 'ms'}`;
  }
  return result;
}

function verifyReport(run, what) {
  if (run.code !== 0) {
    throw new Error(`${what} exited ${run.code}: ${run.stderr.trim().split('\n')[0] ?? ''}`);
  }
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(`${what} printed no JSON report`);
  }
}

function checkVerified(run, { size, root }, what) {
  const report = verifyReport(run, what);
  if (report.ok !== true || report.treeSize !== size || report.root !== root) {
    throw new Error(
      `${what}: expected ok, ${size} entries, root ${root.slice(0, 12)}…; got ` +
        `ok=${report.ok}, ${report.treeSize} entries, root ${String(report.root).slice(0, 12)}…`,
    );
  }
}

function checkRejected(run, what) {
  let report;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    report = undefined;
  }
  if (run.code !== 1 || report?.ok !== false) {
    throw new Error(`${what}: an edited entry was not reported (exit ${run.code}, ok=${report?.ok})`);
  }
}

/** Edits one entry's outcome in the first `lines` lines of `file`, written to `to`. */
function tamperedCopy(file, to, lines) {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(lines * 2048);
  const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
  fs.closeSync(fd);
  const kept = buffer.subarray(0, n).toString('utf8').split('\n').slice(0, lines);
  const k = lines >> 1;
  const edited = kept[k].replace(/"outcome":"[a-z]+"/, '"outcome":"forged"');
  if (edited === kept[k]) throw new Error('cannot edit the sample entry');
  kept[k] = edited;
  fs.writeFileSync(to, kept.join('\n') + '\n');
}

/**
 * @param {object} ctx
 * @param {object} ctx.core        @bulwark/core (AuditLog.verifyInclusion checks the proofs)
 * @param {number} ctx.size        entries in both logs
 * @param {string} ctx.root        the logs' Merkle root, from the AuditLog that wrote them
 * @param {string} ctx.file        the JSON-lines log
 * @param {string} ctx.dir         a scratch directory (removed by the suite)
 * @param {string} [ctx.pgUrl]     a database holding the same entries, if PostgreSQL is reachable
 * @param {(sql: string) => Promise<void>} [ctx.pgQuery] runs SQL on that database (tamper check)
 * @param {boolean} ctx.quick
 * @param {number[]} ctx.seqs      seqs to prove, cycled
 */
function cliCases(ctx) {
  const { core, size, root, file, dir, pgUrl, pgQuery, quick, seqs } = ctx;
  const label = `@${size.toLocaleString('en-US')}`;
  const verifyRuns = quick ? 2 : 3;
  const proveRuns = quick ? 3 : 10;
  const memoryTarget = { kind: 'memory', max: MEMORY_TARGET_MB };
  const cases = [];

  cases.push({
    name: `cli verify: file ${label}`,
    impls: [{ impl: 'bulwark audit verify --file' }],
    async measure() {
      const small = path.join(dir, 'tampered.jsonl');
      tamperedCopy(file, small, Math.min(size, 200));
      checkRejected(await runCli(['audit', 'verify', '--file', small, '--json']), 'verify --file (edited)');
      const runs = [];
      for (let i = 0; i < verifyRuns; i++) {
        const run = await runCli(['audit', 'verify', '--file', file, '--json']);
        checkVerified(run, { size, root }, 'verify --file');
        runs.push(run);
      }
      return [resultOf('bulwark audit verify --file', runs, { entries: size, target: memoryTarget })];
    },
  });

  if (pgUrl !== undefined) {
    cases.push({
      name: `cli verify: PostgreSQL ${label}`,
      impls: [{ impl: 'bulwark audit verify --db' }],
      async measure() {
        const runs = [];
        for (let i = 0; i < verifyRuns; i++) {
          const run = await runCli(['audit', 'verify', '--db', pgUrl, '--json'], { cwd: dir });
          checkVerified(run, { size, root }, 'verify --db');
          runs.push(run);
        }
        // Last, as it edits the database: one changed row must fail verification.
        await pgQuery(`UPDATE bulwark_audit_entry SET outcome = 'forged' WHERE seq = ${Math.ceil(size / 2)}`);
        checkRejected(
          await runCli(['audit', 'verify', '--db', pgUrl, '--json'], { cwd: dir }),
          'verify --db (edited)',
        );
        return [resultOf('bulwark audit verify --db', runs, { entries: size, target: memoryTarget })];
      },
    });
  }

  cases.push({
    name: `cli prove: file ${label}`,
    impls: [
      { impl: 'node -e 0 (start-up floor)' },
      { impl: 'bulwark --version' },
      { impl: 'bulwark audit prove (first call)' },
      { impl: 'bulwark audit prove (warm)' },
    ],
    async measure() {
      let next = 0;
      const prove = async () => {
        const seq = seqs[next++ % seqs.length];
        const run = await runCli(['audit', 'prove', String(seq), '--file', file]);
        const proof = verifyReport(run, 'prove --file');
        if (proof.seq !== seq || proof.treeSize !== size)
          throw new Error('prove: the proof is for another entry');
        if (!core.AuditLog.verifyInclusion(proof, { root }))
          throw new Error('prove: the proof does not check');
        const forged = { ...proof, leafHash: proof.proof[0] ?? '0'.repeat(64) };
        if (proof.proof.length > 0 && core.AuditLog.verifyInclusion(forged, { root })) {
          throw new Error('prove: a forged proof checked');
        }
        return run;
      };
      // The first call builds <log>.merkle/ (reads the whole log once); later calls read it.
      fs.rmSync(`${file}.merkle`, { recursive: true, force: true });
      const first = [await prove()];
      const floor = [];
      const version = [];
      const warm = [];
      // Interleaved, so the three rows see the same machine load.
      for (let i = 0; i < proveRuns; i++) {
        floor.push(await runNode(['-e', '0']));
        const v = await runCli(['--version']);
        if (v.code !== 0 || !/^\d+\.\d+\.\d+/.test(v.stdout)) throw new Error('bulwark --version failed');
        version.push(v);
        warm.push(await prove());
      }
      return [
        resultOf('node -e 0 (start-up floor)', floor, {}),
        resultOf('bulwark --version', version, {}),
        resultOf('bulwark audit prove (first call)', first, {}),
        resultOf('bulwark audit prove (warm)', warm, { target: { kind: 'time', max: PROVE_TARGET_MS } }),
      ];
    },
  });
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Targets (run.js prints MET / MISSED; a MISSED target never fails the run)

function rowOf(rows, prefix, impl) {
  return rows.find((row) => row.case.startsWith(prefix) && row.impl === impl);
}

function cliTargets() {
  const memory = (store, prefix, impl) => ({
    description: `CLI verify, ${store}, 1,000,000 entries (full run): peak RSS < ${MEMORY_TARGET_MB} MB`,
    evaluate(rows) {
      const row = rowOf(rows, prefix, impl);
      if (!row)
        return { met: false, detail: `not measured${store === 'PostgreSQL' ? ' (PostgreSQL skipped)' : ''}` };
      return {
        met: row.peakRssMb < MEMORY_TARGET_MB,
        detail: `${row.peakRssMb.toFixed(0)} MB, ${(row.wallMs / 1000).toFixed(1)} s (${row.case})`,
      };
    },
  });
  return [
    memory('JSON-lines file', 'cli verify: file', 'bulwark audit verify --file'),
    memory('PostgreSQL', 'cli verify: PostgreSQL', 'bulwark audit verify --db'),
    {
      description: `CLI prove --file, 1,000,000 entries (full run), warm: < ${PROVE_TARGET_MS} ms wall`,
      evaluate(rows) {
        const row = rowOf(rows, 'cli prove: file', 'bulwark audit prove (warm)');
        if (!row) return { met: false, detail: 'not measured' };
        const floor = rowOf(rows, 'cli prove: file', 'node -e 0 (start-up floor)');
        return {
          met: row.wallMs < PROVE_TARGET_MS,
          detail:
            `${row.wallMs.toFixed(0)} ms median of ${row.samples}` +
            // The floor moves with the machine's load; what the CLI adds to it moves much less.
            `${floor ? `, node start-up alone ${floor.wallMs.toFixed(0)} ms (+${(row.wallMs - floor.wallMs).toFixed(0)} ms)` : ''}` +
            ` (${row.case})`,
        };
      },
    },
  ];
}

module.exports = { cliCases, cliTargets, rssSource };
