import {
  BulwarkConfigError,
  ErrorCodes,
  authorizeRequest,
  checkResourceId,
  type Authorizer,
  type AuthzContext,
  type AuthzResource,
} from '@bulwark/core';
import type { Request, RequestHandler } from 'express';
import { requestState } from './request-state';

/** A resource type, a full resource, or a function of the request (e.g. from `req.params.id`). */
export type ResourceSpec = string | AuthzResource | ((req: Request) => AuthzResource | string);

export interface AuthorizeOptions {
  /** Default: the authorizer of the `bulwark()` bundle in front of this route. */
  authorizer?: Authorizer;
  /** Extra server-side context facts; `ip` is always the request's. */
  context?: (req: Request) => AuthzContext;
}

function toResource(spec: ResourceSpec, req: Request): AuthzResource {
  const value = typeof spec === 'function' ? spec(req) : spec;
  const resource = typeof value === 'string' ? { type: value } : value;
  // An id straight from the URL must not walk out of its collection (`../../admin`).
  if (resource.id !== undefined) checkResourceId(String(resource.id));
  return resource;
}

/**
 * Allows the request only if the authorizer (PolicyEngine, or CASL / casbin behind `Authorizer`)
 * allows `action` on the resource for `req.principal`: 401 without a principal, 403 with only the
 * decision's reason id otherwise.
 */
export function authorize(
  action: string,
  resource: ResourceSpec,
  options: AuthorizeOptions = {},
): RequestHandler {
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
  return (req, _res, next) => {
    const state = requestState(req);
    let target: AuthzResource;
    let authorizer: Authorizer | undefined;
    try {
      authorizer = options.authorizer ?? state.kit?.authorizer;
      if (authorizer === undefined) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'authorize: no authorizer (pass { authorizer } or mount bulwark(kit) with kit.authorizer first)',
          { path: 'authorize.authorizer' },
        );
      }
      target = toResource(resource, req);
    } catch (err) {
      return next(err);
    }
    state.resource =
      target.id !== undefined ? { type: target.type, id: String(target.id) } : { type: target.type };
    const context = { ...options.context?.(req), ip: req.ip };
    authorizeRequest(authorizer, req.principal, action, target, context).then((decision) => {
      state.reasonId = decision.reasonId;
      next();
    }, next);
  };
}
