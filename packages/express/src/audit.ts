import {
  RequestAuditor,
  addRouteAuditMarks,
  checkAuditActor,
  checkRouteAuditMarks,
  watchRequestAudit,
  type RouteAuditMarks,
  type RequestAuditorOptions,
} from '@bulwark/core/http';
import type { Request, RequestHandler, Response } from 'express';
import { requestArrival, requestState } from './request-state';

export type AuditMiddleware = RequestHandler & {
  readonly auditor: RequestAuditor;
  /** Waits until every recorded event is stored; call on shutdown before closing the AuditLog. */
  close(): Promise<void>;
};

function route(req: Request): string {
  return req.route?.path !== undefined ? `${req.baseUrl}${String(req.route.path)}` : req.path;
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
    watchRequestAudit(auditor, res, {
      method: req.method,
      arrival: requestArrival(req),
      route: () => route(req),
      requestId: () => req.requestId,
      principal: () => req.principal,
      state: () => requestState(req),
    });
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
  return (req, _res, next) => {
    const state = requestState(req);
    state.audit = addRouteAuditMarks(state.audit, marks);
    next();
  };
}
