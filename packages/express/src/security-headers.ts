import { buildSecurityHeaders, writeHeaders, type SecurityHeaderOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

export type SecurityHeadersMiddleware = RequestHandler & {
  /** The headers this middleware sets (compliance evidence). */
  readonly headers: Readonly<Record<string, string>>;
};

/** helmet with Bulwark's strict defaults (see SECURITY_HEADER_DEFAULTS); options override per header. */
export function securityHeaders(options: SecurityHeaderOptions = {}): SecurityHeadersMiddleware {
  const { middleware, headers, writes } = buildSecurityHeaders(options, (o) => helmet(o as HelmetOptions));
  // What helmet writes, recorded once from helmet itself when no option depends on the request
  // (no CSP nonce function): replayed without helmet's chain of middlewares per request.
  const handler: RequestHandler =
    writes === undefined
      ? (middleware as unknown as RequestHandler)
      : (_req, res, next) => {
          writeHeaders(res, writes);
          next();
        };
  return Object.assign(handler, { headers });
}
