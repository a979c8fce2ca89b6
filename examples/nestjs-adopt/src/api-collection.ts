import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** One request of api/collection.json. */
export interface CollectionRequest {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** Send the token saved under this name (`Authorization: Token <jwt>`). */
  as?: string;
  /** Send this literal token instead. */
  token?: string;
  /** Save `user.token` of the answer under this name. */
  save?: string;
  /** Answered before the handler runs: only the status is compared. */
  refusal?: boolean;
  expect: { status: number; body?: unknown };
}

export interface CollectionResult {
  name: string;
  status: number;
  /** The answer, normalised for comparing two runs (see `normalise`). */
  body: unknown;
  contentType: string | null;
  /** Empty when the answer matched the expectation. */
  problems: string[];
}

export const COLLECTION_FILE = path.join(__dirname, '..', 'api', 'collection.json');

export function loadCollection(file = COLLECTION_FILE): CollectionRequest[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { requests: CollectionRequest[] }).requests;
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function substitute(value: unknown, run: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{{run}}', run);
  if (Array.isArray(value)) return value.map((v) => substitute(v, run));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, run)]));
  }
  return value;
}

/** Differences between an answer and a shape (exact keys, `<jwt>` / `<iso-date>` / `<string>` placeholders). */
export function shapeProblems(actual: unknown, expected: unknown, at = 'body'): string[] {
  if (expected === '<jwt>') return typeof actual === 'string' && JWT.test(actual) ? [] : [`${at}: not a JWT`];
  if (expected === '<iso-date>')
    return typeof actual === 'string' && ISO.test(actual) ? [] : [`${at}: not an ISO date`];
  if (expected === '<string>') return typeof actual === 'string' ? [] : [`${at}: not a string`];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: not an array`];
    if (actual.length !== expected.length)
      return [`${at}: ${actual.length} items, expected ${expected.length}`];
    return expected.flatMap((e, i) => shapeProblems(actual[i], e, `${at}[${i}]`));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual))
      return [`${at}: not an object`];
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    return [...keys].flatMap((k) =>
      !(k in expected)
        ? [`${at}.${k}: unexpected key`]
        : !(k in actual)
          ? [`${at}.${k}: missing`]
          : shapeProblems(
              (actual as Record<string, unknown>)[k],
              (expected as Record<string, unknown>)[k],
              `${at}.${k}`,
            ),
    );
  }
  return Object.is(actual, expected)
    ? []
    : [`${at}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`];
}

/**
 * The answer as two runs can compare it: the run id put back to `{{run}}`, and values the
 * expectation only types (`<jwt>`, `<iso-date>`, `<string>`) replaced by that placeholder.
 */
function normalise(value: unknown, run: string, expected: unknown): unknown {
  if (typeof expected === 'string' && /^<(jwt|iso-date|string)>$/.test(expected)) return expected;
  if (typeof value === 'string') return value.replaceAll(run, '{{run}}');
  if (Array.isArray(value))
    return value.map((v, i) => normalise(v, run, Array.isArray(expected) ? expected[i] : undefined));
  if (typeof value === 'object' && value !== null) {
    const shape = (typeof expected === 'object' && expected !== null ? expected : {}) as Record<
      string,
      unknown
    >;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v, run, shape[k])]));
  }
  return value;
}

/**
 * Runs the collection in order against `baseUrl` (real HTTP), `run` replacing `{{run}}` so that
 * a second run on the same database creates fresh users and articles.
 */
export async function runCollection(
  baseUrl: string,
  run: string,
  requests: CollectionRequest[] = loadCollection(),
): Promise<CollectionResult[]> {
  const tokens = new Map<string, string>();
  const results: CollectionResult[] = [];
  for (const r of requests) {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = r.token ?? (r.as !== undefined ? tokens.get(r.as) : undefined);
    if (r.as !== undefined && token === undefined) throw new Error(`${r.name}: no token saved as ${r.as}`);
    if (token !== undefined) headers.authorization = `Token ${token}`;
    if (r.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(new URL(substitute(r.path, run) as string, baseUrl), {
      method: r.method,
      headers,
      ...(r.body !== undefined ? { body: JSON.stringify(substitute(r.body, run)) } : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: compared as text
    }
    const problems: string[] = [];
    if (res.status !== r.expect.status) problems.push(`status ${res.status}, expected ${r.expect.status}`);
    if (r.expect.body !== undefined) problems.push(...shapeProblems(body, substitute(r.expect.body, run)));
    if (r.save !== undefined) {
      const saved = (body as { user?: { token?: unknown } } | undefined)?.user?.token;
      if (typeof saved === 'string') tokens.set(r.save, saved);
      else problems.push(`no user.token to save as ${r.save}`);
    }
    results.push({
      name: r.name,
      status: res.status,
      body: normalise(body, run, r.expect.body),
      contentType: res.headers.get('content-type'),
      problems,
    });
  }
  return results;
}
