import { SessionEngine, type SessionEngineOptions } from '@bulwark/core';
import type { RequestHandler } from 'express';
import { clientIp } from './request-state';

export type SessionMiddleware = RequestHandler & { readonly engine: SessionEngine };

/**
 * Server-side sessions: opens the request's session (`req.bulwarkSession`) from the `__Host-`
 * cookie and, when it is signed in, sets `req.principal` (with `principal.authentication`:
 * method `session`, the session id, factors, mfaAt). A missing, forged or expired cookie gives a
 * fresh anonymous session, never an error; a failing store is a 503 (ERR_SESSION_STORE).
 * Mount it before `csrf` / the `bulwark()` bundle, so CSRF tokens are bound to the session.
 */
export function session(engine: SessionEngine | SessionEngineOptions): SessionMiddleware {
  const sessions = engine instanceof SessionEngine ? engine : new SessionEngine(engine);
  const middleware: RequestHandler = (req, res, next) => {
    const userAgent = req.headers['user-agent'];
    sessions
      .open({
        cookieHeader: req.headers.cookie,
        setCookie: (value) => res.append('Set-Cookie', value),
        ...(clientIp(req) !== undefined ? { ip: clientIp(req) } : {}),
        ...(userAgent !== undefined ? { userAgent } : {}),
        ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
      })
      .then((opened) => {
        req.bulwarkSession = opened;
        if (req.principal === undefined && opened.principal !== undefined) req.principal = opened.principal;
        next();
      }, next);
  };
  return Object.assign(middleware, { engine: sessions });
}
