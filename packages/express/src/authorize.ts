import {
  authorizeRequest,
  authorizeStepUpOptions,
  checkAuthorizeArgs,
  resolveAuthorization,
  type HttpAuthorizeOptions,
  type HttpResourceSpec,
  type ResolvedAuthorization,
} from '@bulwark/core/http';
import type { Request, RequestHandler } from 'express';
import { clientIp, requestState } from './request-state';

/** A resource type, a full resource, or a function of the request (e.g. from `req.params.id`). */
export type ResourceSpec = HttpResourceSpec<Request>;

export type AuthorizeOptions = HttpAuthorizeOptions<Request>;

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
  checkAuthorizeArgs(action, resource, options.authorizer);
  const stepUp = authorizeStepUpOptions(options);
  return (req, _res, next) => {
    const state = requestState(req);
    let resolved: ResolvedAuthorization;
    try {
      resolved = resolveAuthorization(options.authorizer ?? state.kit?.authorizer, resource, req);
    } catch (err) {
      return next(err);
    }
    state.resource = resolved.audited;
    const ip = clientIp(req);
    const context = { ...options.context?.(req), ...(ip !== undefined ? { ip } : {}) };
    const steps = stepUp.forKit(state.kit?.mfaPolicy);
    authorizeRequest(resolved.authorizer, req.principal, action, resolved.resource, context, steps).then(
      (decision) => {
        state.reasonId = decision.reasonId;
        next();
      },
      next,
    );
  };
}
