import { CsrfProtection, CsrfTokenIssuer, type CsrfOptions, type CsrfTokenAccess } from '@bulwark/core/http';
import type { Request, RequestHandler } from 'express';

export interface ExpressCsrfOptions extends CsrfOptions {
  /**
   * What the token is bound to. Default: the Bulwark session's id (`session()`) once it is stored,
   * else the principal id, else express-session's `req.sessionID`, else '' (anonymous: still a
   * signed double-submit, but not tied to a session). Read when the token is issued and when it
   * is checked, so a token minted before sign-in (which rotates the session id) is refused after.
   */
  binding?: (req: Request) => string | undefined;
}

export type CsrfMiddleware = RequestHandler & { readonly protection: CsrfProtection };

function defaultBinding(req: Request): string {
  return req.bulwarkSession?.id ?? req.principal?.id ?? (req as { sessionID?: string }).sessionID ?? '';
}

/**
 * csurf-compatible CSRF protection (signed double-submit cookie): `req.csrfToken()` returns the
 * token (setting the cookie when a new one is minted); unsafe methods must echo it in a
 * `csrf-token` / `xsrf-token` / `x-csrf-token` / `x-xsrf-token` header, a `_csrf` body field (or, with
 * `allowTokenInQuery`, a `_csrf` query parameter), or fail with `err.code === 'EBADCSRFTOKEN'` (403).
 */
export function csrf(options: ExpressCsrfOptions): CsrfMiddleware {
  const protection = new CsrfProtection(options);
  const bindingOf = options.binding ?? defaultBinding;
  if (typeof bindingOf !== 'function') throw new TypeError('csrf: binding must be a function');
  const access: CsrfTokenAccess<Request> = {
    cookieHeader: (req) => req.headers.cookie,
    binding: bindingOf,
    // Express's req.res: the response of this request.
    appendSetCookie: (req, value) => void req.res!.append('Set-Cookie', value),
  };
  const middleware: RequestHandler = (req, _res, next) => {
    // A bound method, not a closure per request (see core's CsrfTokenIssuer).
    const issuer = new CsrfTokenIssuer(req, protection, access);
    req.csrfToken = issuer.token.bind(issuer);
    // Safe methods are never checked (the token is still issued on demand above): nothing to build.
    if (protection.exempt(req.method)) return next();
    const binding = bindingOf(req) ?? '';
    try {
      protection.check({
        method: req.method,
        headers: req.headers,
        body: req.body,
        // Express 5 parses req.query on every access: only unsafe requests read it.
        get query() {
          return req.query;
        },
        binding,
      });
    } catch (err) {
      return next(err);
    }
    next();
  };
  return Object.assign(middleware, { protection });
}
