import { RequestRateLimiter, rateLimitHeaders, type RateLimitOptions } from '@bulwark/core/http';
import type { RequestHandler, Response } from 'express';
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
  const middleware: RequestHandler = (req, res, next) => {
    limiter.consume({ principal: req.principal, ip: clientIp(req) }).then(
      ({ headers }) => {
        setAll(res, headers);
        next();
      },
      (err: unknown) => {
        const headers = rateLimitHeaders(err);
        if (headers !== undefined) setAll(res, headers);
        next(err);
      },
    );
  };
  return Object.assign(middleware, { limiter });
}
