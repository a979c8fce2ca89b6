import { BulwarkAuditError, ErrorCodes, type AuditEntry } from '@bulwark/core';
import { decodeSqlText, encodeSqlText } from './sql-text-codec';

/**
 * Mapping between an `AuditEntry` and a `bulwark_audit_entry` row. The row is the only copy of the
 * entry (no JSON shadow column), so what queries filter on is exactly what the verifier re-hashes:
 * editing a column cannot hide an entry from queries without also breaking its leaf hash.
 */

/** Insert column order. */
export const ENTRY_COLUMNS = [
  'seq',
  'time',
  'actor_id',
  'actor_type',
  'actor_ip',
  'actor_user_agent',
  'actor_session_id',
  'action',
  'resource_type',
  'resource_id',
  'outcome',
  'reason',
  'request_id',
  'category',
  'details',
  'prev_hash',
  'leaf_hash',
  'redacted_at',
  'redacted_reason',
] as const;

/** Content columns a redaction clears (everything but seq, time, category and the hashes). */
export const CONTENT_COLUMNS = [
  'actor_id',
  'actor_type',
  'actor_ip',
  'actor_user_agent',
  'actor_session_id',
  'action',
  'resource_type',
  'resource_id',
  'outcome',
  'reason',
  'request_id',
  'details',
] as const;

export type EntryColumn = (typeof ENTRY_COLUMNS)[number];
export type EntryRow = Record<EntryColumn, unknown>;

/**
 * Set on an entry read from a row this store could never have written (a raw NUL, a broken
 * escape, non-JSON details, a number where text belongs). It is an extra field, so the leaf hash
 * (which covers every field) cannot match and the verifier reports the entry by seq.
 */
export const STORAGE_FAULT_FIELD = 'storageFault';

const ENTRY_KEYS: ReadonlySet<string> = new Set([
  'seq',
  'time',
  'actor',
  'action',
  'resource',
  'outcome',
  'reason',
  'requestId',
  'category',
  'details',
  'prevHash',
  'leafHash',
  'redacted',
]);
const ACTOR_KEYS: ReadonlySet<string> = new Set(['id', 'type', 'ip', 'userAgent', 'sessionId']);
const RESOURCE_KEYS: ReadonlySet<string> = new Set(['type', 'id']);
const REDACTION_KEYS: ReadonlySet<string> = new Set(['at', 'reason']);

function unrepresentable(seq: unknown, field: string): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_STORE,
    `append rejected: entry field ${field} cannot be stored exactly in a SQL row; nothing was written`,
    { seq: typeof seq === 'number' ? seq : undefined, field },
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Row values in `ENTRY_COLUMNS` order. Refuses (ERR_AUDIT_STORE) an entry the row could not give
 * back exactly: an unknown field, `null` where the model says "absent", a wrong type. Accepting it
 * would store something other than what was hashed, and the chain would fail verification later.
 */
export function entryToRow(entry: AuditEntry): unknown[] {
  const e = entry as unknown as Record<string, unknown>;
  if (!isPlainObject(e)) throw unrepresentable(undefined, 'entry');
  const seq = e.seq;
  const fail = (field: string) => unrepresentable(seq, field);
  for (const [k, v] of Object.entries(e)) if (!ENTRY_KEYS.has(k) && v !== undefined) throw fail(k);
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) throw fail('seq');
  const text = (v: unknown, field: string, required: boolean): string | null => {
    if (v === undefined) {
      if (required) throw fail(field);
      return null;
    }
    if (typeof v !== 'string') throw fail(field);
    return encodeSqlText(v);
  };
  const part = (
    v: unknown,
    field: string,
    keys: ReadonlySet<string>,
    required: string[],
  ): Record<string, unknown> | undefined => {
    if (v === undefined) return undefined;
    if (!isPlainObject(v)) throw fail(field);
    for (const [k, x] of Object.entries(v)) if (!keys.has(k) && x !== undefined) throw fail(`${field}.${k}`);
    for (const k of required) if (typeof v[k] !== 'string') throw fail(`${field}.${k}`);
    return v;
  };
  const actor = part(e.actor, 'actor', ACTOR_KEYS, ['id', 'type']);
  const resource = part(e.resource, 'resource', RESOURCE_KEYS, ['type']);
  const redacted = part(e.redacted, 'redacted', REDACTION_KEYS, ['at', 'reason']);
  let details: string | null = null;
  if (e.details !== undefined) {
    if (!isPlainObject(e.details)) throw fail('details');
    // JSON.stringify escapes U+0000 and lone surrogates, so the text is valid in both databases;
    // the entry's details were already reduced to plain JSON by AuditLog before hashing.
    details = JSON.stringify(e.details);
  }
  const hash = (v: unknown, field: string): string => {
    if (typeof v !== 'string') throw fail(field);
    return encodeSqlText(v);
  };
  return [
    seq,
    text(e.time, 'time', true),
    text(actor?.id, 'actor.id', false),
    text(actor?.type, 'actor.type', false),
    text(actor?.ip, 'actor.ip', false),
    text(actor?.userAgent, 'actor.userAgent', false),
    text(actor?.sessionId, 'actor.sessionId', false),
    text(e.action, 'action', false),
    text(resource?.type, 'resource.type', false),
    text(resource?.id, 'resource.id', false),
    text(e.outcome, 'outcome', false),
    text(e.reason, 'reason', false),
    text(e.requestId, 'requestId', false),
    text(e.category, 'category', true),
    details,
    hash(e.prevHash, 'prevHash'),
    hash(e.leafHash, 'leafHash'),
    text(redacted?.at, 'redacted.at', false),
    text(redacted?.reason, 'redacted.reason', false),
  ];
}

/** The entry a row holds, exactly as appended (or redacted). Never throws: see `STORAGE_FAULT_FIELD`. */
export function rowToEntry(row: EntryRow): AuditEntry {
  const faults: string[] = [];
  const text = (column: EntryColumn): string | undefined => {
    const v = row[column];
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'string') {
      faults.push(column);
      return String(v);
    }
    const decoded = decodeSqlText(v);
    if (decoded === undefined) {
      faults.push(column);
      return v;
    }
    return decoded;
  };
  const rawSeq = row.seq;
  // PostgreSQL returns bigint as a string (it can exceed 2^53); audit seqs never do.
  const seq = typeof rawSeq === 'string' && /^-?\d{1,16}$/.test(rawSeq) ? Number(rawSeq) : rawSeq;
  if (!Number.isSafeInteger(seq)) faults.push('seq');
  const required = (column: EntryColumn): string | undefined => {
    const v = text(column);
    if (v === undefined) faults.push(column);
    return v;
  };
  const entry: Record<string, unknown> = { seq, time: required('time') };
  const actorId = text('actor_id');
  const actorType = text('actor_type');
  const ip = text('actor_ip');
  const userAgent = text('actor_user_agent');
  const sessionId = text('actor_session_id');
  if ([actorId, actorType, ip, userAgent, sessionId].some((v) => v !== undefined)) {
    if (actorId === undefined || actorType === undefined) faults.push('actor_id/actor_type');
    const actor: Record<string, unknown> = { id: actorId, type: actorType };
    if (ip !== undefined) actor.ip = ip;
    if (userAgent !== undefined) actor.userAgent = userAgent;
    if (sessionId !== undefined) actor.sessionId = sessionId;
    entry.actor = actor;
  }
  const action = text('action');
  if (action !== undefined) entry.action = action;
  const resourceType = text('resource_type');
  const resourceId = text('resource_id');
  if (resourceType !== undefined || resourceId !== undefined) {
    if (resourceType === undefined) faults.push('resource_type');
    entry.resource =
      resourceId === undefined ? { type: resourceType } : { type: resourceType, id: resourceId };
  }
  const outcome = text('outcome');
  if (outcome !== undefined) entry.outcome = outcome;
  const reason = text('reason');
  if (reason !== undefined) entry.reason = reason;
  const requestId = text('request_id');
  if (requestId !== undefined) entry.requestId = requestId;
  entry.category = required('category');
  const details = row.details;
  if (details !== null && details !== undefined) {
    try {
      if (typeof details !== 'string') throw new Error('not text');
      const parsed: unknown = JSON.parse(details);
      if (!isPlainObject(parsed)) throw new Error('not an object');
      entry.details = parsed;
    } catch {
      faults.push('details');
      entry.details = String(details);
    }
  }
  entry.prevHash = required('prev_hash');
  entry.leafHash = required('leaf_hash');
  const at = text('redacted_at');
  const redactionReason = text('redacted_reason');
  if (at !== undefined || redactionReason !== undefined) entry.redacted = { at, reason: redactionReason };
  if (faults.length > 0) {
    entry[STORAGE_FAULT_FIELD] = `columns ${faults.join(', ')} hold values this store never writes`;
  }
  return entry as unknown as AuditEntry;
}
