import {
  BulwarkConfigError,
  ErrorCodes,
  checkConsentPurpose,
  requireConsentFor,
  type ConsentChecker,
} from '@bulwark/core';
import type { RequestHandler } from 'express';
import { requestState } from './request-state';

/**
 * 403 (with the purpose id) unless `req.principal` consented to the purpose's current valid text
 * version. With `options.consent` the purpose is checked at start-up; without it the bundle's
 * ConsentManager is used.
 */
export function requireConsent(purpose: string, options: { consent?: ConsentChecker } = {}): RequestHandler {
  if (options.consent !== undefined) checkConsentPurpose(options.consent, purpose);
  else if (typeof purpose !== 'string' || purpose.length === 0) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'requireConsent.purpose must be a purpose id', {
      path: 'requireConsent.purpose',
    });
  }
  return (req, _res, next) => {
    const consent = options.consent ?? requestState(req).kit?.consent;
    if (consent === undefined) {
      return next(
        new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'requireConsent needs a ConsentManager', {
          path: 'requireConsent.consent',
        }),
      );
    }
    requireConsentFor(consent, req.principal, purpose).then(() => next(), next);
  };
}
