import type { AuditActor, AuditEvent } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import { BulwarkPrivacyError, ErrorCodes } from '../errors';
import type { DataSubjectRequest, DsrStatus, DsrStore } from './dsr-store';
import { DAY_MS, privacyError } from './privacy-input';

/** The statuses a request can still be acted on in. */
export const OPEN: readonly DsrStatus[] = ['received', 'identity-verified', 'in-progress'];

export interface DsrLifecycleOptions {
  store: DsrStore;
  auditLog?: Pick<AuditLog, 'append'>;
  actor: AuditActor;
  clock: () => Date;
  /** Checked by the caller (DataSubjectRequests reads them from its options). */
  responseDays: number;
  maxExtensionDays: number;
}

/**
 * A data-subject request's state machine and its GDPR Art. 12(3) deadline: loading a request,
 * the status checks each operation makes, transitions (saved, with history, and audited without
 * the subject id) and the deadline with its extensions. DataSubjectRequests runs the operations.
 */
export class DsrLifecycle {
  private readonly store: DsrStore;
  private readonly auditLog?: Pick<AuditLog, 'append'>;
  private readonly actor: AuditActor;
  private readonly clock: () => Date;
  private readonly responseDays: number;
  private readonly maxExtensionDays: number;

  constructor(options: DsrLifecycleOptions) {
    this.store = options.store;
    if (options.auditLog !== undefined) this.auditLog = options.auditLog;
    this.actor = options.actor;
    this.clock = options.clock;
    this.responseDays = options.responseDays;
    this.maxExtensionDays = options.maxExtensionDays;
  }

  /** The response deadline of a request received at `receivedAt` (ISO 8601). */
  dueAt(receivedAt: Date): string {
    return new Date(receivedAt.getTime() + this.responseDays * DAY_MS).toISOString();
  }

  /** Adds an extension (days and reason already checked); the total stays within `maxExtensionDays`. */
  async extend(request: DataSubjectRequest, days: number, reason: string): Promise<DataSubjectRequest> {
    const used = request.extensions.reduce((n, e) => n + e.days, 0);
    if (used + days > this.maxExtensionDays) {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_EXTENSION_INVALID,
        `extensions may add at most ${this.maxExtensionDays} days in total (${used} already used)`,
        { path: 'dsr.extend.days', used, max: this.maxExtensionDays },
      );
    }
    const at = this.now();
    request.extensions = [...request.extensions, { days, reason, at }];
    request.effectiveDueAt = new Date(Date.parse(request.dueAt) + (used + days) * DAY_MS).toISOString();
    await this.store.save(request);
    await this.audit('dsr.extended', request, 'success', { days, effectiveDueAt: request.effectiveDueAt });
    return request;
  }

  async load(requestId: string): Promise<DataSubjectRequest> {
    if (typeof requestId !== 'string' || requestId === '')
      throw privacyError('requestId', 'must be a non-empty string');
    const request = await this.store.get(requestId);
    if (request === undefined) {
      throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_NOT_FOUND, 'data-subject request not found', {
        id: requestId.slice(0, 128),
      });
    }
    return request;
  }

  requireVerified(request: DataSubjectRequest): void {
    if (!request.identity.verified) {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_IDENTITY_NOT_VERIFIED,
        'the requester has not been verified as the data subject; call verifyIdentity() first',
        { requestId: request.id, subject: request.subjectRef },
      );
    }
  }

  expect(request: DataSubjectRequest, allowed: readonly DsrStatus[], what: string): void {
    if (!allowed.includes(request.status)) {
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_INVALID_TRANSITION,
        `cannot ${what} a request that is ${request.status}`,
        { requestId: request.id, status: request.status },
      );
    }
  }

  /** Verified requests move to in-progress before an operation runs. */
  async begin(request: DataSubjectRequest): Promise<DataSubjectRequest> {
    this.requireVerified(request);
    this.expect(request, ['identity-verified', 'in-progress'], 'process');
    return request.status === 'in-progress'
      ? request
      : this.transition(request, 'in-progress', 'dsr.started');
  }

  async transition(
    request: DataSubjectRequest,
    status: DsrStatus,
    action: string,
    note?: string,
    details: Record<string, unknown> = {},
  ): Promise<DataSubjectRequest> {
    const at = this.now();
    request.status = status;
    request.history = [...request.history, { status, at, ...(note === undefined ? {} : { note }) }];
    if (status === 'completed') request.completedAt = at;
    await this.store.save(request);
    await this.audit(action, request, 'success', details);
    return request;
  }

  async audit(
    action: string,
    request: DataSubjectRequest,
    outcome: AuditEvent['outcome'] = 'success',
    details: Record<string, unknown> = {},
  ): Promise<void> {
    if (this.auditLog === undefined) return;
    // Never the subject id: these entries are the proof the request was handled and must survive erasure.
    await this.auditLog.append({
      actor: this.actor,
      action,
      resource: { type: 'data-subject-request', id: request.id },
      outcome,
      category: 'privacy',
      // dueAt: the deadline (with extensions) as of this event, so the security report can list
      // open and overdue requests from the audit log alone.
      details: {
        type: request.type,
        status: request.status,
        subjectRef: request.subjectRef,
        dueAt: request.effectiveDueAt,
        ...details,
      },
    });
  }

  now(): string {
    return this.clock().toISOString();
  }
}
