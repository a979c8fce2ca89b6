import { BulwarkAuditError, ErrorCodes } from '../errors';
import {
  GENESIS_HASH,
  normalizeAuditTime,
  type AuditActorType,
  type AuditEntry,
  type AuditHead,
  type AuditOutcome,
  type AuditRedaction,
} from './audit-event';

/** Filter for `AuditStore.query` / `AuditLog.query`. All given criteria must match (AND). */
export interface AuditQuery {
  actorId?: string;
  actorType?: AuditActorType;
  /** Exact action, or a prefix ending in `*` (`patient.*`). */
  action?: string;
  resourceType?: string;
  resourceId?: string;
  outcome?: AuditOutcome;
  category?: string;
  requestId?: string;
  /** Inclusive lower bound on `time`. */
  from?: string | Date;
  /** Exclusive upper bound on `time`. */
  to?: string | Date;
  /** Redacted entries only match filters on time / category; set false to leave them out entirely. Default true. */
  includeRedacted?: boolean;
  /** Page size, 1..1000, default 100. */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** Seq order; default `asc`. */
  order?: 'asc' | 'desc';
}

/** A validated query: times normalised, limit bounded, cursor decoded to a seq bound. */
export interface NormalizedAuditQuery extends Omit<AuditQuery, 'from' | 'to' | 'cursor' | 'limit' | 'order'> {
  from?: string;
  to?: string;
  /** asc: seq > after; desc: seq < after. */
  after?: number;
  limit: number;
  order: 'asc' | 'desc';
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Present when more entries may match; pass it back as `cursor`. */
  nextCursor?: string;
}

/** A final line without newline found when a file store was opened (crash mid-write). */
export interface TornTail {
  /** Byte offset of the partial line in the file. */
  offset: number;
  /** Its length in bytes. */
  length: number;
}

/**
 * Builds the entries of one append from the store's current head (seq 0 / GENESIS_HASH when
 * empty). Must be deterministic in `head`: a SQL store may call it again after a serialisation
 * failure. Throwing aborts the append and nothing is written.
 */
export type AuditPrepare = (head: AuditHead) => AuditEntry[] | Promise<AuditEntry[]>;

/**
 * Where entries live. THE CONTRACT every implementation (memory, JSON-lines file, TypeORM for
 * SQLite / PostgreSQL) must honour:
 *
 * - `append(prepare)`: take an exclusive write lock that covers every writer of this log (an
 *   in-process mutex for a single-writer store; `SELECT ... FOR UPDATE` on a head row or
 *   `pg_advisory_xact_lock` / SQLite `BEGIN IMMEDIATE` for SQL), read the head, call
 *   `prepare(head)`, check that the returned entries continue the head (seq = head.seq + 1, +2, ...
 *   and the first `prevHash` = head.leafHash, each next `prevHash` = previous `leafHash`;
 *   otherwise throw ERR_AUDIT_STORE and write nothing), persist them atomically (all or none),
 *   release the lock and resolve with the entries as stored. Resolution means durable to the
 *   store's stated policy. This is what keeps many processes on one linear chain: no fork, no
 *   gap, no lost event. An empty array is a no-op. A store may instead call `prepare` on the head
 *   read without the lock and persist only if, under the lock, the head is still that one;
 *   otherwise it writes nothing and calls `prepare` again on the head it found (TypeORM's SQLite
 *   writer thread). So `prepare` may run more than once per append and must only compute entries.
 * - `head()`: last entry's seq and leafHash, `{ seq: 0, leafHash: GENESIS_HASH }` when empty.
 * - `read(fromSeq, limit)`: up to `limit` entries starting at position `fromSeq` (1-based), in the
 *   store's own order (SQL: `ORDER BY seq`; file: line order). Stores must NOT "fix" the order or
 *   skip odd rows: the verifier relies on seeing what is stored.
 * - `query(q)`: entries matching a normalised query (`matchesAuditQuery` is the reference
 *   semantics), ordered by seq per `q.order`, at most `q.limit`, with a `nextCursor` (use
 *   `encodeAuditCursor(lastSeq)`) when more may follow.
 * - `redact(seqs, redaction)`: replace each listed entry by `redactedEntry(entry, redaction)`:
 *   content removed, `seq`, `time`, `category`, `prevHash`, `leafHash` kept, `redacted` set. The
 *   old content must be physically gone (file rewritten; SQL row updated, and VACUUM policy is the
 *   operator's). Already-redacted entries are left alone. Resolves with the number changed.
 *   This is the ONLY permitted mutation of stored entries.
 * - `close()`: release locks and handles; idempotent.
 *
 * Checkpoints are NOT stored here on purpose: see `CheckpointStore` (keep them apart, so
 * replacing the whole log is caught).
 */
export interface AuditStore {
  /** Set by stores that can detect a torn final record (file store). */
  readonly tornTail?: TornTail;
  head(): Promise<AuditHead>;
  append(prepare: AuditPrepare): Promise<AuditEntry[]>;
  read(fromSeq: number, limit: number): Promise<AuditEntry[]>;
  query(query: NormalizedAuditQuery): Promise<AuditPage>;
  redact(seqs: readonly number[], redaction: AuditRedaction): Promise<number>;
  close(): Promise<void>;
}

export const MAX_QUERY_LIMIT = 1000;
const DEFAULT_QUERY_LIMIT = 100;

function bad(field: string, message: string): BulwarkAuditError {
  return new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_QUERY, `audit query ${field} ${message}`, { field });
}

export function encodeAuditCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url');
}

function decodeCursor(cursor: unknown): number {
  if (typeof cursor !== 'string' || cursor.length > 40)
    throw bad('cursor', 'is not a cursor from a previous page');
  const m = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (m === null) throw bad('cursor', 'is not a cursor from a previous page');
  return Number(m[1]);
}

const STRING_FIELDS = [
  'actorId',
  'actorType',
  'action',
  'resourceType',
  'resourceId',
  'outcome',
  'category',
  'requestId',
] as const;

/** Validates a query (ERR_AUDIT_INVALID_QUERY naming the field). */
export function normalizeAuditQuery(query: AuditQuery = {}): NormalizedAuditQuery {
  if (query === null || typeof query !== 'object') throw bad('', 'must be an object');
  const out: NormalizedAuditQuery = { limit: DEFAULT_QUERY_LIMIT, order: 'asc' };
  for (const f of STRING_FIELDS) {
    const v = query[f];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw bad(f, 'must be a non-empty string');
    (out as unknown as Record<string, string>)[f] = v;
  }
  try {
    if (query.from !== undefined) out.from = normalizeAuditTime(query.from, 'from');
    if (query.to !== undefined) out.to = normalizeAuditTime(query.to, 'to');
  } catch (err) {
    throw bad((err as BulwarkAuditError).details?.field as string, 'must be a valid UTC time');
  }
  if (query.limit !== undefined) {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_QUERY_LIMIT) {
      throw bad('limit', `must be an integer from 1 to ${MAX_QUERY_LIMIT}`);
    }
    out.limit = query.limit;
  }
  if (query.order !== undefined) {
    if (query.order !== 'asc' && query.order !== 'desc') throw bad('order', "must be 'asc' or 'desc'");
    out.order = query.order;
  }
  if (query.cursor !== undefined) out.after = decodeCursor(query.cursor);
  if (query.includeRedacted !== undefined) {
    if (typeof query.includeRedacted !== 'boolean') throw bad('includeRedacted', 'must be a boolean');
    out.includeRedacted = query.includeRedacted;
  }
  return out;
}

/** Reference semantics of a query filter (stores that filter in memory use it directly). */
export function matchesAuditQuery(entry: AuditEntry, q: NormalizedAuditQuery): boolean {
  if (q.after !== undefined && (q.order === 'asc' ? entry.seq <= q.after : entry.seq >= q.after))
    return false;
  if (entry.redacted !== undefined && q.includeRedacted === false) return false;
  if (q.from !== undefined && !(entry.time >= q.from)) return false;
  if (q.to !== undefined && !(entry.time < q.to)) return false;
  if (q.category !== undefined && entry.category !== q.category) return false;
  if (q.actorId !== undefined && entry.actor?.id !== q.actorId) return false;
  if (q.actorType !== undefined && entry.actor?.type !== q.actorType) return false;
  if (q.outcome !== undefined && entry.outcome !== q.outcome) return false;
  if (q.resourceType !== undefined && entry.resource?.type !== q.resourceType) return false;
  if (q.resourceId !== undefined && entry.resource?.id !== q.resourceId) return false;
  if (q.requestId !== undefined && entry.requestId !== q.requestId) return false;
  if (q.action !== undefined) {
    if (entry.action === undefined) return false;
    if (q.action.endsWith('*')) {
      if (!entry.action.startsWith(q.action.slice(0, -1))) return false;
    } else if (entry.action !== q.action) return false;
  }
  return true;
}

/** Runs a normalised query over entries held in seq order in memory. */
export function queryEntriesInMemory(entries: readonly AuditEntry[], q: NormalizedAuditQuery): AuditPage {
  const out: AuditEntry[] = [];
  const step = q.order === 'asc' ? 1 : -1;
  let i = q.order === 'asc' ? 0 : entries.length - 1;
  // The cursor is a seq, and in an intact store position = seq - 1: start there instead of scanning.
  if (q.after !== undefined)
    i =
      q.order === 'asc'
        ? Math.max(0, Math.min(q.after, entries.length))
        : Math.min(entries.length - 1, q.after - 2);
  for (; i >= 0 && i < entries.length; i += step) {
    const e = entries[i]!;
    if (!matchesAuditQuery(e, q)) continue;
    if (out.length === q.limit)
      return { entries: out, nextCursor: encodeAuditCursor(out[out.length - 1]!.seq) };
    out.push(e);
  }
  return { entries: out };
}

/** The stub a redaction leaves: content gone, chain fields kept. */
export function redactedEntry(entry: AuditEntry, redaction: AuditRedaction): AuditEntry {
  return {
    seq: entry.seq,
    time: entry.time,
    category: entry.category,
    prevHash: entry.prevHash,
    leafHash: entry.leafHash,
    redacted: { at: redaction.at, reason: redaction.reason },
  };
}

/** Checks that `entries` continue `head` (the store-side half of the append contract). */
export function checkAppendContinuity(head: AuditHead, entries: readonly AuditEntry[]): void {
  let seq = head.seq;
  let prev = head.leafHash;
  for (const e of entries) {
    if (e.seq !== seq + 1 || e.prevHash !== prev) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_STORE,
        `append rejected: entry seq ${e.seq} does not continue the head (seq ${seq}); nothing was written`,
        { seq: e.seq, headSeq: seq },
      );
    }
    seq = e.seq;
    prev = e.leafHash;
  }
}

export const EMPTY_HEAD: AuditHead = Object.freeze({ seq: 0, leafHash: GENESIS_HASH });

/** A small promise mutex: single-process stores serialise appends and rewrites with it. */
export class AsyncMutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
