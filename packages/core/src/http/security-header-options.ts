import { configError } from '../util/options';
import { BulwarkConfigError, ErrorCodes } from '../errors';

/**
 * Options in helmet's shape (one key per header, `false` to turn a header off). Core does not
 * import helmet: both adapters hand these options to helmet itself, so Express and Koa send
 * byte-identical headers.
 */
export type SecurityHeaderOptions = Record<string, unknown>;

/**
 * Strict defaults, stricter than helmet's own: a CSP without 'unsafe-inline', with `base-uri 'none'` and
 * `frame-ancestors 'none'` (OWASP clickjacking defence; X-Frame-Options DENY for old browsers),
 * two-year HSTS with subdomains (RFC 6797), `Referrer-Policy: no-referrer`, same-origin COOP / CORP,
 * nosniff, and no `X-Powered-By`. Apps that need inline scripts or embedding override one key.
 */
export const SECURITY_HEADER_DEFAULTS: Readonly<SecurityHeaderOptions> = Object.freeze({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'self'"],
      // ASVS 5.0 V3.4.3: no <base> element may re-root relative URLs (an injected one would send scripts and forms elsewhere).
      'base-uri': ["'none'"],
      'connect-src': ["'self'"],
      'font-src': ["'self'"],
      'form-action': ["'self'"],
      'frame-ancestors': ["'none'"],
      'img-src': ["'self'", 'data:'],
      'object-src': ["'none'"],
      'script-src': ["'self'"],
      'script-src-attr': ["'none'"],
      'style-src': ["'self'"],
      'upgrade-insecure-requests': [],
    },
  },
  crossOriginEmbedderPolicy: false,
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  originAgentCluster: true,
  referrerPolicy: { policy: 'no-referrer' },
  strictTransportSecurity: { maxAge: 63_072_000, includeSubDomains: true, preload: false },
  xContentTypeOptions: true,
  xDnsPrefetchControl: { allow: false },
  xDownloadOptions: true,
  xFrameOptions: { action: 'deny' },
  xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
  xPoweredBy: true, // true = helmet removes X-Powered-By
  xXssProtection: true,
});

const KNOWN = Object.keys(SECURITY_HEADER_DEFAULTS);

/**
 * The defaults with the caller's overrides applied: a header key replaces the default (or `false`
 * drops the header); CSP `directives` merge directive by directive so one can be relaxed alone.
 */
export function securityHeaderOptions(
  overrides: SecurityHeaderOptions = {},
  path = 'securityHeaders',
): SecurityHeaderOptions {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw configError(path, 'must be an object');
  }
  const out: SecurityHeaderOptions = { ...SECURITY_HEADER_DEFAULTS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!KNOWN.includes(key)) {
      throw configError(
        `${path}.${key}`,
        `is not a known header option (expected one of ${KNOWN.join(', ')})`,
      );
    }
    const base = SECURITY_HEADER_DEFAULTS[key];
    if (key === 'contentSecurityPolicy' && typeof value === 'object' && value !== null) {
      const csp = value as { directives?: Record<string, unknown> };
      const baseCsp = base as { directives: Record<string, unknown> };
      out[key] = { ...baseCsp, ...csp, directives: { ...baseCsp.directives, ...csp.directives } };
    } else out[key] = value;
  }
  return out;
}

type NodeStyleMiddleware = (req: unknown, res: unknown, next: (err?: unknown) => void) => void;

/**
 * The headers a (req, res, next) middleware such as helmet sets, captured once against a stub
 * response: the header evidence of an app's configuration for compliance reports.
 */
export function captureHeaders(middleware: NodeStyleMiddleware): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
    getHeader(name: string) {
      return headers[name.toLowerCase()];
    },
  };
  middleware({ method: 'GET', url: '/', headers: {} }, res, () => undefined);
  return headers;
}

/** A header write of a header middleware: set `name` (as spelled) to `value`, or remove `name`. */
export type HeaderWrite = readonly [name: string, value: string] | readonly [name: string];

/** True when `value` holds a function anywhere (helmet calls one per request: a CSP nonce). */
function holdsFunction(value: unknown, seen = new Set<object>()): boolean {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null || seen.has(value)) return false;
  seen.add(value);
  const items = value instanceof Set || value instanceof Map ? [...value.values()] : Object.values(value);
  return items.some((v) => holdsFunction(v, seen));
}

/**
 * The header writes a (req, res, next) middleware such as helmet makes, recorded once, when they
 * cannot depend on the request: its options hold no function (helmet's only per-request input,
 * e.g. a CSP nonce), and it only set string headers or removed headers, then called next() without
 * an error before returning. Replayed by `writeHeaders`, they give every response the same headers
 * in the same order and spelling without running helmet's chain of middlewares per request.
 * Undefined otherwise: the middleware then runs on every request.
 */
export function recordHeaderWrites(
  middleware: NodeStyleMiddleware,
  options: SecurityHeaderOptions,
): readonly HeaderWrite[] | undefined {
  if (holdsFunction(options)) return undefined;
  const writes: HeaderWrite[] = [];
  let plain = true;
  let passed = false;
  // Only setHeader / removeHeader: a middleware reaching for anything else throws here, and runs per request.
  const res = {
    setHeader(name: unknown, value: unknown) {
      if (typeof name === 'string' && typeof value === 'string') writes.push(Object.freeze([name, value]));
      else plain = false;
      return res;
    },
    removeHeader(name: unknown) {
      if (typeof name === 'string') writes.push(Object.freeze([name]));
      else plain = false;
    },
  };
  try {
    middleware({ method: 'GET', url: '/', headers: {} }, res, (err) => {
      if (err !== undefined && err !== null) plain = false;
      passed = true;
    });
  } catch {
    return undefined;
  }
  return plain && passed ? Object.freeze(writes) : undefined;
}

/** Applies recorded header writes (`recordHeaderWrites`) to a response, in order. */
export function writeHeaders(
  res: { setHeader(name: string, value: string): unknown; removeHeader(name: string): unknown },
  writes: readonly HeaderWrite[],
): void {
  for (let i = 0; i < writes.length; i++) {
    const write = writes[i]!;
    if (write.length === 2) res.setHeader(write[0], write[1]);
    else res.removeHeader(write[0]);
  }
}

/**
 * Builds the header middleware (helmet, passed in: core does not import it) from Bulwark's
 * defaults plus `options`, and captures the headers it sets. helmet validates eagerly; its
 * message, which names the bad directive or value, becomes a BulwarkConfigError. `writes`: what
 * it does to every response, when that does not depend on the request (`recordHeaderWrites`).
 */
export function buildSecurityHeaders<M>(
  options: SecurityHeaderOptions,
  factory: (options: SecurityHeaderOptions) => M,
): { middleware: M; headers: Record<string, string>; writes: readonly HeaderWrite[] | undefined } {
  let middleware: M;
  let resolved: SecurityHeaderOptions;
  try {
    resolved = securityHeaderOptions(options);
    middleware = factory(resolved);
  } catch (err) {
    if (err instanceof BulwarkConfigError) throw err;
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `securityHeaders: ${(err as Error).message}`, {
      path: 'securityHeaders',
    });
  }
  const node = middleware as unknown as NodeStyleMiddleware;
  return { middleware, headers: captureHeaders(node), writes: recordHeaderWrites(node, resolved) };
}
