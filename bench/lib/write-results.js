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

function writeResults(suiteName, rows, { quick }) {
  const file = resultsPath(suiteName, quick);
  const rounded = rows.map((row) => ({ ...row, opsPerSec: roundOps(row.opsPerSec) }));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(rounded, null, 2)}\n`);
  fs.renameSync(tmp, file);
  return file;
}

module.exports = { writeResults, resultsPath };
