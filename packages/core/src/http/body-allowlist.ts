import { ErrorCodes } from '../errors';
import { configError, oneOf } from '../util/options';
import { BulwarkHttpError } from './bulwark-http-error';

export interface BodyAllowlistOptions {
  /**
   * What to do with a field outside the allowlist: `'refuse'` (default) answers 400 problem+json
   * naming the fields; `'strip'` drops them and lets the request through.
   */
  unknown?: 'refuse' | 'strip';
  /** Config path used in error messages. Default `allowFields`. */
  configPath?: string;
}

/** A node of the allowlist: `true` accepts the whole value, a map lists the accepted children. */
type FieldTree = Map<string, FieldTree | true>;

const FIELD = /^[A-Za-z0-9_$-]{1,64}$/;
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];
/** What a looking-only walk returns (it never writes to it). */
const NOTHING: Record<string, unknown> = Object.freeze({});
/** How many unknown fields the 400 names (the rest are counted, not listed). */
const NAMED_FIELDS = 10;

function compile(fields: unknown, path: string): FieldTree {
  if (!Array.isArray(fields) || fields.length === 0) {
    throw configError(path, 'must be a non-empty array of field names (`name`, `address.city`)');
  }
  const root: FieldTree = new Map();
  fields.forEach((field: unknown, i) => {
    const parts = typeof field === 'string' ? field.split('.') : [];
    if (parts.length === 0 || !parts.every((p) => FIELD.test(p) && !PROTOTYPE_KEYS.includes(p))) {
      throw configError(
        `${path}[${i}]`,
        'must be a field name or a dotted path of field names (never __proto__, constructor, prototype)',
      );
    }
    let node = root;
    parts.forEach((part, depth) => {
      if (depth === parts.length - 1) {
        node.set(part, true);
        return;
      }
      const child = node.get(part);
      if (child === true) return; // a parent listed alone already accepts everything below it
      const next: FieldTree = child ?? new Map();
      node.set(part, next);
      node = next;
    });
  });
  return root;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field name safe to echo: printable ASCII, capped (the name comes from the client). */
function printable(name: string): string {
  const safe = name.replace(/[^\x20-\x7e]/g, '?');
  return safe.length > 64 ? `${safe.slice(0, 64)}…` : safe;
}

/**
 * A per-route request-body allowlist against mass assignment (OWASP Mass Assignment Cheat Sheet;
 * ASVS 5.0 V15.3.3): only the listed fields reach the handler. Fields are names or dotted paths
 * (`address.city` accepts that child of `address` and nothing else of it; `address` alone accepts
 * the whole object); arrays of objects (and arrays of arrays) are checked element by element. A body that is not a JSON
 * object (an array, a string) is refused: there is no field list to check it against.
 */
export class BodyAllowlist {
  readonly unknown: 'refuse' | 'strip';
  readonly #tree: FieldTree;

  constructor(fields: readonly string[], options: BodyAllowlistOptions = {}) {
    const path = options.configPath ?? 'allowFields';
    if (typeof options !== 'object' || options === null) throw configError(path, 'options must be an object');
    this.#tree = compile(fields, path);
    this.unknown = oneOf(options.unknown, `${path}.unknown`, ['refuse', 'strip'], 'refuse');
  }

  /**
   * The body the handler may see: unchanged when every field is allowed, a copy without the
   * unknown fields with `unknown: 'strip'`; throws ERR_HTTP_UNKNOWN_FIELD (400) with `'refuse'`.
   * `undefined` (no body) passes.
   */
  apply(body: unknown): unknown {
    if (body === undefined) return undefined;
    if (!isPlainRecord(body)) {
      throw new BulwarkHttpError(
        ErrorCodes.HTTP_MALFORMED_BODY,
        400,
        'The request body must be a JSON object.',
        {
          location: 'body',
        },
      );
    }
    const unknown: string[] = [];
    // A first pass only looks (the common case, nothing unknown, allocates nothing); strip copies.
    this.#walk(body, this.#tree, '', unknown, false);
    if (unknown.length === 0) return body;
    if (this.unknown === 'strip') return this.#walk(body, this.#tree, '', [], true);
    const named = unknown.slice(0, NAMED_FIELDS).map(printable).join(', ');
    const more = unknown.length > NAMED_FIELDS ? ` and ${unknown.length - NAMED_FIELDS} more` : '';
    throw new BulwarkHttpError(
      ErrorCodes.HTTP_UNKNOWN_FIELD,
      400,
      `The request body has fields this endpoint does not accept: ${named}${more}.`,
      { location: 'body' },
    );
  }

  #walk(
    node: Record<string, unknown>,
    tree: FieldTree,
    prefix: string,
    unknown: string[],
    copy: boolean,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = copy ? {} : NOTHING;
    for (const key of Object.keys(node)) {
      const rule = tree.get(key);
      const value = node[key];
      if (rule === undefined) {
        unknown.push(prefix + key);
        continue;
      }
      const kept = rule === true ? value : this.#walkValue(value, rule, `${prefix}${key}`, unknown, copy);
      if (copy) out[key] = kept;
    }
    return out;
  }

  /** A value under a listed path: objects are walked, arrays (nested ones too) element by element. */
  #walkValue(value: unknown, tree: FieldTree, path: string, unknown: string[], copy: boolean): unknown {
    if (Array.isArray(value)) {
      return value.map((item: unknown, i) => this.#walkValue(item, tree, `${path}[${i}]`, unknown, copy));
    }
    return isPlainRecord(value) ? this.#walk(value, tree, `${path}.`, unknown, copy) : value;
  }
}
