import type { ComplianceReportResult } from './compliance-report';

/** The report as JSON (stable field order, two-space indent, trailing newline). */
export function renderJson(result: ComplianceReportResult): string {
  return JSON.stringify(result, null, 2) + '\n';
}
