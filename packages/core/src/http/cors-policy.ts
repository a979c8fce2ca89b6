import { ErrorCodes } from '../errors';
import { configError, intInRange } from '../util/options';
import { BulwarkHttpError } from './bulwark-http-error';

export interface CorsOptions {
  /**
   * The origins allowed to call cross-origin, each exactly `scheme://host[:port]`
   * (`https://app.example.com`), compared byte for byte with the request's Origin: no patterns,
   * no reflection of whatever Origin arrives, and never the `null` origin (sandboxed frames,
   * `file:` pages, some redirects, which any site can produce). `'*'` (alone) allows every origin
   * without credentials, for public read-only APIs.
   */
  origins: readonly string[] | '*';
  /** Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth). Default false; never with `'*'`. */
  credentials?: boolean;
  /** Methods a preflight may ask for. Default GET, HEAD, POST, PUT, PATCH, DELETE. */
  methods?: readonly string[];
  /** Request headers a preflight may ask for (case-insensitive). Default `content-type`, `authorization`. */
  headers?: readonly string[];
  /** Response headers the calling page may read beyond the CORS-safelisted ones. Default none. */
  exposeHeaders?: readonly string[];
  /** Seconds a browser may cache a preflight answer (`Access-Control-Max-Age`). Default 600, at most 86 400. */
  maxAge?: number;
  /** Config path used in error messages. Default `cors`. */
  configPath?: string;
}

/** What the policy reads of a request. */
export interface CorsRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** What to do with a request. */
export interface CorsDecision {
  /** Headers to set on the response (none for a same-origin request or an origin not allowed). */
  readonly headers: Readonly<Record<string, string>>;
  /** Fields to add to `Vary` (with any the response already has; see `mergeVary`). */
  readonly vary: readonly string[];
  /** A preflight the policy allows: answer 204 with `headers` now; the route does not run. */
  readonly preflight: boolean;
}

const DEFAULT_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const DEFAULT_HEADERS = ['content-type', 'authorization'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/; // RFC 9110 §5.6.2
/** Longest Origin / Access-Control-Request-Headers value looked at; longer ones are refused. */
const MAX_HEADER_CHARS = 2048;
const MAX_REQUESTED_HEADERS = 64;
const PREFLIGHT_VARY = ['Origin', 'Access-Control-Request-Method', 'Access-Control-Request-Headers'];

function single(value: string | string[] | undefined): string | undefined {
  // A repeated header is malformed (RFC 6454 §7.3: one serialized origin): '' matches no allowed origin.
  if (Array.isArray(value)) return value.length === 1 ? value[0] : '';
  return value;
}

function tokens(value: unknown, path: string, fallback: readonly string[]): string[] {
  const list = value ?? fallback;
  if (!Array.isArray(list) || !list.every((t) => typeof t === 'string' && TOKEN.test(t))) {
    throw configError(path, 'must be an array of header / method names');
  }
  return list as string[];
}

function checkOrigin(origin: unknown, path: string): string {
  if (typeof origin !== 'string' || origin === 'null' || origin.includes('*')) {
    throw configError(
      path,
      "must be an exact origin such as 'https://app.example.com' (no patterns, never null)",
    );
  }
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw configError(path, "must be an exact origin such as 'https://app.example.com'");
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin) {
    throw configError(
      path,
      'must be an http(s) origin exactly as browsers send it: scheme://host[:port], lower case, no path or trailing slash',
    );
  }
  return origin;
}

/** `Vary` with `fields` added once each (case-insensitive), keeping what the response had. */
export function mergeVary(
  existing: string | number | readonly string[] | undefined,
  fields: readonly string[],
): string {
  const current = (Array.isArray(existing) ? existing.join(',') : String(existing ?? ''))
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f.length > 0);
  if (current.includes('*')) return '*';
  const seen = new Set(current.map((f) => f.toLowerCase()));
  for (const field of fields) {
    if (!seen.has(field.toLowerCase())) {
      seen.add(field.toLowerCase());
      current.push(field);
    }
  }
  return current.join(', ');
}

/**
 * CORS by exact-match allowlist (Fetch standard §3.2; OWASP HTML5 Security Cheat Sheet; ASVS 5.0
 * V3.4.2). An allowed origin gets `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`
 * (so a shared cache never serves one origin's answer to another); any other origin gets no CORS
 * header, so the browser withholds the response from the calling page. A preflight from an origin,
 * method or header outside the lists is refused with 403 ERR_HTTP_CORS_REFUSED. CORS only governs
 * what a page may read: state-changing requests still need CSRF / Fetch Metadata protection.
 */
export class CorsPolicy {
  readonly #origins: ReadonlySet<string> | '*';
  readonly #credentials: boolean;
  readonly #methods: readonly string[];
  readonly #headers: ReadonlySet<string>;
  readonly #allowHeaders: string;
  readonly #exposeHeaders?: string;
  readonly #maxAge: number;

  constructor(options: CorsOptions) {
    const path = options?.configPath ?? 'cors';
    if (typeof options !== 'object' || options === null)
      throw configError(path, 'must be an object with origins');
    const known = ['origins', 'credentials', 'methods', 'headers', 'exposeHeaders', 'maxAge', 'configPath'];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw configError(`${path}.${key}`, 'is not a known option');
    }
    if (options.credentials !== undefined && typeof options.credentials !== 'boolean') {
      throw configError(`${path}.credentials`, 'must be a boolean');
    }
    this.#credentials = options.credentials === true;
    if (options.origins === '*') {
      if (this.#credentials) {
        // Browsers refuse `*` with credentials; reflecting the Origin instead would hand every site the user's session.
        throw configError(`${path}.origins`, "cannot be '*' with credentials: list the origins");
      }
      this.#origins = '*';
    } else {
      if (!Array.isArray(options.origins) || options.origins.length === 0) {
        throw configError(`${path}.origins`, "must be a non-empty array of exact origins, or '*'");
      }
      this.#origins = new Set(
        options.origins.map((o: unknown, i) => checkOrigin(o, `${path}.origins[${i}]`)),
      );
    }
    this.#methods = tokens(options.methods, `${path}.methods`, DEFAULT_METHODS).map((m) => m.toUpperCase());
    const headers = tokens(options.headers, `${path}.headers`, DEFAULT_HEADERS).map((h) => h.toLowerCase());
    this.#headers = new Set(headers);
    this.#allowHeaders = headers.join(', ');
    if (options.exposeHeaders !== undefined) {
      this.#exposeHeaders = tokens(options.exposeHeaders, `${path}.exposeHeaders`, []).join(', ');
    }
    this.#maxAge = intInRange(options.maxAge, `${path}.maxAge`, 0, 86_400, 600);
  }

  /** True when `origin` (an Origin header value) may read responses. */
  allows(origin: string | undefined): boolean {
    if (
      origin === undefined ||
      origin.length === 0 ||
      origin.length > MAX_HEADER_CHARS ||
      origin === 'null'
    ) {
      return false;
    }
    return this.#origins === '*' || this.#origins.has(origin);
  }

  /** Decides a request; throws 403 ERR_HTTP_CORS_REFUSED for a preflight it does not allow. */
  decide(req: CorsRequest): CorsDecision {
    const origin = single(req.headers.origin);
    const requestedMethod = single(req.headers['access-control-request-method']);
    const preflight =
      req.method.toUpperCase() === 'OPTIONS' && origin !== undefined && requestedMethod !== undefined;
    const vary = this.#origins === '*' ? [] : preflight ? PREFLIGHT_VARY : ['Origin'];
    if (origin === undefined) return { headers: {}, vary, preflight: false };
    const allowed = this.allows(origin);
    if (!preflight) return { headers: allowed ? this.#allowOrigin(origin) : {}, vary, preflight: false };

    if (!allowed) throw refused('origin');
    if (!this.#methods.includes(requestedMethod.toUpperCase())) throw refused('method');
    const requested = single(req.headers['access-control-request-headers']) ?? '';
    if (requested.length > MAX_HEADER_CHARS) throw refused('headers');
    const names = requested
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h.length > 0);
    if (names.length > MAX_REQUESTED_HEADERS || !names.every((h) => this.#headers.has(h))) {
      throw refused('headers');
    }
    const headers: Record<string, string> = {
      ...this.#allowOrigin(origin),
      'access-control-allow-methods': this.#methods.join(', '),
      'access-control-max-age': String(this.#maxAge),
    };
    if (this.#allowHeaders.length > 0) headers['access-control-allow-headers'] = this.#allowHeaders;
    return { headers, vary, preflight: true };
  }

  #allowOrigin(origin: string): Record<string, string> {
    const headers: Record<string, string> = {
      'access-control-allow-origin': this.#origins === '*' ? '*' : origin,
    };
    if (this.#credentials) headers['access-control-allow-credentials'] = 'true';
    if (this.#exposeHeaders !== undefined && this.#exposeHeaders.length > 0) {
      headers['access-control-expose-headers'] = this.#exposeHeaders;
    }
    return headers;
  }
}

function refused(what: 'origin' | 'method' | 'headers'): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_CORS_REFUSED,
    403,
    `CORS preflight refused: the ${what === 'headers' ? 'requested headers are' : `${what} is`} not allowed.`,
    { location: what },
  );
}
