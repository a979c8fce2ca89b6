import type { AuditActor, AuditEvent } from '../audit/audit-event';
import { AUTH_AUDIT_ACTIONS } from '../identity/authentication';

/** Where the brute-force guard appends `auth.lockout` / `auth.unlock`: an `AuditLog` fits. */
export interface LockoutAuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

/** Who unlocked, for `reset(attempt, { by })` (a support-desk operator, an admin). */
export interface UnlockContext {
  by?: AuditActor;
  reason?: string;
}

/**
 * `auth.lockout` (ASVS 5.0 V16.3.1): a counter of the attempt locked. The account is the name the
 * caller typed (or `mfa:<userId>` for second factors); the audit redactor may hash it.
 */
export function lockoutEvent(
  attempt: { ip?: string; account?: string },
  scope: string,
  lockoutSec: number,
): AuditEvent {
  return {
    actor: { id: 'anonymous', type: 'anonymous', ...(attempt.ip !== undefined ? { ip: attempt.ip } : {}) },
    action: AUTH_AUDIT_ACTIONS.lockout,
    outcome: 'success',
    ...(attempt.account !== undefined ? { resource: { type: 'account', id: attempt.account } } : {}),
    details: { scope, lockoutSec, method: attempt.account?.startsWith('mfa:') ? 'mfa' : 'login' },
  };
}

/** `auth.unlock`: counters and back-off of the attempt cleared by `reset()`. */
export function unlockEvent(
  attempt: { ip?: string; account?: string },
  context: UnlockContext = {},
): AuditEvent {
  return {
    actor: context.by ?? { id: 'system', type: 'system' },
    action: AUTH_AUDIT_ACTIONS.unlock,
    outcome: 'success',
    ...(context.reason !== undefined ? { reason: context.reason } : {}),
    ...(attempt.account !== undefined ? { resource: { type: 'account', id: attempt.account } } : {}),
    details: { ...(attempt.ip !== undefined ? { ip: attempt.ip } : {}) },
  };
}
