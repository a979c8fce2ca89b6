import { BodyAllowlist, type BodyAllowlistOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

/**
 * A route's request-body allowlist against mass assignment (after the body is parsed):
 * `app.post('/users/:id', allowFields(['name', 'email']), handler)`. A field outside the list is
 * refused with 400 ERR_HTTP_UNKNOWN_FIELD naming it, or dropped with `{ unknown: 'strip' }`.
 */
export function allowFields(fields: readonly string[], options: BodyAllowlistOptions = {}): RequestHandler {
  const allowlist = new BodyAllowlist(fields, options);
  return (req, _res, next) => {
    try {
      const body = allowlist.apply(req.body);
      if (body !== req.body) req.body = body;
    } catch (err) {
      return next(err);
    }
    next();
  };
}
