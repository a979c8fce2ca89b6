'use strict';

/**
 * Renders a suite's result rows as a plain-text table for stdout (the JSON file is the
 * machine-readable form; this is for humans and CI logs).
 */

const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const smallFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

function formatOps(value) {
  return value >= 100 ? numberFormat.format(value) : smallFormat.format(value);
}

function formatMicros(nsPerOp) {
  const micros = nsPerOp / 1000;
  return micros >= 100 ? numberFormat.format(micros) : micros.toFixed(2);
}

function formatRatio(value) {
  return value === undefined ? '' : `${value.toFixed(2)}x`;
}

/**
 * @param {Array<object>} rows result rows (see run.js `toRows`)
 * @param {{ baseline?: string, subject?: string }} labels
 */
function formatTable(rows, { baseline, subject }) {
  const header = ['case', 'impl', 'ops/s', '±', 'µs/op'];
  if (baseline) header.push(`cost vs ${baseline}`);
  if (subject) header.push(`${subject} speed-up`);
  // Rows that time a whole process (the audit suite's CLI rows) add wall time, peak RSS, target.
  const processColumns = rows.some((row) => row.wallMs !== undefined);
  if (processColumns) header.push('wall ms', 'peak RSS MB', 'target');

  const body = rows.map((row) => {
    const cells = [
      row.case,
      row.impl,
      formatOps(row.opsPerSec),
      `${(row.spread * 100).toFixed(1)}%`,
      formatMicros(row.nsPerOp),
    ];
    if (baseline) cells.push(formatRatio(row.costVsBaseline));
    if (subject) cells.push(formatRatio(row[`${subject}Speedup`]));
    if (processColumns) {
      cells.push(
        row.wallMs === undefined ? '' : formatOps(row.wallMs),
        row.peakRssMb === undefined ? '' : formatOps(row.peakRssMb),
        row.target ?? '',
      );
    }
    return cells;
  });

  // Text columns left-aligned, numeric columns right-aligned.
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const align = (cells) =>
    cells
      .map((cell, i) =>
        i < 2 || (processColumns && i === cells.length - 1)
          ? cell.padEnd(widths[i])
          : cell.padStart(widths[i]),
      )
      .join('  ');
  const lines = [align(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previousCase;
  for (let i = 0; i < body.length; i++) {
    if (previousCase !== undefined && rows[i].case !== previousCase) lines.push('');
    previousCase = rows[i].case;
    lines.push(align(body[i]));
  }
  return lines.join('\n');
}

module.exports = { formatTable };
