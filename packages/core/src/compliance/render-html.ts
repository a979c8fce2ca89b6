import type { ComplianceReportResult, ControlResult, FrameworkSummary } from './compliance-report';
import {
  attestationLine,
  coverageText,
  evidenceSourceLine,
  evidenceUse,
  HEADLINE_NOTE,
  periodText,
  signatureText,
  statusLabel,
} from './render-common';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Chart segments: each status (passes split by coverage) with its colour and label. */
type Segment = 'pass-full' | 'pass-partial' | 'fail' | 'not-applicable' | 'attested' | 'unattested';

const COLORS: Record<Segment | 'not-demonstrated', string> = {
  'pass-full': '#1a7f37',
  'pass-partial': '#4ac26b',
  fail: '#cf222e',
  'not-demonstrated': '#bc4c00',
  'not-applicable': '#8c959f',
  attested: '#0969da',
  unattested: '#9a6700',
};

const LABELS: Record<Segment, string> = {
  'pass-full': 'Pass (full)',
  'pass-partial': 'Pass (partial)',
  fail: 'Fail (incl. not demonstrated)',
  'not-applicable': 'Not applicable',
  attested: 'Attested (manual)',
  unattested: 'Unattested (manual)',
};

function segments(f: FrameworkSummary): [Segment, number][] {
  return [
    ['pass-full', f.passedFull],
    ['pass-partial', f.passedPartial],
    ['fail', f.failed],
    ['not-applicable', f.notApplicable],
    ['attested', f.attested],
    ['unattested', f.unattested],
  ];
}

function statusClass(c: ControlResult): string {
  return c.status === 'pass' ? `pass-${c.passLevel === 'full' ? 'full' : 'partial'}` : c.status;
}

// No external assets, no scripts: the CSP forbids both, so the file is safe to open and to mail.
const CSS = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
body{margin:0 auto;max-width:1100px;padding:24px;line-height:1.45}
h1{margin:0 0 4px}h2{margin:32px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta,.note{color:#59636e;font-size:14px}.note{background:#f6f8fa;border-left:4px solid #0969da;padding:8px 12px}
dl.metadata{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:14px}dl.metadata dt{font-weight:600}dl.metadata dd{margin:0}
.overview{display:flex;flex-wrap:wrap;gap:16px;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:12px;display:flex;gap:12px;align-items:center;min-width:300px}
.card svg{flex:none}.card-title{font-weight:600}
.legend{list-style:none;padding:0;margin:0;font-size:13px}.legend li::before{content:"";display:inline-block;width:10px;height:10px;margin-right:6px;background:var(--c);border-radius:2px}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.status{font-weight:600;white-space:nowrap}
.status-pass-full{color:${COLORS['pass-full']}}.status-pass-partial{color:#116329}.status-fail{color:${COLORS.fail}}
.status-not-demonstrated{color:${COLORS['not-demonstrated']}}.status-not-applicable{color:${COLORS['not-applicable']}}
.status-attested{color:${COLORS.attested}}.status-unattested{color:${COLORS.unattested}}
.coverage{font-size:13px;color:#59636e;margin-top:4px}.coverage-partial{color:#953800}
details{margin-top:4px}pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;border-radius:6px;font-size:12px;max-height:320px;overflow:auto}
.remediation{margin-top:4px}.remediation::before{content:"Remediation: ";font-weight:600}
.attestation{margin-top:4px}.errors{color:${COLORS.fail}}.changes li{font-size:14px}
`;

function donut(f: FrameworkSummary): string {
  const parts = segments(f);
  const total = parts.reduce((n, [, v]) => n + v, 0);
  // r = 100 / (2 pi): the circumference is 100, so dash lengths are percentages.
  const r = 15.91549430919;
  let offset = 25; // start at 12 o'clock
  const arcs = parts
    .filter(([, v]) => v > 0)
    .map(([segment, v]) => {
      const pct = (v / total) * 100;
      const arc =
        `<circle class="arc arc-${segment}" cx="21" cy="21" r="${r}" fill="none" stroke="${COLORS[segment]}" stroke-width="6" ` +
        `stroke-dasharray="${pct.toFixed(3)} ${(100 - pct).toFixed(3)}" stroke-dashoffset="${offset.toFixed(3)}"><title>${escapeHtml(LABELS[segment])}: ${v}</title></circle>`;
      offset = (offset - pct + 100) % 100;
      return arc;
    })
    .join('');
  const aria = parts.map(([s, n]) => `${n} ${LABELS[s].toLowerCase()}`).join(', ');
  // The centre shows how many controls, never a percentage: the ring is the headline.
  return (
    `<svg class="chart" width="120" height="120" viewBox="0 0 42 42" role="img" aria-label="${escapeHtml(`${f.name}: ${aria}`)}">` +
    `<circle cx="21" cy="21" r="${r}" fill="none" stroke="#eaeef2" stroke-width="6"/>${arcs}` +
    `<text x="21" y="21" text-anchor="middle" font-size="6" font-weight="600" fill="#1f2328">${total}</text>` +
    `<text x="21" y="26" text-anchor="middle" font-size="3" fill="#59636e">controls</text></svg>`
  );
}

function legend(f: FrameworkSummary): string {
  return `<ul class="legend">${segments(f)
    .map(
      ([s, n]) =>
        `<li style="--c:${COLORS[s]}" data-count="${s}">${escapeHtml(LABELS[s])}: ${n}${s === 'fail' && f.notDemonstrated > 0 ? ` (${f.notDemonstrated} not demonstrated)` : ''}</li>`,
    )
    .join('')}</ul>`;
}

function controlRow(c: ControlResult): string {
  const coverage = coverageText(c);
  const coverageLine =
    coverage === ''
      ? ''
      : `<div class="coverage coverage-${escapeHtml(c.coverage?.level ?? 'undeclared')}">Coverage: ${escapeHtml(coverage)}</div>`;
  const refs =
    c.evidenceRefs.length === 0
      ? ''
      : `<div class="meta">Evidence: ${c.evidenceRefs.map((id) => `<a href="#evidence-${escapeHtml(id)}">${escapeHtml(id)}</a>`).join(', ')}</div>`;
  const extra =
    (c.status === 'fail' || c.status === 'not-demonstrated' || c.status === 'unattested') && c.remediation
      ? `<div class="remediation">${escapeHtml(c.remediation)}</div>`
      : '';
  const attestation =
    c.attestation !== undefined
      ? `<div class="attestation" data-signature="${escapeHtml(c.attestation.signature)}">${escapeHtml(attestationLine(c.attestation))}</div>`
      : '';
  const guidance =
    c.kind === 'manual' && c.guidance
      ? `<div class="guidance meta">What is attested: ${escapeHtml(c.guidance)}</div>`
      : '';
  return (
    `<tr class="control" data-control-id="${escapeHtml(c.id)}" data-status="${escapeHtml(c.status)}"${c.passLevel ? ` data-pass-level="${escapeHtml(c.passLevel)}"` : ''}>` +
    `<td><code>${escapeHtml(c.id)}</code><br>${escapeHtml(c.ref)}</td>` +
    `<td><strong>${escapeHtml(c.title)}</strong><br><span class="meta">${escapeHtml(c.requirement)}</span>${coverageLine}</td>` +
    `<td class="status status-${escapeHtml(statusClass(c))}">${escapeHtml(statusLabel(c))}</td>` +
    `<td>${escapeHtml(c.summary)}${attestation}${extra}${guidance}${refs}</td></tr>`
  );
}

function metadataList(result: ComplianceReportResult): string {
  const m = result.metadata;
  const rows: [string, string][] = [];
  if (m.system !== undefined) rows.push(['System', m.system]);
  if (m.period !== undefined) rows.push(['Period covered', periodText(m.period)]);
  rows.push([
    'Generated',
    `${result.generatedAt}${m.generatedBy === undefined ? '' : ` by ${m.generatedBy}`} with ${result.tool.name} ${result.tool.version}`,
  ]);
  rows.push(['Evidence', evidenceSourceLine(result)]);
  rows.push(['Signature', signatureText(result)]);
  return `<dl class="metadata">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd data-meta="${escapeHtml(k.toLowerCase())}">${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function comparison(result: ComplianceReportResult): string {
  const c = result.comparison;
  if (c === undefined) return '';
  const items = [
    ...c.changed.map(
      (x) => `<li><code>${escapeHtml(x.id)}</code>: ${escapeHtml(x.from)} → ${escapeHtml(x.to)}</li>`,
    ),
    ...c.added.map((id) => `<li><code>${escapeHtml(id)}</code>: new control</li>`),
    ...c.removed.map((id) => `<li><code>${escapeHtml(id)}</code>: removed</li>`),
  ];
  return (
    `<section class="changes"><h2>Changes since the report of ${escapeHtml(c.previousGeneratedAt)}</h2>` +
    `${items.length === 0 ? '<p>No control changed.</p>' : `<ul>${items.join('')}</ul>`}<p class="meta">${c.unchanged} unchanged.</p></section>`
  );
}

function evidenceSection(result: ComplianceReportResult): string {
  if (result.evidence.length === 0) return '';
  const summary = result.evidence
    .map(
      (e) =>
        `<tr class="evidence" id="evidence-${escapeHtml(e.id)}" data-provenance="${escapeHtml(e.provenance ?? 'unspecified')}"><td><code>${escapeHtml(e.id)}</code></td><td>${escapeHtml(e.source)}</td>` +
        `<td>${escapeHtml(e.provenance ?? 'unspecified')}</td><td>${escapeHtml(e.observedAt)}</td><td>${escapeHtml(evidenceUse(result, e.id))}` +
        `<details><summary>Raw data</summary><pre>${escapeHtml(JSON.stringify(e.data, null, 2))}</pre></details></td></tr>`,
    )
    .join('');
  return (
    `<section class="evidence-list"><h2>Evidence</h2><p class="meta">Each item once; controls cite it by id. Provenance: live (read from a registered service), observed (seen on real traffic), snapshot (from a signed snapshot), declared (configuration).</p>` +
    `<table><thead><tr><th>Id</th><th>Source</th><th>Provenance</th><th>Observed at</th><th>Cited by, raw data</th></tr></thead><tbody>${summary}</tbody></table></section>`
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
        `<div class="card" data-framework="${escapeHtml(f.framework)}">${donut(f)}<div><div class="card-title">${escapeHtml(f.name)}</div>${legend(f)}</div></div>`,
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
        `<h2>${escapeHtml(f.name)}</h2><p class="meta">Automated: ${f.passedFull} pass (full), ${f.passedPartial} pass (partial), ${f.failed} fail (${f.notDemonstrated} not demonstrated), ${f.notApplicable} not applicable. Manual: ${f.attested} attested, ${f.unattested} unattested.</p>` +
        `<table><thead><tr><th>Control</th><th>Requirement and coverage</th><th>Status</th><th>Finding and evidence</th></tr></thead><tbody>${rows}</tbody></table></section>`
      );
    })
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bulwark compliance report</title><style>${CSS}</style></head>
<body><h1>Bulwark compliance report</h1>
${metadataList(result)}
<p class="note">${escapeHtml(HEADLINE_NOTE)}</p>
<div class="overview">${cards}</div>${errorList}${comparison(result)}${sections}${evidenceSection(result)}
</body></html>
`;
}
