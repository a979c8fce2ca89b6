import { configError } from '../util/options';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { precomputedHmac, type PrecomputedHmac } from '../util/precomputed-hmac';
import { ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import { readCookie, serializeCookie, type CookieOptions } from './cookies';

export interface CsrfTokensOptions {
  /** HMAC-SHA256 key, at least 32 bytes (a string is taken as UTF-8). */
  secret: string | Uint8Array;
  /** Keys of earlier deployments: tokens they signed still verify, new tokens use `secret` (rotation). */
  previousSecrets?: readonly (string | Uint8Array)[];
  /** Config path used in error messages. Default `csrf`. */
  configPath?: string;
}

/** Where a request carries its CSRF token; adapters fill it from their request object. */
export interface CsrfRequest {
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body?: unknown;
  query?: unknown;
  /** The session id or principal id the token is bound to; '' for anonymous requests. */
  binding: string;
}

/** The cookie that carries the token, and which methods skip the check. */
export interface CsrfCookieOptions extends CookieOptions {
  name: string;
}

const MIN_SECRET_BYTES = 32;
const NONCE_BYTES = 18; // 24 base64url characters
const TOKEN_RE = /^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{43}$/;
/** csurf's lookup order: body, (query, only when allowed), then the four headers. */
const HEADER_NAMES = ['csrf-token', 'xsrf-token', 'x-csrf-token', 'x-xsrf-token'];

/** RFC 9110 §9.2.1 safe methods: they must not change state, so they are not checked. */
export const CSRF_SAFE_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

function toKey(value: unknown, path: string): Buffer {
  const key =
    typeof value === 'string'
      ? Buffer.from(value, 'utf8')
      : value instanceof Uint8Array
        ? Buffer.from(value)
        : null;
  if (key === null || key.length < MIN_SECRET_BYTES) {
    throw configError(path, `must be a secret of at least ${MIN_SECRET_BYTES} bytes (string or Uint8Array)`);
  }
  return key;
}

export function csrfError(reason: 'missing' | 'mismatch' | 'invalid'): BulwarkHttpError {
  const messages = {
    missing: 'CSRF token missing: send the token from csrfToken() in a csrf-token header or _csrf field.',
    mismatch: 'CSRF token does not match the CSRF cookie.',
    invalid: 'CSRF token is invalid for this session.',
  };
  return new BulwarkHttpError(ErrorCodes.CSRF_INVALID, 403, messages[reason], { location: reason });
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/**
 * The submitted token: the body's `_csrf` field, then the four headers csurf read. The query
 * string's `_csrf` (csurf also read it) only with `allowQuery`: a token in a URL leaks through
 * logs, history and Referer (ASVS 5.0 V14.2.1).
 */
export function readCsrfToken(
  req: Pick<CsrfRequest, 'headers' | 'body' | 'query'>,
  allowQuery = false,
): string | undefined {
  const fromBody = isRecord(req.body) ? firstString(req.body._csrf) : undefined;
  if (fromBody !== undefined) return fromBody;
  if (allowQuery) {
    const fromQuery = isRecord(req.query) ? firstString(req.query._csrf) : undefined;
    if (fromQuery !== undefined) return fromQuery;
  }
  for (const name of HEADER_NAMES) {
    const value = firstString(req.headers[name]);
    if (value !== undefined) return value;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * OWASP "signed double-submit cookie": a token is `nonce.HMAC-SHA256(secret, binding, nonce)`,
 * set in a cookie and echoed by the page in a header or form field. A cross-site attacker can
 * neither read the cookie nor, lacking the secret, mint a token for the victim's session; a token
 * planted through a sibling subdomain's cookie fails because it is bound to another session.
 */
export class CsrfTokens {
  /** HMAC-SHA256 per secret (current first), padded key blocks prepared once; no raw key kept. */
  readonly #macs: readonly PrecomputedHmac[];

  constructor(options: CsrfTokensOptions) {
    const path = options?.configPath ?? 'csrf';
    if (typeof options !== 'object' || options === null) {
      throw configError(path, 'must be an object');
    }
    const previous = options.previousSecrets ?? [];
    if (!Array.isArray(previous)) {
      throw configError(`${path}.previousSecrets`, 'must be an array');
    }
    const keys = [
      toKey(options.secret, `${path}.secret`),
      ...previous.map((s, i) => toKey(s, `${path}.previousSecrets[${i}]`)),
    ];
    this.#macs = keys.map((key) => {
      const mac = precomputedHmac('sha256', key);
      key.fill(0); // toKey's own copy
      return mac;
    });
  }

  #mac(mac: PrecomputedHmac, binding: string, nonce: string): Buffer {
    // Length-prefixed so no (binding, nonce) pair can be re-split into another.
    return mac.bytes(Buffer.from(`${binding.length}!${binding}!${nonce}`, 'utf8'));
  }

  /** A fresh token bound to `binding` (a session id, a principal id, or '' when anonymous). */
  issue(binding: string): string {
    const nonce = randomBytes(NONCE_BYTES).toString('base64url');
    return `${nonce}.${this.#mac(this.#macs[0]!, binding, nonce).toString('base64url')}`;
  }

  /** True when `token` was issued for `binding` under the current or a previous secret. */
  verify(token: unknown, binding: string): boolean {
    if (typeof token !== 'string' || !TOKEN_RE.test(token)) return false;
    const dot = token.indexOf('.');
    const nonce = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    let ok = false;
    // Every key is tried (no early exit), so timing does not tell which secret signed the token.
    for (const key of this.#macs) ok = timingSafeEqual(this.#mac(key, binding, nonce), mac) || ok;
    return ok;
  }

  /**
   * Throws EBADCSRFTOKEN unless the method is safe or the request echoes the cookie's token and
   * that token is valid for the request's binding.
   */
  check(
    req: CsrfRequest,
    cookieName: string,
    safeMethods: readonly string[] = CSRF_SAFE_METHODS,
    allowQuery = false,
  ): void {
    if (safeMethods.includes(req.method)) return;
    const submitted = readCsrfToken(req, allowQuery);
    const cookie = readCookie(firstString(req.headers.cookie), cookieName);
    if (submitted === undefined || cookie === undefined) throw csrfError('missing');
    if (!equalStrings(submitted, cookie)) throw csrfError('mismatch');
    if (!this.verify(submitted, req.binding)) throw csrfError('invalid');
  }

  /**
   * The token a page should embed (csurf's `req.csrfToken()`): the cookie's token when it is still
   * valid for this binding, otherwise a new one plus the Set-Cookie header value that stores it.
   */
  tokenFor(
    cookieHeader: string | undefined,
    binding: string,
    cookie: CsrfCookieOptions,
  ): { token: string; setCookie?: string } {
    const existing = readCookie(cookieHeader, cookie.name);
    if (existing !== undefined && this.verify(existing, binding)) return { token: existing };
    const token = this.issue(binding);
    return { token, setCookie: serializeCookie(cookie.name, token, cookie) };
  }
}
