import {
  authorizeRequest,
  authorizeStepUpOptions,
  checkAuthorizeArgs,
  checkBodyFields,
  filterResponseFields,
  noteDenial,
  resolveAuthorization,
  type HttpAuthorizeOptions,
  type HttpResourceSpec,
} from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { bulwarkState, clientIp, requestState } from './request-state';

/**
 * A resource type, a full resource, or a function of the context: `(ctx) => ({ type: 'records',
 * id: ctx.params.id })`, or an async loader reading the stored record with its owner / tenant
 * attributes (`undefined`: 404).
 */
export type ResourceSpec = HttpResourceSpec<Context>;

export type AuthorizeOptions = HttpAuthorizeOptions<Context>;

/**
 * Allows the request only if the authorizer allows `action` on the resource for
 * `ctx.state.principal`: 401 without a principal, 404 when a loader finds no record, 403 with the
 * decision's reason id otherwise (and, with `explainDenials` or NODE_ENV=development, the denial's
 * `explanation`; the audit event always has it as `details.denial`). The resource decided on is `ctx.state.authorizedResource`.
 * With `checkBody`, a body field the subject may not write is a 403 (`field_denied`); with
 * `filterResponse`, `ctx.body` keeps only the fields the subject may read.
 */
export function authorize(
  action: string,
  resource: ResourceSpec,
  options: AuthorizeOptions = {},
): Middleware {
  checkAuthorizeArgs(action, resource, options.authorizer, options);
  const stepUp = authorizeStepUpOptions(options);
  const readAction =
    typeof options.filterResponse === 'object' ? (options.filterResponse.action ?? action) : action;
  return async (ctx, next) => {
    const state = requestState(ctx);
    const principal = bulwarkState(ctx).principal;
    const resolved = await resolveAuthorization(
      options.authorizer ?? state.kit?.authorizer,
      resource,
      ctx,
      principal,
    );
    state.resource = resolved.audited;
    const ip = clientIp(ctx);
    const context = { ...options.context?.(ctx), ...(ip !== undefined ? { ip } : {}) };
    const { authorizer } = resolved;
    const steps = {
      ...stepUp.forKit(state.kit?.mfaPolicy),
      ...(options.explainDenials !== undefined ? { explainDenials: options.explainDenials } : {}),
    };
    const decision = await authorizeRequest(
      authorizer,
      principal,
      action,
      resolved.resource,
      context,
      steps,
    ).catch((error: unknown) => {
      noteDenial(state, error);
      throw error;
    });
    state.reasonId = decision.reasonId;
    bulwarkState(ctx).authorizedResource = resolved.resource;
    if (options.checkBody === true) {
      const body = (ctx.request as { body?: unknown }).body;
      await checkBodyFields(authorizer, principal!, action, resolved.resource, body, context);
    }
    await next();
    if (options.filterResponse !== undefined && options.filterResponse !== false) {
      ctx.body = await filterResponseFields(
        authorizer,
        principal!,
        readAction,
        resolved.resource,
        ctx.body,
        context,
      );
    }
  };
}
