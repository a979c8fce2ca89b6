import type { BulwarkHttpKit, HttpPrincipal } from '@bulwark/core';
import type { Context } from 'koa';

/** What Bulwark's middlewares learn about a request, read by `audit` when the response ends. */
export interface BulwarkRequestState {
  resource?: { type: string; id?: string };
  reasonId?: string;
  errorCode?: string;
  errorReason?: string;
  /** Services of the `bulwark()` bundle, for `authorize` / `requireConsent` used without explicit ones. */
  kit?: BulwarkHttpKit;
}

/** The `ctx.state` members Bulwark sets. */
export interface BulwarkState {
  /** Set by `authenticate`. */
  principal?: HttpPrincipal;
  /** Set by `requestId`; echoed in X-Request-Id and problem bodies. */
  requestId?: string;
  /** Set by `csrf` (csurf's API on ctx.state). */
  csrfToken?: () => string;
  bulwark?: BulwarkRequestState;
}

export function bulwarkState(ctx: Context): BulwarkState {
  return ctx.state as BulwarkState;
}

/** The request's Bulwark state, created on first use. */
export function requestState(ctx: Context): BulwarkRequestState {
  return ((ctx.state as BulwarkState).bulwark ??= {});
}
