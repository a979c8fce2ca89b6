import {
  checkRequireConsent,
  consentCheckerFor,
  markRouteAudit,
  requireConsentFor,
  type ConsentChecker,
} from '@bulwark/core/http';
import type { RequestHandler } from 'express';
import { requestState } from './request-state';

/**
 * 403 (with the purpose id) unless `req.principal` consented to the purpose's current valid text
 * version. With `options.consent` the purpose is checked at start-up; without it the bundle's
 * ConsentManager is used.
 */
export function requireConsent(purpose: string, options: { consent?: ConsentChecker } = {}): RequestHandler {
  checkRequireConsent(purpose, options.consent);
  return (req, _res, next) => {
    // Personal data processed under a purpose: the route's audit fails closed (auditFailurePolicy).
    const state = requestState(req);
    markRouteAudit(state, { classified: true });
    let consent: ConsentChecker;
    try {
      consent = consentCheckerFor(options.consent ?? state.kit?.consent);
    } catch (err) {
      return next(err);
    }
    requireConsentFor(consent, req.principal, purpose).then(() => next(), next);
  };
}
