import { BulwarkAuditError, ErrorCodes } from '../errors';
import {
  AUDIT_LIMITS,
  normalizeAuditTime,
  type AuditActor,
  type AuditEntry,
  type AuditEvent,
  type NormalizedAuditEvent,
} from './audit-event';
import { normalizeAuditQuery, type AuditQuery, type AuditStore } from './audit-store';
import type { RetentionPolicy } from './retention-policy';
import { PRESERVED_FROM_KEY } from './subject-pseudonymizer';
import { REDACTION_RECORD_ACTIONS } from './verify-audit-log';

export interface RemovalReport {
  /** Entries whose content was removed. */
  removed: number;
  /** Seq ranges removed (or, on a dry run, that would be). */
  ranges: [number, number][];
  /** Matching entries kept because of legal holds. */
  held: { count: number; holdIds: string[] };
  dryRun: boolean;
  /** Entries whose content was kept as a pseudonymised copy (`redact` with `preserve`). */
  preserved?: number;
}

export interface RedactOptions {
  /**
   * Evidence to keep (GDPR Art. 17(3)(b), (e)): called for every entry about to be redacted; an
   * event returned is appended as the entry's replacement (normally the entry with the subject
   * pseudonymised, see `SubjectPseudonymizer.preserve`) before the original is reduced to a stub.
   * Return undefined to redact the entry without a copy.
   */
  preserve?: (entry: AuditEntry) => AuditEvent | undefined | Promise<AuditEvent | undefined>;
}

/** A redaction record lists at most this many ranges, so it stays inside the details limits. */
const RANGES_PER_RECORD = 200;

function toRanges(seqs: number[]): [number, number][] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

export function argError(message: string, details?: Record<string, unknown>): BulwarkAuditError {
  return new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, message, details);
}

/** What removal needs of the log: its store, retention, clock, and its own write path. */
export interface RemovalHost {
  readonly store: AuditStore;
  readonly retention: RetentionPolicy;
  readonly clock: () => Date;
  readonly systemActor: AuditActor;
  flush(): Promise<void>;
  /** Validates and redacts an event as append() does (without the reserved-action check). */
  normalize(event: AuditEvent): NormalizedAuditEvent;
  /** Queues a normalised event for the next group commit. */
  enqueue(event: NormalizedAuditEvent): Promise<AuditEntry>;
}

/**
 * Removal of entry content, keeping the chain verifiable: erasure (`redact`) and the retention
 * purge. Each removal is itself recorded in the log (`audit.redacted` / `audit.purged`) before the
 * stubs are written, which verification demands.
 */
export class LogRemoval {
  constructor(private readonly host: RemovalHost) {}

  /**
   * Removes the content of matching entries (GDPR Art. 17 erasure), keeping seq, time, category,
   * prevHash and leafHash so the chain and every proof still verify. Trade-off: a redacted
   * entry's content can no longer be checked against its leaf hash; instead the log first appends
   * an `audit.redacted` record listing the seqs (an erasure is itself audited) and verification
   * demands that every stub is covered by such a record. Entries under a legal hold are kept and
   * reported.
   *
   * With `options.preserve`, entries that must outlive the erasure (a subject's own attacks) are
   * first appended again as the replacement events it returns, then stubbed like the rest: the
   * originals, which name the subject, are gone, and the copies are ordinary hashed entries of the
   * chain (time, action, outcome, category kept, so queries still find them), each naming the
   * original's seq and leaf hash in `details.erasurePreservedFrom`. Order: copies, record, stubs,
   * so a crash never loses the evidence (a retry after a crash between copies and stubs copies
   * those entries again).
   */
  async redact(filter: AuditQuery, reason: string, options: RedactOptions = {}): Promise<RemovalReport> {
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > AUDIT_LIMITS.reason) {
      throw argError(
        `redaction reason must be a non-empty string of at most ${AUDIT_LIMITS.reason} characters`,
      );
    }
    const q = normalizeAuditQuery({
      ...filter,
      cursor: undefined,
      limit: 1000,
      includeRedacted: false,
      order: 'asc',
    });
    if (Object.keys(q).every((k) => ['limit', 'order', 'includeRedacted'].includes(k))) {
      throw argError('redact() needs at least one filter criterion (refusing to redact the whole log)');
    }
    await this.host.flush();
    const seqs: number[] = [];
    const held = new Map<string, number>();
    let heldCount = 0;
    for (
      let page = await this.host.store.query(q);
      ;
      page = await this.host.store.query({ ...q, after: page.entries[page.entries.length - 1]!.seq })
    ) {
      for (const e of page.entries) {
        const holds = this.host.retention.holdsFor(e);
        if (holds.length > 0) {
          heldCount++;
          for (const h of holds) held.set(h.id, (held.get(h.id) ?? 0) + 1);
        } else seqs.push(e.seq);
      }
      if (page.nextCursor === undefined || page.entries.length === 0) break;
    }
    const ranges = toRanges(seqs);
    let preserved = 0;
    if (options.preserve !== undefined && seqs.length > 0) {
      const wanted = new Set(seqs);
      const copies: NormalizedAuditEvent[] = [];
      for (const e of await this.entriesAt(seqs)) {
        if (!wanted.has(e.seq) || e.redacted !== undefined) continue;
        const event = await options.preserve(e);
        if (event === undefined) continue;
        if (REDACTION_RECORD_ACTIONS.has(event.action)) {
          throw argError(`a preserved copy cannot use the reserved action '${event.action}'`);
        }
        let copy: NormalizedAuditEvent;
        try {
          copy = this.host.normalize(event);
        } catch (err) {
          // Pseudonyms are longer than most ids: details near the size limit can outgrow it. The
          // copy then keeps its other fields and the reference to the original, not the details.
          if (!(err instanceof BulwarkAuditError) || err.code !== ErrorCodes.AUDIT_INVALID_EVENT) throw err;
          const from = (event.details as Record<string, unknown> | undefined)?.[PRESERVED_FROM_KEY];
          copy = this.host.normalize({
            ...event,
            details: { ...(from === undefined ? {} : { [PRESERVED_FROM_KEY]: from }), detailsOmitted: true },
          });
        }
        copies.push(copy);
      }
      // Copies become durable before any original loses its content.
      await Promise.all(copies.map((c) => this.host.enqueue(c)));
      await this.host.flush();
      preserved = copies.length;
    }
    if (seqs.length > 0) {
      // Record first: a crash between the two steps leaves a record without stubs (harmless),
      // never stubs without a record.
      await this.record('audit.redacted', ranges, reason, seqs.length);
      await this.host.store.redact(seqs, { at: normalizeAuditTime(this.host.clock()), reason });
    }
    return {
      removed: seqs.length,
      ranges,
      held: this.holdSummary(held, heldCount),
      dryRun: false,
      ...(options.preserve === undefined ? {} : { preserved }),
    };
  }

  /**
   * Retention purge: removes the content of entries older than their category's period, the same
   * way as `redact()` (stubs keep the chain verifiable; an `audit.purged` record lists them).
   * Held entries are kept and reported. Stubs themselves are never deleted.
   */
  async purge(options: { now?: Date; dryRun?: boolean } = {}): Promise<RemovalReport> {
    const now = (options.now ?? this.host.clock()).getTime();
    if (!Number.isFinite(now)) throw argError('purge now must be a valid Date');
    await this.host.flush();
    const byCategory = new Map<string, number[]>();
    const held = new Map<string, number>();
    let heldCount = 0;
    await this.scan((e) => {
      if (e.redacted !== undefined) return;
      const expires = this.host.retention.expiresAt(e);
      if (expires === undefined || expires > now) return;
      const holds = this.host.retention.holdsFor(e);
      if (holds.length > 0) {
        heldCount++;
        for (const h of holds) held.set(h.id, (held.get(h.id) ?? 0) + 1);
        return;
      }
      const list = byCategory.get(e.category) ?? [];
      list.push(e.seq);
      byCategory.set(e.category, list);
    });
    const all = [...byCategory.values()].flat();
    const ranges = toRanges(all);
    const report = {
      removed: options.dryRun ? 0 : all.length,
      ranges,
      held: this.holdSummary(held, heldCount),
      dryRun: options.dryRun === true,
    };
    if (options.dryRun || all.length === 0) return report;
    await this.record('audit.purged', ranges, 'retention period elapsed', all.length);
    const at = normalizeAuditTime(this.host.clock());
    for (const [category, seqs] of byCategory) {
      await this.host.store.redact(seqs, { at, reason: `retention period of category ${category} elapsed` });
    }
    return report;
  }

  /** The stored entries with these seqs (read in runs of consecutive seqs). */
  private async entriesAt(seqs: readonly number[]): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for (const [from, to] of toRanges([...seqs])) {
      for (let pos = from; pos <= to;) {
        const page = await this.host.store.read(pos, Math.min(1000, to - pos + 1));
        if (page.length === 0) break;
        out.push(...page.filter((e) => e.seq >= from && e.seq <= to));
        pos += page.length;
      }
    }
    return out;
  }

  private async scan(visit: (entry: AuditEntry) => void): Promise<void> {
    for (let pos = 1; ;) {
      const page = await this.host.store.read(pos, 1000);
      for (const e of page) visit(e);
      if (page.length < 1000) return;
      pos += page.length;
    }
  }

  /** Appends the log's own records of a removal, `RANGES_PER_RECORD` ranges per record. */
  private async record(
    action: 'audit.redacted' | 'audit.purged',
    ranges: [number, number][],
    reason: string,
    count: number,
  ): Promise<void> {
    const writes: Promise<AuditEntry>[] = [];
    for (let i = 0; i < ranges.length; i += RANGES_PER_RECORD) {
      writes.push(
        this.host.enqueue(
          this.host.normalize({
            actor: this.host.systemActor,
            action,
            outcome: 'success',
            reason,
            category: 'audit',
            details: { ranges: ranges.slice(i, i + RANGES_PER_RECORD), count },
          }),
        ),
      );
    }
    await Promise.all(writes);
  }

  private holdSummary(held: Map<string, number>, heldCount: number): RemovalReport['held'] {
    return { count: heldCount, holdIds: [...held.keys()].sort() };
  }
}
