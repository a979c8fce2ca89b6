import { SessionEngine, type SessionEngineOptions } from '@bulwark/core';
import type { Middleware } from 'koa';
import { bulwarkState, clientIp } from './request-state';

export type SessionMiddleware = Middleware & { readonly engine: SessionEngine };

/**
 * Server-side sessions: opens the request's session (`ctx.state.session`) from the `__Host-`
 * cookie and, when it is signed in, sets `ctx.state.principal` (with `principal.authentication`:
 * method `session`, the session id, factors, mfaAt). A missing, forged or expired cookie gives a
 * fresh anonymous session, never an error; a failing store is a 503 (ERR_SESSION_STORE).
 * Mount it before `csrf` / the `bulwark()` bundle, so CSRF tokens are bound to the session.
 */
export function session(engine: SessionEngine | SessionEngineOptions): SessionMiddleware {
  const sessions = engine instanceof SessionEngine ? engine : new SessionEngine(engine);
  const middleware: Middleware = async (ctx, next) => {
    const state = bulwarkState(ctx);
    const userAgent = ctx.req.headers['user-agent'];
    const ip = clientIp(ctx);
    const opened = await sessions.open({
      cookieHeader: ctx.req.headers.cookie,
      setCookie: (value) => ctx.append('Set-Cookie', value),
      ...(ip !== undefined ? { ip } : {}),
      ...(userAgent !== undefined ? { userAgent } : {}),
      ...(state.requestId !== undefined ? { requestId: state.requestId } : {}),
    });
    state.session = opened;
    if (state.principal === undefined && opened.principal !== undefined) state.principal = opened.principal;
    await next();
  };
  return Object.assign(middleware, { engine: sessions });
}
