import { InputGuard, lingerOnUnreadBody, type InputGuardOptions } from '@bulwark/core/http';
import type { Middleware } from 'koa';

export type InputGuardMiddleware = Middleware & { readonly guard: InputGuard };

type WithBody = { body?: unknown };

/**
 * Refuses oversized bodies (413), deep or key-heavy JSON (422), prototype-pollution keys, NUL bytes
 * and path traversal (400). Parses JSON and urlencoded bodies itself (bounded) into
 * `ctx.request.body` when no parser ran before it; a later @koa/bodyparser then skips.
 */
export function inputGuard(options: InputGuardOptions = {}): InputGuardMiddleware {
  const guard = new InputGuard(options);
  const middleware: Middleware = async (ctx, next) => {
    try {
      guard.checkHead({ method: ctx.method, url: ctx.originalUrl, headers: ctx.req.headers });
      const request = ctx.request as typeof ctx.request & WithBody;
      if (request.body !== undefined || !guard.parseBody) guard.checkValue(request.body, 'body');
      else {
        const body = await guard.readBody(ctx.req, ctx.req.headers);
        if (body !== undefined) request.body = body;
      }
    } catch (err) {
      // The body was not read to its end: drop the rest, close the socket if it never ends.
      lingerOnUnreadBody({ request: ctx.req, response: ctx.res });
      throw err;
    }
    await next();
  };
  return Object.assign(middleware, { guard });
}
