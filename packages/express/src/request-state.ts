import type { BulwarkHttpKit, HttpPrincipal } from '@bulwark/core';
import type { Request } from 'express';

/** What Bulwark's middlewares learn about a request, read by `audit` when the response ends. */
export interface BulwarkRequestState {
  resource?: { type: string; id?: string };
  reasonId?: string;
  errorCode?: string;
  errorReason?: string;
  /** Services of the `bulwark()` bundle, for `authorize` / `requireConsent` used without explicit ones. */
  kit?: BulwarkHttpKit;
}

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
  }
}

/** The request's Bulwark state, created on first use. */
export function requestState(req: Request): BulwarkRequestState {
  return (req.bulwark ??= {});
}
