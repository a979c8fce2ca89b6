import type { AuditActor } from '../audit/audit-event';
import { BulwarkError, BulwarkPrivacyError, ErrorCodes } from '../errors';
import type { PrivacyAuditSink } from './consent-manager';
import {
  checkDate,
  checkId,
  checkObject,
  checkPositiveInt,
  checkSubjectId,
  checkText,
  compareText,
  DAY_MS,
  frozenCopy,
  privacyError,
  subjectHash,
} from './privacy-input';
import { positiveInt } from '../util/options';
import { duplicateId, RegisterRecords } from './register-records';
import type { RegisterStore } from './register-store';

/** How long data of one source or category is kept (GDPR Art. 5(1)(e) storage limitation). */
export interface RetentionRule {
  id: string;
  /** Applies to this source; wins over a category rule. */
  sourceId?: string;
  /** Applies to every source of this data category. */
  category?: string;
  days: number;
  /** Why this period (law, contract, business need): shown in the record of processing. */
  basis: string;
}

export interface PurgeContext {
  /** Subject ids under legal hold: the source must not delete their records. */
  excludeSubjects: readonly string[];
  dryRun: false;
}

/** Something holding data that ages out (a table, a bucket prefix, a log index). */
export interface RetentionSource {
  id: string;
  category: string;
  /**
   * Deletes up to `limit` records created before `olderThan`, skipping `excludeSubjects`;
   * returns how many it deleted. Called repeatedly until it returns less than `limit`.
   */
  purge(olderThan: Date, limit: number, context: PurgeContext): Promise<number> | number;
  /** How many records a purge would delete (for dry runs). Optional. */
  countPurgeable?(olderThan: Date, context: { excludeSubjects: readonly string[] }): Promise<number> | number;
  /**
   * The source can skip held subjects. Without it, any subject hold blocks the whole source
   * (fail closed: a hold must never be defeated by a source that ignores it).
   */
  supportsSubjectExclusion?: boolean;
}

export interface RetentionHold {
  id: string;
  reason: string;
  subjectId?: string;
  category?: string;
  sourceId?: string;
  /** End of the hold (ISO-8601); absent = until removed. */
  until?: string;
  placedAt: string;
}

/** How a source's last purge run ended: `blocked` when a legal hold stopped it. */
export type PurgeOutcome = 'success' | 'failure' | 'blocked';

export interface PurgePlanItem {
  sourceId: string;
  category: string;
  ruleId: string;
  days: number;
  olderThan: string;
  /** Holds blocking the whole source (nothing is purged). */
  blockedBy: string[];
  /** Subject holds honoured by exclusion. */
  excludedHolds: string[];
  /** From countPurgeable(), when the source has it. */
  count?: number;
}

export interface PurgeReport {
  dryRun: boolean;
  at: string;
  sources: (PurgePlanItem & { purged: number; batches: number })[];
  /** Sources with no rule (their data is kept; a compliance check should flag them). */
  unmanaged: string[];
  total: number;
}

export interface DataRetentionOptions {
  auditLog?: PrivacyAuditSink;
  actor?: AuditActor;
  clock?: () => Date;
  /** Safety bound on purge() batches per source per run. Default 10 000. */
  maxBatches?: number;
  /** Config path of `maxBatches` in error messages. Default `retention.options`. */
  configPath?: string;
  /** Where rules are kept. Default: process memory (`@bulwark/typeorm` for SQL). */
  ruleStore?: RegisterStore<RetentionRule>;
  /** Where legal holds are kept. Default: process memory. */
  holdStore?: RegisterStore<RetentionHold>;
  /**
   * Where the last purge of each source is kept (`sources()`, the retention evidence), so a
   * report read on any instance sees the scheduled job's run. Default: process memory.
   */
  runStore?: RegisterStore<RetentionRun>;
}

/** The last purge of one source (`id` is the source id), as `sources()` reports it. */
export interface RetentionRun {
  id: string;
  at: string;
  purged: number;
  outcome: PurgeOutcome;
}

const OUTCOMES: readonly PurgeOutcome[] = ['success', 'failure', 'blocked'];

function checkRun(value: unknown): RetentionRun {
  const v = value as Partial<RetentionRun> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.id !== 'string' ||
    typeof v.at !== 'string' ||
    !Number.isFinite(Date.parse(v.at)) ||
    !Number.isSafeInteger(v.purged) ||
    v.purged! < 0 ||
    !OUTCOMES.includes(v.outcome as PurgeOutcome)
  ) {
    throw new TypeError('malformed retention run');
  }
  return { id: v.id, at: v.at, purged: v.purged!, outcome: v.outcome! };
}

/** ERR_PRIVACY_DUPLICATE_ID: a retention rule with this id exists. */
export function duplicatePolicy(id: string): BulwarkPrivacyError {
  return duplicateId(`retention policy ${id} exists`, id);
}

/** A rule may not target a source or category another of `rules` already covers. */
export function checkClash(entry: RetentionRule, rules: readonly RetentionRule[]): void {
  const clash = rules.find(
    (x) =>
      (entry.sourceId !== undefined && x.sourceId === entry.sourceId) ||
      (entry.category !== undefined && x.category === entry.category),
  );
  if (clash)
    throw privacyError(`retention.policy ${entry.id}`, `targets what policy ${clash.id} already covers`);
}

function ruleFor(rules: readonly RetentionRule[], source: RetentionSource): RetentionRule | undefined {
  return rules.find((r) => r.sourceId === source.id) ?? rules.find((r) => r.category === source.category);
}

function subjectHolds(active: readonly RetentionHold[], source: RetentionSource): RetentionHold[] {
  return active.filter(
    (h) =>
      h.subjectId !== undefined &&
      (h.sourceId === undefined || h.sourceId === source.id) &&
      (h.category === undefined || h.category === source.category),
  );
}

function held(message: string, details: Record<string, unknown>): BulwarkPrivacyError {
  return new BulwarkPrivacyError(ErrorCodes.RETENTION_LEGAL_HOLD, message, details);
}

/**
 * Retention rules per source / data category, a purge job over registered sources, and legal
 * holds (by subject, category or source) that block it. Every real purge, and every purge a
 * hold blocked, is an audit event (`retention.purged` / `retention.purge-blocked`).
 */
export class DataRetention {
  private readonly rules: RegisterRecords<RetentionRule>;
  private readonly sourceMap = new Map<string, RetentionSource>();
  private readonly holdMap: RegisterRecords<RetentionHold>;
  private readonly runs: RegisterRecords<RetentionRun>;
  private readonly auditLog?: PrivacyAuditSink;
  private readonly actor: AuditActor;
  private readonly clock: () => Date;
  private readonly maxBatches: number;

  constructor(options: DataRetentionOptions = {}) {
    checkObject(options, 'retention.options');
    this.auditLog = options.auditLog;
    this.actor = options.actor ?? { id: 'bulwark-retention', type: 'system' };
    this.clock = options.clock ?? (() => new Date());
    const path = typeof options.configPath === 'string' ? options.configPath : 'retention.options';
    this.maxBatches = positiveInt(options.maxBatches, `${path}.maxBatches`, 10_000);
    this.rules = new RegisterRecords('retention rules', options.ruleStore, `${path}.ruleStore`, (v) =>
      DataRetention.preparePolicy(v as RetentionRule),
    );
    this.holdMap = new RegisterRecords('legal holds', options.holdStore, `${path}.holdStore`, checkHold);
    this.runs = new RegisterRecords('retention runs', options.runStore, `${path}.runStore`, checkRun);
  }

  /**
   * Keeps a source's latest run: replaces the stored one unless another instance stored a later run
   * meanwhile (then that one stays). Retried on a concurrent write.
   */
  async #recordRun(sourceId: string, at: Date, purged: number, outcome: PurgeOutcome): Promise<void> {
    const run: RetentionRun = { id: sourceId, at: at.toISOString(), purged, outcome };
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.runs.raw(sourceId);
      if (found === undefined) {
        if (await this.runs.insert(sourceId, run)) return;
      } else if (Date.parse(checkRun(found.value).at) > at.getTime()) {
        return;
      } else if (await this.runs.update(sourceId, found.version, run)) {
        return;
      }
    }
  }

  /** Adds a rule; ERR_PRIVACY_DUPLICATE_ID when its id is taken (on any instance sharing the store). */
  async addPolicy(rule: Omit<RetentionRule, 'id'> & { id?: string }): Promise<RetentionRule> {
    const entry = DataRetention.preparePolicy(rule);
    const rules = await this.ruleList();
    if (rules.some((x) => x.id === entry.id)) throw duplicatePolicy(entry.id);
    checkClash(entry, rules);
    await this.rules.insertNew(entry.id, entry, () => duplicatePolicy(entry.id));
    return entry;
  }

  /**
   * Adds a rule declared in configuration: inserted when absent, replaced when the stored one
   * differs (the configuration is the source of truth), left alone when equal.
   */
  async ensurePolicy(rule: Omit<RetentionRule, 'id'> & { id?: string }): Promise<RetentionRule> {
    const entry = DataRetention.preparePolicy(rule);
    return this.rules.ensure(entry.id, entry, 'retention policy', async () => {
      const rules = await this.ruleList();
      checkClash(
        entry,
        rules.filter((x) => x.id !== entry.id),
      );
    });
  }

  /** Validates a rule without storing it (createBulwark checks configuration with it). */
  static preparePolicy(rule: Omit<RetentionRule, 'id'> & { id?: string }): RetentionRule {
    const r = checkObject(rule, 'retention.policy');
    const sourceId = r.sourceId === undefined ? undefined : checkId(r.sourceId, 'retention.policy.sourceId');
    const category = r.category === undefined ? undefined : checkId(r.category, 'retention.policy.category');
    if ((sourceId === undefined) === (category === undefined)) {
      throw privacyError('retention.policy', 'must target exactly one of sourceId or category');
    }
    const id = checkId(
      r.id ?? (sourceId !== undefined ? `source:${sourceId}` : `category:${category}`),
      'retention.policy.id',
    );
    return frozenCopy({
      id,
      ...(sourceId === undefined ? {} : { sourceId }),
      ...(category === undefined ? {} : { category }),
      days: checkPositiveInt(r.days, `retention.policy ${id}.days`),
      basis: checkText(r.basis, `retention.policy ${id}.basis`, 1024),
    });
  }

  /** Retention rules, sorted by id (evidence: retention settings exist and their periods). */
  async policies(): Promise<RetentionRule[]> {
    return (await this.ruleList()).map((r) => frozenCopy(r));
  }

  private async ruleList(): Promise<RetentionRule[]> {
    return (await this.rules.values()).sort((a, b) => compareText(a.id, b.id));
  }

  registerSource(source: RetentionSource): void {
    const s = checkObject(source, 'retention.source');
    const id = checkId(s.id, 'retention.source.id');
    checkId(s.category, `retention.source ${id}.category`);
    if (typeof s.purge !== 'function')
      throw privacyError(`retention.source ${id}.purge`, 'must be a function');
    if (s.countPurgeable !== undefined && typeof s.countPurgeable !== 'function') {
      throw privacyError(`retention.source ${id}.countPurgeable`, 'must be a function when given');
    }
    if (this.sourceMap.has(id)) throw duplicateId(`retention source ${id} exists`, id);
    this.sourceMap.set(id, source);
  }

  /** Sources with their effective rule and last purge (evidence: every source is managed and the job runs). */
  async sources(): Promise<
    {
      id: string;
      category: string;
      ruleId?: string;
      days?: number;
      lastPurge?: { at: string; purged: number; outcome: PurgeOutcome };
    }[]
  > {
    const rules = await this.ruleList();
    const lastRuns = new Map((await this.runs.values()).map((r) => [r.id, r]));
    return [...this.sourceMap.values()]
      .sort((a, b) => compareText(a.id, b.id))
      .map((s) => {
        const rule = ruleFor(rules, s);
        const last = lastRuns.get(s.id);
        return {
          id: s.id,
          category: s.category,
          ...(rule === undefined ? {} : { ruleId: rule.id, days: rule.days }),
          ...(last === undefined
            ? {}
            : { lastPurge: { at: last.at, purged: last.purged, outcome: last.outcome } }),
        };
      });
  }

  /** Places a legal hold (audited); it blocks purges it matches until removed or `until` passes. */
  async addHold(input: {
    id: string;
    reason: string;
    subjectId?: string;
    category?: string;
    sourceId?: string;
    until?: Date | string;
  }): Promise<RetentionHold> {
    const h = checkObject(input, 'retention.hold');
    const id = checkId(h.id, 'retention.hold.id');
    const duplicateHold = (): BulwarkPrivacyError => duplicateId(`legal hold ${id} exists`, id);
    if ((await this.holdMap.raw(id)) !== undefined) throw duplicateHold();
    const subjectId =
      h.subjectId === undefined ? undefined : checkSubjectId(h.subjectId, `retention.hold ${id}.subjectId`);
    const category =
      h.category === undefined ? undefined : checkId(h.category, `retention.hold ${id}.category`);
    const sourceId =
      h.sourceId === undefined ? undefined : checkId(h.sourceId, `retention.hold ${id}.sourceId`);
    if (subjectId === undefined && category === undefined && sourceId === undefined) {
      throw privacyError(`retention.hold ${id}`, 'must name a subjectId, category or sourceId');
    }
    const until =
      h.until === undefined ? undefined : checkDate(h.until, `retention.hold ${id}.until`).toISOString();
    const hold: RetentionHold = frozenCopy({
      id,
      reason: checkText(h.reason, `retention.hold ${id}.reason`, 1024),
      ...(subjectId === undefined ? {} : { subjectId }),
      ...(category === undefined ? {} : { category }),
      ...(sourceId === undefined ? {} : { sourceId }),
      ...(until === undefined ? {} : { until }),
      placedAt: this.clock().toISOString(),
    });
    // Stored (so a purge on any instance honours it at once), then audited: a hold whose audit
    // event cannot be written is taken back.
    await this.holdMap.insertNew(id, hold, duplicateHold);
    try {
      await this.auditLog?.append({
        actor: this.actor,
        action: 'retention.hold-placed',
        resource: { type: 'legal-hold', id },
        outcome: 'success',
        category: 'privacy',
        details: {
          ...(subjectId === undefined ? {} : { subjectRef: subjectHash(subjectId) }),
          ...(category === undefined ? {} : { category }),
          ...(sourceId === undefined ? {} : { sourceId }),
        },
      });
    } catch (error) {
      await this.holdMap.delete(id, 1).catch(() => undefined);
      throw error;
    }
    return hold;
  }

  /** Removes a hold; false when there is none with this id. */
  async removeHold(id: string): Promise<boolean> {
    if (typeof id !== 'string' || id === '') return false;
    const found = await this.holdMap.raw(id);
    if (found === undefined) return false;
    return this.holdMap.delete(id, found.version);
  }

  /** Holds in force at `now` (subject ids replaced by their hash: safe to show as evidence). */
  async holds(
    now: Date = this.clock(),
  ): Promise<(Omit<RetentionHold, 'subjectId'> & { subjectRef?: string })[]> {
    return (await this.activeHolds(now)).map(({ subjectId, ...rest }) => ({
      ...rest,
      ...(subjectId === undefined ? {} : { subjectRef: subjectHash(subjectId) }),
    }));
  }

  /** What a purge at `now` would do, per source (no source is called except countPurgeable). */
  async purgeable(now: Date = this.clock()): Promise<PurgePlanItem[]> {
    const { items } = await this.plan(checkDate(now, 'retention.purgeable.now'), true);
    return items;
  }

  /**
   * Runs the purge: for each managed, unblocked source, calls `purge(olderThan, batchSize)` until a
   * batch comes back short. `dryRun` only plans (and counts where the source can).
   */
  async purge(options: { now?: Date; dryRun?: boolean; batchSize?: number } = {}): Promise<PurgeReport> {
    const o = checkObject(options, 'retention.purge.options');
    const now = o.now === undefined ? this.clock() : checkDate(o.now, 'retention.purge.now');
    const batchSize =
      o.batchSize === undefined ? 1000 : checkPositiveInt(o.batchSize, 'retention.purge.batchSize');
    const dryRun = o.dryRun === true;
    const { items, unmanaged } = await this.plan(now, dryRun);
    const sources: PurgeReport['sources'] = [];
    let total = 0;
    for (const item of items) {
      if (dryRun || item.blockedBy.length > 0) {
        if (!dryRun) {
          await this.#recordRun(item.sourceId, now, 0, 'blocked');
          await this.audit('retention.purge-blocked', item, 'denied', { holds: item.blockedBy });
        }
        sources.push({ ...item, purged: 0, batches: 0 });
        continue;
      }
      const source = this.sourceMap.get(item.sourceId)!;
      // Holds are read again right before each source: one placed on another instance after
      // planning still protects its subjects.
      const excludeSubjects = subjectHolds(await this.activeHolds(now), source).map(
        (h) => h.subjectId as string,
      );
      let purged = 0;
      let batches = 0;
      for (;;) {
        if (batches >= this.maxBatches) break;
        let n: number;
        try {
          n = await source.purge(new Date(item.olderThan), batchSize, { excludeSubjects, dryRun: false });
        } catch (error) {
          await this.#recordRun(source.id, now, purged, 'failure');
          await this.audit('retention.purged', item, 'failure', { purged, batches });
          if (error instanceof BulwarkError) throw error;
          throw new BulwarkPrivacyError(
            ErrorCodes.RETENTION_PURGE_FAILED,
            `retention source ${source.id} failed to purge after ${purged} records`,
            { sourceId: source.id, purged },
            { cause: error },
          );
        }
        if (!Number.isSafeInteger(n) || n < 0 || n > batchSize) {
          await this.#recordRun(source.id, now, purged, 'failure');
          await this.audit('retention.purged', item, 'failure', { purged, batches });
          throw new BulwarkPrivacyError(
            ErrorCodes.RETENTION_PURGE_FAILED,
            `retention source ${source.id} purge() must return a count between 0 and the batch size`,
            { sourceId: source.id },
          );
        }
        batches++;
        purged += n;
        if (n < batchSize) break;
      }
      total += purged;
      await this.#recordRun(source.id, now, purged, 'success');
      await this.audit('retention.purged', item, 'success', { purged, batches });
      sources.push({ ...item, purged, batches });
    }
    return { dryRun, at: now.toISOString(), sources, unmanaged, total };
  }

  /** Throws ERR_RETENTION_LEGAL_HOLD if a hold covers the subject (call before deleting a subject's data by hand). */
  async assertNotHeld(
    target: { subjectId?: string; category?: string; sourceId?: string },
    now: Date = this.clock(),
  ): Promise<void> {
    const t = checkObject(target, 'retention.assertNotHeld');
    const hits = (await this.activeHolds(now)).filter(
      (h) =>
        (h.subjectId !== undefined && h.subjectId === t.subjectId) ||
        (h.category !== undefined && h.category === t.category) ||
        (h.sourceId !== undefined && h.sourceId === t.sourceId),
    );
    if (hits.length > 0) {
      throw held('a legal hold prevents deleting this data', { holdIds: hits.map((h) => h.id) });
    }
  }

  private async activeHolds(now: Date): Promise<RetentionHold[]> {
    const t = now.getTime();
    return (await this.holdMap.values())
      .filter((h) => h.until === undefined || Date.parse(h.until) > t)
      .sort((a, b) => compareText(a.id, b.id));
  }

  private async plan(now: Date, count: boolean): Promise<{ items: PurgePlanItem[]; unmanaged: string[] }> {
    const items: PurgePlanItem[] = [];
    const unmanaged: string[] = [];
    const active = await this.activeHolds(now);
    const rules = await this.ruleList();
    for (const source of [...this.sourceMap.values()].sort((a, b) => compareText(a.id, b.id))) {
      const rule = ruleFor(rules, source);
      if (rule === undefined) {
        unmanaged.push(source.id);
        continue;
      }
      const olderThan = new Date(now.getTime() - rule.days * DAY_MS);
      // Source / category holds (with no subject) block the source; subject holds block it
      // unless the source can exclude subjects.
      const blockedBy = active
        .filter((h) => {
          const scoped =
            (h.sourceId === undefined || h.sourceId === source.id) &&
            (h.category === undefined || h.category === source.category);
          if (!scoped) return false;
          return h.subjectId === undefined || source.supportsSubjectExclusion !== true;
        })
        .map((h) => h.id);
      const heldSubjects = blockedBy.length > 0 ? [] : subjectHolds(active, source);
      const item: PurgePlanItem = {
        sourceId: source.id,
        category: source.category,
        ruleId: rule.id,
        days: rule.days,
        olderThan: olderThan.toISOString(),
        blockedBy,
        excludedHolds: heldSubjects.map((h) => h.id),
      };
      if (count && blockedBy.length === 0 && source.countPurgeable !== undefined) {
        try {
          const n = await source.countPurgeable(olderThan, {
            excludeSubjects: heldSubjects.map((h) => h.subjectId as string),
          });
          if (Number.isSafeInteger(n) && n >= 0) item.count = n;
        } catch (error) {
          throw new BulwarkPrivacyError(
            ErrorCodes.RETENTION_PURGE_FAILED,
            `retention source ${source.id} failed to count purgeable records`,
            { sourceId: source.id },
            { cause: error },
          );
        }
      }
      items.push(item);
    }
    return { items, unmanaged };
  }

  private async audit(
    action: string,
    item: PurgePlanItem,
    outcome: 'success' | 'failure' | 'denied',
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.auditLog?.append({
      actor: this.actor,
      action,
      resource: { type: 'retention-source', id: item.sourceId },
      outcome,
      category: 'privacy',
      details: { ruleId: item.ruleId, days: item.days, olderThan: item.olderThan, ...details },
    });
  }
}

/** A stored hold, checked on the way out: a hold that cannot be read must not silently vanish. */
function checkHold(value: unknown): RetentionHold {
  const h = checkObject(value, 'retention.hold');
  const text = (k: string) => h[k] === undefined || typeof h[k] === 'string';
  if (
    typeof h.id !== 'string' ||
    typeof h.reason !== 'string' ||
    typeof h.placedAt !== 'string' ||
    !['subjectId', 'category', 'sourceId', 'until'].every(text) ||
    (h.subjectId === undefined && h.category === undefined && h.sourceId === undefined) ||
    (h.until !== undefined && !Number.isFinite(Date.parse(h.until as string)))
  ) {
    throw privacyError('retention.hold', 'is malformed');
  }
  return h as unknown as RetentionHold;
}
