import { BulwarkAuditError, ErrorCodes } from '../errors';

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * An audit event is hashed over its canonical form, so two writers (or a writer and a
 * verifier years later) must produce the same bytes for the same data, whatever order the
 * properties were built in. JCS gives that by construction: it is ECMAScript's own
 * `JSON.stringify` serialisation of primitives (RFC 8785 §3.2.2) plus object members sorted
 * by their names' UTF-16 code units (§3.2.3), no whitespace.
 *
 * Where `JSON.stringify` would silently change or drop data, this function refuses instead
 * (fail closed: a hash over a lossy serialisation would "verify" data that was never logged):
 * NaN / ±Infinity (stringify writes `null`), bigint, functions and symbols anywhere, cycles,
 * `undefined` at the top level or as an array element, invalid Dates, and objects that are
 * not plain (Map, Set, RegExp, class instances without `toJSON`, which stringify writes as
 * `{}`). Like `JSON.stringify`, `undefined` object members are omitted and `toJSON` is
 * honoured (Dates become ISO-8601 strings).
 *
 * Lone surrogates: RFC 8785 §3.1 requires I-JSON input, which has none. Rather than reject
 * (an attacker could then suppress an audit event by putting one in a username) they are
 * written as `\udXXX` escapes, exactly as ECMAScript 2019+ "well-formed JSON.stringify" does.
 * That keeps the output injective and valid UTF-8: `canonicalBytes` never maps two different
 * strings to the same bytes (a raw lone surrogate would become U+FFFD in UTF-8).
 */

/** Nesting deeper than this is rejected with a typed error instead of overflowing the stack. */
const MAX_DEPTH = 1000;

/** Canonical JSON text (RFC 8785) of `value`. Throws `ERR_AUDIT_INVALID_EVENT` on non-JSON data. */
export function canonicalize(value: unknown): string {
  return canonicalizeFast(value, NO_OMISSIONS) ?? canonicalizeReference(value);
}

/**
 * The full serialiser: every check above, with the JSON path of the first offending value in the
 * error. Reached when the fast path below meets anything other than plain JSON data; exported
 * for the tests that hold the fast path equal to it.
 * @internal
 */
export function canonicalizeReference(value: unknown): string {
  let out: string | undefined;
  try {
    out = serialize(value, '', '$', new Set<object>(), 0);
  } catch (err) {
    if (err instanceof BulwarkAuditError) throw err;
    // A throwing toJSON / getter / revoked Proxy: still a typed error, never an untyped one.
    throw new BulwarkAuditError(
      ErrorCodes.AUDIT_INVALID_EVENT,
      'Cannot canonicalise audit data: reading it threw (a toJSON method or getter failed).',
      { path: '$' },
      { cause: err },
    );
  }
  if (out === undefined) fail('the value is undefined; only JSON data can be canonicalised', '$');
  return out;
}

/**
 * Fast path for what audit entries are made of: plain objects (Object.prototype or null
 * prototype, no `toJSON`), arrays without holes or `undefined`, strings, finite numbers, booleans
 * and null. For such data it returns exactly what the reference serialiser returns (the same
 * `JSON.stringify` for strings and member names, the same `String()` for numbers, the same
 * code-unit order of names); a property test holds the two equal on random JSON values. It keeps
 * no path strings and no ancestor set, which is most of the reference serialiser's cost.
 *
 * Anything else (a Date, a toJSON, a boxed primitive, a class instance, bigint, a function,
 * NaN, an array hole, a getter that throws, nesting of MAX_DEPTH or more, so also any cycle)
 * makes it return `undefined`, and the caller falls back to the reference serialiser, which
 * produces the output or the typed error with its path. So the fast path can only ever agree
 * with the reference or defer to it.
 *
 * `omit`: member names skipped at the top level only (the entry hasher leaves out `leafHash`
 * and `redacted` without copying the entry).
 *
 * @internal
 */
export function canonicalizeFast(value: unknown, omit: ReadonlySet<string>): string | undefined {
  try {
    return fastValue(value, 0, omit);
  } catch {
    // A getter, toJSON lookup or Proxy trap threw: the reference serialiser reports it as typed.
    return undefined;
  }
}

const NO_OMISSIONS: ReadonlySet<string> = new Set();

function fastValue(value: unknown, depth: number, omit?: ReadonlySet<string>): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) return undefined;
      return Array.isArray(value)
        ? fastArray(value, depth + 1)
        : fastObject(value as Record<string, unknown>, depth + 1, omit);
    default:
      return undefined;
  }
}

function fastArray(arr: readonly unknown[], depth: number): string | undefined {
  if (typeof (arr as { toJSON?: unknown }).toJSON === 'function') return undefined;
  const n = arr.length;
  if (n === 0) return '[]';
  let out = '[';
  for (let i = 0; i < n; i++) {
    const item = fastValue(arr[i], depth);
    if (item === undefined) return undefined; // includes holes and undefined elements
    out += i === 0 ? item : `,${item}`;
  }
  return `${out}]`;
}

function fastObject(
  obj: Record<string, unknown>,
  depth: number,
  omit: ReadonlySet<string> | undefined,
): string | undefined {
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return undefined;
  if (typeof obj.toJSON === 'function') return undefined;
  const keys = sortedKeys(Object.keys(obj));
  let out = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (omit !== undefined && omit.size > 0 && omit.has(key)) continue;
    const v = obj[key];
    if (v === undefined) continue; // omitted, as JSON.stringify and the reference do
    const member = fastValue(v, depth);
    if (member === undefined) return undefined;
    out += first ? `${quoteName(key)}:${member}` : `,${quoteName(key)}:${member}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * `JSON.stringify(s)` for a string (RFC 8785 §3.2.2.2), without the cost of a JSON.stringify
 * call when nothing needs escaping: a string with no control character, `"`, `\\` or surrogate
 * code unit is written verbatim between quotes, which is exactly what JSON.stringify writes for
 * it. Anything else (surrogate pairs included) goes to JSON.stringify itself.
 */
function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/**
 * Member names repeat from entry to entry (`actor`, `seq`, `details.*`), so their quoted form is
 * remembered. Bounded: names are caller data, and a hostile stream of distinct names must not
 * grow memory; past the bound names are simply quoted each time.
 */
const quotedNames = new Map<string, string>();
const QUOTED_NAMES_MAX = 4096;

function quoteName(name: string): string {
  let quoted = quotedNames.get(name);
  if (quoted === undefined) {
    quoted = quote(name);
    if (quotedNames.size < QUOTED_NAMES_MAX && name.length <= 64) quotedNames.set(name, quoted);
  }
  return quoted;
}

/**
 * Objects of one shape (every audit entry, every actor) list the same names in the same order,
 * so the sorted order of the last list seen per first name is remembered and reused when the
 * next list is element-for-element identical: comparing interned property names is cheaper
 * than sorting them again. Bounded like `quotedNames`.
 */
const lastOrders = new Map<string, { names: string[]; sorted: string[] }>();
const LAST_ORDERS_MAX = 256;

function sortedKeys(keys: string[]): string[] {
  const n = keys.length;
  if (n < 2) return keys;
  if (n < 4) {
    sortCodeUnits(keys);
    return keys;
  }
  const seen = lastOrders.get(keys[0]!);
  if (seen !== undefined && seen.names.length === n) {
    let same = true;
    for (let i = 1; i < n && same; i++) same = seen.names[i] === keys[i];
    if (same) return seen.sorted;
  }
  const sorted = keys.slice();
  sortCodeUnits(sorted);
  if (seen !== undefined || lastOrders.size < LAST_ORDERS_MAX)
    lastOrders.set(keys[0]!, { names: keys, sorted });
  return sorted;
}

/**
 * RFC 8785 §3.2.3 order (UTF-16 code units, as the relational operators compare strings), in
 * place. Insertion sort for the small objects audit events are made of (no comparator calls
 * through Array#sort); names are unique, so there are no ties.
 */
function sortCodeUnits(keys: string[]): void {
  const n = keys.length;
  if (n > 16) {
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return;
  }
  for (let i = 1; i < n; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}

/**
 * Byte-level fast path for hashing: writes `prefix` followed by the canonical JSON of `value`
 * straight into a reused scratch buffer and returns a view of it, for values whose canonical text
 * is pure ASCII with nothing to escape (the usual audit entry). Building the text as a JS string
 * and then hashing it costs about twice as much: the hash has to flatten and UTF-8-encode a
 * string made of a hundred concatenated pieces.
 *
 * Same rules as `canonicalizeFast` (it returns `undefined` wherever that does), and also
 * `undefined` for any string or member name with a character that is not printable ASCII or
 * that JSON escapes (`"`, `\\`, controls, anything >= 0x7f); the caller then takes the string
 * path. For ASCII text the UTF-8 bytes are the characters, so the result is byte for byte
 * `[prefix, ...canonicalBytes(value)]` (a property test holds them equal).
 *
 * The view is only valid until the next call: hash it immediately.
 * @internal
 */
export function canonicalAsciiBytes(
  value: unknown,
  omit: ReadonlySet<string>,
  prefix: number,
): Buffer | undefined {
  bytesPos = 0;
  try {
    scratch[bytesPos++] = prefix;
    if (!bytesValue(value, 0, omit)) return undefined;
  } catch {
    return undefined;
  }
  return scratch.subarray(0, bytesPos);
}

/** Grows on demand up to SCRATCH_MAX; larger values take the string path. */
let scratch = Buffer.allocUnsafe(4096);
let bytesPos = 0;
const SCRATCH_MAX = 1 << 20;

function ensure(extra: number): boolean {
  const need = bytesPos + extra;
  if (need <= scratch.length) return true;
  if (need > SCRATCH_MAX) return false;
  let size = scratch.length * 2;
  while (size < need) size *= 2;
  const grown = Buffer.allocUnsafe(Math.min(size, SCRATCH_MAX));
  scratch.copy(grown, 0, 0, bytesPos);
  scratch = grown;
  return true;
}

/** Writes `"s"` if every character is printable ASCII other than `"` and `\\`. */
function writeAsciiString(s: string): boolean {
  const n = s.length;
  if (!ensure(n + 2)) return false;
  const buf = scratch;
  let pos = bytesPos;
  buf[pos++] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
    buf[pos++] = c;
  }
  buf[pos++] = 0x22;
  bytesPos = pos;
  return true;
}

/** Writes ASCII text known to need no quoting (numbers, literals, punctuation). */
function writeRaw(s: string): boolean {
  const n = s.length;
  if (!ensure(n)) return false;
  const buf = scratch;
  let pos = bytesPos;
  for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
  bytesPos = pos;
  return true;
}

function writeByte(b: number): boolean {
  if (!ensure(1)) return false;
  scratch[bytesPos++] = b;
  return true;
}

function bytesValue(value: unknown, depth: number, omit?: ReadonlySet<string>): boolean {
  switch (typeof value) {
    case 'string':
      return writeAsciiString(value);
    case 'number':
      // Number#toString output is always ASCII (digits, '.', '-', '+', 'e').
      return Number.isFinite(value) && writeRaw(String(value));
    case 'boolean':
      return writeRaw(value ? 'true' : 'false');
    case 'object':
      if (value === null) return writeRaw('null');
      if (depth >= MAX_DEPTH) return false;
      return Array.isArray(value)
        ? bytesArray(value, depth + 1)
        : bytesObject(value as Record<string, unknown>, depth + 1, omit);
    default:
      return false;
  }
}

function bytesArray(arr: readonly unknown[], depth: number): boolean {
  if (typeof (arr as { toJSON?: unknown }).toJSON === 'function') return false;
  if (!writeByte(0x5b)) return false;
  for (let i = 0; i < arr.length; i++) {
    if (i > 0 && !writeByte(0x2c)) return false;
    if (!bytesValue(arr[i], depth)) return false; // also holes and undefined elements
  }
  return writeByte(0x5d);
}

function bytesObject(
  obj: Record<string, unknown>,
  depth: number,
  omit: ReadonlySet<string> | undefined,
): boolean {
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return false;
  if (typeof obj.toJSON === 'function') return false;
  const keys = sortedKeys(Object.keys(obj));
  if (!writeByte(0x7b)) return false;
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (omit !== undefined && omit.size > 0 && omit.has(key)) continue;
    const v = obj[key];
    if (v === undefined) continue;
    if (!first && !writeByte(0x2c)) return false;
    first = false;
    if (!writeAsciiString(key) || !writeByte(0x3a) || !bytesValue(v, depth)) return false;
  }
  return writeByte(0x7d);
}

/**
 * The members an audit entry may have, in RFC 8785 order, as the `"name":` bytes written before
 * each value; `leafHash` and `redacted` are not hashed and have no entry here.
 */
const ENTRY_MEMBERS = [
  'action',
  'actor',
  'category',
  'details',
  'outcome',
  'prevHash',
  'reason',
  'requestId',
  'resource',
  'seq',
  'time',
] as const;
/** `,"name":` per member (the comma skipped for the first member written). */
const ENTRY_NAME_BYTES: readonly Uint8Array[] = ENTRY_MEMBERS.map((name) =>
  Buffer.from(`,"${name}":`, 'latin1'),
);
/** `entryMemberBit` of the members an entry has but its hash leaves out. */
const UNHASHED_MEMBER = -1;

/** 1 << the member's index in ENTRY_MEMBERS; UNHASHED_MEMBER; 0 for a name entries do not have. */
function entryMemberBit(name: string): number {
  switch (name) {
    case 'seq':
      return 1 << 9;
    case 'time':
      return 1 << 10;
    case 'actor':
      return 1 << 1;
    case 'action':
      return 1 << 0;
    case 'outcome':
      return 1 << 4;
    case 'category':
      return 1 << 2;
    case 'resource':
      return 1 << 8;
    case 'reason':
      return 1 << 6;
    case 'requestId':
      return 1 << 7;
    case 'details':
      return 1 << 3;
    case 'prevHash':
      return 1 << 5;
    case 'leafHash':
    case 'redacted':
      return UNHASHED_MEMBER;
    default:
      return 0;
  }
}

/** `canonicalAsciiBytes` had to give up: the value is not ASCII-only JSON data (take the string path). */
const ENTRY_NOT_ASCII = 0;
/** Written. */
const ENTRY_WRITTEN = 1;
/** A member an entry does not have: the general serialiser decides. */
const ENTRY_OTHER_SHAPE = 2;

/**
 * `canonicalAsciiBytes(entry, {leafHash, redacted}, prefix)` for an audit entry, without sorting
 * its member names: an entry's members come from a fixed set (`AuditEntry`), so they are written
 * in the precomputed RFC 8785 order of that set. Each member present among the object's own
 * enumerable keys is read once and written exactly as the general path writes it (nested values
 * go through it), so the bytes are identical; a property test holds them equal.
 *
 * Returns `null` when the object has a member outside that set (the caller then takes the general
 * path), `undefined` where `canonicalAsciiBytes` would return `undefined`.
 *
 * The view is only valid until the next call: hash it immediately.
 * @internal
 */
export function canonicalEntryAsciiBytes(entry: unknown, prefix: number): Buffer | undefined | null {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return null;
  bytesPos = 0;
  let result: number;
  try {
    scratch[bytesPos++] = prefix;
    result = bytesEntry(entry as Record<string, unknown>);
  } catch {
    return undefined;
  }
  if (result === ENTRY_OTHER_SHAPE) return null;
  return result === ENTRY_WRITTEN ? scratch.subarray(0, bytesPos) : undefined;
}

function bytesEntry(obj: Record<string, unknown>): number {
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return ENTRY_NOT_ASCII;
  if (typeof obj.toJSON === 'function') return ENTRY_NOT_ASCII;
  const keys = Object.keys(obj);
  let present = 0;
  for (let i = 0; i < keys.length; i++) {
    const bit = entryMemberBit(keys[i]!);
    if (bit === 0) return ENTRY_OTHER_SHAPE;
    if (bit !== UNHASHED_MEMBER) present |= bit;
  }
  if (!writeByte(0x7b)) return ENTRY_NOT_ASCII;
  entryFirst = true;
  // Only members that are own enumerable keys are read (a prototype's property is no member),
  // each once, in ENTRY_MEMBERS order; named reads, so each site sees the few entry shapes.
  const p = present;
  if (
    ((p & (1 << 0)) !== 0 && !entryMember(0, obj.action)) ||
    ((p & (1 << 1)) !== 0 && !entryMember(1, obj.actor)) ||
    ((p & (1 << 2)) !== 0 && !entryMember(2, obj.category)) ||
    ((p & (1 << 3)) !== 0 && !entryMember(3, obj.details)) ||
    ((p & (1 << 4)) !== 0 && !entryMember(4, obj.outcome)) ||
    ((p & (1 << 5)) !== 0 && !entryMember(5, obj.prevHash)) ||
    ((p & (1 << 6)) !== 0 && !entryMember(6, obj.reason)) ||
    ((p & (1 << 7)) !== 0 && !entryMember(7, obj.requestId)) ||
    ((p & (1 << 8)) !== 0 && !entryMember(8, obj.resource)) ||
    ((p & (1 << 9)) !== 0 && !entryMember(9, obj.seq)) ||
    ((p & (1 << 10)) !== 0 && !entryMember(10, obj.time))
  ) {
    return ENTRY_NOT_ASCII;
  }
  return writeByte(0x7d) ? ENTRY_WRITTEN : ENTRY_NOT_ASCII;
}

/** No member written yet by the current `bytesEntry` (no comma before the next one). */
let entryFirst = true;

/** Writes member `m` of an entry (nothing when undefined, as the general path omits it). */
function entryMember(m: number, v: unknown): boolean {
  if (v === undefined) return true;
  const name = ENTRY_NAME_BYTES[m]!;
  if (!ensure(name.length)) return false;
  const buf = scratch;
  let pos = bytesPos;
  for (let i = entryFirst ? 1 : 0; i < name.length; i++) buf[pos++] = name[i]!;
  bytesPos = pos;
  entryFirst = false;
  return typeof v === 'string' ? writeAsciiString(v) : bytesValue(v, 1);
}

/** The fixed text of a built entry before each of its values (see `canonicalBuiltEntryAsciiBytes`). */
const fragment = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const AT_ACTION = fragment('{"action":');
const AT_ACTOR_ID = fragment(',"actor":{"id":');
const AT_IP = fragment(',"ip":');
const AT_SESSION_ID = fragment(',"sessionId":');
const AT_TYPE = fragment(',"type":');
const AT_USER_AGENT = fragment(',"userAgent":');
const AT_CATEGORY = fragment('},"category":');
const AT_DETAILS = fragment(',"details":');
const AT_OUTCOME = fragment(',"outcome":');
const AT_PREV_HASH = fragment(',"prevHash":');
const AT_REASON = fragment(',"reason":');
const AT_REQUEST_ID = fragment(',"requestId":');
const AT_RESOURCE_ID = fragment(',"resource":{"id":');
const AT_RESOURCE_TYPE = fragment(',"resource":{"type":');
const AT_SEQ_AFTER_RESOURCE = fragment('},"seq":');
const AT_SEQ = fragment(',"seq":');
const AT_TIME = fragment(',"time":');

function writeFragment(bytes: Uint8Array): boolean {
  if (!ensure(bytes.length)) return false;
  const buf = scratch;
  let pos = bytesPos;
  for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]!;
  bytesPos = pos;
  return true;
}

/** An optional string member: nothing when absent, else its fixed text and the string. */
function writeOptional(at: Uint8Array, value: unknown): boolean {
  return value === undefined || (typeof value === 'string' && writeFragment(at) && writeAsciiString(value));
}

/**
 * `canonicalAsciiBytes(entry, {leafHash, redacted}, prefix)` for an entry the audit writer has
 * just built with `auditEntryOf` from a normalised event, whose members, and those of its actor
 * and resource, are known without looking: the object literals of normalizeAuditEvent and
 * auditEntryOf. The text between values is precomputed in RFC 8785 order; every value is still
 * type-checked and written exactly as the general path writes it (details go through it), and
 * anything unexpected gives `undefined` so the caller takes the general path. A property test
 * holds the bytes equal to the general path's for normalised events. Not for entries read back
 * from a store: those can hold anything (`canonicalEntryAsciiBytes` looks).
 *
 * The view is only valid until the next call: hash it immediately.
 * @internal
 */
export function canonicalBuiltEntryAsciiBytes(
  entry: {
    readonly seq: unknown;
    readonly time: unknown;
    readonly actor?: unknown;
    readonly action?: unknown;
    readonly resource?: unknown;
    readonly outcome?: unknown;
    readonly reason?: unknown;
    readonly requestId?: unknown;
    readonly category: unknown;
    readonly details?: unknown;
    readonly prevHash: unknown;
  },
  prefix: number,
): Buffer | undefined {
  bytesPos = 0;
  try {
    scratch[bytesPos++] = prefix;
    if (!bytesBuiltEntry(entry as Record<string, unknown>)) return undefined;
  } catch {
    return undefined;
  }
  return scratch.subarray(0, bytesPos);
}

function bytesBuiltEntry(e: Record<string, unknown>): boolean {
  // Also rules out a toJSON inherited by the actor and resource: they share Object.prototype.
  if (Object.getPrototypeOf(e) !== Object.prototype || typeof e.toJSON === 'function') return false;
  const actor = e.actor as Record<string, unknown> | undefined;
  const resource = e.resource as Record<string, unknown> | undefined;
  const { action, category, outcome, prevHash, seq, time } = e;
  if (
    typeof action !== 'string' ||
    actor === null ||
    typeof actor !== 'object' ||
    typeof actor.id !== 'string' ||
    typeof actor.type !== 'string' ||
    typeof category !== 'string' ||
    typeof outcome !== 'string' ||
    typeof prevHash !== 'string' ||
    typeof seq !== 'number' ||
    !Number.isFinite(seq) ||
    typeof time !== 'string'
  ) {
    return false;
  }
  if (
    !writeFragment(AT_ACTION) ||
    !writeAsciiString(action) ||
    !writeFragment(AT_ACTOR_ID) ||
    !writeAsciiString(actor.id) ||
    !writeOptional(AT_IP, actor.ip) ||
    !writeOptional(AT_SESSION_ID, actor.sessionId) ||
    !writeFragment(AT_TYPE) ||
    !writeAsciiString(actor.type) ||
    !writeOptional(AT_USER_AGENT, actor.userAgent) ||
    !writeFragment(AT_CATEGORY) ||
    !writeAsciiString(category) ||
    (e.details !== undefined && (!writeFragment(AT_DETAILS) || !bytesValue(e.details, 1))) ||
    !writeFragment(AT_OUTCOME) ||
    !writeAsciiString(outcome) ||
    !writeFragment(AT_PREV_HASH) ||
    !writeAsciiString(prevHash) ||
    !writeOptional(AT_REASON, e.reason) ||
    !writeOptional(AT_REQUEST_ID, e.requestId)
  ) {
    return false;
  }
  if (resource === undefined) {
    if (!writeFragment(AT_SEQ)) return false;
  } else {
    if (resource === null || typeof resource !== 'object' || typeof resource.type !== 'string') return false;
    const id = resource.id;
    if (id === undefined) {
      if (!writeFragment(AT_RESOURCE_TYPE) || !writeAsciiString(resource.type)) return false;
    } else if (
      typeof id !== 'string' ||
      !writeFragment(AT_RESOURCE_ID) ||
      !writeAsciiString(id) ||
      !writeFragment(AT_TYPE) ||
      !writeAsciiString(resource.type)
    ) {
      return false;
    }
    if (!writeFragment(AT_SEQ_AFTER_RESOURCE)) return false;
  }
  return writeRaw(String(seq)) && writeFragment(AT_TIME) && writeAsciiString(time) && writeByte(0x7d);
}

/** UTF-8 bytes of `canonicalize(value)`: the exact input to the audit leaf hash. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

function fail(reason: string, path: string): never {
  throw new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_EVENT, `Cannot canonicalise audit data: ${reason}.`, {
    path,
  });
}

/**
 * SerializeJSONProperty (ECMA-262 §25.5.2.2) with the stricter rules above. Returns
 * `undefined` only for `undefined`, which the caller omits (object member) or rejects.
 */
function serialize(
  input: unknown,
  key: string,
  path: string,
  ancestors: Set<object>,
  depth: number,
): string | undefined {
  let value = input;
  // toJSON is looked up on objects only (ECMA-262 also checks BigInt, which we reject anyway).
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Date && Number.isNaN(value.getTime())) fail('invalid Date', path);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, key) as unknown;
  }
  // Boxed primitives serialise as their primitive (ECMA-262 §25.5.2.2 step 4).
  if (value instanceof Number) value = value.valueOf();
  else if (value instanceof String) value = value.valueOf();
  else if (value instanceof Boolean) value = value.valueOf();

  if (typeof value === 'bigint') fail('bigint is not a JSON number; convert it to a string', path);
  if (typeof value === 'symbol' || typeof value === 'function')
    fail(`a ${typeof value} is not JSON data`, path);
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      // RFC 8785 §3.2.2.2: ECMAScript string serialisation (\" \\ \b \f \n \r \t, other
      // controls as lowercase \u00xx, everything else verbatim).
      return JSON.stringify(value);
    case 'number':
      // RFC 8785 §3.2.2.3: Number.prototype.toString, which String() is (and -0 gives "0").
      if (!Number.isFinite(value)) fail('NaN and Infinity are not JSON numbers', path);
      return String(value);
    default:
      break;
  }
  if (value === null) return 'null';

  const obj = value as object;
  if (depth >= MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`, path);
  if (ancestors.has(obj)) fail('the value contains a cycle', path);
  ancestors.add(obj);
  try {
    if (Array.isArray(obj)) return serializeArray(obj, path, ancestors, depth + 1);
    if (!isPlainObject(obj)) {
      fail('only plain objects and arrays are JSON data (convert Map, Set or class instances first)', path);
    }
    return serializeObject(obj as Record<string, unknown>, path, ancestors, depth + 1);
  } finally {
    ancestors.delete(obj);
  }
}

function serializeArray(
  arr: readonly unknown[],
  path: string,
  ancestors: Set<object>,
  depth: number,
): string {
  let out = '[';
  for (let i = 0; i < arr.length; i++) {
    const itemPath = `${path}[${i}]`;
    // stringify writes `null` for undefined / holes; that would hash data nobody logged.
    const item = serialize(arr[i], String(i), itemPath, ancestors, depth);
    if (item === undefined) fail('undefined array element (or a hole)', itemPath);
    out += i === 0 ? item : `,${item}`;
  }
  return `${out}]`;
}

function serializeObject(
  obj: Record<string, unknown>,
  path: string,
  ancestors: Set<object>,
  depth: number,
): string {
  // RFC 8785 §3.2.3: sort member names by UTF-16 code units. The relational operators on
  // strings compare code units, unlike localeCompare; names are unique so ties cannot occur.
  const keys = Object.keys(obj).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = '{';
  let first = true;
  for (const key of keys) {
    const member = serialize(obj[key], key, `${path}.${key}`, ancestors, depth);
    if (member === undefined) continue; // undefined members are omitted, as JSON.stringify does
    out += `${first ? '' : ','}${JSON.stringify(key)}:${member}`;
    first = false;
  }
  return `${out}}`;
}

/** Object.prototype or null prototype (also across realms: the prototype's prototype is null). */
function isPlainObject(obj: object): boolean {
  const proto: unknown = Object.getPrototypeOf(obj);
  return proto === null || Object.getPrototypeOf(proto) === null;
}
