import { buildSecurityHeaders, writeHeaders, type SecurityHeaderOptions } from '@bulwark/core/http';
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
  const writes = built.writes;
  // helmet's middleware is synchronous and calls next() before returning. What it writes is
  // recorded once from helmet itself when no option depends on the request (no CSP nonce
  // function), and replayed without helmet's chain of middlewares per request.
  const middleware: Middleware =
    writes === undefined
      ? (ctx, next) => {
          built.middleware(ctx.req, ctx.res, noop);
          return next();
        }
      : (ctx, next) => {
          writeHeaders(ctx.res, writes);
          return next();
        };
  return Object.assign(middleware, { headers: built.headers });
}

function noop(): void {}
