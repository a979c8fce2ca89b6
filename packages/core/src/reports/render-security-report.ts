import { escapeHtml } from '../compliance/render-html';
import type { RankedCount, SecurityDay, SecurityReport } from './security-report';

// The security report as JSON, Markdown or self-contained HTML (inline SVG charts, no script, no
// external resource: a Content-Security-Policy meta tag forbids them).

const LABELS: Readonly<Record<keyof SecurityReport['figures'], string>> = {
  signIns: 'Successful sign-ins',
  signInFailures: 'Failed sign-ins',
  lockouts: 'Lockouts',
  denials: 'Denied requests',
  breakGlassGrants: 'Break-glass grants',
  breakGlassUses: 'Break-glass uses',
  violations: 'Detected violations',
  dsrReceived: 'Data-subject requests received',
  dsrCompleted: 'Data-subject requests completed',
  dsrOpen: 'Data-subject requests open at the end',
  dsrOverdue: 'Data-subject requests overdue (open past, or completed after, their deadline)',
  keyEvents: 'Key-management events',
  keyRotations: 'Key rotations (rotate, rewrap, master key)',
  integrityChecks: 'Audit integrity checks (verification runs)',
  integrityFailures: 'Audit integrity checks that failed',
  auditReviews: 'Audit log reviews',
  alertsDelivered: 'Alerts delivered',
  alertsFailed: 'Alert deliveries failed',
};

const SERIES: readonly { key: keyof Omit<SecurityDay, 'day'>; label: string; color: string }[] = [
  { key: 'signInFailures', label: 'Failed sign-ins', color: '#c0392b' },
  { key: 'denials', label: 'Denials', color: '#d68910' },
  { key: 'violations', label: 'Violations', color: '#6c3483' },
];

export function renderSecurityReportJson(report: SecurityReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Markdown cells: pipes and newlines would break the table. */
const md = (v: unknown): string =>
  String(v)
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');

export function renderSecurityReportMarkdown(report: SecurityReport): string {
  const out = [
    `# Security report ${report.period.from} – ${report.period.to}`,
    '',
    `Generated ${report.generatedAt} from ${report.entries} audit entries.`,
    '',
    '| Figure | Count | Reproduce |',
    '| --- | ---: | --- |',
    ...Object.entries(report.figures).map(
      ([k, f]) => `| ${LABELS[k as keyof typeof LABELS]} | ${f.count} | \`${md(f.command)}\` |`,
    ),
  ];
  const list = (title: string, rows: readonly RankedCount[]): void => {
    out.push('', `## ${title}`, '');
    if (rows.length === 0) out.push('None.');
    else out.push('| | Count |', '| --- | ---: |', ...rows.map((r) => `| ${md(r.key)} | ${r.count} |`));
  };
  list('Denials by route', report.denialsByRoute);
  list('Denials by subject', report.denialsBySubject);
  list('Violations by rule', report.violationsByRule);
  list('Top actors', report.topActors);
  out.push('', '## Data-subject requests and deadlines', '');
  if (report.dsrDeadlines.length === 0) out.push('None open, none closed in the period.');
  else
    out.push(
      '| Request | Type | Status | Received | Due | Closed | Overdue | Reproduce |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...report.dsrDeadlines.map(
        (r) =>
          `| ${md(r.id)} | ${md(r.type)} | ${md(r.status)} | ${r.receivedAt} | ${r.dueAt ?? '?'} | ${r.completedAt ?? ''} | ${r.overdue ? '**yes**' : 'no'} | \`${md(r.command)}\` |`,
      ),
    );
  out.push('', '## Key rotations', '');
  if (report.keyRotations.length === 0) out.push('None.');
  else
    out.push(
      '| Time | Seq | Operation | Key | Version | Re-wrapped |',
      '| --- | ---: | --- | --- | ---: | ---: |',
      ...report.keyRotations.map(
        (k) =>
          `| ${k.at} | ${k.seq} | ${md(k.operation)} | ${md(k.keyId)}${k.masterKeyId ? ` (${md(k.masterKeyId)})` : ''} | ${k.version ?? ''} | ${k.rewrapped ?? ''} |`,
      ),
    );
  out.push('', '## Audit integrity checks', '');
  if (report.integrityChecks.length === 0) out.push('None recorded in the period.');
  else
    out.push(
      '| Time | Seq | Result | Entries checked | Source |',
      '| --- | ---: | --- | --- | --- |',
      ...report.integrityChecks.map(
        (c) =>
          `| ${c.at} | ${c.seq} | ${c.ok ? 'intact' : `**FAILED** at ${c.firstBad?.seq ?? '?'} (${md(c.firstBad?.reason ?? 'unknown')})`} | ${c.fromSeq ?? '?'}–${c.toSeq ?? '?'} | ${md(c.source ?? '')} |`,
      ),
    );
  out.push(
    '',
    '## Per day',
    '',
    `| Day | ${SERIES.map((s) => s.label).join(' | ')} |`,
    `| --- |${SERIES.map(() => ' ---: |').join('')}`,
  );
  for (const d of report.daily) out.push(`| ${d.day} | ${SERIES.map((s) => d[s.key]).join(' | ')} |`);
  return `${out.join('\n')}\n`;
}

/** Grouped bars per day, one colour per series, with a <title> per bar for the exact value. */
function trendChart(days: readonly SecurityDay[]): string {
  const height = 160;
  const group = Math.max(12, Math.min(60, Math.floor(720 / Math.max(days.length, 1))));
  const bar = Math.max(3, Math.floor((group - 4) / SERIES.length));
  const width = Math.max(group * days.length, 100);
  const max = Math.max(1, ...days.flatMap((d) => SERIES.map((s) => d[s.key])));
  const bars = days
    .map((d, i) =>
      SERIES.map((s, j) => {
        const h = Math.round((d[s.key] / max) * (height - 20));
        const x = i * group + j * bar;
        return `<rect x="${x}" y="${height - h}" width="${bar - 1}" height="${h}" fill="${s.color}"><title>${escapeHtml(`${d.day} ${s.label}: ${d[s.key]}`)}</title></rect>`;
      }).join(''),
    )
    .join('');
  return (
    `<svg class="trend" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Per-day trends">` +
    `<line x1="0" y1="${height}" x2="${width}" y2="${height}" stroke="#999"/>${bars}</svg>` +
    `<ul class="legend">${SERIES.map((s) => `<li><span style="background:${s.color}"></span>${escapeHtml(s.label)}</li>`).join('')}</ul>`
  );
}

/** Horizontal bars of a ranked list. */
function rankChart(title: string, rows: readonly RankedCount[]): string {
  if (rows.length === 0) return `<h2>${escapeHtml(title)}</h2><p>None.</p>`;
  const max = Math.max(...rows.map((r) => r.count));
  const rowH = 22;
  const svg =
    `<svg class="ranked" width="520" height="${rows.length * rowH}" viewBox="0 0 520 ${rows.length * rowH}" role="img" aria-label="${escapeHtml(title)}">` +
    rows
      .map((r, i) => {
        const w = Math.max(2, Math.round((r.count / max) * 260));
        return (
          `<text x="0" y="${i * rowH + 15}" font-size="12">${escapeHtml(r.key.slice(0, 40))}</text>` +
          `<rect x="250" y="${i * rowH + 4}" width="${w}" height="14" fill="#2e86c1"><title>${escapeHtml(`${r.key}: ${r.count}`)}</title></rect>` +
          `<text x="${256 + w}" y="${i * rowH + 15}" font-size="12">${r.count}</text>`
        );
      })
      .join('') +
    '</svg>';
  return `<h2>${escapeHtml(title)}</h2>${svg}`;
}

const cell = (v: unknown): string => `<td>${escapeHtml(String(v ?? ''))}</td>`;

function dsrTable(report: SecurityReport): string {
  if (report.dsrDeadlines.length === 0)
    return '<h2>Data-subject requests and deadlines</h2><p>None open, none closed in the period.</p>';
  const rows = report.dsrDeadlines
    .map(
      (r) =>
        `<tr${r.overdue ? ' class="overdue"' : ''}>${cell(r.id)}${cell(r.type)}${cell(r.status)}${cell(r.receivedAt)}${cell(r.dueAt ?? '?')}${cell(r.completedAt)}${cell(r.overdue ? 'yes' : 'no')}<td><code>${escapeHtml(r.command)}</code></td></tr>`,
    )
    .join('');
  return `<h2>Data-subject requests and deadlines</h2><table><thead><tr><th>Request</th><th>Type</th><th>Status</th><th>Received</th><th>Due</th><th>Closed</th><th>Overdue</th><th>Reproduce</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function keyTable(report: SecurityReport): string {
  if (report.keyRotations.length === 0) return '<h2>Key rotations</h2><p>None.</p>';
  const rows = report.keyRotations
    .map(
      (k) =>
        `<tr>${cell(k.at)}${cell(k.seq)}${cell(k.operation)}${cell(k.masterKeyId ? `${k.keyId} (${k.masterKeyId})` : k.keyId)}${cell(k.version)}${cell(k.rewrapped)}</tr>`,
    )
    .join('');
  return `<h2>Key rotations</h2><table><thead><tr><th>Time</th><th>Seq</th><th>Operation</th><th>Key</th><th>Version</th><th>Re-wrapped</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function integrityTable(report: SecurityReport): string {
  if (report.integrityChecks.length === 0)
    return '<h2>Audit integrity checks</h2><p>None recorded in the period.</p>';
  const rows = report.integrityChecks
    .map(
      (c) =>
        `<tr${c.ok ? '' : ' class="overdue"'}>${cell(c.at)}${cell(c.seq)}${cell(c.ok ? 'intact' : `FAILED at ${c.firstBad?.seq ?? '?'} (${c.firstBad?.reason ?? 'unknown'})`)}${cell(`${c.fromSeq ?? '?'}–${c.toSeq ?? '?'}`)}${cell(c.source)}</tr>`,
    )
    .join('');
  return `<h2>Audit integrity checks</h2><table><thead><tr><th>Time</th><th>Seq</th><th>Result</th><th>Entries checked</th><th>Source</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Self-contained HTML: inline CSS and SVG only. */
export function renderSecurityReportHtml(report: SecurityReport): string {
  const figures = Object.entries(report.figures)
    .map(
      ([k, f]) =>
        `<tr><td>${escapeHtml(LABELS[k as keyof typeof LABELS])}</td><td class="n">${f.count}</td><td><code title="the audit query behind this figure">${escapeHtml(f.command)}</code></td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Security report ${escapeHtml(report.period.from)} – ${escapeHtml(report.period.to)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.8rem;color:#555}
tr.overdue td{color:#a93226;font-weight:600}
.legend{list-style:none;padding:0;display:flex;gap:1rem}.legend span{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}
</style></head><body>
<h1>Security report</h1>
<p>${escapeHtml(report.period.from)} – ${escapeHtml(report.period.to)} · ${report.entries} audit entries · generated ${escapeHtml(report.generatedAt)}</p>
<table><thead><tr><th>Figure</th><th>Count</th><th>Reproduce</th></tr></thead><tbody>${figures}</tbody></table>
<h2>Per day</h2>${trendChart(report.daily)}
${rankChart('Denials by route', report.denialsByRoute)}
${rankChart('Denials by subject', report.denialsBySubject)}
${rankChart('Violations by rule', report.violationsByRule)}
${rankChart('Top actors', report.topActors)}
${dsrTable(report)}
${keyTable(report)}
${integrityTable(report)}
</body></html>
`;
}
