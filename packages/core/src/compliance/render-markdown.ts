import type { ComplianceReportResult, ControlResult, ControlStatus } from './compliance-report';

const STATUS_LABEL: Record<ControlStatus, string> = {
  pass: 'PASS',
  fail: 'FAIL',
  'not-demonstrated': 'NOT DEMONSTRATED',
  manual: 'MANUAL',
  'not-applicable': 'N/A',
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

function score(value: number | null): string {
  return value === null ? 'n/a' : `${value}%`;
}

function evidenceLine(c: ControlResult): string {
  if (c.evidence.length === 0) return '';
  return c.evidence.map((e) => `${escapeMarkdown(e.source)} @ ${escapeMarkdown(e.observedAt)}`).join('; ');
}

/** A Markdown report: summary table, then per framework every control, failures and manual items. */
export function renderMarkdown(result: ComplianceReportResult): string {
  const out: string[] = [];
  out.push('# Bulwark compliance report', '');
  out.push(
    `Generated ${escapeMarkdown(result.generatedAt)}; evidence read from the running system at ${escapeMarkdown(result.evidenceCollectedAt)} by ${escapeMarkdown(result.tool.name)} ${escapeMarkdown(result.tool.version)}.`,
    '',
  );
  out.push(
    '> Scores count automated controls only: a control passes only on evidence read from the live services. ' +
      'Manual controls need a human attestation and are listed separately, never scored as passed.',
    '',
  );
  out.push('| Framework | Score | Passed | Failed | Not applicable | Manual |', '|---|---|---|---|---|---|');
  for (const f of result.frameworks) {
    out.push(
      `| ${escapeMarkdown(f.name)} | ${score(f.score)} | ${f.passed} | ${f.failed} | ${f.notApplicable} | ${f.manual} |`,
    );
  }
  out.push('');
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
      `Score: **${score(f.score)}** (${f.passed} of ${f.applicable} applicable automated controls pass; ${f.manual} manual).`,
      '',
    );
    out.push('| Control | Clause | Title | Status | Finding | Evidence |', '|---|---|---|---|---|---|');
    for (const c of controls) {
      out.push(
        `| ${escapeMarkdown(c.id)} | ${escapeMarkdown(c.ref)} | ${escapeMarkdown(c.title)} | ${STATUS_LABEL[c.status]} | ${escapeMarkdown(c.summary)} | ${evidenceLine(c)} |`,
      );
    }
    out.push('');
    const failed = controls.filter((c) => c.status === 'fail');
    if (failed.length > 0) {
      out.push('### Remediation', '');
      for (const c of failed) {
        out.push(
          `- **${escapeMarkdown(c.id)}** (${escapeMarkdown(c.ref)}): ${escapeMarkdown(c.remediation ?? '')}`,
        );
      }
      out.push('');
    }
    const manual = controls.filter((c) => c.status === 'manual');
    if (manual.length > 0) {
      out.push('### Manual controls (attestation needed, not scored)', '');
      for (const c of manual) {
        out.push(
          `- **${escapeMarkdown(c.id)}** (${escapeMarkdown(c.ref)}) ${escapeMarkdown(c.title)}: ${escapeMarkdown(c.guidance ?? '')}`,
        );
      }
      out.push('');
    }
  }
  return out.join('\n');
}
