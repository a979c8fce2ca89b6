import {
  captureRequestArrival,
  TrustedProxies,
  type HttpRequestState,
  type RequestArrival,
} from '@bulwark/core/http';
import { type AuthzResource, type HttpPrincipal, type HttpSession } from '@bulwark/core';
import type { Context } from 'koa';

/** What Bulwark's middlewares learn about a request, read by `audit` when the response ends. */
export type BulwarkRequestState = HttpRequestState;

/** The `ctx.state` members Bulwark sets. */
export interface BulwarkState {
  /** Set by `authenticate`. */
  principal?: HttpPrincipal;
  /** Set by `requestId`; echoed in X-Request-Id and problem bodies. */
  requestId?: string;
  /** Set by `csrf` (csurf's API on ctx.state). */
  csrfToken?: () => string;
  /** Set by `authorize`: the resource the decision was about (what a loader returned). */
  authorizedResource?: AuthzResource;
  bulwark?: BulwarkRequestState;
  /** Set by `session` (Bulwark's server-side session; koa-session's `ctx.session` is left alone). */
  session?: HttpSession;
}

export function bulwarkState(ctx: Context): BulwarkState {
  return ctx.state as BulwarkState;
}

/** The request's Bulwark state, created on first use. */
export function requestState(ctx: Context): BulwarkRequestState {
  return ((ctx.state as BulwarkState).bulwark ??= {});
}

const NO_PROXIES = new TrustedProxies(false);

/**
 * The request's arrival facts, taken by `requestId` (the bundle's first step) with its
 * `trustProxy` setting, or here on first use without trusted proxies. Never throws, also once the
 * socket is gone.
 */
export function requestArrival(ctx: Context, proxies: TrustedProxies = NO_PROXIES): RequestArrival {
  const state = requestState(ctx);
  return (state.arrival ??= captureRequestArrival(
    { headers: ctx.req.headers, remoteAddress: ctx.req.socket?.remoteAddress },
    proxies,
  ));
}

/**
 * The client address Bulwark uses (audit, brute-force counters, `context.ip`), decided by core's
 * `TrustedProxies` from the socket and X-Forwarded-For with the bundle's `trustProxy` setting.
 * Koa's own `ctx.ip` (`app.proxy`) is not consulted: use this instead.
 */
export function clientIp(ctx: Context): string | undefined {
  return requestArrival(ctx).ip;
}
