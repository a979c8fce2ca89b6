import {
  checkRequireConsent,
  consentCheckerFor,
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
    const consent = consentCheckerFor(options.consent ?? requestState(ctx).kit?.consent);
    await requireConsentFor(consent, bulwarkState(ctx).principal, purpose);
    await next();
  };
}
