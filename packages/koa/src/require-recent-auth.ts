import { requireStepUp, stepUpRequirement, type StepUpRequirement } from '@bulwark/core/http';
import type { Middleware } from 'koa';
import { bulwarkState } from './request-state';

/**
 * Step-up for a sensitive route (ASVS 5.0 V6.3.3, V7.5.1): the caller must have signed in or
 * proved a second factor at most `maxAgeSec` ago (a number), and / or proved one of `factors`,
 * as `ctx.state.principal.authentication` says (sessions, sign-in paths, or a bearer token's
 * `auth_time` / `amr`). Otherwise 401 ERR_MFA_STEP_UP_REQUIRED, with
 * `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age="..."` (RFC 9470).
 *
 * @example router.post('/account/email', requireRecentAuth(300), changeEmail)
 */
export function requireRecentAuth(requirement: number | StepUpRequirement): Middleware {
  const checked = stepUpRequirement(requirement);
  return async (ctx, next) => {
    requireStepUp(bulwarkState(ctx).principal, checked);
    await next();
  };
}
