import { CsrfProtection, type CsrfOptions } from '@bulwark/core/http';
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
 * One request's `ctx.state.csrfToken()`: mints the token (and its cookie) on the first call,
 * returns the same token after. An object whose method is bound per request rather than a closure:
 * closures made per request kept many of the request's objects alive through young-generation
 * collections under load (bench/README.md).
 */
class CsrfTokenIssuer {
  #token?: string;
  readonly #ctx: Context;
  readonly #protection: CsrfProtection;
  readonly #bindingOf: (ctx: Context) => string | undefined;

  constructor(ctx: Context, protection: CsrfProtection, bindingOf: (ctx: Context) => string | undefined) {
    this.#ctx = ctx;
    this.#protection = protection;
    this.#bindingOf = bindingOf;
  }

  token(): string {
    if (this.#token !== undefined) return this.#token;
    const ctx = this.#ctx;
    // Bound at issue time: the handler may have signed in (a new session id) since the check.
    const issued = this.#protection.tokenFor(ctx.req.headers.cookie, this.#bindingOf(ctx) ?? '');
    if (issued.setCookie !== undefined) ctx.append('Set-Cookie', issued.setCookie);
    return (this.#token = issued.token);
  }
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
  const middleware: Middleware = (ctx, next) => {
    // A bound method, not a closure per request (see CsrfTokenIssuer).
    const issuer = new CsrfTokenIssuer(ctx, protection, bindingOf);
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
