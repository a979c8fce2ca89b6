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
