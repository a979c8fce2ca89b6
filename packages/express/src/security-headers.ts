import { buildSecurityHeaders, type SecurityHeaderOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

export type SecurityHeadersMiddleware = RequestHandler & {
  /** The headers this middleware sets (compliance evidence). */
  readonly headers: Readonly<Record<string, string>>;
};

/** helmet with Bulwark's strict defaults (see SECURITY_HEADER_DEFAULTS); options override per header. */
export function securityHeaders(options: SecurityHeaderOptions = {}): SecurityHeadersMiddleware {
  const { middleware, headers } = buildSecurityHeaders(options, (o) => helmet(o as HelmetOptions));
  return Object.assign(middleware as unknown as RequestHandler, { headers });
}
