import {
  captureRequestArrival,
  detachExpressRequestShape,
  TrustedProxies,
  type HttpRequestState,
  type RequestArrival,
} from '@bulwark/core/http';
import { type HttpPrincipal, type HttpSession } from '@bulwark/core';
import type { Request } from 'express';

/** What Bulwark's middlewares learn about a request, read by `audit` when the response ends. */
export type BulwarkRequestState = HttpRequestState;

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `authenticate`. */
    principal?: HttpPrincipal;
    /** Set by `requestId` (and the bundle); echoed in X-Request-Id and problem bodies. */
    requestId?: string;
    /** Set by `csrf` (csurf's API): the token to embed in forms / send in a csrf-token header. */
    csrfToken?: () => string;
    /** Bulwark's per-request state. */
    bulwark?: BulwarkRequestState;
    /** Set by `session` (not `req.session`, so express-session can run beside it during a migration). */
    bulwarkSession?: HttpSession;
  }
}

/**
 * The request's Bulwark state, created on first use. The first Bulwark step to meet a request
 * also switches it and its response to dictionary properties: Express gives each request hidden
 * classes of its own, which makes every property added or read on them slow (see core's
 * express-object-shape.ts; about 40% more requests per second for the bundle).
 */
export function requestState(req: Request): BulwarkRequestState {
  let state = req.bulwark;
  if (state === undefined) {
    detachExpressRequestShape(req);
    req.bulwark = state = {};
  }
  return state;
}

const NO_PROXIES = new TrustedProxies(false);

/**
 * The request's arrival facts, taken by `requestId` (the bundle's first step) with its
 * `trustProxy` setting, or here on first use without trusted proxies. Never throws, also once the
 * socket is gone.
 */
export function requestArrival(req: Request, proxies: TrustedProxies = NO_PROXIES): RequestArrival {
  const state = requestState(req);
  return (state.arrival ??= captureRequestArrival(
    { headers: req.headers, remoteAddress: req.socket?.remoteAddress },
    proxies,
  ));
}

/**
 * The client address Bulwark uses (audit, brute-force counters, `context.ip`), decided by core's
 * `TrustedProxies` from the socket and X-Forwarded-For with the bundle's `trustProxy` setting.
 * Express's own `req.ip` (its `trust proxy` setting) is not consulted: use this instead.
 */
export function clientIp(req: Request): string | undefined {
  return requestArrival(req).ip;
}
