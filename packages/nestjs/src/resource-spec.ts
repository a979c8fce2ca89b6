import { BulwarkConfigError, ErrorCodes, type AuthzResource } from '@bulwark/core';
import type { BulwarkRequestContext } from './bulwark-request-context';
import { checkResourceId } from './core-http';

/**
 * A resource: its type (`'records'`), a full resource (`{ type: 'records', id: '1' }`), or a
 * function of the request, e.g. `(r) => ({ type: 'records', id: r.params.id })`.
 */
export type ResourceSpec =
  | string
  | AuthzResource
  | ((request: BulwarkRequestContext) => AuthzResource | string | Promise<AuthzResource | string>);

/** Decoration-time check, so a bad decorator fails when the controller class loads. */
export function checkResourceSpec(spec: unknown, path: string): ResourceSpec {
  const ok =
    (typeof spec === 'string' && spec.length > 0) ||
    typeof spec === 'function' ||
    (typeof spec === 'object' &&
      spec !== null &&
      typeof (spec as { type?: unknown }).type === 'string' &&
      (spec as { type: string }).type.length > 0);
  if (!ok) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `${path} must be a resource type, a resource { type, id? } or a function of the request`,
      { path },
    );
  }
  return spec as ResourceSpec;
}

/** The resource a spec names for this request. */
export async function resolveResource(
  spec: ResourceSpec,
  request: BulwarkRequestContext,
): Promise<AuthzResource> {
  const value = typeof spec === 'function' ? await spec(request) : spec;
  const resource: AuthzResource = typeof value === 'string' ? { type: value } : value;
  if (typeof resource?.type !== 'string' || resource.type.length === 0) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'a resource resolver returned no resource type', {
      path: 'resource',
    });
  }
  // An id taken from the URL must not walk out of its collection (`../../admin`).
  if (resource.id === undefined) return resource;
  return { ...resource, id: checkResourceId(String(resource.id)) };
}
