import { buildSecurityHeaders, writeHeaders, type SecurityHeaderOptions } from '@bulwark/core/http';
import helmet, { type HelmetOptions } from 'helmet';
import type { PlatformMiddleware } from './platform-middleware';

export type SecurityHeadersMiddleware = PlatformMiddleware & {
  /** The headers this middleware sets (compliance evidence). */
  readonly headers: Readonly<Record<string, string>>;
};

/**
 * helmet with Bulwark's strict defaults (core's SECURITY_HEADER_DEFAULTS), the same headers
 * @bulwark/express and @bulwark/koa send; options override per header, `false` drops one.
 */
export function securityHeaders(options: SecurityHeaderOptions = {}): SecurityHeadersMiddleware {
  const { middleware, headers, writes } = buildSecurityHeaders(options, (o) => helmet(o as HelmetOptions));
  // What helmet writes, recorded once from helmet itself when no option depends on the request
  // (no CSP nonce function): replayed without helmet's chain of middlewares per request, as
  // @bulwark/express does. Middleware gets Node's ServerResponse on both of Nest's platforms
  // (Express's response is one; platform-fastify hands middleware the raw one).
  const handler: PlatformMiddleware =
    writes === undefined
      ? (middleware as unknown as PlatformMiddleware)
      : (_req, res, next) => {
          writeHeaders(res, writes);
          next();
        };
  return Object.assign(handler, { headers });
}
