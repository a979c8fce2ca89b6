import type { ViolationSeverity } from '../threat/detection-rule';
import type { AuditEntry } from './audit-event';

/** How bad an audit event is: the detection and alert scale. */
export type AuditSeverity = ViolationSeverity;

const RANK: Readonly<Record<AuditSeverity, number>> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Actions that are high severity whatever their outcome (privilege and integrity changes). */
const HIGH_PREFIXES = [
  'role.',
  'permission.',
  'policy.',
  'user.role',
  'authz.break_glass.',
  'audit.redacted',
  'audit.purged',
  'keys.',
  'alert.failed',
  'auth.account.disabled',
  'auth.lockout',
];
const CRITICAL_PREFIXES = ['authz.break_glass.used', 'authz.break_glass.store_failed'];

/** Rank of a severity (low 0 … critical 3) for comparisons. */
export function auditSeverityRank(severity: AuditSeverity): number {
  return RANK[severity];
}

/**
 * An entry's severity, derived when read (never stored): `details.severity` when the writer set
 * one (the detector does, an app may: it is hashed with the event, so the override is
 * tamper-evident); else from action, outcome and category. Deriving instead of storing keeps every
 * existing log's leaf hashes as they are, and lets the mapping improve without rewriting history.
 * Redacted entries are `low` (their content is gone).
 */
export function auditSeverity(entry: AuditEntry): AuditSeverity {
  const declared = entry.details?.severity;
  if (typeof declared === 'string' && Object.hasOwn(RANK, declared)) return declared as AuditSeverity;
  const action = entry.action;
  if (typeof action !== 'string') return 'low';
  if (CRITICAL_PREFIXES.some((p) => action.startsWith(p))) return 'critical';
  if (HIGH_PREFIXES.some((p) => action.startsWith(p))) return 'high';
  if (entry.outcome === 'denied') return 'medium';
  if (entry.outcome === 'failure')
    return entry.category === 'security' || action.startsWith('auth.') ? 'medium' : 'low';
  return 'low';
}

/** An entry's risk score: the detector's `details.risk.score` on violations, else undefined. */
export function auditRisk(entry: AuditEntry): number | undefined {
  const risk = entry.details?.risk as { score?: unknown } | undefined;
  return risk !== null && typeof risk === 'object' && typeof risk.score === 'number' ? risk.score : undefined;
}
