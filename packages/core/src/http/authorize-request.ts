import type { Authorizer, AuthzContext, AuthzResource, Decision } from '../authz/authorizer';
import { BulwarkPolicyError, ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';

/**
 * Asks the authorizer and throws unless allowed: no principal is a 401, a deny is a 403 carrying
 * only the decision's reason id (policy and rule ids stay in logs). An authorizer that throws
 * fails closed (the error propagates as a 500, never as an allow).
 */
export async function authorizeRequest(
  authorizer: Authorizer,
  principal: HttpPrincipal | undefined,
  action: string,
  resource: AuthzResource,
  context?: AuthzContext,
): Promise<Decision> {
  if (principal === undefined) {
    throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'This resource needs a bearer token.');
  }
  const decision = await authorizer.check(principal, action, resource, context);
  if (decision?.allowed !== true) {
    throw new BulwarkPolicyError(ErrorCodes.POLICY_DENIED, 'Access denied.', {
      reasonId: typeof decision?.reasonId === 'string' ? decision.reasonId : 'default_deny',
    });
  }
  return decision;
}
