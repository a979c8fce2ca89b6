import { InputGuard, lingerOnUnreadBody, type InputGuardOptions } from '@bulwark/core/http';
import type { Middleware, Next } from 'koa';

export type InputGuardMiddleware = Middleware & { readonly guard: InputGuard };

type WithBody = { body?: unknown };

/**
 * Refuses oversized bodies (413), deep or key-heavy JSON (422), prototype-pollution keys, NUL bytes
 * and path traversal (400). Parses JSON and urlencoded bodies itself (bounded) into
 * `ctx.request.body` when no parser ran before it; a later @koa/bodyparser then skips.
 */
export function inputGuard(options: InputGuardOptions = {}): InputGuardMiddleware {
  const guard = new InputGuard(options);
  const refuse = (ctx: Parameters<Middleware>[0], err: unknown): never => {
    // The body was not read to its end: drop the rest, close the socket if it never ends.
    lingerOnUnreadBody({ request: ctx.req, response: ctx.res });
    throw err;
  };
  const readBody = async (ctx: Parameters<Middleware>[0], next: Next): Promise<void> => {
    try {
      const body = await guard.readBody(ctx.req, ctx.req.headers);
      if (body !== undefined) (ctx.request as typeof ctx.request & WithBody).body = body;
    } catch (err) {
      refuse(ctx, err);
    }
    await next();
  };
  const middleware: Middleware = (ctx, next) => {
    try {
      guard.checkHead({ method: ctx.method, url: ctx.originalUrl, headers: ctx.req.headers });
      const request = ctx.request as typeof ctx.request & WithBody;
      if (request.body !== undefined || !guard.parseBody) guard.checkValue(request.body, 'body');
      // A body to read and check: the async path. Without one (most GETs) no promise is made here.
      else if (guard.hasBody(ctx.req.headers)) return readBody(ctx, next);
    } catch (err) {
      return refuse(ctx, err);
    }
    return next();
  };
  return Object.assign(middleware, { guard });
}
