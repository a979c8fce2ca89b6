import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { AuditActorType, AuditEvent } from '../audit/audit-event';
import { BulwarkPolicyError, ErrorCodes } from '../errors';
import { type ActionPattern, matchesActionPattern, parseActionPattern } from './action-pattern';
import type { AuthzContext, AuthzResource, Decision } from './authorizer';
import { matchesResourcePattern, parseResourcePattern, type ResourcePattern } from './resource-pattern';
import { intInRange, invalid as invalidOption } from '../util/options';
import {
  BREAK_GLASS_STORE_METHODS,
  type BreakGlassStore,
  type StoredBreakGlassGrant,
} from './break-glass-store';

/**
 * Break-glass: emergency access outside the normal policy (a clinician reading a chart of a
 * patient outside their department during a resuscitation). HIPAA 164.312(a)(2)(ii) asks for an
 * "emergency access procedure"; what makes it acceptable is that it is narrow (scoped to action
 * and resource patterns), short (an expiry with a hard maximum), justified (a reason), and
 * always audited: the grant, every use, the expiry and any revocation each produce an audit
 * event, and a grant whose audit event cannot be written is not activated.
 */

export interface BreakGlassActor {
  /** The subject id that receives the emergency access (the person invoking break-glass). */
  id: string;
  type?: AuditActorType;
  ip?: string;
  sessionId?: string;
}

export interface BreakGlassRequest {
  actor: BreakGlassActor;
  /** Why: free text, required, trimmed, bounded (stored in the audit trail, shown to reviewers). */
  reason: string;
  /** Action patterns the grant covers (`patient:read`, `patient:*`). */
  actions: string | readonly string[];
  /** Resource patterns the grant covers (`records/123`, `records/*`). */
  resources: string | readonly string[];
  /** Either an absolute expiry or a duration; bounded by `maxDurationMs`. */
  expiresAt?: Date | string;
  durationMs?: number;
  requestId?: string;
}

/** A read-only view of a grant, as reported by `listBreakGlass`. */
export interface BreakGlassGrant {
  readonly id: string;
  readonly actor: Readonly<BreakGlassActor>;
  readonly reason: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly grantedAt: string;
  readonly expiresAt: string;
  readonly revokedAt?: string;
  readonly active: boolean;
  readonly uses: number;
}

export interface BreakGlassOptions {
  /** Longest allowed grant; default 4 hours, at most 24 hours. */
  maxDurationMs?: number;
  /** Longest reason; default 1024 characters (the audit event's reason limit). */
  maxReasonLength?: number;
  /** Shortest reason after trimming; default 1. */
  minReasonLength?: number;
}

export const BREAK_GLASS_DEFAULTS = Object.freeze({
  maxDurationMs: 4 * 60 * 60 * 1000,
  maxReasonLength: 1024,
  minReasonLength: 1,
});
const MAX_DURATION_CEILING = 24 * 60 * 60 * 1000;

/** Emits an audit event; resolves when it is durable, rejects (or throws) if it could not be written. */
export type AuditEmitter = (event: AuditEvent) => void | Promise<unknown>;

interface Grant {
  readonly id: string;
  readonly actor: Readonly<BreakGlassActor & { type: AuditActorType }>;
  readonly reason: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly actionPatterns: readonly ActionPattern[];
  readonly resourcePatterns: readonly ResourcePattern[];
  readonly grantedAtMs: number;
  readonly expiresAtMs: number;
  readonly decision: Decision;
  revokedAtMs?: number;
  /** Set once the expiry has been audited (exactly once per grant). */
  expiredAudited: boolean;
  uses: number;
}

function grantNotFound(grantId: unknown): BulwarkPolicyError {
  return new BulwarkPolicyError(
    ErrorCodes.POLICY_BREAK_GLASS_NOT_FOUND,
    'no break-glass grant with that id',
    {
      grantId: typeof grantId === 'string' ? truncate(grantId, 64) : undefined,
    },
  );
}

function invalid(field: string, message: string): BulwarkPolicyError {
  return new BulwarkPolicyError(ErrorCodes.POLICY_BREAK_GLASS_INVALID, `break-glass ${field}: ${message}`, {
    path: field,
  });
}

function patterns<T>(
  value: unknown,
  field: string,
  parse: (s: string) => T | undefined,
): { raw: string[]; parsed: T[] } {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > 64) {
    throw invalid(field, 'must be a pattern or a non-empty list of at most 64 patterns');
  }
  const parsed = list.map((p, i) => {
    const r = typeof p === 'string' ? parse(p) : undefined;
    if (r === undefined) throw invalid(`${field}[${i}]`, 'is not a valid pattern');
    return r;
  });
  return { raw: [...list] as string[], parsed };
}

/**
 * The break-glass limits with their defaults, checked (the registry does it at construction;
 * createBulwark calls it with `authz.breakGlass` before anything is opened).
 */
export function checkBreakGlassLimits(
  options: BreakGlassOptions,
  path = 'breakGlass',
): Required<BreakGlassOptions> {
  const limits = { ...BREAK_GLASS_DEFAULTS, ...options };
  const { maxDurationMs, maxReasonLength, minReasonLength } = limits;
  if (!Number.isSafeInteger(maxDurationMs) || maxDurationMs < 1000 || maxDurationMs > MAX_DURATION_CEILING) {
    throw invalidOption(
      `${path}.maxDurationMs`,
      `an integer from 1000 to ${MAX_DURATION_CEILING} (24 h)`,
      maxDurationMs,
    );
  }
  intInRange(maxReasonLength, `${path}.maxReasonLength`, 1, 1024);
  if (!Number.isSafeInteger(minReasonLength) || minReasonLength < 1 || minReasonLength > maxReasonLength) {
    throw invalidOption(`${path}.minReasonLength`, 'an integer from 1 to maxReasonLength', minReasonLength);
  }
  return limits;
}

const truncate = (s: string, max: number): string => (s.length > max ? s.slice(0, max) : s);

/** Internal store of grants; the `PolicyEngine` owns one and exposes its operations. */
export class BreakGlassRegistry {
  private readonly grants = new Map<string, Grant>();
  /** Active (not yet seen expired or revoked) grants per subject id: the check path's only lookup. */
  private readonly bySubject = new Map<string, Grant[]>();
  private readonly limits: Required<BreakGlassOptions>;

  constructor(
    options: BreakGlassOptions,
    private readonly now: () => number,
    private readonly emit: AuditEmitter | undefined,
    private readonly onAuditError: (err: unknown, event: AuditEvent) => void,
    configPath = 'breakGlass',
    /** Shared grants (every instance reads them through the store); undefined = this process only. */
    private readonly store?: BreakGlassStore,
  ) {
    this.limits = checkBreakGlassLimits(options, configPath);
    if (store !== undefined) {
      const s = store as Partial<BreakGlassStore> | null;
      const methods = BREAK_GLASS_STORE_METHODS;
      if (
        s === null ||
        typeof s !== 'object' ||
        methods.some((m) => typeof s[m as keyof BreakGlassStore] !== 'function')
      ) {
        throw invalidOption('breakGlassStore', `a BreakGlassStore (${methods.join(', ')})`, store);
      }
    }
  }

  /** Grants live in a shared store: only the asynchronous path (`useShared`) may honour them. */
  get shared(): boolean {
    return this.store !== undefined;
  }

  /**
   * True when some subject may hold an active grant (keeps the check path to one branch
   * otherwise). Always false with a shared store: the synchronous path cannot read it, and a local
   * copy could be stale (a grant revoked on another instance), so it never allows by break-glass.
   */
  get hasActive(): boolean {
    return this.bySubject.size !== 0;
  }

  async grant(request: BreakGlassRequest): Promise<BreakGlassGrant> {
    if (this.emit === undefined) {
      throw invalid(
        'audit',
        'break-glass requires an audit hook (onAudit or auditLog): emergency access is always audited',
      );
    }
    if (request === null || typeof request !== 'object') throw invalid('request', 'must be an object');
    const a = request.actor as BreakGlassActor | undefined;
    if (
      a === null ||
      typeof a !== 'object' ||
      typeof a.id !== 'string' ||
      a.id.length === 0 ||
      a.id.length > 256
    ) {
      throw invalid('actor.id', 'is required (a non-empty string of at most 256 characters)');
    }
    const actor: BreakGlassActor & { type: AuditActorType } = { id: a.id, type: a.type ?? 'user' };
    if (a.ip !== undefined) {
      if (typeof a.ip !== 'string' || isIP(a.ip) === 0) throw invalid('actor.ip', 'must be an IP address');
      actor.ip = a.ip;
    }
    if (a.sessionId !== undefined) {
      if (typeof a.sessionId !== 'string' || a.sessionId.length > 256)
        throw invalid('actor.sessionId', 'must be a string');
      actor.sessionId = a.sessionId;
    }
    const reason = typeof request.reason === 'string' ? request.reason.trim() : '';
    if (reason.length < this.limits.minReasonLength) {
      throw invalid(
        'reason',
        `is required (at least ${this.limits.minReasonLength} characters): say why emergency access is needed`,
      );
    }
    if (reason.length > this.limits.maxReasonLength) {
      throw invalid('reason', `must be at most ${this.limits.maxReasonLength} characters`);
    }
    const actions = patterns(request.actions, 'actions', parseActionPattern);
    const resources = patterns(request.resources, 'resources', parseResourcePattern);
    if (actions.raw.includes('*') && resources.raw.includes('*')) {
      throw invalid(
        'scope',
        'actions "*" on resources "*" is not a scope; name the actions or the resources',
      );
    }

    const now = this.now();
    let expiresAtMs: number;
    if ((request.expiresAt === undefined) === (request.durationMs === undefined)) {
      throw invalid('expiry', 'give exactly one of expiresAt or durationMs');
    }
    if (request.durationMs !== undefined) {
      if (!Number.isFinite(request.durationMs) || request.durationMs <= 0) {
        throw invalid('durationMs', 'must be a positive number of milliseconds');
      }
      expiresAtMs = now + request.durationMs;
    } else {
      const e = request.expiresAt;
      expiresAtMs = e instanceof Date ? e.getTime() : typeof e === 'string' ? Date.parse(e) : NaN;
      if (Number.isNaN(expiresAtMs)) throw invalid('expiresAt', 'must be a Date or an ISO-8601 time');
      if (expiresAtMs <= now) throw invalid('expiresAt', 'must be in the future');
    }
    if (expiresAtMs - now > this.limits.maxDurationMs) {
      throw invalid('expiry', `must be at most ${this.limits.maxDurationMs / 60_000} minutes from now`);
    }

    const id = `bg_${randomUUID()}`;
    const grant: Grant = {
      id,
      actor: Object.freeze(actor),
      reason,
      actions: Object.freeze(actions.raw),
      resources: Object.freeze(resources.raw),
      actionPatterns: actions.parsed,
      resourcePatterns: resources.parsed,
      grantedAtMs: now,
      expiresAtMs,
      decision: Object.freeze({ allowed: true, effect: 'allow', reasonId: 'break_glass', breakGlassId: id }),
      expiredAudited: false,
      uses: 0,
    };
    const event: AuditEvent = {
      actor: { ...actor },
      action: 'authz.break_glass.granted',
      outcome: 'success',
      reason,
      time: new Date(now),
      details: {
        grantId: id,
        actions: [...grant.actions],
        resources: [...grant.resources],
        expiresAt: new Date(expiresAtMs).toISOString(),
      },
    };
    if (request.requestId !== undefined) event.requestId = truncate(String(request.requestId), 128);
    try {
      await this.emit(event);
    } catch (err) {
      // Fail closed: an emergency grant nobody can later review is not granted.
      throw new BulwarkPolicyError(
        ErrorCodes.POLICY_AUDIT_FAILED,
        'break-glass grant refused: its audit event could not be written',
        { grantId: id },
        { cause: err },
      );
    }
    if (this.store !== undefined) {
      const stored: StoredBreakGlassGrant = {
        id,
        actor: { ...actor },
        reason,
        actions: [...grant.actions],
        resources: [...grant.resources],
        grantedAtMs: now,
        expiresAtMs,
        expiredAudited: false,
        uses: 0,
      };
      const store = this.store;
      await storeCall('grant', () => store.insert(stored), { grantId: id });
      return viewStored(stored, this.now());
    }
    this.grants.set(id, grant);
    const list = this.bySubject.get(actor.id);
    if (list) list.push(grant);
    else this.bySubject.set(actor.id, [grant]);
    return this.view(grant, this.now());
  }

  /**
   * The first active grant of `subjectId` covering (action, resource), with its use audited, or
   * undefined. Grants found expired are retired here (and their expiry audited). Returns a deny
   * decision when the use could not be audited synchronously (fail closed).
   */
  use(
    subjectId: string,
    action: string,
    resource: AuthzResource,
    context: AuthzContext | undefined,
    overridden: Decision | undefined,
  ): Decision | undefined {
    const list = this.bySubject.get(subjectId);
    if (list === undefined) return undefined;
    const now = this.now();
    this.retireExpired(list, subjectId, now);
    for (const grant of list) {
      if (!this.covers(grant, action, resource)) continue;
      grant.uses++;
      const event = this.useEvent(grant, subjectId, action, resource, context, overridden, now);
      if (!this.emitBackground(event)) return AUDIT_FAILED_DENY;
      return grant.decision;
    }
    return undefined;
  }

  private useEvent(
    grant: Grant,
    subjectId: string,
    action: string,
    resource: AuthzResource,
    context: AuthzContext | undefined,
    overridden: Decision | undefined,
    now: number,
  ): AuditEvent {
    const event: AuditEvent = {
      actor: { id: subjectId, type: grant.actor.type ?? 'user' },
      action: 'authz.break_glass.used',
      resource: { type: truncate(resource.type, 128) },
      outcome: 'success',
      reason: grant.reason,
      time: new Date(now),
      details: { grantId: grant.id, action: truncate(action, 256), use: grant.uses },
    };
    if (typeof resource.id === 'string' && resource.id.length > 0)
      event.resource!.id = truncate(resource.id, 256);
    if (context !== undefined && typeof context.ip === 'string' && isIP(context.ip) !== 0)
      event.actor.ip = context.ip;
    if (overridden?.ruleId !== undefined) {
      event.details!.overriddenPolicyId = overridden.policyId;
      event.details!.overriddenRuleId = overridden.ruleId;
    }
    return event;
  }

  /**
   * `use()` for shared grants: reads the subject's active grants through the store (never a local
   * copy, so a grant given or revoked on another instance counts at once), records the use
   * atomically (a grant revoked in between is not used) and audits it. A store failure denies.
   */
  async useShared(
    subjectId: string,
    action: string,
    resource: AuthzResource,
    context: AuthzContext | undefined,
    overridden: Decision | undefined,
  ): Promise<Decision | undefined> {
    const store = this.store!;
    const now = this.now();
    const failed = (op: string, err: unknown): Decision => {
      this.onAuditError(storeError(op, err), {
        actor: { id: 'bulwark-policy-engine', type: 'system' },
        action: 'authz.break_glass.store_failed',
        outcome: 'failure',
      });
      return STORE_FAILED_DENY;
    };
    let grants: StoredBreakGlassGrant[];
    try {
      grants = await store.active(subjectId, now);
    } catch (err) {
      return failed('read', err);
    }
    for (const stored of grants) {
      let grant: Grant;
      try {
        grant = fromStored(stored);
      } catch {
        continue; // a malformed row grants nothing
      }
      if (grant.actor.id !== subjectId || grant.expiresAtMs <= now || !this.covers(grant, action, resource))
        continue;
      let uses: number | undefined;
      try {
        uses = await store.recordUse(grant.id, now);
      } catch (err) {
        return failed('write', err);
      }
      if (uses === undefined) continue; // revoked or expired meanwhile
      grant.uses = uses;
      if (!this.emitBackground(this.useEvent(grant, subjectId, action, resource, context, overridden, now)))
        return AUDIT_FAILED_DENY;
      return grant.decision;
    }
    return undefined;
  }

  /** Whether an active grant covers the request, without recording a use (for explain()). */
  peek(subjectId: string, action: string, resource: AuthzResource): BreakGlassGrant | undefined {
    // Shared grants are not known synchronously; explain() does not show them.
    if (this.store !== undefined) return undefined;
    const now = this.now();
    const grant = this.bySubject
      .get(subjectId)
      ?.find((g) => g.expiresAtMs > now && g.revokedAtMs === undefined && this.covers(g, action, resource));
    return grant && this.view(grant, now);
  }

  async revoke(grantId: string, by: { actor: BreakGlassActor; reason: string }): Promise<BreakGlassGrant> {
    if (this.store !== undefined) return this.revokeShared(grantId, by);
    const grant = typeof grantId === 'string' ? this.grants.get(grantId) : undefined;
    if (grant === undefined) throw grantNotFound(grantId);
    const now = this.now();
    if (grant.revokedAtMs === undefined && grant.expiresAtMs > now) {
      const revocation = this.checkRevocation(by);
      // Revoke before auditing: removing access never waits on the audit trail.
      grant.revokedAtMs = now;
      this.detach(grant);
      await this.auditRevoked(revocation, grant, now);
    }
    return this.view(grant, now);
  }

  private async revokeShared(
    grantId: string,
    by: { actor: BreakGlassActor; reason: string },
  ): Promise<BreakGlassGrant> {
    const store = this.store!;
    const found =
      typeof grantId === 'string' && grantId !== ''
        ? await storeCall('read', () => store.get(grantId), { grantId: truncate(grantId, 64) })
        : undefined;
    if (found === undefined) throw grantNotFound(grantId);
    const now = this.now();
    if (found.revokedAtMs !== undefined || found.expiresAtMs <= now) return viewStored(found, now);
    const revocation = this.checkRevocation(by);
    // Revoked in the store first (every instance stops honouring it), then audited; only the
    // instance whose conditional update won audits it.
    if (await storeCall('revoke', () => store.revoke(found.id, now), { grantId: found.id })) {
      await this.auditRevoked(revocation, found, now);
    }
    const after = await storeCall('read', () => store.get(found.id), { grantId: found.id });
    return viewStored(after ?? found, now);
  }

  /** Who revokes and why, checked (ERR_POLICY_BREAK_GLASS_INVALID): a revocation is always attributed. */
  private checkRevocation(by: { actor: BreakGlassActor; reason: string }): {
    actor: { id: string; type: AuditActorType };
    reason: string;
  } {
    const actorId = by?.actor?.id;
    if (typeof actorId !== 'string' || actorId.length === 0) throw invalid('actor.id', 'is required');
    const reason = typeof by.reason === 'string' ? by.reason.trim() : '';
    if (reason.length === 0 || reason.length > this.limits.maxReasonLength) {
      throw invalid('reason', `is required (1 to ${this.limits.maxReasonLength} characters)`);
    }
    return { actor: { id: actorId, type: by.actor.type ?? 'user' }, reason };
  }

  private auditRevoked(
    revocation: { actor: { id: string; type: AuditActorType }; reason: string },
    grant: { id: string; actor: { id: string }; uses: number },
    now: number,
  ): Promise<void> {
    return this.emitOrThrow({
      actor: revocation.actor,
      action: 'authz.break_glass.revoked',
      outcome: 'success',
      reason: revocation.reason,
      time: new Date(now),
      details: { grantId: grant.id, subjectId: grant.actor.id, uses: grant.uses },
    });
  }

  /** Retires (and audits) every grant past its expiry; returns how many were retired. */
  async sweep(): Promise<number> {
    const now = this.now();
    if (this.store !== undefined) return this.sweepShared(now);
    let n = 0;
    for (const [subjectId, list] of [...this.bySubject]) n += this.retireExpired(list, subjectId, now);
    return n;
  }

  /** Expiries of shared grants: audited once across instances (the store's claim decides who). */
  private async sweepShared(now: number): Promise<number> {
    const store = this.store!;
    let n = 0;
    for (const g of await storeCall('read', () => store.expiredUnaudited(now))) {
      if (!(await storeCall('write', () => store.claimExpiry(g.id), { grantId: g.id }))) continue;
      n++;
      this.emitBackground({
        actor: { ...g.actor },
        action: 'authz.break_glass.expired',
        outcome: 'success',
        reason: g.reason,
        time: new Date(now),
        details: { grantId: g.id, expiresAt: new Date(g.expiresAtMs).toISOString(), uses: g.uses },
      });
    }
    return n;
  }

  async list(filter: { active?: boolean } = {}): Promise<BreakGlassGrant[]> {
    await this.sweep();
    const now = this.now();
    if (this.store !== undefined) {
      const store = this.store;
      return (await storeCall('read', () => store.list()))
        .map((g) => viewStored(g, now))
        .filter((v) => filter.active === undefined || v.active === filter.active);
    }
    const out: BreakGlassGrant[] = [];
    for (const grant of this.grants.values()) {
      const view = this.view(grant, now);
      if (filter.active === undefined || view.active === filter.active) out.push(view);
    }
    return out;
  }

  private covers(grant: Grant, action: string, resource: AuthzResource): boolean {
    let ok = false;
    for (const p of grant.actionPatterns) if (matchesActionPattern(p, action)) ok = true;
    if (!ok) return false;
    for (const p of grant.resourcePatterns)
      if (matchesResourcePattern(p, resource.type, resource.id)) return true;
    return false;
  }

  private retireExpired(list: Grant[], subjectId: string, now: number): number {
    let n = 0;
    for (let i = list.length - 1; i >= 0; i--) {
      const grant = list[i];
      if (grant.expiresAtMs > now) continue;
      list.splice(i, 1);
      n++;
      if (!grant.expiredAudited) {
        grant.expiredAudited = true;
        this.emitBackground({
          actor: { ...grant.actor },
          action: 'authz.break_glass.expired',
          outcome: 'success',
          reason: grant.reason,
          time: new Date(now),
          details: {
            grantId: grant.id,
            expiresAt: new Date(grant.expiresAtMs).toISOString(),
            uses: grant.uses,
          },
        });
      }
    }
    if (list.length === 0) this.bySubject.delete(subjectId);
    return n;
  }

  private detach(grant: Grant): void {
    const list = this.bySubject.get(grant.actor.id);
    if (list === undefined) return;
    const i = list.indexOf(grant);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.bySubject.delete(grant.actor.id);
  }

  /** Emits without waiting (the check path is synchronous); false when the hook threw synchronously. */
  private emitBackground(event: AuditEvent): boolean {
    try {
      const result = this.emit?.(event);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(undefined, (err: unknown) => this.onAuditError(err, event));
      }
      return true;
    } catch (err) {
      this.onAuditError(err, event);
      return false;
    }
  }

  private async emitOrThrow(event: AuditEvent): Promise<void> {
    try {
      await this.emit?.(event);
    } catch (err) {
      throw new BulwarkPolicyError(
        ErrorCodes.POLICY_AUDIT_FAILED,
        `the ${event.action} audit event could not be written`,
        undefined,
        {
          cause: err,
        },
      );
    }
  }

  private view(grant: Grant, now: number): BreakGlassGrant {
    const view: {
      -readonly [K in keyof BreakGlassGrant]: BreakGlassGrant[K];
    } = {
      id: grant.id,
      actor: grant.actor,
      reason: grant.reason,
      actions: grant.actions,
      resources: grant.resources,
      grantedAt: new Date(grant.grantedAtMs).toISOString(),
      expiresAt: new Date(grant.expiresAtMs).toISOString(),
      active: grant.revokedAtMs === undefined && grant.expiresAtMs > now,
      uses: grant.uses,
    };
    if (grant.revokedAtMs !== undefined) view.revokedAt = new Date(grant.revokedAtMs).toISOString();
    return Object.freeze(view);
  }
}

/** Returned when the shared grant store cannot be read: no emergency access on a guess. */
export const STORE_FAILED_DENY: Decision = Object.freeze({
  allowed: false,
  effect: 'deny',
  reasonId: 'break_glass_unavailable',
});

function storeError(op: string, cause: unknown, details?: Record<string, unknown>): BulwarkPolicyError {
  return new BulwarkPolicyError(
    ErrorCodes.POLICY_BREAK_GLASS_STORE,
    `break-glass store ${op} failed`,
    details,
    { cause },
  );
}

async function storeCall<R>(op: string, fn: () => Promise<R>, details?: Record<string, unknown>): Promise<R> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BulwarkPolicyError) throw err;
    throw storeError(op, err, details);
  }
}

/** A stored grant as the registry works with it (patterns re-parsed; a malformed row throws). */
function fromStored(g: StoredBreakGlassGrant): Grant {
  const actions = patterns(g.actions, 'actions', parseActionPattern);
  const resources = patterns(g.resources, 'resources', parseResourcePattern);
  return {
    id: g.id,
    actor: Object.freeze({ ...g.actor }),
    reason: g.reason,
    actions: Object.freeze(actions.raw),
    resources: Object.freeze(resources.raw),
    actionPatterns: actions.parsed,
    resourcePatterns: resources.parsed,
    grantedAtMs: g.grantedAtMs,
    expiresAtMs: g.expiresAtMs,
    decision: Object.freeze({ allowed: true, effect: 'allow', reasonId: 'break_glass', breakGlassId: g.id }),
    ...(g.revokedAtMs === undefined ? {} : { revokedAtMs: g.revokedAtMs }),
    expiredAudited: g.expiredAudited,
    uses: g.uses,
  };
}

function viewStored(g: StoredBreakGlassGrant, now: number): BreakGlassGrant {
  const view: { -readonly [K in keyof BreakGlassGrant]: BreakGlassGrant[K] } = {
    id: g.id,
    actor: Object.freeze({ ...g.actor }),
    reason: g.reason,
    actions: Object.freeze([...g.actions]),
    resources: Object.freeze([...g.resources]),
    grantedAt: new Date(g.grantedAtMs).toISOString(),
    expiresAt: new Date(g.expiresAtMs).toISOString(),
    active: g.revokedAtMs === undefined && g.expiresAtMs > now,
    uses: g.uses,
  };
  if (g.revokedAtMs !== undefined) view.revokedAt = new Date(g.revokedAtMs).toISOString();
  return Object.freeze(view);
}

/** Returned when a break-glass use could not be audited: emergency access without a trail is refused. */
export const AUDIT_FAILED_DENY: Decision = Object.freeze({
  allowed: false,
  effect: 'deny',
  reasonId: 'break_glass_audit_failed',
});
