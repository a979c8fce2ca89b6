import { SessionEngine, type HttpSession, type SessionEngineOptions } from '@bulwark/core';
import type { ServerResponse } from 'node:http';
import type { MiddlewareRequest, PlatformMiddleware } from './platform-middleware';
import { clientIp } from './request-tracking';

/** The request as the session step leaves it. */
export type SessionRequest = MiddlewareRequest & { bulwarkSession?: HttpSession; requestId?: string };

/**
 * The module's session step (option `sessions`): opens `req.bulwarkSession` from the `__Host-`
 * cookie before CSRF (which binds its token to the session id) and before the guard (which takes
 * the signed-in principal from it when the request has no bearer token).
 */
export function sessionStep(engine: SessionEngine | SessionEngineOptions): PlatformMiddleware & {
  readonly engine: SessionEngine;
} {
  const sessions =
    engine instanceof SessionEngine
      ? engine
      : new SessionEngine({ configPath: 'BulwarkModule.sessions', ...engine });
  const step: PlatformMiddleware = (req: SessionRequest, res: ServerResponse, next) => {
    const userAgent = req.headers['user-agent'];
    const ip = clientIp(req);
    sessions
      .open({
        cookieHeader: req.headers.cookie,
        setCookie: (value) => {
          const current = res.getHeader('Set-Cookie');
          const list = current === undefined ? [] : Array.isArray(current) ? current : [String(current)];
          res.setHeader('Set-Cookie', [...list, value]);
        },
        ...(ip !== undefined ? { ip } : {}),
        ...(userAgent !== undefined ? { userAgent } : {}),
        ...(typeof req.requestId === 'string' ? { requestId: req.requestId } : {}),
      })
      .then((opened) => {
        req.bulwarkSession = opened;
        next();
      }, next);
  };
  return Object.assign(step, { engine: sessions });
}
