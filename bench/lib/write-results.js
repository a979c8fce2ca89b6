'use strict';

/**
 * Writes bench/results/<suite>.json (or <suite>.quick.json for smoke runs, which are
 * gitignored so CI never overwrites committed numbers).
 *
 * The file is exactly a JSON array of row objects `{ case, impl, opsPerSec, ... }` so tools can
 * read it without knowing any wrapper format. It is written to a .tmp file and renamed, so an
 * interrupted run never leaves a truncated results file behind.
 */

const fs = require('node:fs');
const path = require('node:path');

const RESULTS_DIR = path.join(__dirname, '..', 'results');

function resultsPath(suiteName, quick) {
  return path.join(RESULTS_DIR, `${suiteName}${quick ? '.quick' : ''}.json`);
}

function roundOps(value) {
  return value >= 100 ? Math.round(value) : Number(value.toFixed(2));
}

/**
 * `partial` (a --case run): the rows of the cases run replace those cases' rows in the existing
 * file, in place; every other row is kept as it was (new cases are appended).
 */
function writeResults(suiteName, rows, { quick, partial = false }) {
  const file = resultsPath(suiteName, quick);
  let rounded = rows.map((row) => ({ ...row, opsPerSec: roundOps(row.opsPerSec) }));
  if (partial && fs.existsSync(file)) {
    const previous = JSON.parse(fs.readFileSync(file, 'utf8'));
    const fresh = new Map();
    for (const row of rounded) fresh.set(row.case, [...(fresh.get(row.case) ?? []), row]);
    const merged = [];
    for (const row of previous) {
      if (!fresh.has(row.case)) merged.push(row);
      else if (fresh.get(row.case).length > 0) {
        merged.push(...fresh.get(row.case));
        fresh.set(row.case, []);
      }
    }
    for (const left of fresh.values()) merged.push(...left);
    rounded = merged;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(rounded, null, 2)}\n`);
  fs.renameSync(tmp, file);
  return file;
}

module.exports = { writeResults, resultsPath };
