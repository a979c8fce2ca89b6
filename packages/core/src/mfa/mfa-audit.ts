import type { AuditEvent } from '../audit/audit-event';
import { AUTH_AUDIT_ACTIONS, type AuthenticationFactor } from '../identity/authentication';
import { BulwarkError } from '../errors';
import type { MfaAttempt } from './mfa-attempt-guard';

/** Where factors append their `auth.mfa` events: an `AuditLog` fits. */
export interface MfaAuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

/** What one factor operation did, for its audit event. */
export interface MfaAuditRecord {
  userId: string | undefined;
  factor: AuthenticationFactor;
  /** `verify`, `enroll`, `confirm`, `send`, `register`... */
  step: string;
  outcome: 'success' | 'failure';
  /** Error code of a failure (never the code or response the user sent). */
  reason?: string;
  attempt?: MfaAttempt;
  details?: Record<string, unknown>;
}

/**
 * Appends one `auth.mfa` event (ASVS 5.0 V16.3.1: authentication attempts are logged with the
 * method and the outcome). A sink failure propagates: a verification that cannot be recorded is
 * not reported as a success.
 */
export async function recordMfa(sink: MfaAuditSink | undefined, record: MfaAuditRecord): Promise<void> {
  if (sink === undefined) return;
  const { attempt } = record;
  await sink.append({
    actor: {
      id: record.userId ?? 'anonymous',
      type: record.userId !== undefined ? 'user' : 'anonymous',
      ...(attempt?.ip !== undefined ? { ip: attempt.ip } : {}),
      ...(attempt?.userAgent !== undefined ? { userAgent: attempt.userAgent } : {}),
    },
    action: AUTH_AUDIT_ACTIONS.mfa,
    outcome: record.outcome,
    ...(record.reason !== undefined ? { reason: record.reason } : {}),
    ...(record.userId !== undefined ? { resource: { type: 'account', id: record.userId } } : {}),
    ...(attempt?.requestId !== undefined ? { requestId: attempt.requestId } : {}),
    details: { method: record.factor, step: record.step, ...record.details },
  });
}

/**
 * Runs a factor operation and records its outcome: a failure event carries the BulwarkError's
 * code (`error` for anything else) and the error is rethrown.
 */
export async function audited<T>(
  sink: MfaAuditSink | undefined,
  base: Omit<MfaAuditRecord, 'outcome' | 'reason'>,
  fn: () => Promise<T>,
  describe?: (result: T) => { userId?: string; details?: Record<string, unknown> },
): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    await recordMfa(sink, {
      ...base,
      outcome: 'failure',
      reason: error instanceof BulwarkError ? error.code : 'error',
    });
    throw error;
  }
  const extra = describe?.(result);
  await recordMfa(sink, {
    ...base,
    ...(extra?.userId !== undefined ? { userId: extra.userId } : {}),
    details: { ...base.details, ...extra?.details },
    outcome: 'success',
  });
  return result;
}
