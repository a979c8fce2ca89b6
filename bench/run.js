#!/usr/bin/env node
'use strict';

/**
 * Bulwark benchmark runner: `node bench/run.js [suite...] [--quick]` (see bench/README.md).
 *
 * Each suite runs in one process (its implementations interleaved there); several suites run one
 * child process each, so one suite's libraries and heap never touch another's numbers.
 *
 * Exit codes: 0 all suites ran and every implementation returned correct output (targets MISSED
 * still exit 0: timings on a shared machine are too noisy to gate on), 1 a correctness check
 * failed or a suite crashed, 2 usage error.
 */

const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { parseArgs, BenchUsageError, USAGE } = require('./lib/parse-args');
const { loadSuites, availableSuites } = require('./lib/load-suites');
const { measureCase } = require('./lib/measure-case');
const { formatTable } = require('./lib/format-table');
const { writeResults } = require('./lib/write-results');

// Short rounds, many of them: the finer the interleaving, the more evenly a burst of load from
// the other processes on the machine lands on every implementation.
const FULL_SETTINGS = { warmupMs: 300, roundMs: 50, rounds: 20 };
// Quick mode only has to exercise every implementation and its checks, in well under a second
// per case; its numbers are not meant to be read.
const QUICK_SETTINGS = { warmupMs: 5, roundMs: 5, rounds: 3 };

const log = (message) => process.stderr.write(`${message}\n`);

/** Turns one case's measurements into result rows (the shape written to the JSON file). */
function toRows(caseName, results, suite) {
  const opsOf = (impl) => results.find((r) => r.impl === impl)?.opsPerSec;
  const baselineOps = suite.baseline ? opsOf(suite.baseline) : undefined;
  const subjectOps = suite.subject ? opsOf(suite.subject) : undefined;
  return results.map((r) => {
    // opsPerSec keeps full precision so ratios and targets agree with the table; the JSON file
    // rounds it (see writeResults).
    const row = { case: caseName, impl: r.impl, opsPerSec: r.opsPerSec };
    // Suites with their own measurement (http: autocannon) also report tail latency.
    if (r.p99Ms !== undefined) row.p99Ms = r.p99Ms;
    // ... and the server process's CPU time per request (every thread), steadier than req/s.
    if (r.cpuUsPerOp !== undefined) row.cpuUsPerOp = Math.round(r.cpuUsPerOp);
    // ... and its main thread's alone (Linux), where the event loop runs.
    if (r.mainCpuUsPerOp !== undefined) row.mainCpuUsPerOp = Math.round(r.mainCpuUsPerOp);
    // Cases that time a whole process (audit: the CLI) report its wall time, peak RSS and target.
    if (r.wallMs !== undefined) row.wallMs = r.wallMs;
    if (r.peakRssMb !== undefined) row.peakRssMb = r.peakRssMb;
    if (r.target !== undefined) row.target = r.target;
    row.nsPerOp = Math.round(1e9 / r.opsPerSec);
    if (baselineOps !== undefined) row.costVsBaseline = Number((baselineOps / r.opsPerSec).toFixed(3));
    if (subjectOps !== undefined)
      row[`${suite.subject}Speedup`] = Number((subjectOps / r.opsPerSec).toFixed(3));
    row.samples = r.samples;
    row.spread = Number(r.spread.toFixed(4));
    return row;
  });
}

async function runSuite(entry, options) {
  const suite = entry.load();
  const settings = {
    ...(options.quick ? QUICK_SETTINGS : { ...FULL_SETTINGS, ...suite.settings }),
    ...options.overrides,
  };

  console.log(`\n== ${suite.name}${suite.title ? `: ${suite.title}` : ''} ==`);
  // A suite that times its own way (autocannon rounds) says how; the others use the runner's loop.
  console.log(
    `${options.quick ? 'QUICK smoke run (numbers not meaningful), ' : ''}` +
      (typeof suite.describeTiming === 'function'
        ? suite.describeTiming(settings, options.quick)
        : `${settings.rounds} interleaved rounds of ~${settings.roundMs} ms per impl, ` +
          `warm-up ${settings.warmupMs} ms, median ops/s`),
  );

  const loadAtStart = os.loadavg()[0];
  const started = Date.now();
  // A suite may bring its own measureCase (same contract as lib/measure-case.js), e.g. for load
  // generated over HTTP where the runner's per-call timing loop does not apply.
  // --case: only the cases whose name contains one of the texts (a suite may use `only` to skip
  // building what those cases do not need).
  const only =
    options.cases.length > 0 ? (name) => options.cases.some((text) => name.includes(text)) : undefined;
  const setup = await suite.setup({ quick: options.quick, log, only });
  const { close, measureCase: suiteMeasure } = setup;
  const cases = only ? setup.cases.filter((c) => only(c.name)) : setup.cases;
  if (only && cases.length === 0) {
    if (typeof close === 'function') await close();
    throw new Error(`no case of ${suite.name} matches --case=${options.cases.join(', --case=')}`);
  }
  const rows = [];
  try {
    for (const caseDef of cases) {
      log(`  ${suite.name} > ${caseDef.name}: ${caseDef.impls.map((i) => i.impl).join(', ')}`);
      // ...and a case its own (one that times child processes rather than calls).
      const measure = caseDef.measure ?? suiteMeasure ?? measureCase;
      const results = await measure(suite.name, caseDef, settings);
      if (options.debug) {
        for (const r of results) {
          log(`    ${r.impl} batch ${r.batch}: ${r.rounds.map((ops) => Math.round(ops)).join(' ')}`);
        }
      }
      rows.push(...toRows(caseDef.name, results, suite));
    }
  } finally {
    if (typeof close === 'function') await close();
  }

  console.log('');
  console.log(formatTable(rows, { baseline: suite.baseline, subject: suite.subject }));

  const file = writeResults(suite.name, rows, { quick: options.quick, partial: only !== undefined });
  // The load average tells a reader how contended the machine was while these numbers were taken.
  console.log(
    `\nwrote ${path.relative(process.cwd(), file)} in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(1-min load average ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end, ` +
      `${os.cpus().length} cpus)`,
  );

  if (suite.targets && suite.targets.length > 0) {
    console.log(`\nTargets${options.quick ? ' (quick run: indicative only)' : ''}:`);
    for (const target of suite.targets) {
      const { met, detail } = target.evaluate(rows);
      if (only && /not measured/.test(detail ?? '')) continue; // a case this --case run left out
      console.log(`  ${met ? 'MET   ' : 'MISSED'}  ${target.description}  [${detail}]`);
    }
  }
}

/** `--profile`: the suite's own profiler (a CPU profile of its subject under load, cost per step). */
async function profileSuite(entry, options) {
  const suite = entry.load();
  console.log(
    `\n== ${suite.name} --profile${options.quick ? ' (QUICK: a short profile, numbers not meaningful)' : ''} ==`,
  );
  const loadAtStart = os.loadavg()[0];
  await suite.profile({ quick: options.quick, log });
  console.log(
    `(1-min load average ${loadAtStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end, ` +
      `${os.cpus().length} cpus)`,
  );
}

function printEnvironment() {
  const cpus = os.cpus();
  console.log(
    `Bulwark bench: node ${process.version} (${process.platform}/${process.arch}), ` +
      `${cpus.length} cpu(s) ${cpus[0] ? cpus[0].model.trim() : ''}, ${new Date().toISOString()}`,
  );
}

async function main() {
  let options;
  let suites;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
    if (options.help) {
      console.log(USAGE);
      return 0;
    }
    if (options.list) {
      console.log(availableSuites().join('\n'));
      return 0;
    }
    suites = loadSuites(options.suites);
    if (suites.length === 0) throw new BenchUsageError('no suites found in bench/suites/');
    if (options.profile) {
      // Only suites that bring a profiler; naming none with --profile means all of those.
      const profilable = suites.filter((entry) => typeof entry.load().profile === 'function');
      if (options.suites.length > 0 && profilable.length < suites.length) {
        const names = suites.filter((e) => !profilable.includes(e)).map((e) => e.name);
        throw new BenchUsageError(`--profile: suite(s) ${names.join(', ')} have no profiler`);
      }
      suites = profilable;
    }
  } catch (err) {
    if (err instanceof BenchUsageError) {
      console.error(`bench: ${err.message}`);
      return 2;
    }
    throw err;
  }

  if (process.env.BENCH_CHILD !== '1') printEnvironment();
  const failed = [];
  if (suites.length > 1) {
    // One child process per suite: a suite's peers (and their global side effects, e.g. fernet
    // adds String.prototype.lpad), heap and JIT state never leak into the next suite's numbers.
    const flags = process.argv.slice(2).filter((arg) => arg.startsWith('-'));
    for (const entry of suites) {
      const child = spawnSync(
        process.execPath,
        [...process.execArgv, path.join(__dirname, 'run.js'), entry.name, ...flags],
        {
          stdio: 'inherit',
          env: { ...process.env, BENCH_CHILD: '1' },
        },
      );
      if (child.status !== 0) failed.push(entry.name);
    }
  } else {
    const [entry] = suites;
    try {
      if (options.profile) await profileSuite(entry, options);
      else await runSuite(entry, options);
    } catch (err) {
      failed.push(entry.name);
      console.error(`\nbench: suite ${entry.name} ABORTED: ${err.message}`);
      if (err.cause && err.cause.stack) console.error(err.cause.stack);
      else if (err.stack) console.error(err.stack);
    }
  }
  if (failed.length > 0 && process.env.BENCH_CHILD !== '1') {
    console.error(`\nbench: ${failed.length} suite(s) failed: ${failed.join(', ')}`);
  }
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
