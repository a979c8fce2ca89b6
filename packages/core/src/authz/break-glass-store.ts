import type { AuditActorType } from '../audit/audit-event';

/**
 * Shared persistence of break-glass grants, so a grant given on one instance is honoured, and a
 * revocation enforced, on every instance at once: a PolicyEngine with a store reads the grants
 * through it on every break-glass decision (`authorize()`), never from a local copy.
 *
 * The state changes that must not race are single atomic operations: `revoke` and `recordUse`
 * are conditional updates, `claimExpiry` lets exactly one instance audit a grant's expiry.
 */

/** A grant as stored (times in epoch milliseconds). */
export interface StoredBreakGlassGrant {
  id: string;
  actor: { id: string; type: AuditActorType; ip?: string; sessionId?: string };
  reason: string;
  actions: string[];
  resources: string[];
  grantedAtMs: number;
  expiresAtMs: number;
  revokedAtMs?: number;
  /** True once one instance has audited the expiry. */
  expiredAudited: boolean;
  uses: number;
}

/** The methods a BreakGlassStore must have (checked when one is given). */
export const BREAK_GLASS_STORE_METHODS = [
  'insert',
  'get',
  'active',
  'list',
  'revoke',
  'recordUse',
  'expiredUnaudited',
  'claimExpiry',
] as const;

export interface BreakGlassStore {
  /** Stores a new grant (its id is random and never reused). */
  insert(grant: StoredBreakGlassGrant): Promise<void>;
  get(id: string): Promise<StoredBreakGlassGrant | undefined>;
  /** The subject's grants neither revoked nor expired at `nowMs`. */
  active(subjectId: string, nowMs: number): Promise<StoredBreakGlassGrant[]>;
  /** Every grant, oldest first. */
  list(): Promise<StoredBreakGlassGrant[]>;
  /** Revokes at `atMs` if still active then; true when this call revoked it. */
  revoke(id: string, atMs: number): Promise<boolean>;
  /**
   * Counts one use of a grant still active at `nowMs`, atomically; the new count, or undefined
   * when the grant is no longer active (revoked or expired meanwhile: the use is refused).
   */
  recordUse(id: string, nowMs: number): Promise<number | undefined>;
  /** Grants expired by `nowMs` (not revoked) whose expiry has not been audited yet. */
  expiredUnaudited(nowMs: number): Promise<StoredBreakGlassGrant[]>;
  /** Claims the audit of a grant's expiry: true for exactly one caller. */
  claimExpiry(id: string): Promise<boolean>;
  close?(): Promise<void> | void;
}

/**
 * Grants in process memory: the store semantics for one process (tests, and the reference the
 * SQL store is checked against). Each method runs without an await, so it is atomic.
 */
export class MemoryBreakGlassStore implements BreakGlassStore {
  readonly #grants = new Map<string, StoredBreakGlassGrant>();

  async insert(grant: StoredBreakGlassGrant): Promise<void> {
    if (this.#grants.has(grant.id)) throw new Error('break-glass grant id exists');
    this.#grants.set(grant.id, structuredClone(grant));
  }

  async get(id: string): Promise<StoredBreakGlassGrant | undefined> {
    const g = this.#grants.get(id);
    return g === undefined ? undefined : structuredClone(g);
  }

  async active(subjectId: string, nowMs: number): Promise<StoredBreakGlassGrant[]> {
    return [...this.#grants.values()]
      .filter((g) => g.actor.id === subjectId && isActive(g, nowMs))
      .map((g) => structuredClone(g));
  }

  async list(): Promise<StoredBreakGlassGrant[]> {
    return [...this.#grants.values()]
      .sort((a, b) => a.grantedAtMs - b.grantedAtMs || (a.id < b.id ? -1 : 1))
      .map((g) => structuredClone(g));
  }

  async revoke(id: string, atMs: number): Promise<boolean> {
    const g = this.#grants.get(id);
    if (g === undefined || !isActive(g, atMs)) return false;
    g.revokedAtMs = atMs;
    return true;
  }

  async recordUse(id: string, nowMs: number): Promise<number | undefined> {
    const g = this.#grants.get(id);
    if (g === undefined || !isActive(g, nowMs)) return undefined;
    return ++g.uses;
  }

  async expiredUnaudited(nowMs: number): Promise<StoredBreakGlassGrant[]> {
    return [...this.#grants.values()]
      .filter((g) => g.revokedAtMs === undefined && g.expiresAtMs <= nowMs && !g.expiredAudited)
      .map((g) => structuredClone(g));
  }

  async claimExpiry(id: string): Promise<boolean> {
    const g = this.#grants.get(id);
    if (g === undefined || g.expiredAudited) return false;
    g.expiredAudited = true;
    return true;
  }
}

function isActive(g: StoredBreakGlassGrant, nowMs: number): boolean {
  return g.revokedAtMs === undefined && g.expiresAtMs > nowMs;
}
