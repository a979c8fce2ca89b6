import type { ComplianceReportResult, ControlResult, ControlStatus } from './compliance-report';
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

const STATUS_LABEL: Record<ControlStatus, string> = {
  pass: 'PASS',
  fail: 'FAIL',
  'not-demonstrated': 'NOT DEMONSTRATED',
  'not-applicable': 'N/A',
  attested: 'ATTESTED',
  unattested: 'UNATTESTED',
};

/**
 * Escapes text for a Markdown table cell or line: HTML-significant characters (many renderers
 * pass inline HTML through), Markdown punctuation that could form links or emphasis, the cell
 * separator, and line breaks.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|#!])/g, '\\$1')
    .replace(/\r?\n|\r/g, ' ');
}

function status(c: ControlResult): string {
  if (c.status === 'pass') return c.passLevel === 'full' ? 'PASS (full)' : 'PASS (partial)';
  return STATUS_LABEL[c.status] ?? escapeMarkdown(statusLabel(c));
}

/** A fence longer than any backtick run in `text`, so the block cannot be closed from inside. */
function fenced(text: string, lang: string): string[] {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}${lang}`, text, fence];
}

/**
 * A Markdown report: who / what / when and where the evidence came from, the counts per
 * framework side by side (no single percentage), then per framework every control with its
 * coverage, the remediation and the attestations; then the evidence, once, summarised before the
 * raw JSON.
 */
export function renderMarkdown(result: ComplianceReportResult): string {
  const out: string[] = [];
  const m = result.metadata;
  out.push('# Bulwark compliance report', '');
  if (m.system !== undefined) out.push(`- **System:** ${escapeMarkdown(m.system)}`);
  if (m.period !== undefined) out.push(`- **Period covered:** ${escapeMarkdown(periodText(m.period))}`);
  out.push(
    `- **Generated:** ${escapeMarkdown(result.generatedAt)}${m.generatedBy === undefined ? '' : ` by ${escapeMarkdown(m.generatedBy)}`} with ${escapeMarkdown(result.tool.name)} ${escapeMarkdown(result.tool.version)}`,
  );
  out.push(`- **Evidence:** ${escapeMarkdown(evidenceSourceLine(result))}`);
  out.push(`- **Signature:** ${escapeMarkdown(signatureText(result))}`, '');
  out.push(`> ${escapeMarkdown(HEADLINE_NOTE)}`, '');
  out.push(
    '| Framework | Automated: pass (full) | Pass (partial) | Fail | of which not demonstrated | Not applicable | Manual: attested | Unattested |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const f of result.frameworks) {
    out.push(
      `| ${escapeMarkdown(f.name)} | ${f.passedFull} | ${f.passedPartial} | ${f.failed} | ${f.notDemonstrated} | ${f.notApplicable} | ${f.attested} | ${f.unattested} |`,
    );
  }
  out.push('');
  if (result.comparison !== undefined) {
    const c = result.comparison;
    out.push(`## Changes since the report of ${escapeMarkdown(c.previousGeneratedAt)}`, '');
    if (c.changed.length === 0 && c.added.length === 0 && c.removed.length === 0) {
      out.push(`No control changed (${c.unchanged} unchanged).`, '');
    } else {
      for (const x of c.changed)
        out.push(`- **${escapeMarkdown(x.id)}**: ${escapeMarkdown(x.from)} → ${escapeMarkdown(x.to)}`);
      for (const id of c.added) out.push(`- **${escapeMarkdown(id)}**: new control`);
      for (const id of c.removed) out.push(`- **${escapeMarkdown(id)}**: removed`);
      out.push(`- ${c.unchanged} unchanged`, '');
    }
  }
  const errors = Object.entries(result.evidenceErrors);
  if (errors.length > 0) {
    out.push('**Evidence that could not be read:**', '');
    for (const [name, message] of errors) out.push(`- ${escapeMarkdown(name)}: ${escapeMarkdown(message)}`);
    out.push('');
  }
  for (const f of result.frameworks) {
    const controls = result.controls.filter((c) => c.framework === f.framework);
    out.push(`## ${escapeMarkdown(f.name)}`, '');
    out.push(
      `Automated: ${f.passedFull} pass (full), ${f.passedPartial} pass (partial), ${f.failed} fail (${f.notDemonstrated} not demonstrated), ${f.notApplicable} not applicable. ` +
        `Manual: ${f.attested} attested, ${f.unattested} unattested.`,
      '',
    );
    out.push(
      '| Control | Clause | Title | Status | Coverage | Finding | Evidence |',
      '|---|---|---|---|---|---|---|',
    );
    for (const c of controls) {
      out.push(
        `| ${escapeMarkdown(c.id)} | ${escapeMarkdown(c.ref)} | ${escapeMarkdown(c.title)} | ${status(c)} | ${escapeMarkdown(coverageText(c))} | ${escapeMarkdown(c.summary)} | ${escapeMarkdown(c.evidenceRefs.join(', '))} |`,
      );
    }
    out.push('');
    const failed = controls.filter((c) => c.status === 'fail' || c.status === 'not-demonstrated');
    if (failed.length > 0) {
      out.push('### Remediation', '');
      for (const c of failed) {
        out.push(
          `- **${escapeMarkdown(c.id)}** (${escapeMarkdown(c.ref)}): ${escapeMarkdown(c.remediation ?? '')}`,
        );
      }
      out.push('');
    }
    const manual = controls.filter((c) => c.kind === 'manual');
    if (manual.length > 0) {
      out.push('### Manual controls (a person attests; never scored as a pass)', '');
      for (const c of manual) {
        const what = c.attestation !== undefined ? attestationLine(c.attestation) : c.summary;
        out.push(
          `- **${escapeMarkdown(c.id)}** (${escapeMarkdown(c.ref)}) ${escapeMarkdown(c.title)}: ${status(c)}. ${escapeMarkdown(what)} ` +
            `What is attested: ${escapeMarkdown(c.guidance ?? '')}`,
        );
      }
      out.push('');
    }
  }
  if (result.evidence.length > 0) {
    out.push('## Evidence', '');
    out.push('| Id | Source | Provenance | Observed at | Cited by |', '|---|---|---|---|---|');
    for (const e of result.evidence) {
      out.push(
        `| ${escapeMarkdown(e.id)} | ${escapeMarkdown(e.source)} | ${escapeMarkdown(e.provenance ?? 'unspecified')} | ${escapeMarkdown(e.observedAt)} | ${escapeMarkdown(evidenceUse(result, e.id))} |`,
      );
    }
    out.push('', '### Raw evidence', '');
    for (const e of result.evidence) {
      out.push(`#### ${escapeMarkdown(e.id)}`, '', ...fenced(JSON.stringify(e.data, null, 2), 'json'), '');
    }
  }
  return out.join('\n');
}
