import { CsrfProtection, type CsrfOptions } from '@bulwark/core/http';
import type { Request, RequestHandler, Response } from 'express';

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
 * One request's `req.csrfToken()`: mints the token (and its cookie) on the first call, returns the
 * same token after. An object whose method is bound per request rather than a closure: closures
 * made per request kept many of the request's objects alive through young-generation collections
 * under load (bench/README.md).
 */
class CsrfTokenIssuer {
  #token?: string;
  readonly #req: Request;
  readonly #res: Response;
  readonly #protection: CsrfProtection;
  readonly #bindingOf: (req: Request) => string | undefined;

  constructor(
    req: Request,
    res: Response,
    protection: CsrfProtection,
    bindingOf: (req: Request) => string | undefined,
  ) {
    this.#req = req;
    this.#res = res;
    this.#protection = protection;
    this.#bindingOf = bindingOf;
  }

  token(): string {
    if (this.#token !== undefined) return this.#token;
    const req = this.#req;
    // Bound at issue time: the handler may have signed in (a new session id) since the check.
    const issued = this.#protection.tokenFor(req.headers.cookie, this.#bindingOf(req) ?? '');
    if (issued.setCookie !== undefined) this.#res.append('Set-Cookie', issued.setCookie);
    return (this.#token = issued.token);
  }
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
  const middleware: RequestHandler = (req, res, next) => {
    // A bound method, not a closure per request (see CsrfTokenIssuer).
    const issuer = new CsrfTokenIssuer(req, res, protection, bindingOf);
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
