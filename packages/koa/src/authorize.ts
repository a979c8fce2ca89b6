import {
  authorizeRequest,
  authorizeStepUpOptions,
  checkAuthorizeArgs,
  resolveAuthorization,
  type HttpAuthorizeOptions,
  type HttpResourceSpec,
} from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { bulwarkState, clientIp, requestState } from './request-state';

/** A resource type, a full resource, or a function of the context (e.g. from `ctx.params.id`). */
export type ResourceSpec = HttpResourceSpec<Context>;

export type AuthorizeOptions = HttpAuthorizeOptions<Context>;

/**
 * Allows the request only if the authorizer allows `action` on the resource for
 * `ctx.state.principal`: 401 without a principal, 403 with only the decision's reason id otherwise.
 */
export function authorize(
  action: string,
  resource: ResourceSpec,
  options: AuthorizeOptions = {},
): Middleware {
  checkAuthorizeArgs(action, resource, options.authorizer);
  const stepUp = authorizeStepUpOptions(options);
  return async (ctx, next) => {
    const state = requestState(ctx);
    const resolved = resolveAuthorization(options.authorizer ?? state.kit?.authorizer, resource, ctx);
    state.resource = resolved.audited;
    const ip = clientIp(ctx);
    const context = { ...options.context?.(ctx), ...(ip !== undefined ? { ip } : {}) };
    const principal = bulwarkState(ctx).principal;
    const steps = stepUp.forKit(state.kit?.mfaPolicy);
    const decision = await authorizeRequest(
      resolved.authorizer,
      principal,
      action,
      resolved.resource,
      context,
      steps,
    );
    state.reasonId = decision.reasonId;
    await next();
  };
}
