import {
  authorizeRequestNow,
  authorizeStepUpOptions,
  checkAuthorizeArgs,
  checkBodyFields,
  filterResponseFields,
  noteDenial,
  resolveAuthorizationNow,
  type HttpAuthorizeOptions,
  type HttpResourceSpec,
  type ResolvedAuthorization,
} from '@bulwark/core/http';
import type { AuthzContext, AuthzResource, Decision } from '@bulwark/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { clientIp, requestState, type BulwarkRequestState } from './request-state';

/**
 * A resource type, a full resource, or a function of the request: `(req) => ({ type: 'records',
 * id: req.params.id })`, or an async loader reading the stored record with its owner / tenant
 * attributes (`undefined`: 404).
 */
export type ResourceSpec = HttpResourceSpec<Request>;

export type AuthorizeOptions = HttpAuthorizeOptions<Request>;

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `authorize`: the resource the decision was about (what a loader returned). */
    authorizedResource?: AuthzResource;
  }
}

/**
 * Allows the request only if the authorizer (PolicyEngine, or CASL / casbin behind `Authorizer`)
 * allows `action` on the resource for `req.principal`: 401 without a principal, 404 when a loader
 * finds no record, 403 with the decision's reason id otherwise (and, with `explainDenials` or
 * NODE_ENV=development, the denial's `explanation`; the audit event always has it as `details.denial`). With `checkBody`, a body
 * field the subject may not write is a 403 (`field_denied`); with `filterResponse`, `res.json`
 * sends only the fields the subject may read.
 */
export function authorize(
  action: string,
  resource: ResourceSpec,
  options: AuthorizeOptions = {},
): RequestHandler {
  checkAuthorizeArgs(action, resource, options.authorizer, options);
  const stepUp = authorizeStepUpOptions(options);
  const readAction =
    typeof options.filterResponse === 'object' ? (options.filterResponse.action ?? action) : action;
  const filters = options.filterResponse !== undefined && options.filterResponse !== false;
  return (req, res, next) => {
    let pending: void | Promise<void>;
    try {
      pending = decide(req, res, next);
    } catch (error) {
      return next(error);
    }
    // A fixed resource and a synchronous authorizer (PolicyEngine): decided without a promise.
    if (pending === undefined) return next();
    pending.then(() => next(), next);
  };

  /** Synchronous unless the loader, the authorizer or a `checkBody` check returns a promise. */
  function decide(req: Request, res: Response, next: NextFunction): void | Promise<void> {
    const state = requestState(req);
    const resolved = resolveAuthorizationNow(
      options.authorizer ?? state.kit?.authorizer,
      resource,
      req,
      req.principal,
    );
    return resolved instanceof Promise
      ? resolved.then((r) => decideOn(req, res, next, state, r))
      : decideOn(req, res, next, state, resolved);
  }

  function decideOn(
    req: Request,
    res: Response,
    next: NextFunction,
    state: BulwarkRequestState,
    resolved: ResolvedAuthorization,
  ): void | Promise<void> {
    state.resource = resolved.audited;
    const ip = clientIp(req);
    // Per request: one copy of the app's context, the address assigned (no temporaries to spread).
    const context: { ip?: string; [attribute: string]: unknown } = { ...options.context?.(req) };
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
      decision = authorizeRequestNow(authorizer, req.principal, action, resolved.resource, context, steps);
    } catch (error) {
      return denied(error);
    }
    const allowed = (d: Decision): void | Promise<void> => {
      state.reasonId = d.reasonId;
      req.authorizedResource = resolved.resource;
      if (options.checkBody !== true && !filters) return undefined;
      return fieldChecks(req, res, next, resolved, context);
    };
    return decision instanceof Promise ? decision.then(allowed, denied) : allowed(decision);
  }

  async function fieldChecks(
    req: Request,
    res: Response,
    next: NextFunction,
    resolved: ResolvedAuthorization,
    context: AuthzContext,
  ): Promise<void> {
    const { authorizer } = resolved;
    const principal = req.principal!;
    if (options.checkBody === true) {
      await checkBodyFields(authorizer, principal, action, resolved.resource, req.body, context);
    }
    if (filters) {
      const json = res.json.bind(res);
      // res.send(object) goes through res.json too. The filtered body is sent once it is decided.
      res.json = (body: unknown) => {
        filterResponseFields(authorizer, principal, readAction, resolved.resource, body, context).then(
          (filtered) => json(filtered),
          (err: unknown) => (res.headersSent ? res.destroy() : next(err)),
        );
        return res;
      };
    }
  }
}
