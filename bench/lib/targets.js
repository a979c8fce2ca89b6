'use strict';

/**
 * Performance targets a suite can declare. A target only reports MET or MISSED: benchmarks on a
 * shared 2-core machine are too noisy to fail a build on, so run.js never exits non-zero for a
 * MISSED target (it does for a correctness failure).
 *
 * A target is `{ description, evaluate(rows) -> { met, detail } }`; these builders cover the
 * usual "relative to a baseline" shapes. Ratios compare medians of the same interleaved run.
 */

function caseNames(rows, cases) {
  if (cases) return cases;
  return [...new Set(rows.map((row) => row.case))];
}

function findRow(rows, caseName, impl) {
  return rows.find((row) => row.case === caseName && row.impl === impl);
}

function where(cases) {
  return cases ? `at ${cases.join(', ')}` : 'at every case';
}

/** Evaluates `ratio(own, other)` per case against `ok`, reporting each measured ratio. */
function perCase(rows, cases, impl, other, ratio, ok) {
  let met = true;
  const parts = [];
  for (const name of caseNames(rows, cases)) {
    const own = findRow(rows, name, impl);
    const ref = findRow(rows, name, other);
    if (!own || !ref) {
      met = false;
      parts.push(`${name}: not measured`);
      continue;
    }
    const value = ratio(own.opsPerSec, ref.opsPerSec);
    if (!ok(value)) met = false;
    parts.push(`${name}: ${value.toFixed(2)}x`);
  }
  return { met, detail: parts.join(', ') };
}

/**
 * `impl` costs at most `max` times the time of `baseline` per operation
 * (cost = baseline ops/s / impl ops/s; 1.0 = as fast as the baseline, 0.5 = twice as fast).
 */
function costAtMost({ impl = 'bulwark', baseline, max, cases }) {
  return {
    description: `${impl} cost <= ${max.toFixed(2)}x ${baseline} ${where(cases)}`,
    evaluate: (rows) =>
      perCase(
        rows,
        cases,
        impl,
        baseline,
        (own, ref) => ref / own,
        (cost) => cost <= max,
      ),
  };
}

/** `impl` completes at least `min` times as many operations per second as `peer`. */
function fasterThan({ impl = 'bulwark', peer, min, cases }) {
  return {
    description: `${impl} >= ${min}x faster than ${peer} ${where(cases)}`,
    evaluate: (rows) =>
      perCase(
        rows,
        cases,
        impl,
        peer,
        (own, ref) => own / ref,
        (speedup) => speedup >= min,
      ),
  };
}

module.exports = { costAtMost, fasterThan };
