import { ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import { readBoundedBody, type BodyStream } from './read-bounded-body';
import { positiveInt, configError } from '../util/options';

export interface InputGuardOptions {
  /** Largest accepted request body in bytes (declared or streamed). Default 102 400 (100 KiB, body-parser's default). */
  maxBodyBytes?: number;
  /** Deepest nesting of objects / arrays in a body or query. Default 32. */
  maxDepth?: number;
  /** Most keys + array items in one body or query. Default 10 000. */
  maxKeys?: number;
  /** Keys refused anywhere in a body or query (prototype pollution). Default `__proto__`, `constructor`, `prototype`. */
  forbiddenKeys?: readonly string[];
  /** Refuse NUL bytes in the path, query and body strings. Default true. */
  rejectNulBytes?: boolean;
  /** Refuse `.` / `..` segments, encoded slashes and backslashes in the URL path. Default true. */
  checkPath?: boolean;
  /** Parse JSON and urlencoded bodies (when no parser ran before). Default true. */
  parseBody?: boolean;
  /**
   * Refuse a query or form parameter given more than once (`?role=user&role=admin`; HTTP parameter
   * pollution, ASVS 5.0 V15.3.7), where frameworks disagree on which value wins. Names ending in
   * `[]` (explicit arrays) may repeat. Default false (multi-value forms send repeats on purpose).
   */
  rejectDuplicateParams?: boolean;
  /** Config path used in error messages. Default `inputGuard`. */
  configPath?: string;
}

/** The request head an adapter hands to the guard. */
export interface GuardedRequestHead {
  method: string;
  /** The raw request target (`/path?query`), as received. */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface InputGuardDescription {
  maxBodyBytes: number;
  maxDepth: number;
  maxKeys: number;
  forbiddenKeys: string[];
  rejectNulBytes: boolean;
  checkPath: boolean;
  rejectDuplicateParams: boolean;
}

const DEFAULT_FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

function fail(code: string, message: string, location: string, status?: number): BulwarkHttpError {
  const byCode: Record<string, number> = {
    [ErrorCodes.HTTP_BODY_TOO_LARGE]: 413,
    [ErrorCodes.HTTP_INPUT_TOO_DEEP]: 422,
    [ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE]: 415,
  };
  return new BulwarkHttpError(code, status ?? byCode[code] ?? 400, message, { location });
}

/** Decodes percent-encoding until stable (max 3 rounds), so `%252e%252e` is seen as `..`. */
function decodeFully(segment: string): string {
  let current = segment;
  for (let i = 0; i < 3 && current.includes('%'); i++) {
    try {
      current = decodeURIComponent(current);
    } catch {
      throw fail(ErrorCodes.HTTP_MALFORMED_BODY, 'The URL has malformed percent-encoding.', 'path');
    }
  }
  return current;
}

/**
 * Throws ERR_HTTP_PATH_TRAVERSAL when a value used as a resource id (a route parameter, a file
 * name) could walk out of its directory or collection: `.`/`..`, any slash or backslash after
 * percent-decoding, or a NUL byte. Returns the id unchanged otherwise.
 */
export function checkResourceId(id: string, location = 'params'): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw fail(ErrorCodes.HTTP_PATH_TRAVERSAL, 'The resource id is empty.', location);
  }
  const decoded = decodeFully(id);
  if (decoded.includes('\0'))
    throw fail(ErrorCodes.HTTP_INPUT_NUL_BYTE, 'The resource id contains a NUL byte.', location);
  if (decoded === '.' || decoded === '..' || /[/\\]/.test(decoded) || decoded.includes('..')) {
    throw fail(
      ErrorCodes.HTTP_PATH_TRAVERSAL,
      'The resource id contains a path traversal sequence.',
      location,
    );
  }
  return id;
}

function bool(value: unknown, fallback: boolean, path: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw configError(path, 'must be a boolean');
  }
  return value;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Limits on what a request may carry before the application sees it: body size (413), JSON depth
 * and key count (422), prototype-pollution keys (OWASP: `__proto__`, `constructor`, `prototype`),
 * NUL bytes and path traversal (400). Framework-free: adapters pass the head, the body stream and
 * parsed values; the guard throws BulwarkHttpError.
 */
export class InputGuard {
  readonly maxBodyBytes: number;
  readonly maxDepth: number;
  readonly maxKeys: number;
  readonly rejectNulBytes: boolean;
  readonly checkPath: boolean;
  readonly parseBody: boolean;
  readonly rejectDuplicateParams: boolean;
  readonly #forbidden: ReadonlySet<string>;

  constructor(options: InputGuardOptions = {}) {
    const path = options?.configPath ?? 'inputGuard';
    if (typeof options !== 'object' || options === null) {
      throw configError(path, 'must be an object');
    }
    const known = [
      'maxBodyBytes',
      'maxDepth',
      'maxKeys',
      'forbiddenKeys',
      'rejectNulBytes',
      'checkPath',
      'parseBody',
      'rejectDuplicateParams',
      'configPath',
    ];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) {
        throw configError(`${path}.${key}`, 'is not a known option');
      }
    }
    this.maxBodyBytes = positiveInt(options.maxBodyBytes, `${path}.maxBodyBytes`, 100 * 1024);
    this.maxDepth = positiveInt(options.maxDepth, `${path}.maxDepth`, 32);
    this.maxKeys = positiveInt(options.maxKeys, `${path}.maxKeys`, 10_000);
    this.rejectNulBytes = bool(options.rejectNulBytes, true, `${path}.rejectNulBytes`);
    this.checkPath = bool(options.checkPath, true, `${path}.checkPath`);
    this.parseBody = bool(options.parseBody, true, `${path}.parseBody`);
    this.rejectDuplicateParams = bool(options.rejectDuplicateParams, false, `${path}.rejectDuplicateParams`);
    const forbidden = options.forbiddenKeys ?? DEFAULT_FORBIDDEN;
    if (!Array.isArray(forbidden) || !forbidden.every((k) => typeof k === 'string' && k.length > 0)) {
      throw configError(`${path}.forbiddenKeys`, 'must be an array of key names');
    }
    this.#forbidden = new Set(forbidden);
  }

  /** Checks what is known before the body is read: declared length, path and query. */
  checkHead(req: GuardedRequestHead): void {
    const declared = headerValue(req.headers['content-length']);
    if (declared !== undefined && Number(declared) > this.maxBodyBytes) {
      throw fail(
        ErrorCodes.HTTP_BODY_TOO_LARGE,
        `The request body is larger than ${this.maxBodyBytes} bytes.`,
        'body',
      );
    }
    const q = req.url.indexOf('?');
    const rawPath = q === -1 ? req.url : req.url.slice(0, q);
    if (this.checkPath) {
      if (rawPath.includes('\\')) {
        throw fail(ErrorCodes.HTTP_PATH_TRAVERSAL, 'The URL path contains a backslash.', 'path');
      }
      // Most paths have no percent-escape, no dot segment and no NUL: then no segment can fail the
      // checks below (an undecoded segment fails only as '.' or '..', which follows a '/' or starts
      // the path), so the split is skipped.
      const plain =
        !rawPath.includes('%') &&
        !rawPath.includes('/.') &&
        !rawPath.startsWith('.') &&
        !rawPath.includes('\0');
      if (!plain)
        for (const segment of rawPath.split('/')) {
          if (segment.length === 0) continue;
          const decoded = segment.includes('%') ? decodeFully(segment) : segment;
          if (this.rejectNulBytes && decoded.includes('\0')) {
            throw fail(ErrorCodes.HTTP_INPUT_NUL_BYTE, 'The URL path contains a NUL byte.', 'path');
          }
          if (decoded === '.' || decoded === '..' || (decoded !== segment && /[/\\]|\.\./.test(decoded))) {
            throw fail(
              ErrorCodes.HTTP_PATH_TRAVERSAL,
              'The URL path contains a path traversal sequence.',
              'path',
            );
          }
        }
    } else if (this.rejectNulBytes && /%00|\0/i.test(rawPath)) {
      throw fail(ErrorCodes.HTTP_INPUT_NUL_BYTE, 'The URL path contains a NUL byte.', 'path');
    }
    if (q !== -1 && q < req.url.length - 1) this.checkQueryString(req.url.slice(q + 1));
  }

  /** Query keys use qs-style brackets and dots (`a[__proto__][x]`), so every key part is checked. */
  checkQueryString(query: string): void {
    let params: URLSearchParams;
    try {
      params = new URLSearchParams(query);
    } catch {
      throw fail(ErrorCodes.HTTP_MALFORMED_BODY, 'The query string is malformed.', 'query');
    }
    let count = 0;
    const seen = this.rejectDuplicateParams ? new Set<string>() : undefined;
    for (const [key, value] of params) {
      this.#checkRepeat(seen, key, 'query');
      if (++count > this.maxKeys) {
        throw fail(
          ErrorCodes.HTTP_INPUT_TOO_DEEP,
          `The query has more than ${this.maxKeys} parameters.`,
          'query',
        );
      }
      const parts = key.split(/[[\].]+/);
      if (parts.length - 1 > this.maxDepth) {
        throw fail(
          ErrorCodes.HTTP_INPUT_TOO_DEEP,
          `The query nests deeper than ${this.maxDepth} levels.`,
          'query',
        );
      }
      for (const part of parts) {
        if (this.#forbidden.has(part)) {
          throw fail(
            ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY,
            `The query uses the forbidden key "${part}".`,
            'query',
          );
        }
      }
      if (this.rejectNulBytes && (key.includes('\0') || value.includes('\0'))) {
        throw fail(ErrorCodes.HTTP_INPUT_NUL_BYTE, 'The query contains a NUL byte.', 'query');
      }
    }
  }

  /**
   * Walks a parsed body / query / params value iteratively (no recursion, so a hostile depth
   * cannot overflow the stack) and throws on depth, key count, forbidden keys and NUL bytes.
   */
  checkValue(value: unknown, location: string): void {
    if (value === null || value === undefined) return;
    if (typeof value === 'string') {
      if (this.rejectNulBytes && value.includes('\0')) {
        throw fail(ErrorCodes.HTTP_INPUT_NUL_BYTE, `The ${location} contains a NUL byte.`, location);
      }
      return;
    }
    if (typeof value !== 'object') return;
    const stack: Array<[unknown, number]> = [[value, 1]];
    let keys = 0;
    while (stack.length > 0) {
      const [node, depth] = stack.pop()!;
      if (depth > this.maxDepth) {
        throw fail(
          ErrorCodes.HTTP_INPUT_TOO_DEEP,
          `The ${location} nests deeper than ${this.maxDepth} levels.`,
          location,
        );
      }
      const entries = Array.isArray(node)
        ? node.map((v, i) => [String(i), v] as const)
        : Object.entries(node as object);
      keys += entries.length;
      if (keys > this.maxKeys) {
        throw fail(
          ErrorCodes.HTTP_INPUT_TOO_DEEP,
          `The ${location} has more than ${this.maxKeys} keys.`,
          location,
        );
      }
      for (const [key, child] of entries) {
        if (!Array.isArray(node) && this.#forbidden.has(key)) {
          throw fail(
            ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY,
            `The ${location} uses the forbidden key "${key}".`,
            location,
          );
        }
        if (this.rejectNulBytes && key.includes('\0')) {
          throw fail(ErrorCodes.HTTP_INPUT_NUL_BYTE, `The ${location} contains a NUL byte.`, location);
        }
        if (typeof child === 'string') {
          if (this.rejectNulBytes && child.includes('\0')) {
            throw fail(ErrorCodes.HTTP_INPUT_NUL_BYTE, `The ${location} contains a NUL byte.`, location);
          }
        } else if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
      }
    }
  }

  /**
   * Whether the request has a body to read (a `Transfer-Encoding`, or a `Content-Length` above 0),
   * whatever its method: adapters answer a request without one (most GETs) synchronously instead of
   * through `readBody`. A GET that does carry a body is read and checked like any other.
   */
  hasBody(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
    if (headers['transfer-encoding'] !== undefined) return true;
    const length = headers['content-length'];
    return length !== undefined && Number(headerValue(length) ?? 0) > 0;
  }

  /**
   * Reads and parses a JSON or urlencoded body under the size limit, then checks it. Returns
   * `undefined` for requests without a body and for other media types (multipart, binary), which
   * stay unread for the application's own parser. An oversize body is not read to its end and the
   * stream is not destroyed (see `readBoundedBody`); adapters call `lingerOnUnreadBody` when answering.
   * `options.maxBodyBytes` lowers the limit for this body (a framework's own per-route limit, e.g.
   * Fastify's `bodyLimit`): the lower of it and the guard's applies, to the declared and the read size.
   * `options.bytes` receives the body's bytes once read (before parsing), for a framework that
   * keeps them (NestJS's `rawBody`, for webhook signatures).
   */
  async readBody(
    stream: BodyStream | AsyncIterable<Buffer | string>,
    headers: Readonly<Record<string, string | string[] | undefined>>,
    options: { maxBodyBytes?: number; bytes?: (raw: Buffer) => void } = {},
  ): Promise<unknown> {
    if (!this.hasBody(headers)) return undefined;
    const type = (headerValue(headers['content-type']) ?? '').split(';')[0]!.trim().toLowerCase();
    const json = type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
    const form = type === 'application/x-www-form-urlencoded';
    if (!json && !form) return undefined;
    const own = options.maxBodyBytes;
    const limit =
      typeof own === 'number' && Number.isInteger(own) && own >= 0
        ? Math.min(own, this.maxBodyBytes)
        : this.maxBodyBytes;
    const declared = headerValue(headers['content-length']);
    if (declared !== undefined && Number(declared) > limit) {
      throw fail(ErrorCodes.HTTP_BODY_TOO_LARGE, `The request body is larger than ${limit} bytes.`, 'body');
    }
    const raw = await readBoundedBody(stream, limit);
    options.bytes?.(raw);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw fail(ErrorCodes.HTTP_MALFORMED_BODY, 'The request body is not valid UTF-8.', 'body');
    }
    let body: unknown;
    if (json) {
      if (text.trim().length === 0) return undefined;
      try {
        body = JSON.parse(text);
      } catch {
        // The parser's message quotes the input, which may be personal data: a fixed detail instead.
        throw fail(ErrorCodes.HTTP_MALFORMED_BODY, 'The request body is not valid JSON.', 'body');
      }
    } else {
      const out: Record<string, string | string[]> = {};
      const seen = this.rejectDuplicateParams ? new Set<string>() : undefined;
      for (const [key, value] of new URLSearchParams(text)) {
        this.#checkRepeat(seen, key, 'body');
        if (this.#forbidden.has(key)) {
          throw fail(
            ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY,
            `The body uses the forbidden key "${key}".`,
            'body',
          );
        }
        const prev = out[key];
        out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
      body = out;
    }
    this.checkValue(body, 'body');
    return body;
  }

  #checkRepeat(seen: Set<string> | undefined, key: string, location: string): void {
    if (seen === undefined || key.endsWith('[]')) return;
    if (seen.has(key)) {
      const name = key.length > 64 || /[^\x20-\x7e]/.test(key) ? 'a parameter' : `"${key}"`;
      throw fail(ErrorCodes.HTTP_DUPLICATE_PARAMETER, `The ${location} repeats ${name}.`, location);
    }
    seen.add(key);
  }

  /** The effective limits, as compliance evidence. */
  describe(): InputGuardDescription {
    return {
      maxBodyBytes: this.maxBodyBytes,
      maxDepth: this.maxDepth,
      maxKeys: this.maxKeys,
      forbiddenKeys: [...this.#forbidden],
      rejectNulBytes: this.rejectNulBytes,
      checkPath: this.checkPath,
      rejectDuplicateParams: this.rejectDuplicateParams,
    };
  }
}
