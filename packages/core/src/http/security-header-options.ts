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

/**
 * Builds the header middleware (helmet, passed in: core does not import it) from Bulwark's
 * defaults plus `options`, and captures the headers it sets. helmet validates eagerly; its
 * message, which names the bad directive or value, becomes a BulwarkConfigError.
 */
export function buildSecurityHeaders<M>(
  options: SecurityHeaderOptions,
  factory: (options: SecurityHeaderOptions) => M,
): { middleware: M; headers: Record<string, string> } {
  let middleware: M;
  try {
    middleware = factory(securityHeaderOptions(options));
  } catch (err) {
    if (err instanceof BulwarkConfigError) throw err;
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `securityHeaders: ${(err as Error).message}`, {
      path: 'securityHeaders',
    });
  }
  return { middleware, headers: captureHeaders(middleware as unknown as NodeStyleMiddleware) };
}
