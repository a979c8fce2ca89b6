import { isIP } from 'node:net';
import { BulwarkAuditError, ErrorCodes } from '../errors';

/**
 * The audit event model. Field set follows PCI DSS v4.0 10.2.2 (user identification, type of
 * event, date and time, success or failure, origination, identity of affected data/resource)
 * and HIPAA 164.312(b) (record and examine activity in systems that contain ePHI).
 */

export type AuditActorType = 'user' | 'service' | 'system' | 'anonymous';
export type AuditOutcome = 'success' | 'failure' | 'denied';

/** JSON value accepted in `details` (after validation every value is one of these). */
export type AuditJsonValue =
  string | number | boolean | null | AuditJsonValue[] | { [key: string]: AuditJsonValue };
export type AuditDetails = { [key: string]: AuditJsonValue };

export interface AuditActor {
  id: string;
  type: AuditActorType;
  ip?: string;
  userAgent?: string;
  sessionId?: string;
}

export interface AuditResource {
  type: string;
  id?: string;
}

/** What a caller hands to `AuditLog.append`. */
export interface AuditEvent {
  actor: AuditActor;
  /** Dotted verb, e.g. `patient.read`, `auth.login`. */
  action: string;
  resource?: AuditResource;
  outcome: AuditOutcome;
  reason?: string;
  requestId?: string;
  /** UTC time; set by the log's clock when absent. Normalised to ISO-8601 with milliseconds. */
  time?: string | Date;
  /** Retention category; `default` when absent. */
  category?: string;
  /** Free-form JSON object; redacted per classification before it is hashed or stored. */
  details?: Record<string, unknown>;
}

/** Set on an entry whose content was removed by `redact()` or `purge()`. */
export interface AuditRedaction {
  at: string;
  reason: string;
}

/**
 * A stored entry. `leafHash` commits to every other field except `redacted`; `prevHash` is the
 * previous entry's `leafHash` (the genesis entry links to 64 zeros).
 *
 * A redacted entry keeps only `seq`, `time`, `category`, `prevHash`, `leafHash` and `redacted`:
 * its content is gone, so its leaf hash can no longer be recomputed, but it stays a leaf of the
 * Merkle tree and a link of the hash chain, so everything around it still verifies.
 */
export interface AuditEntry {
  seq: number;
  time: string;
  actor?: AuditActor;
  action?: string;
  resource?: AuditResource;
  outcome?: AuditOutcome;
  reason?: string;
  requestId?: string;
  category: string;
  details?: AuditDetails;
  prevHash: string;
  leafHash: string;
  redacted?: AuditRedaction;
}

/** The validated, normalised content of an event (what is hashed besides seq and prevHash). */
export interface NormalizedAuditEvent {
  time: string;
  actor: AuditActor;
  action: string;
  resource?: AuditResource;
  outcome: AuditOutcome;
  reason?: string;
  requestId?: string;
  category: string;
  details?: AuditDetails;
}

/** The head of a log: last seq (0 when empty) and its leaf hash (GENESIS_HASH when empty). */
export interface AuditHead {
  seq: number;
  leafHash: string;
}

/** `prevHash` of entry 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** Size limits. Bounded so a hostile caller cannot make one event dominate storage or hashing time. */
export const AUDIT_LIMITS = Object.freeze({
  actorId: 256,
  sessionId: 256,
  /** User agents are attacker-controlled: truncated, never rejected, so a long one cannot suppress an event. */
  userAgent: 512,
  action: 128,
  resourceType: 128,
  resourceId: 256,
  reason: 1024,
  requestId: 128,
  category: 64,
  detailsBytes: 64 * 1024,
  detailsDepth: 16,
  detailsKeys: 1024,
});

const ACTOR_TYPES: ReadonlySet<string> = new Set(['user', 'service', 'system', 'anonymous']);
const OUTCOMES: ReadonlySet<string> = new Set(['success', 'failure', 'denied']);
const ACTION_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;
const CATEGORY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** ISO-8601 in UTC with milliseconds, exactly what Date#toISOString produces. */
const ISO_UTC_MS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function invalid(field: string, message: string): BulwarkAuditError {
  return new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_EVENT, `audit event ${field} ${message}`, { field });
}

function str(value: unknown, field: string, max: number, required: boolean): string | undefined {
  if (value === undefined || value === null) {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof value !== 'string') throw invalid(field, `must be a string, got ${typeof value}`);
  if (required && value.length === 0) throw invalid(field, 'must not be empty');
  if (value.length > max) throw invalid(field, `must be at most ${max} characters, got ${value.length}`);
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number written by the `length` ASCII digits of `s` at `at` (already matched as digits). */
function digitsAt(s: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) n = n * 10 + s.charCodeAt(i) - 48;
  return n;
}

/**
 * True when `s` is exactly what `toISOString()` returns for the instant it names: the
 * `YYYY-MM-DDTHH:mm:ss.sssZ` shape with every field in range (month 1-12, a day that exists in
 * that month of the proleptic Gregorian calendar Date uses, hour 0-23, minute and second 0-59).
 * Anything else, e.g. 2025-02-30 (which Date rolls over to March 2) or 24:00, is left to Date.
 */
function isNormalUtcTime(s: string): boolean {
  if (s.length !== 24 || !ISO_UTC_MS_RE.test(s)) return false;
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  if (month < 1 || month > 12 || day < 1) return false;
  if (digitsAt(s, 11, 2) > 23 || digitsAt(s, 14, 2) > 59 || digitsAt(s, 17, 2) > 59) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
}

/**
 * The last second a plain Date was normalised in (ms since the epoch / 1000) and its ISO text up
 * to the milliseconds (`YYYY-MM-DDTHH:mm:ss.`): the log's clock gives one Date per event, mostly
 * within the same second, and toISOString plus its range check cost more than the rest of the time
 * handling.
 */
let cachedSecond = Number.NaN;
let cachedSecondIso = '';

/**
 * `normalizeAuditTime(new Date(ms))` for the system clock's milliseconds, without a Date object
 * while the second is the one last normalised.
 * @internal
 */
export function auditTimeOfMs(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second === cachedSecond) {
    const rest = ms - second * 1000;
    return `${cachedSecondIso}${rest < 10 ? '00' : rest < 100 ? '0' : ''}${rest}Z`;
  }
  return normalizeAuditTime(new Date(ms));
}

/** Normalises an event time to `YYYY-MM-DDTHH:mm:ss.sssZ`; rejects anything that is not a real instant. */
export function normalizeAuditTime(value: unknown, field = 'time'): string {
  // Fast path: a time already in normal form is its own normalisation (parsing a Date string
  // costs more than the rest of an event's validation).
  if (typeof value === 'string' && isNormalUtcTime(value)) return value;
  // Fast path: a plain Date in the second last normalised (NaN, an invalid Date, never matches).
  if (value instanceof Date && Object.getPrototypeOf(value) === Date.prototype) {
    const t = value.getTime();
    const second = Math.floor(t / 1000);
    if (second === cachedSecond) {
      const ms = t - second * 1000;
      return `${cachedSecondIso}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
    }
  }
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string' && value.length <= 64) date = new Date(value);
  else throw invalid(field, 'must be an ISO-8601 string or a Date');
  if (Number.isNaN(date.getTime())) throw invalid(field, 'is not a valid date');
  if (typeof value === 'string' && !/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
    // A time without an offset is ambiguous (local time?); audit times must be unambiguous UTC.
    throw invalid(field, 'must carry a UTC offset (e.g. trailing Z)');
  }
  const iso = date.toISOString();
  if (!ISO_UTC_MS_RE.test(iso)) throw invalid(field, 'is outside the supported range');
  if (date === value && Object.getPrototypeOf(date) === Date.prototype) {
    cachedSecond = Math.floor(date.getTime() / 1000);
    cachedSecondIso = iso.slice(0, 20);
  }
  return iso;
}

/**
 * Copies `details` into plain JSON, rejecting what JSON cannot represent faithfully (functions,
 * symbols, bigint, NaN/Infinity, cycles, class instances) so the hash commits to exactly what a
 * reader will see. Lone surrogates are kept (canonical JSON escapes them) so a hostile string
 * cannot get an event rejected. `undefined` properties are dropped (as JSON.stringify does); Dates become ISO strings.
 */
function cloneJson(
  value: unknown,
  path: string,
  depth: number,
  seen: object[],
  budget: { keys: number },
): AuditJsonValue {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw invalid(path, 'must be a finite number');
      return value;
    case 'object':
      break;
    default:
      throw invalid(path, `is not JSON-serialisable (${typeof value})`);
  }
  if (value instanceof Date) return normalizeAuditTime(value, path);
  if (depth > AUDIT_LIMITS.detailsDepth)
    throw invalid(path, `nests deeper than ${AUDIT_LIMITS.detailsDepth} levels`);
  // The ancestors, at most detailsDepth + 1 of them: a list is cheaper to build than a Set.
  if (seen.includes(value)) throw invalid(path, 'contains a cycle');
  seen.push(value);
  try {
    if (Array.isArray(value)) {
      budget.keys -= value.length;
      if (budget.keys < 0) throw invalid('details', `has more than ${AUDIT_LIMITS.detailsKeys} keys/items`);
      return value.map((item, i) =>
        item === undefined ? null : cloneJson(item, `${path}[${i}]`, depth + 1, seen, budget),
      );
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw invalid(path, 'must be a plain object');
    const out: { [key: string]: AuditJsonValue } = {};
    const keys = Object.keys(value);
    budget.keys -= keys.length;
    if (budget.keys < 0) throw invalid('details', `has more than ${AUDIT_LIMITS.detailsKeys} keys/items`);
    for (const key of keys) {
      // '__proto__' as an own key would turn into a prototype assignment on copy; refuse it.
      if (key === '__proto__') throw invalid(`${path}.__proto__`, 'is not an allowed key');
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined) continue;
      // Primitives that are valid JSON are copied here: no path text is built for a value that
      // cannot fail.
      if (
        typeof v === 'string' ||
        typeof v === 'boolean' ||
        v === null ||
        (typeof v === 'number' && Number.isFinite(v))
      )
        out[key] = v;
      else out[key] = cloneJson(v, `${path}.${key}`, depth + 1, seen, budget);
    }
    return out;
  } finally {
    seen.pop();
  }
}

/** Validates and copies a details object (the copy is what the redactor and the hash see). */
export function cloneAuditDetails(details: unknown): AuditDetails {
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw invalid('details', 'must be a JSON object');
  }
  return cloneJson(details, 'details', 0, [], { keys: AUDIT_LIMITS.detailsKeys }) as AuditDetails;
}

/**
 * Validates an event and returns a normalised copy (no `undefined` fields, fresh objects, so later
 * mutation of the caller's object cannot change what gets logged). Throws ERR_AUDIT_INVALID_EVENT
 * naming the offending field. `details` are copied but not yet redacted or size-checked.
 */
export function normalizeAuditEvent(
  event: unknown,
  now: () => Date,
  /** The time of an event without one, already normalised (instead of `now`). Internal. */
  nowIso?: () => string,
): NormalizedAuditEvent {
  if (event === null || typeof event !== 'object') throw invalid('event', 'must be an object');
  const e = event as Record<string, unknown>;
  const a = e.actor as Record<string, unknown> | undefined;
  if (a === null || typeof a !== 'object') throw invalid('actor', 'is required and must be an object');
  const actorType = a.type;
  if (typeof actorType !== 'string' || !ACTOR_TYPES.has(actorType)) {
    throw invalid('actor.type', "must be one of 'user', 'service', 'system', 'anonymous'");
  }
  const actor: AuditActor = {
    id: str(a.id, 'actor.id', AUDIT_LIMITS.actorId, true)!,
    type: actorType as AuditActorType,
  };
  const ip = str(a.ip, 'actor.ip', 64, false);
  if (ip !== undefined) {
    if (isIP(ip) === 0) throw invalid('actor.ip', 'must be an IPv4 or IPv6 address');
    actor.ip = ip;
  }
  const ua = a.userAgent;
  if (ua !== undefined && ua !== null) {
    if (typeof ua !== 'string') throw invalid('actor.userAgent', 'must be a string');
    let s = ua;
    if (s.length > AUDIT_LIMITS.userAgent) s = `${s.slice(0, AUDIT_LIMITS.userAgent - 1)}…`;
    actor.userAgent = s;
  }
  const sessionId = str(a.sessionId, 'actor.sessionId', AUDIT_LIMITS.sessionId, false);
  if (sessionId !== undefined) actor.sessionId = sessionId;

  const action = str(e.action, 'action', AUDIT_LIMITS.action, true)!;
  if (!ACTION_RE.test(action)) throw invalid('action', 'must match [A-Za-z0-9][A-Za-z0-9_.:/-]*');

  const outcome = e.outcome;
  if (typeof outcome !== 'string' || !OUTCOMES.has(outcome)) {
    throw invalid('outcome', "must be one of 'success', 'failure', 'denied'");
  }
  const out: NormalizedAuditEvent = {
    time:
      e.time === undefined || e.time === null
        ? nowIso !== undefined
          ? nowIso()
          : normalizeAuditTime(now())
        : normalizeAuditTime(e.time),
    actor,
    action,
    outcome: outcome as AuditOutcome,
    category: 'default',
  };
  if (e.resource !== undefined && e.resource !== null) {
    const r = e.resource as Record<string, unknown>;
    if (typeof r !== 'object') throw invalid('resource', 'must be an object');
    const resource: AuditResource = { type: str(r.type, 'resource.type', AUDIT_LIMITS.resourceType, true)! };
    const id = str(r.id, 'resource.id', AUDIT_LIMITS.resourceId, false);
    if (id !== undefined) resource.id = id;
    out.resource = resource;
  }
  const reason = str(e.reason, 'reason', AUDIT_LIMITS.reason, false);
  if (reason !== undefined) out.reason = reason;
  const requestId = str(e.requestId, 'requestId', AUDIT_LIMITS.requestId, false);
  if (requestId !== undefined) out.requestId = requestId;
  const category = str(e.category, 'category', AUDIT_LIMITS.category, false);
  if (category !== undefined) {
    if (!CATEGORY_RE.test(category)) throw invalid('category', 'must match [A-Za-z0-9][A-Za-z0-9_.-]*');
    out.category = category;
  }
  if (e.details !== undefined && e.details !== null) out.details = cloneAuditDetails(e.details);
  return out;
}

/**
 * The entry a normalised event becomes at `seq` after `prevHash`, without its `leafHash`: the same
 * object as `{ seq, ...event, prevHash }` (same members in the same order, which the stored JSON
 * keeps), built as a literal because the spread copy cost several times more per append. Mirrors
 * the member order normalizeAuditEvent gives; a test holds the two equal.
 */
export function auditEntryOf(seq: number, event: NormalizedAuditEvent, prevHash: string): AuditEntry {
  const entry = {
    seq,
    time: event.time,
    actor: event.actor,
    action: event.action,
    outcome: event.outcome,
    category: event.category,
  } as AuditEntry;
  if (event.resource !== undefined) entry.resource = event.resource;
  if (event.reason !== undefined) entry.reason = event.reason;
  if (event.requestId !== undefined) entry.requestId = event.requestId;
  if (event.details !== undefined) entry.details = event.details;
  entry.prevHash = prevHash;
  return entry;
}

/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(value))` for validated details (plain JSON:
 * objects, arrays, strings, finite numbers, booleans, null), or `Infinity` once it passes `limit`
 * (the caller then measures exactly). Each UTF-16 unit of a string serialises to at most 6 bytes
 * (`\u001f`; a non-ASCII unit takes at most 3 UTF-8 bytes), a number to at most 25 characters
 * (`-1.7976931348623157e+308`, `-0.0000012345678901234567`), `false` and `null` to 5.
 */
export function auditDetailsSizeBound(value: AuditJsonValue, limit: number): number {
  const total = sizeBoundFrom(value, 0, limit);
  return total <= limit ? total : Infinity;
}

/** `total` plus the bound of `value`, or a number above `limit` as soon as it passes it. */
function sizeBoundFrom(v: AuditJsonValue, total: number, limit: number): number {
  if (typeof v === 'string') return total + 6 * v.length + 2;
  if (typeof v === 'number') return total + 25;
  if (v === null || typeof v === 'boolean') return total + 5;
  let t = total;
  if (Array.isArray(v)) {
    t += 2 + v.length; // brackets, commas
    for (const item of v) {
      t = sizeBoundFrom(item, t, limit);
      if (t > limit) return t;
    }
    return t;
  }
  const keys = Object.keys(v);
  t += 2 + keys.length; // braces, commas
  for (const key of keys) {
    t = sizeBoundFrom(v[key]!, t + 6 * key.length + 3, limit); // quotes, colon
    if (t > limit) return t;
  }
  return t;
}

/** Checks the serialised size of (redacted) details. */
export function checkAuditDetailsSize(canonicalLength: number): void {
  if (canonicalLength > AUDIT_LIMITS.detailsBytes) {
    throw invalid(
      'details',
      `must serialise to at most ${AUDIT_LIMITS.detailsBytes} bytes, got ${canonicalLength}`,
    );
  }
}
