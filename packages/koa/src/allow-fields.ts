import { BodyAllowlist, type BodyAllowlistOptions } from '@bulwark/core/http';
import type { Middleware } from 'koa';

/**
 * A route's request-body allowlist against mass assignment (after the body parser):
 * `router.post('/users/:id', allowFields(['name', 'email']), handler)`. A field outside the list
 * is refused with 400 ERR_HTTP_UNKNOWN_FIELD naming it, or dropped with `{ unknown: 'strip' }`.
 */
export function allowFields(fields: readonly string[], options: BodyAllowlistOptions = {}): Middleware {
  const allowlist = new BodyAllowlist(fields, options);
  return async (ctx, next) => {
    const request = ctx.request as { body?: unknown };
    const body = allowlist.apply(request.body);
    if (body !== request.body) request.body = body;
    await next();
  };
}
