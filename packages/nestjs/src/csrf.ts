import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { CsrfProtection, type CsrfOptions } from '@bulwark/core/http';
import type { MiddlewareRequest, PlatformMiddleware } from './platform-middleware';

export interface BulwarkCsrfOptions extends CsrfOptions {
  /**
   * What the token is bound to: the cookie session the app authenticates with. Default the
   * Bulwark session's id (module option `sessions`) once it is stored, else express-session's
   * `req.sessionID`, else '' (anonymous: still a signed double-submit, but not tied to a session).
   * Read when the token is issued too, so a token from before sign-in (which rotates the session
   * id) is refused after. Nest runs middleware before guards, so the principal is not known here.
   */
  binding?: (req: MiddlewareRequest) => string | undefined;
}

export type CsrfMiddleware = PlatformMiddleware & { readonly protection: CsrfProtection };

function defaultBinding(req: MiddlewareRequest & { bulwarkSession?: { id?: string } }): string {
  return req.bulwarkSession?.id ?? (typeof req.sessionID === 'string' ? req.sessionID : '');
}

/**
 * csurf-compatible CSRF protection (signed double-submit cookie), as @bulwark/express's `csrf`:
 * `req.csrfToken()` returns the token (setting the cookie when a new one is minted); unsafe
 * methods must echo it in a `csrf-token` / `xsrf-token` / `x-csrf-token` / `x-xsrf-token` header,
 * a `_csrf` body field (the query string only with `allowTokenInQuery`), or are refused with 403
 * `EBADCSRFTOKEN`.
 */
export function csrf(options: BulwarkCsrfOptions): CsrfMiddleware {
  const protection = new CsrfProtection(options, 'BulwarkModule.csrf');
  const bindingOf = options.binding ?? defaultBinding;
  if (typeof bindingOf !== 'function') {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'BulwarkModule.csrf.binding must be a function of the request',
      { path: 'csrf.binding' },
    );
  }
  const middleware: PlatformMiddleware = (req, res, next) => {
    let binding: string;
    try {
      binding = bindingOf(req) ?? '';
    } catch (error) {
      return next(error);
    }
    let token: string | undefined;
    req.csrfToken = () => {
      if (token !== undefined) return token;
      let current: string;
      try {
        current = bindingOf(req) ?? '';
      } catch {
        current = binding;
      }
      const issued = protection.tokenFor(req.headers.cookie, current);
      if (issued.setCookie !== undefined) appendSetCookie(res, issued.setCookie);
      return (token = issued.token);
    };
    try {
      protection.check({
        method: req.method ?? 'GET',
        headers: req.headers,
        body: req.body,
        get query() {
          return req.query;
        },
        binding,
      });
    } catch (error) {
      return next(error);
    }
    next();
  };
  return Object.assign(middleware, { protection });
}

function appendSetCookie(res: Parameters<PlatformMiddleware>[1], cookie: string): void {
  const current = res.getHeader('Set-Cookie');
  const list = current === undefined ? [] : Array.isArray(current) ? current : [String(current)];
  res.setHeader('Set-Cookie', [...list, cookie]);
}
