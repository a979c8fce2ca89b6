import { buildSecurityHeaders, type SecurityHeaderOptions } from '@bulwark/core/http';
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
  const { middleware, headers } = buildSecurityHeaders(options, (o) => helmet(o as HelmetOptions));
  return Object.assign(middleware as unknown as PlatformMiddleware, { headers });
}
