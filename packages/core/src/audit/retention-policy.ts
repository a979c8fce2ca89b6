import { BulwarkAuditError, ErrorCodes, type BulwarkConfigError } from '../errors';
import type { RegisterStore } from '../privacy/register-store';
import type { AuditEntry } from './audit-event';
import { configError } from '../util/options';

/**
 * A legal hold: entries it matches are never purged or redacted while it exists (litigation hold;
 * GDPR Art. 17(3)(e) exempts data needed for legal claims). Every given criterion must match;
 * at least one is required.
 */
export interface LegalHold {
  id: string;
  reason: string;
  category?: string;
  /** Entries by this actor. */
  actorId?: string;
  /** Entries about this subject / resource id. */
  resourceId?: string;
  /** Inclusive seq range. */
  fromSeq?: number;
  toSeq?: number;
}

export interface RetentionPolicyOptions {
  /**
   * Retention in days per category (`default` is the category of events without one). A category
   * not listed is kept forever: deleting audit data nobody decided to delete is the unsafe default.
   * PCI DSS 10.5.1 asks for at least 12 months; HIPAA documentation rules for 6 years.
   */
  periods?: Readonly<Record<string, number>>;
  holds?: readonly LegalHold[];
  /**
   * Where holds placed at run time (`auditLog.addLegalHold`) are kept, shared by every instance
   * (e.g. `bulwarkStores(dataSource).auditLegalHolds`). Without it they live in this process only.
   * Holds given in `holds` stay configuration (never written to the store).
   */
  holdStore?: RegisterStore<LegalHold>;
  /** Config path used in error messages. Default `audit.retention` (AuditLog passes `<its path>.retention`). */
  configPath?: string;
}

const DAY_MS = 86_400_000;

function holdExists(id: string): BulwarkAuditError {
  return new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, `legal hold ${id} is already in force`, {
    holdId: id,
  });
}

/** Per-category retention periods and legal holds. */
export class RetentionPolicy {
  private readonly periodMap = new Map<string, number>();
  private readonly holdMap = new Map<string, LegalHold>();
  /** Ids of the holds given in the options (configuration, not in the store). */
  readonly #configured = new Set<string>();
  readonly #store: RegisterStore<LegalHold> | undefined;
  readonly #configPath: string;

  constructor(options: RetentionPolicyOptions = {}) {
    this.#configPath = typeof options.configPath === 'string' ? options.configPath : 'audit.retention';
    const config = (path: string, message: string): BulwarkConfigError => this.#error(path, message);
    for (const [category, days] of Object.entries(options.periods ?? {})) {
      if (!(days === Infinity || (Number.isInteger(days) && days > 0))) {
        throw config(
          `periods.${category}`,
          `must be a positive integer number of days (or Infinity), got ${String(days)}`,
        );
      }
      this.periodMap.set(category, days);
    }
    for (const hold of options.holds ?? []) {
      this.addHold(hold);
      this.#configured.add(hold.id);
    }
    const store = options.holdStore;
    if (
      store !== undefined &&
      (store === null || typeof store.list !== 'function' || typeof store.insert !== 'function')
    ) {
      throw config('holdStore', 'must be a RegisterStore (get, list, insert, update, delete)');
    }
    this.#store = store;
  }

  /** Whether run-time holds are kept in a shared store. */
  get shared(): boolean {
    return this.#store !== undefined;
  }

  /**
   * Places a hold in the shared store (then here); without a store, here only. A hold id already
   * in force (configured, or in the store) is refused: a hold is never silently replaced.
   */
  async placeHold(hold: LegalHold): Promise<void> {
    this.checkHold(hold);
    if (this.#store !== undefined) {
      if (this.#configured.has(hold.id) || !(await this.#store.insert(hold.id, { ...hold })))
        throw holdExists(hold.id);
    } else if (this.holdMap.has(hold.id)) throw holdExists(hold.id);
    this.holdMap.set(hold.id, { ...hold });
  }

  /** Lifts a run-time hold (from the store too). False when no such hold is in force; a configured hold cannot be lifted. */
  async liftHold(id: string): Promise<boolean> {
    if (this.#configured.has(id)) return false;
    if (this.#store !== undefined) {
      const stored = await this.#store.get(id);
      const removed = stored !== undefined && (await this.#store.delete(id, stored.version));
      this.holdMap.delete(id);
      return removed;
    }
    return this.holdMap.delete(id);
  }

  /**
   * Reloads the run-time holds from the shared store (another instance may have placed or lifted
   * one): the log calls it before every redaction and purge. Does nothing without a store.
   */
  async refresh(): Promise<void> {
    if (this.#store === undefined) return;
    const stored = await this.#store.list();
    for (const id of [...this.holdMap.keys()]) if (!this.#configured.has(id)) this.holdMap.delete(id);
    for (const { value } of stored) {
      if (this.#configured.has(value.id)) continue;
      this.checkHold(value);
      this.holdMap.set(value.id, { ...value });
    }
  }

  #error(path: string, message: string): BulwarkConfigError {
    return configError(`${this.#configPath}.${path}`, message);
  }

  addHold(hold: LegalHold): void {
    this.checkHold(hold);
    this.holdMap.set(hold.id, { ...hold });
  }

  /** Validates a hold (config errors naming the field). */
  private checkHold(hold: LegalHold): void {
    const config = (path: string, message: string): BulwarkConfigError => this.#error(path, message);
    if (hold === null || typeof hold !== 'object') throw config('holds', 'must be objects');
    if (typeof hold.id !== 'string' || hold.id === '') throw config('holds.id', 'must be a non-empty string');
    if (typeof hold.reason !== 'string' || hold.reason === '')
      throw config(`holds.${hold.id}.reason`, 'must be a non-empty string');
    const has = ['category', 'actorId', 'resourceId', 'fromSeq', 'toSeq'].some(
      (k) => hold[k as keyof LegalHold] !== undefined,
    );
    if (!has)
      throw config(`holds.${hold.id}`, 'needs at least one of category, actorId, resourceId, fromSeq, toSeq');
    for (const k of ['fromSeq', 'toSeq'] as const) {
      const v = hold[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1))
        throw config(`holds.${hold.id}.${k}`, 'must be a positive integer');
    }
  }

  removeHold(id: string): boolean {
    return this.holdMap.delete(id);
  }

  get holds(): LegalHold[] {
    return [...this.holdMap.values()].map((h) => ({ ...h }));
  }

  /** Retention period in days for a category, or undefined (keep forever). */
  periodDays(category: string): number | undefined {
    const days = this.periodMap.get(category);
    return days === undefined || days === Infinity ? undefined : days;
  }

  /**
   * The configured periods by category: days, or null for a category explicitly kept forever
   * (Infinity). Categories not listed are kept forever too.
   */
  periods(): Readonly<Record<string, number | null>> {
    // fromEntries defines own properties, so a category named `__proto__` stays a plain key.
    return Object.freeze(
      Object.fromEntries(
        [...this.periodMap].map(([category, days]) => [category, days === Infinity ? null : days]),
      ),
    );
  }

  /** The policy as non-secret facts (compliance evidence): periods and how many legal holds are in force. */
  describe(): { readonly periods: Readonly<Record<string, number | null>>; readonly legalHolds: number } {
    return Object.freeze({ periods: this.periods(), legalHolds: this.holdMap.size });
  }

  /** Epoch ms after which the entry may be purged, or undefined if kept forever. */
  expiresAt(entry: AuditEntry): number | undefined {
    const days = this.periodDays(entry.category);
    return days === undefined ? undefined : Date.parse(entry.time) + days * DAY_MS;
  }

  /** Holds covering an entry. */
  holdsFor(entry: AuditEntry): LegalHold[] {
    const out: LegalHold[] = [];
    for (const h of this.holdMap.values()) {
      if (h.category !== undefined && entry.category !== h.category) continue;
      if (h.actorId !== undefined && entry.actor?.id !== h.actorId) continue;
      if (h.resourceId !== undefined && entry.resource?.id !== h.resourceId) continue;
      if (h.fromSeq !== undefined && entry.seq < h.fromSeq) continue;
      if (h.toSeq !== undefined && entry.seq > h.toSeq) continue;
      out.push(h);
    }
    return out;
  }
}
