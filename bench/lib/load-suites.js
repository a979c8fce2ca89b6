'use strict';

/**
 * Finds suites: every `bench/suites/<name>.js` is one suite, so adding a benchmark is adding
 * one file. A suite module exports:
 *
 *   {
 *     name: 'crypto',                 // must equal the file name; used on the command line
 *     title: 'what one operation is', // printed above the table
 *     baseline: 'node:crypto',        // optional: rows get costVsBaseline = baseline ops / impl ops
 *     subject: 'bulwark',             // optional: rows get bulwarkSpeedup = bulwark ops / impl ops
 *     settings: { rounds, roundMs, warmupMs },  // optional per-suite defaults (full mode only)
 *     describeTiming(settings, quick),          // optional: the timing line, for a suite that
 *                                               // times its own way (measureCase from setup)
 *     targets: [costAtMost(...), fasterThan(...)],   // optional, see lib/targets.js
 *     async setup({ quick, log }) {
 *       return {
 *         cases: [{ name, check(output, impl), impls: [{ impl, run, verify? }] }],
 *         async close() {},          // optional
 *       };
 *     },
 *   }
 *
 * `run()` performs one operation (sync, or returning a promise) and returns its output, which
 * `check` validates before timing and after every timed round.
 */

const fs = require('node:fs');
const path = require('node:path');
const { BenchUsageError } = require('./parse-args');

const SUITES_DIR = path.join(__dirname, '..', 'suites');

function availableSuites() {
  return fs
    .readdirSync(SUITES_DIR)
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -3))
    .sort();
}

function validateSuite(name, suite) {
  const problems = [];
  if (!suite || typeof suite !== 'object') problems.push('module.exports must be an object');
  else {
    if (suite.name !== name)
      problems.push(`name must be ${JSON.stringify(name)}, got ${JSON.stringify(suite.name)}`);
    if (typeof suite.setup !== 'function')
      problems.push('setup must be an async function returning { cases }');
    if (suite.targets !== undefined && !Array.isArray(suite.targets))
      problems.push('targets must be an array');
  }
  if (problems.length > 0)
    throw new Error(`bench/suites/${name}.js is not a valid suite: ${problems.join('; ')}`);
  return suite;
}

/** Resolves suite names to modules; unknown names are a usage error (exit 2). */
function loadSuites(names) {
  const available = availableSuites();
  const wanted = names.length > 0 ? names : available;
  const unknown = wanted.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw new BenchUsageError(
      `unknown suite ${unknown.join(', ')}; available: ${available.join(', ') || '(none)'}`,
    );
  }
  // Loaded lazily by run.js, so one suite's missing dependency does not stop the others.
  return wanted.map((name) => ({
    name,
    load: () => validateSuite(name, require(path.join(SUITES_DIR, `${name}.js`))),
  }));
}

module.exports = { loadSuites, availableSuites };
