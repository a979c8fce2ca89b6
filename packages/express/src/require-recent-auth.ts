import { requireStepUp, stepUpRequirement, type StepUpRequirement } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

/**
 * Step-up for a sensitive route (ASVS 5.0 V6.3.3, V7.5.1): the caller must have signed in or
 * proved a second factor at most `maxAgeSec` ago (a number), and / or proved one of `factors`,
 * as `req.principal.authentication` says (set by sessions, the sign-in paths, or a bearer
 * token's `auth_time` / `amr`). Otherwise 401 ERR_MFA_STEP_UP_REQUIRED, with
 * `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age="..."` (RFC 9470).
 *
 * @example app.post('/account/email', requireRecentAuth(300), changeEmail)
 * @example app.post('/prescriptions', requireRecentAuth({ factors: ['webauthn'] }), sign)
 */
export function requireRecentAuth(requirement: number | StepUpRequirement): RequestHandler {
  const checked = stepUpRequirement(requirement);
  return (req, _res, next) => {
    try {
      requireStepUp(req.principal, checked);
    } catch (error) {
      return next(error);
    }
    next();
  };
}
