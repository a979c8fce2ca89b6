import type {
  ComplianceReportResult,
  ControlResult,
  ControlStatus,
  FrameworkSummary,
} from './compliance-report';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const COLORS: Record<ControlStatus, string> = {
  pass: '#1a7f37',
  fail: '#cf222e',
  'not-demonstrated': '#bc4c00',
  'not-applicable': '#8c959f',
  manual: '#9a6700',
};

const LABELS: Record<ControlStatus, string> = {
  pass: 'Pass',
  fail: 'Fail',
  'not-demonstrated': 'Not demonstrated',
  'not-applicable': 'Not applicable',
  manual: 'Manual',
};

// No external assets, no scripts: the CSP forbids both, so the file is safe to open and to mail.
const CSS = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
body{margin:0 auto;max-width:1100px;padding:24px;line-height:1.45}
h1{margin:0 0 4px}h2{margin:32px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta,.note{color:#59636e;font-size:14px}.note{background:#f6f8fa;border-left:4px solid #0969da;padding:8px 12px}
.overview{display:flex;flex-wrap:wrap;gap:16px;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:12px;display:flex;gap:12px;align-items:center;min-width:300px}
.card svg{flex:none}.score{font-size:22px;font-weight:600}
.legend{list-style:none;padding:0;margin:0;font-size:13px}.legend li::before{content:"";display:inline-block;width:10px;height:10px;margin-right:6px;background:var(--c);border-radius:2px}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.status{font-weight:600;white-space:nowrap}
.status-pass{color:${COLORS.pass}}.status-fail{color:${COLORS.fail}}.status-manual{color:${COLORS.manual}}.status-not-applicable{color:${COLORS['not-applicable']}}
details{margin-top:4px}pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;border-radius:6px;font-size:12px;max-height:320px;overflow:auto}
.remediation{margin-top:4px}.remediation::before{content:"Remediation: ";font-weight:600}
.errors{color:${COLORS.fail}}
`;

function donut(f: FrameworkSummary): string {
  const parts: [ControlStatus, number][] = [
    ['pass', f.passed],
    ['fail', f.failed],
    ['not-applicable', f.notApplicable],
    ['manual', f.manual],
  ];
  const total = parts.reduce((n, [, v]) => n + v, 0);
  // r = 100 / (2 pi): the circumference is 100, so dash lengths are percentages.
  const r = 15.91549430919;
  let offset = 25; // start at 12 o'clock
  const arcs = parts
    .filter(([, v]) => v > 0)
    .map(([status, v]) => {
      const pct = (v / total) * 100;
      const arc =
        `<circle class="arc arc-${status}" cx="21" cy="21" r="${r}" fill="none" stroke="${COLORS[status]}" stroke-width="6" ` +
        `stroke-dasharray="${pct.toFixed(3)} ${(100 - pct).toFixed(3)}" stroke-dashoffset="${offset.toFixed(3)}"><title>${escapeHtml(LABELS[status])}: ${v}</title></circle>`;
      offset = (offset - pct + 100) % 100;
      return arc;
    })
    .join('');
  const label = f.score === null ? 'n/a' : `${f.score}%`;
  return (
    `<svg class="chart" width="120" height="120" viewBox="0 0 42 42" role="img" aria-label="${escapeHtml(`${f.name}: ${f.passed} pass, ${f.failed} fail, ${f.notApplicable} not applicable, ${f.manual} manual`)}">` +
    `<circle cx="21" cy="21" r="${r}" fill="none" stroke="#eaeef2" stroke-width="6"/>${arcs}` +
    `<text x="21" y="23" text-anchor="middle" font-size="6" font-weight="600" fill="#1f2328">${escapeHtml(label)}</text></svg>`
  );
}

function legend(f: FrameworkSummary): string {
  const rows: [ControlStatus, number][] = [
    ['pass', f.passed],
    ['fail', f.failed],
    ['not-applicable', f.notApplicable],
    ['manual', f.manual],
  ];
  return `<ul class="legend">${rows.map(([s, n]) => `<li style="--c:${COLORS[s]}">${escapeHtml(LABELS[s])}: ${n}</li>`).join('')}</ul>`;
}

function controlRow(c: ControlResult): string {
  const evidence =
    c.evidence.length === 0
      ? ''
      : `<details><summary>Evidence (${c.evidence.length})</summary>${c.evidence
          .map(
            (e) =>
              `<div class="evidence"><strong>${escapeHtml(e.source)}</strong> observed ${escapeHtml(e.observedAt)}<pre>${escapeHtml(JSON.stringify(e.data, null, 2))}</pre></div>`,
          )
          .join('')}</details>`;
  const extra =
    c.status === 'fail' && c.remediation
      ? `<div class="remediation">${escapeHtml(c.remediation)}</div>`
      : c.status === 'manual' && c.guidance
        ? `<div class="guidance">${escapeHtml(c.guidance)}</div>`
        : '';
  return (
    `<tr class="control" data-control-id="${escapeHtml(c.id)}" data-status="${escapeHtml(c.status)}">` +
    `<td><code>${escapeHtml(c.id)}</code><br>${escapeHtml(c.ref)}</td>` +
    `<td><strong>${escapeHtml(c.title)}</strong><br><span class="meta">${escapeHtml(c.requirement)}</span></td>` +
    `<td class="status status-${escapeHtml(c.status)}">${escapeHtml(LABELS[c.status])}</td>` +
    `<td>${escapeHtml(c.summary)}${extra}${evidence}</td></tr>`
  );
}

/**
 * A self-contained HTML report: inline CSS and inline SVG charts, no script, no external
 * resource (a Content-Security-Policy meta tag forbids them too). All text is escaped.
 */
export function renderHtml(result: ComplianceReportResult): string {
  const cards = result.frameworks
    .map(
      (f) =>
        `<div class="card" data-framework="${escapeHtml(f.framework)}">${donut(f)}<div><div>${escapeHtml(f.name)}</div>` +
        `<div class="score">${f.score === null ? 'n/a' : `${f.score}%`}</div>${legend(f)}</div></div>`,
    )
    .join('');
  const errors = Object.entries(result.evidenceErrors);
  const errorList =
    errors.length === 0
      ? ''
      : `<div class="errors"><strong>Evidence that could not be read:</strong><ul>${errors
          .map(([k, v]) => `<li>${escapeHtml(k)}: ${escapeHtml(v)}</li>`)
          .join('')}</ul></div>`;
  const sections = result.frameworks
    .map((f) => {
      const rows = result.controls
        .filter((c) => c.framework === f.framework)
        .map(controlRow)
        .join('');
      return (
        `<section class="framework" id="framework-${escapeHtml(f.framework)}" data-framework="${escapeHtml(f.framework)}">` +
        `<h2>${escapeHtml(f.name)}</h2><p class="meta">Score ${f.score === null ? 'n/a' : `${f.score}%`}: ${f.passed} of ${f.applicable} applicable automated controls pass; ${f.notApplicable} not applicable; ${f.manual} manual (not scored).</p>` +
        `<table><thead><tr><th>Control</th><th>Requirement</th><th>Status</th><th>Finding and evidence</th></tr></thead><tbody>${rows}</tbody></table></section>`
      );
    })
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bulwark compliance report</title><style>${CSS}</style></head>
<body><h1>Bulwark compliance report</h1>
<p class="meta">Generated ${escapeHtml(result.generatedAt)}; evidence read from the running system at ${escapeHtml(result.evidenceCollectedAt)} by ${escapeHtml(result.tool.name)} ${escapeHtml(result.tool.version)}.</p>
<p class="note">Scores count automated controls only: a control passes only on evidence read from the live services. Manual controls need a human attestation; they are listed, never scored as passed.</p>
<div class="overview">${cards}</div>${errorList}${sections}
</body></html>
`;
}
