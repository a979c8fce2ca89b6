import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { BulwarkFieldFilterInterceptor } from './bulwark-field-filter-interceptor';
import { checkAuthorizeArgs } from './core-http';
import { checkResourceSpec, type ResourceSpec } from './resource-spec';
import { BULWARK_AUTHORIZE, type AuthorizeFieldOptions, type AuthorizeMetadata } from './authorize-metadata';

export { BULWARK_AUTHORIZE, type AuthorizeMetadata, type AuthorizeFieldOptions } from './authorize-metadata';

/**
 * Allows the route only if the module's Authorizer (a PolicyEngine, or CASL / casbin behind the
 * `Authorizer` interface) allows `action` on `resource` for the authenticated principal: 401
 * without a principal, 403 with only the decision's `reasonId` otherwise (policy and rule ids stay
 * server-side). On a controller it applies to every route; a method's own `@Authorize` replaces it.
 *
 * A loader (an async function, or `{ loader: RecordLoader }` resolved from the module) reads the
 * stored record so ownership / tenant conditions decide on it; it answers 404 when it finds none,
 * and the guard puts the loaded resource on `req.authorizedResource` (`@AuthorizedResource()`).
 *
 * @example @Authorize('read', (r) => ({ type: 'records', id: r.params.id }))
 * @example @Authorize('update', { loader: RecordLoader }, { checkBody: true, filterResponse: true })
 */
export function Authorize(
  action: string,
  resource: ResourceSpec,
  options: AuthorizeFieldOptions = {},
): MethodDecorator & ClassDecorator {
  if (typeof action !== 'string' || action.length === 0) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      '@Authorize(action): action must be a non-empty string',
      {
        path: 'Authorize.action',
      },
    );
  }
  checkAuthorizeArgs(action, 'resource', undefined, options);
  const metadata: AuthorizeMetadata = Object.freeze({
    action,
    resource: checkResourceSpec(resource, 'Authorize.resource'),
    options: Object.freeze({ ...options }),
  });
  const filter = options.filterResponse !== undefined && options.filterResponse !== false;
  return filter
    ? applyDecorators(
        SetMetadata(BULWARK_AUTHORIZE, metadata),
        UseInterceptors(BulwarkFieldFilterInterceptor),
      )
    : SetMetadata(BULWARK_AUTHORIZE, metadata);
}
