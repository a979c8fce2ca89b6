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
  type RouteAuditMarks,
  type RequestAuditorOptions,
} from '@bulwark/core/http';
import type { Request, RequestHandler, Response } from 'express';
import { requestArrival, requestState, type BulwarkRequestState } from './request-state';

export type AuditMiddleware = RequestHandler & {
  readonly auditor: RequestAuditor;
  /** Waits until every recorded event is stored; call on shutdown before closing the AuditLog. */
  close(): Promise<void>;
};

/** Where `auditRoute` keeps its marks on the handler it returns, for `routeMarksFor`. */
const ROUTE_MARKS = Symbol.for('bulwark.express.route-audit-marks');

type Handle = ((...args: never[]) => unknown) & { [ROUTE_MARKS]?: RouteAuditMarks; stack?: unknown };
interface LayerLike {
  route?: {
    stack?: readonly { handle?: Handle }[];
    _handlesMethod?(m: string): boolean;
    _handles_method?(m: string): boolean;
  };
  handle?: Handle;
  path?: string;
  /** Express 5's router answers the match (`{ path, params }`) or false; Express 4's a boolean, keeping the matched path in `layer.path`. */
  match?(path: string): boolean | { path?: string };
}

/**
 * The `auditRoute` marks of the route a request is for, found in the app's router (sub-routers
 * included) when the request never reached it: the bundle's authenticate, CSRF or input guard
 * refused it first. The marks of the first route that matches method and path, in registration
 * order, as Express dispatches (a matching route without marks ends the search: another route's
 * action must never label this request); undefined when it has none, when no route matches, or the
 * router is of another shape; never throws.
 */
function routeMarksFor(req: Request): RouteAuditMarks | undefined {
  if (req.route !== undefined) return undefined; // routed: its markers ran, or it has none
  const app = req.app as unknown as
    { router?: { stack?: LayerLike[] }; _router?: { stack?: LayerLike[] } } | undefined;
  const method = req.method.toLowerCase();
  // null: the first matching route was found and has no marks (stop); undefined: none matched yet.
  const scan = (
    stack: readonly LayerLike[] | undefined,
    path: string,
    depth: number,
  ): RouteAuditMarks | null | undefined => {
    if (stack === undefined || depth > 8) return undefined;
    for (const layer of stack) {
      if (typeof layer.match !== 'function') continue;
      if (layer.route !== undefined) {
        const route = layer.route;
        const handles = route._handlesMethod?.(method) ?? route._handles_method?.(method) ?? false;
        if (!handles || !layer.match(path)) continue;
        let marks: RouteAuditMarks | undefined;
        for (const l of route.stack ?? []) {
          const m = l.handle?.[ROUTE_MARKS];
          if (m !== undefined) marks = addRouteAuditMarks(marks, m);
        }
        return marks ?? null;
      } else if (Array.isArray(layer.handle?.stack)) {
        const matched = layer.match(path);
        if (matched === false) continue;
        // A mounted router: the rest of the path below the part its layer matched.
        const prefix = typeof matched === 'object' ? (matched.path ?? '') : (layer.path ?? '');
        const rest = path.slice(prefix.length) || '/';
        const found = scan(
          layer.handle.stack as LayerLike[],
          rest.startsWith('/') ? rest : `/${rest}`,
          depth + 1,
        );
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  try {
    // Express 4 first: its `app.router` getter throws (removed in 4.0); Express 5 has no `_router`.
    return scan(app?._router?.stack ?? app?.router?.stack, req.path, 0) ?? undefined;
  } catch {
    return undefined;
  }
}

function route(req: Request): string {
  return req.route?.path !== undefined ? `${req.baseUrl}${String(req.route.path)}` : req.path;
}

/** How the audit step reads an Express request: one object per request, its methods shared. */
class ExpressAuditedRequest implements AuditedRequest {
  readonly method: string;
  readonly arrival: RequestArrival;
  readonly #req: Request;

  constructor(req: Request) {
    this.#req = req;
    this.method = req.method;
    this.arrival = requestArrival(req);
  }

  route(): string {
    return route(this.#req);
  }

  requestId(): string | undefined {
    return this.#req.requestId;
  }

  principal(): HttpPrincipal | undefined {
    return this.#req.principal;
  }

  state(): BulwarkRequestState {
    return requestState(this.#req);
  }

  routeMarks(): RouteAuditMarks | undefined {
    return routeMarksFor(this.#req);
  }
}

/**
 * One audit event per request, recorded when the response is done (outcome from the final status:
 * 2xx/3xx success, 401/403 denied, else failure). The event is handed to the AuditLog without
 * waiting: the log group-commits it with the other requests of the same tick, off the response path.
 * Who and where from are taken when the request arrives: by 'close' the socket may be destroyed
 * (a client that hung up), and the listener must not touch it. The listener never throws (what
 * it would throw goes to `onError`).
 *
 * A `'fail-closed'` request (see `auditFailurePolicy`: routes marked classified by `auditRoute`,
 * `requireConsent` or a classification category, or every route with `onFailure: 'fail-closed'`)
 * is recorded when its response starts instead, and the response is withheld until the event is
 * durable: if it cannot be stored, the client gets 503 problem+json and nothing the handler wrote.
 */
export function audit(options: RequestAuditorOptions): AuditMiddleware {
  const auditor = new RequestAuditor(options);
  const middleware: RequestHandler = (req, res: Response, next) => {
    watchRequestAudit(auditor, res, new ExpressAuditedRequest(req));
    next();
  };
  return Object.assign(middleware, { auditor, close: () => auditor.close() });
}

/**
 * Names the account this request acted as, for its audit event, when the request has no principal:
 * a login route learns the user only after it checked the password. Call it with the user's id
 * (never the e-mail or user name unless the app classifies them); the event's actor is that id
 * instead of `anonymous`. A principal (a verified token, a signed-in session) always wins.
 */
export function auditActor(req: Request, id: string, type: 'user' | 'service' = 'user'): void {
  requestState(req).actor = checkAuditActor(id, type);
}

/**
 * Route marker for the audit step: the event's action and category, and what happens when it
 * cannot be stored. `app.get('/patients/:id', auditRoute({ category: 'phi' }), handler)` makes
 * the route fail closed: its response is withheld until its event is durable (a classification
 * category, `classified: true`, or `onFailure: 'fail-closed'`; `onFailure: 'report'` serves it
 * unrecorded when the store fails).
 */
export function auditRoute(options: RouteAuditMarks): RequestHandler {
  const marks = checkRouteAuditMarks(options, 'auditRoute');
  const marker: RequestHandler = (req, _res, next) => {
    markRouteAudit(requestState(req), marks);
    next();
  };
  // Found by the audit step when a step before the router refused the request.
  return Object.assign(marker, { [ROUTE_MARKS]: marks });
}
