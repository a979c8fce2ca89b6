import { RequestRateLimiter, rateLimitHeaders, type RateLimitOptions } from '@bulwark/core/http';
import type { NextFunction, RequestHandler, Response } from 'express';
import { clientIp } from './request-state';

export type RateLimitMiddleware = RequestHandler & { readonly limiter: RequestRateLimiter };

function setAll(res: Response, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
}

/**
 * General request rate limiting per principal and per client address (core's
 * RequestRateLimiter; after `authenticate` to count per user): every answer carries the IETF
 * `RateLimit-Policy` / `RateLimit` headers, a spent budget answers 429 problem+json with
 * `Retry-After`. `name` keeps a route's own limit apart from the app-wide one.
 */
export function rateLimit(options: RateLimitOptions = {}): RateLimitMiddleware {
  const limiter = new RequestRateLimiter(options);
  const refused = (res: Response, next: NextFunction, err: unknown): void => {
    const headers = rateLimitHeaders(err);
    if (headers !== undefined) setAll(res, headers);
    next(err);
  };
  const middleware: RequestHandler = (req, res, next) => {
    const subject = { principal: req.principal, ip: clientIp(req) };
    // In memory: counted and decided in this turn, no promise.
    let outcome;
    try {
      outcome = limiter.consumeNow(subject);
    } catch (err) {
      refused(res, next, err);
      return;
    }
    if (outcome !== undefined) {
      setAll(res, outcome.headers);
      next();
      return;
    }
    limiter.consume(subject).then(
      ({ headers }) => {
        setAll(res, headers);
        next();
      },
      (err: unknown) => refused(res, next, err),
    );
  };
  return Object.assign(middleware, { limiter });
}
