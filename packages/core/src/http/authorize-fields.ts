import type { Authorizer, AuthzContext, AuthzResource } from '../authz/authorizer';
import { filterFields, forbiddenFields, type FieldPermission } from '../authz/field-permission';
import { BulwarkConfigError, BulwarkPolicyError, ErrorCodes } from '../errors';
import type { HttpPrincipal } from './http-principal';

/** Field decisions of an authorizer, or a config error (500) when it has none: fail closed. */
function permitted(
  authorizer: Authorizer,
  principal: HttpPrincipal,
  action: string,
  resource: AuthzResource,
  context: AuthzContext | undefined,
): FieldPermission | Promise<FieldPermission> {
  if (typeof authorizer.permittedFields !== 'function') {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'authorize: checkBody / filterResponse need an authorizer with permittedFields() (a PolicyEngine)',
      { path: 'authorize.authorizer' },
    );
  }
  return authorizer.permittedFields(principal, action, resource, context);
}

/**
 * Refuses a body that sets a field the subject may not write for `action` on `resource` (ASVS
 * V8.2.3, V15.3.3): 403 with reason `field_denied`; which fields is not told.
 */
export async function checkBodyFields(
  authorizer: Authorizer,
  principal: HttpPrincipal,
  action: string,
  resource: AuthzResource,
  body: unknown,
  context?: AuthzContext,
): Promise<void> {
  const permission = await permitted(authorizer, principal, action, resource, context);
  if (forbiddenFields(body, permission).length > 0) {
    throw new BulwarkPolicyError(ErrorCodes.POLICY_DENIED, 'Access denied.', { reasonId: 'field_denied' });
  }
}

/** Marks an array item the subject may not read at all (removed from the answer). */
const UNREADABLE = Symbol('unreadable');

/**
 * The response body with only the fields the subject may read: an object is decided as
 * `resource` (the authorized one), each item of an array as a resource of `resource.type` with the
 * item's own attributes (its `id` as the resource id); an item the subject may not read is removed.
 * Other bodies pass unchanged.
 */
export async function filterResponseFields(
  authorizer: Authorizer,
  principal: HttpPrincipal,
  action: string,
  resource: AuthzResource,
  body: unknown,
  context?: AuthzContext,
): Promise<unknown> {
  if (
    body === null ||
    typeof body !== 'object' ||
    Buffer.isBuffer(body) ||
    typeof (body as { pipe?: unknown }).pipe === 'function'
  ) {
    return body;
  }
  if (Array.isArray(body)) {
    const items = await Promise.all(
      body.map(async (item: unknown) => {
        if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
        const attrs = item as Record<string, unknown>;
        const id = attrs.id;
        const itemResource: AuthzResource = {
          ...attrs,
          type: resource.type,
          ...(typeof id === 'string' || typeof id === 'number' ? { id: String(id) } : { id: undefined }),
        };
        const permission = await permitted(authorizer, principal, action, itemResource, context);
        return permission.allowed ? filterFields(item, permission) : UNREADABLE;
      }),
    );
    // An item the subject may not read is left out, not sent as {} (which would reveal the count).
    return items.filter((item) => item !== UNREADABLE);
  }
  return filterFields(body, await permitted(authorizer, principal, action, resource, context));
}
