import {
  BulwarkConfigError,
  ErrorCodes,
  authorizeRequest,
  checkResourceId,
  type Authorizer,
  type AuthzContext,
  type AuthzResource,
} from '@bulwark/core';
import type { Context, Middleware } from 'koa';
import { bulwarkState, requestState } from './request-state';

/** A resource type, a full resource, or a function of the context (e.g. from `ctx.params.id`). */
export type ResourceSpec = string | AuthzResource | ((ctx: Context) => AuthzResource | string);

export interface AuthorizeOptions {
  /** Default: the authorizer of the `bulwark()` bundle in front of this route. */
  authorizer?: Authorizer;
  /** Extra server-side context facts; `ip` is always the request's. */
  context?: (ctx: Context) => AuthzContext;
}

function toResource(spec: ResourceSpec, ctx: Context): AuthzResource {
  const value = typeof spec === 'function' ? spec(ctx) : spec;
  const resource = typeof value === 'string' ? { type: value } : value;
  // An id straight from the URL must not walk out of its collection (`../../admin`).
  if (resource.id !== undefined) checkResourceId(String(resource.id));
  return resource;
}

/**
 * Allows the request only if the authorizer allows `action` on the resource for
 * `ctx.state.principal`: 401 without a principal, 403 with only the decision's reason id otherwise.
 */
export function authorize(
  action: string,
  resource: ResourceSpec,
  options: AuthorizeOptions = {},
): Middleware {
  if (typeof action !== 'string' || action.length === 0) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authorize: action must be a non-empty string', {
      path: 'authorize.action',
    });
  }
  if (!['string', 'function', 'object'].includes(typeof resource) || resource === null) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'authorize: resource must be a type, a resource or a function',
      {
        path: 'authorize.resource',
      },
    );
  }
  if (options.authorizer !== undefined && typeof options.authorizer.check !== 'function') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authorize: authorizer must implement check()', {
      path: 'authorize.authorizer',
    });
  }
  return async (ctx, next) => {
    const state = requestState(ctx);
    const authorizer = options.authorizer ?? state.kit?.authorizer;
    if (authorizer === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'authorize: no authorizer (pass { authorizer } or mount bulwark(kit) with kit.authorizer first)',
        { path: 'authorize.authorizer' },
      );
    }
    const target = toResource(resource, ctx);
    state.resource =
      target.id !== undefined ? { type: target.type, id: String(target.id) } : { type: target.type };
    const context = { ...options.context?.(ctx), ip: ctx.ip };
    const decision = await authorizeRequest(authorizer, bulwarkState(ctx).principal, action, target, context);
    state.reasonId = decision.reasonId;
    await next();
  };
}
