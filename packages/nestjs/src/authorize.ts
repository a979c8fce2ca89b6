import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { checkResourceSpec, type ResourceSpec } from './resource-spec';

/** Metadata key of `@Authorize()`. */
export const BULWARK_AUTHORIZE = 'bulwark:authorize';

export interface AuthorizeMetadata {
  readonly action: string;
  readonly resource: ResourceSpec;
}

/**
 * Allows the route only if the module's Authorizer (a PolicyEngine, or CASL / casbin behind the
 * `Authorizer` interface) allows `action` on `resource` for the authenticated principal: 401
 * without a principal, 403 with only the decision's `reasonId` otherwise (policy and rule ids stay
 * server-side). On a controller it applies to every route; a method's own `@Authorize` replaces it.
 *
 * @example @Authorize('read', (r) => ({ type: 'records', id: r.params.id }))
 */
export function Authorize(action: string, resource: ResourceSpec): CustomDecorator<string> {
  if (typeof action !== 'string' || action.length === 0) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      '@Authorize(action): action must be a non-empty string',
      {
        path: 'Authorize.action',
      },
    );
  }
  const metadata: AuthorizeMetadata = Object.freeze({
    action,
    resource: checkResourceSpec(resource, 'Authorize.resource'),
  });
  return SetMetadata(BULWARK_AUTHORIZE, metadata);
}
