import { buildSecurityHeaders, type SecurityHeaderOptions } from '@bulwark/core/http';
import helmet, { type HelmetOptions } from 'helmet';
import type { Middleware } from 'koa';

export type SecurityHeadersMiddleware = Middleware & {
  /** The headers this middleware sets (compliance evidence). */
  readonly headers: Readonly<Record<string, string>>;
};

/**
 * helmet itself, called with Koa's raw req/res, with Bulwark's strict defaults: the Express and Koa
 * adapters send the same headers from the same code.
 */
export function securityHeaders(options: SecurityHeaderOptions = {}): SecurityHeadersMiddleware {
  const built = buildSecurityHeaders(options, (o) => helmet(o as HelmetOptions));
  // helmet's middleware is synchronous and calls next() before returning.
  const middleware: Middleware = (ctx, next) => {
    built.middleware(ctx.req, ctx.res, noop);
    return next();
  };
  return Object.assign(middleware, { headers: built.headers });
}

function noop(): void {}
