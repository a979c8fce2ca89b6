import { RequestRateLimiter, rateLimitHeaders, type RateLimitOptions } from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { bulwarkState, clientIp } from './request-state';

/**
 * The headers on the Node response itself, as Koa's `ctx.set` does (nothing once the headers are
 * out), without its per-field pass through Koa's delegates: this runs on every request.
 */
function setAll(ctx: Context, headers: Readonly<Record<string, string>>): void {
  const res = ctx.res;
  if (res.headersSent) return;
  for (const name of Object.keys(headers)) res.setHeader(name, headers[name]!);
}

export type RateLimitMiddleware = Middleware & { readonly limiter: RequestRateLimiter };

/**
 * General request rate limiting per principal and per client address (core's
 * RequestRateLimiter; after `authenticate` to count per user): every answer carries the IETF
 * `RateLimit-Policy` / `RateLimit` headers, a spent budget answers 429 problem+json with
 * `Retry-After`. `name` keeps a route's own limit apart from the app-wide one.
 */
export function rateLimit(options: RateLimitOptions = {}): RateLimitMiddleware {
  const limiter = new RequestRateLimiter(options);
  /** A refusal's `RateLimit-Policy` / `RateLimit` headers go out with its problem answer. */
  const refusedHeaders = (ctx: Context, err: unknown): void => {
    const headers = rateLimitHeaders(err);
    if (headers !== undefined) setAll(ctx, headers);
  };
  const middleware: Middleware = (ctx, next) => {
    const subject = { principal: bulwarkState(ctx).principal, ip: clientIp(ctx) };
    // In memory: counted and decided in this turn, no promise; a refusal is the same rejection.
    let outcome;
    try {
      outcome = limiter.consumeNow(subject);
    } catch (err) {
      refusedHeaders(ctx, err);
      return Promise.reject(err);
    }
    if (outcome !== undefined) {
      setAll(ctx, outcome.headers);
      return next();
    }
    // Redis: a promise chain, not an async function (one promise less per request).
    return limiter.consume(subject).then(
      ({ headers }) => {
        setAll(ctx, headers);
        return next();
      },
      (err: unknown) => {
        refusedHeaders(ctx, err);
        throw err;
      },
    );
  };
  return Object.assign(middleware, { limiter });
}
