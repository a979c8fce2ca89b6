import {
  checkRequireConsent,
  consentCheckerFor,
  markRouteAudit,
  requireConsentFor,
  type ConsentChecker,
} from '@bulwark/core/http';
import type { Middleware } from 'koa';
import { bulwarkState, requestState } from './request-state';

/**
 * 403 (with the purpose id) unless `ctx.state.principal` consented to the purpose's current valid
 * text version. With `options.consent` the purpose is checked at start-up; without it the bundle's
 * ConsentManager is used.
 */
export function requireConsent(purpose: string, options: { consent?: ConsentChecker } = {}): Middleware {
  checkRequireConsent(purpose, options.consent);
  return async (ctx, next) => {
    // Personal data processed under a purpose: the route's audit fails closed (auditFailurePolicy).
    const state = requestState(ctx);
    markRouteAudit(state, { classified: true });
    const consent = consentCheckerFor(options.consent ?? state.kit?.consent);
    await requireConsentFor(consent, bulwarkState(ctx).principal, purpose);
    await next();
  };
}
