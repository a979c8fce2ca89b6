import type { Authorizer, AuthzContext, AuthzResource, Decision } from '../authz/authorizer';
import { BulwarkPolicyError, ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';
import {
  enforceMfaPolicy,
  requireStepUp,
  STEP_UP_REASON_ID,
  stepUpRequired,
  type PrincipalMfaPolicy,
  type StepUpRequirement,
} from './step-up';

/** Authentication requirements checked once the authorizer allowed the request. */
export interface AuthorizeStepUp {
  /** The MFA policy (roles that need a second factor, how recent). */
  mfaPolicy?: PrincipalMfaPolicy;
  /** The route's own requirement (recent sign-in, a given factor). */
  requirement?: StepUpRequirement;
  /** Epoch ms now (tests). Default Date.now(). */
  now?: number;
}

/**
 * The 401 of an authorized route for an anonymous caller (ERR_HTTP_AUTH_REQUIRED). Checked before
 * a resource loader runs, so an anonymous request never reaches the database nor learns from a
 * 404 which records exist.
 */
export function requirePrincipal(principal: HttpPrincipal | undefined): asserts principal is HttpPrincipal {
  if (principal === undefined) {
    throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'This resource needs a bearer token.');
  }
}

/**
 * Asks the authorizer and throws unless allowed: no principal is a 401, a deny is a 403 carrying
 * only the decision's reason id (policy and rule ids stay in logs). An authorizer that throws
 * fails closed (the error propagates as a 500, never as an allow).
 *
 * Step-up (ASVS 5.0 V6.3.3, V7.5.1): a deny whose reason id is `step_up_required` (a policy
 * rule such as `deny ... when: { not: { factor: webauthn } }`), and, after an allow, an MFA
 * policy or a route requirement the principal's authentication does not meet, answer 401
 * ERR_MFA_STEP_UP_REQUIRED instead, so the client knows to authenticate again.
 */
export async function authorizeRequest(
  authorizer: Authorizer,
  principal: HttpPrincipal | undefined,
  action: string,
  resource: AuthzResource,
  context?: AuthzContext,
  stepUp?: AuthorizeStepUp,
): Promise<Decision> {
  requirePrincipal(principal);
  const decision = await authorizer.check(principal, action, resource, context);
  if (decision?.allowed !== true && decision?.reasonId === STEP_UP_REASON_ID) {
    throw stepUpRequired(STEP_UP_REASON_ID);
  }
  if (decision?.allowed !== true) {
    throw new BulwarkPolicyError(ErrorCodes.POLICY_DENIED, 'Access denied.', {
      reasonId: typeof decision?.reasonId === 'string' ? decision.reasonId : 'default_deny',
    });
  }
  if (stepUp?.mfaPolicy !== undefined) enforceMfaPolicy(stepUp.mfaPolicy, principal);
  if (stepUp?.requirement !== undefined) requireStepUp(principal, stepUp.requirement, stepUp.now);
  return decision;
}
