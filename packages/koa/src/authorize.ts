import {
  authorizeRequestNow,
  authorizeStepUpOptions,
  checkAuthorizeArgs,
  checkBodyFields,
  filterResponseFields,
  noteDenial,
  resolveAuthorizationNow,
  type HttpAuthorizeOptions,
  type HttpPrincipal,
  type HttpResourceSpec,
  type ResolvedAuthorization,
} from '@bulwark/core/http';
import type { AuthzContext, Decision } from '@bulwark/core';
import type { Context, Middleware, Next } from 'koa';
import { bulwarkState, clientIp, requestState, type BulwarkRequestState } from './request-state';

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
  const filters = options.filterResponse !== undefined && options.filterResponse !== false;
  return (ctx, next) => {
    try {
      const state = requestState(ctx);
      const principal = bulwarkState(ctx).principal;
      const resolved = resolveAuthorizationNow(
        options.authorizer ?? state.kit?.authorizer,
        resource,
        ctx,
        principal,
      );
      // A fixed resource and a synchronous authorizer (PolicyEngine): decided without a promise.
      return resolved instanceof Promise
        ? resolved.then((r) => decideOn(ctx, next, state, principal, r))
        : decideOn(ctx, next, state, principal, resolved);
    } catch (error) {
      // Refused as the async middleware it was: a rejection, never a synchronous throw.
      return Promise.reject(error);
    }
  };

  function decideOn(
    ctx: Context,
    next: Next,
    state: BulwarkRequestState,
    principal: HttpPrincipal | undefined,
    resolved: ResolvedAuthorization,
  ): Promise<void> {
    state.resource = resolved.audited;
    const ip = clientIp(ctx);
    // Per request: one copy of the app's context, the address assigned (no temporaries to spread).
    const context: { ip?: string; [attribute: string]: unknown } = { ...options.context?.(ctx) };
    if (ip !== undefined) context.ip = ip;
    const { authorizer } = resolved;
    const steps = stepUp.forKit(state.kit?.mfaPolicy);
    if (options.explainDenials !== undefined) steps.explainDenials = options.explainDenials;
    const denied = (error: unknown): never => {
      noteDenial(state, error);
      throw error;
    };
    let decision: Decision | Promise<Decision>;
    try {
      decision = authorizeRequestNow(authorizer, principal, action, resolved.resource, context, steps);
    } catch (error) {
      return denied(error);
    }
    const allowed = (d: Decision): Promise<void> => {
      state.reasonId = d.reasonId;
      bulwarkState(ctx).authorizedResource = resolved.resource;
      if (options.checkBody !== true && !filters) return next();
      return fieldChecks(ctx, next, principal!, resolved, context);
    };
    return decision instanceof Promise ? decision.then(allowed, denied) : allowed(decision);
  }

  async function fieldChecks(
    ctx: Context,
    next: Next,
    principal: HttpPrincipal,
    resolved: ResolvedAuthorization,
    context: AuthzContext,
  ): Promise<void> {
    const { authorizer } = resolved;
    if (options.checkBody === true) {
      const body = (ctx.request as { body?: unknown }).body;
      await checkBodyFields(authorizer, principal, action, resolved.resource, body, context);
    }
    await next();
    if (filters) {
      ctx.body = await filterResponseFields(
        authorizer,
        principal,
        readAction,
        resolved.resource,
        ctx.body,
        context,
      );
    }
  }
}
