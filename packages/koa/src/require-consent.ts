import {
  BulwarkConfigError,
  ErrorCodes,
  checkConsentPurpose,
  requireConsentFor,
  type ConsentChecker,
} from '@bulwark/core';
import type { Middleware } from 'koa';
import { bulwarkState, requestState } from './request-state';

/**
 * 403 (with the purpose id) unless `ctx.state.principal` consented to the purpose's current valid
 * text version. With `options.consent` the purpose is checked at start-up; without it the bundle's
 * ConsentManager is used.
 */
export function requireConsent(purpose: string, options: { consent?: ConsentChecker } = {}): Middleware {
  if (options.consent !== undefined) checkConsentPurpose(options.consent, purpose);
  else if (typeof purpose !== 'string' || purpose.length === 0) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'requireConsent.purpose must be a purpose id', {
      path: 'requireConsent.purpose',
    });
  }
  return async (ctx, next) => {
    const consent = options.consent ?? requestState(ctx).kit?.consent;
    if (consent === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'requireConsent needs a ConsentManager', {
        path: 'requireConsent.consent',
      });
    }
    await requireConsentFor(consent, bulwarkState(ctx).principal, purpose);
    await next();
  };
}
