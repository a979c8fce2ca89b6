import {
  RequestAuditor,
  addRouteAuditMarks,
  markRouteAudit,
  checkAuditActor,
  checkRouteAuditMarks,
  watchRequestAudit,
  type AuditedRequest,
  type HttpPrincipal,
  type RequestArrival,
  type RequestAuditorOptions,
  type RouteAuditMarks,
} from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { bulwarkState, requestArrival, requestState, type BulwarkRequestState } from './request-state';

/** Where `auditRoute` keeps its marks on the middleware it returns, for `routeMarksFor`. */
const ROUTE_MARKS = Symbol.for('bulwark.koa.route-audit-marks');

interface RouterLike {
  match(
    path: string,
    method: string,
  ): {
    route: boolean;
    pathAndMethod: readonly {
      methods?: readonly string[];
      stack?: readonly { [ROUTE_MARKS]?: RouteAuditMarks }[];
    }[];
  };
}

/**
 * The `auditRoute` marks of the route a request is for, asked of the app's @koa/router routers
 * (`app.use(router.routes())`: the dispatch middleware carries its router) when the request's own
 * markers never ran: the bundle refused it before the router. Only the route @koa/router dispatches
 * to: the first layer with methods that matches method and path, in registration order (`router.use`
 * layers are middleware, not routes); another route's action never labels this request. Undefined
 * when that route has no marks or none matches; never throws.
 */
function routeMarksFor(ctx: Context): RouteAuditMarks | undefined {
  // Routed (@koa/router set the matched pattern): its markers ran, or it has none. As on Express,
  // the routers are asked only for a request a step refused before routing.
  if (typeof (ctx as Context & { _matchedRoute?: unknown })._matchedRoute === 'string') return undefined;
  try {
    for (const mw of (ctx.app as { middleware?: readonly unknown[] }).middleware ?? []) {
      const router = (mw as { router?: RouterLike }).router;
      if (typeof router?.match !== 'function') continue;
      const result = router.match(ctx.path, ctx.method);
      if (!result.route) continue;
      const first = result.pathAndMethod.find((layer) => (layer.methods?.length ?? 0) > 0);
      if (first === undefined) continue;
      let marks: RouteAuditMarks | undefined;
      for (const fn of first.stack ?? []) {
        const m = fn[ROUTE_MARKS];
        if (m !== undefined) marks = addRouteAuditMarks(marks, m);
      }
      return marks;
    }
  } catch {
    // A router of another shape: no marks found, never a failed response.
  }
  return undefined;
}

export type AuditMiddleware = Middleware & {
  readonly auditor: RequestAuditor;
  /** Waits until every recorded event is stored; call on shutdown before closing the AuditLog. */
  close(): Promise<void>;
};

function route(ctx: Context): string {
  // @koa/router records the matched pattern (`/docs/:id`); fall back to the path.
  const matched = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : ctx.path;
}

/** How the audit step reads a Koa request: one object per request, its methods shared. */
class KoaAuditedRequest implements AuditedRequest {
  readonly method: string;
  readonly arrival: RequestArrival;
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.method = ctx.method;
    this.arrival = requestArrival(ctx);
  }

  route(): string {
    return route(this.#ctx);
  }

  requestId(): string | undefined {
    return bulwarkState(this.#ctx).requestId;
  }

  principal(): HttpPrincipal | undefined {
    return bulwarkState(this.#ctx).principal;
  }

  state(): BulwarkRequestState {
    return requestState(this.#ctx);
  }

  routeMarks(): RouteAuditMarks | undefined {
    return routeMarksFor(this.#ctx);
  }
}

/**
 * One audit event per request, recorded when the response is done (outcome from the final status:
 * 2xx/3xx success, 401/403 denied, else failure). The event is handed to the AuditLog without
 * waiting: the log group-commits it with the other requests of the same tick, off the response path.
 * Who and where from are taken when the request arrives: by 'close' the socket may be destroyed
 * (a client that hung up) and `ctx.ip` would throw. The listener never throws (what it would
 * throw goes to `onError`).
 *
 * A `'fail-closed'` request (see `auditFailurePolicy`: routes marked classified by `auditRoute`,
 * `requireConsent` or a classification category, or every route with `onFailure: 'fail-closed'`)
 * is recorded when its response starts instead, and the response is withheld until the event is
 * durable: if it cannot be stored, the client gets 503 problem+json and nothing the handler wrote.
 */
export function audit(options: RequestAuditorOptions): AuditMiddleware {
  const auditor = new RequestAuditor(options);
  const middleware: Middleware = (ctx, next) => {
    watchRequestAudit(auditor, ctx.res, new KoaAuditedRequest(ctx));
    return next();
  };
  return Object.assign(middleware, { auditor, close: () => auditor.close() });
}

/**
 * Names the account this request acted as, for its audit event, when the request has no principal:
 * a login route learns the user only after it checked the password. Call it with the user's id
 * (never the e-mail or user name unless the app classifies them); the event's actor is that id
 * instead of `anonymous`. A principal (a verified token, a signed-in session) always wins.
 */
export function auditActor(ctx: Context, id: string, type: 'user' | 'service' = 'user'): void {
  requestState(ctx).actor = checkAuditActor(id, type);
}

/**
 * Route marker for the audit step: the event's action and category, and what happens when it
 * cannot be stored. `router.get('/patients/:id', auditRoute({ category: 'phi' }), handler)` makes
 * the route fail closed: its response is withheld until its event is durable (a classification
 * category, `classified: true`, or `onFailure: 'fail-closed'`; `onFailure: 'report'` serves it
 * unrecorded when the store fails).
 */
export function auditRoute(options: RouteAuditMarks): Middleware {
  const marks = checkRouteAuditMarks(options, 'auditRoute');
  const marker: Middleware = (ctx, next) => {
    markRouteAudit(requestState(ctx), marks);
    return next();
  };
  // Found by the audit step when a step before the router refused the request.
  return Object.assign(marker, { [ROUTE_MARKS]: marks });
}
