import { CsrfProtection, CsrfTokenIssuer, type CsrfOptions, type CsrfTokenAccess } from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { bulwarkState } from './request-state';

export interface KoaCsrfOptions extends CsrfOptions {
  /**
   * What the token is bound to. Default: the Bulwark session's id (`session()`) once it is stored,
   * else the principal id, else koa-session's `ctx.session.id` (when set), else '' (anonymous:
   * still a signed double-submit, but not tied to a session). Read when the token is issued and
   * when it is checked, so a token minted before sign-in (which rotates the session id) is
   * refused after.
   */
  binding?: (ctx: Context) => string | undefined;
}

export type CsrfMiddleware = Middleware & { readonly protection: CsrfProtection };

function defaultBinding(ctx: Context): string {
  const sessionId = (ctx as Context & { session?: { id?: unknown } }).session?.id;
  const state = bulwarkState(ctx);
  return state.session?.id ?? state.principal?.id ?? (typeof sessionId === 'string' ? sessionId : '');
}

/**
 * csurf-compatible CSRF protection (signed double-submit cookie): `ctx.state.csrfToken()` returns
 * the token (setting the cookie when a new one is minted); unsafe methods must echo it in a
 * `csrf-token` / `xsrf-token` / `x-csrf-token` / `x-xsrf-token` header, a `_csrf` body field (or, with
 * `allowTokenInQuery`, a `_csrf` query parameter), or fail with `err.code === 'EBADCSRFTOKEN'` (403).
 */
export function csrf(options: KoaCsrfOptions): CsrfMiddleware {
  const protection = new CsrfProtection(options);
  const bindingOf = options.binding ?? defaultBinding;
  if (typeof bindingOf !== 'function') throw new TypeError('csrf: binding must be a function');
  const access: CsrfTokenAccess<Context> = {
    cookieHeader: (ctx) => ctx.req.headers.cookie,
    binding: bindingOf,
    appendSetCookie: (ctx, value) => ctx.append('Set-Cookie', value),
  };
  const middleware: Middleware = (ctx, next) => {
    // A bound method, not a closure per request (see core's CsrfTokenIssuer).
    const issuer = new CsrfTokenIssuer(ctx, protection, access);
    bulwarkState(ctx).csrfToken = issuer.token.bind(issuer);
    // Safe methods are never checked (the token is still issued on demand above): nothing to build.
    if (protection.exempt(ctx.method)) return next();
    const binding = bindingOf(ctx) ?? '';
    protection.check({
      method: ctx.method,
      headers: ctx.req.headers,
      body: (ctx.request as { body?: unknown }).body,
      get query() {
        return ctx.query;
      },
      binding,
    });
    return next();
  };
  return Object.assign(middleware, { protection });
}
