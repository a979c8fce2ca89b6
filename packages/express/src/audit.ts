import {
  RequestAuditor,
  checkRouteAuditMarks,
  holdResponseUntilAudited,
  type RequestAuditFacts,
  type RouteAuditMarks,
  type RequestAuditorOptions,
} from '@bulwark/core/http';
import { ErrorCodes } from '@bulwark/core';
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
    const start = performance.now();
    const arrival = requestArrival(req);
    const facts = (status: number): RequestAuditFacts => {
      const state = requestState(req);
      return {
        method: req.method,
        route: route(req),
        status,
        latencyMs: performance.now() - start,
        requestId: req.requestId ?? arrival.requestId,
        ...(arrival.clientRequestId !== undefined ? { clientRequestId: arrival.clientRequestId } : {}),
        ...(req.principal !== undefined ? { principal: req.principal } : {}),
        ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
        ...(arrival.userAgent !== undefined ? { userAgent: arrival.userAgent } : {}),
        ...(state.resource !== undefined ? { resource: state.resource } : {}),
        ...(state.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
        ...(state.errorReason !== undefined ? { errorReason: state.errorReason } : {}),
        ...(state.reasonId !== undefined ? { reasonId: state.reasonId } : {}),
        ...(state.audit?.action !== undefined ? { action: state.audit.action } : {}),
        ...(state.audit?.category !== undefined ? { category: state.audit.category } : {}),
      };
    };
    let recorded = false;
    holdResponseUntilAudited(res, {
      shouldHold: () => auditor.policy(requestState(req).audit ?? {}) === 'fail-closed',
      store: (status) => {
        recorded = true;
        return auditor.store(facts(status));
      },
      requestId: req.requestId ?? arrival.requestId,
      timeoutMs: auditor.holdTimeoutMs,
      onRefused: () => {
        auditor.noteRefused();
        requestState(req).errorCode = ErrorCodes.AUDIT_UNAVAILABLE;
      },
    });
    res.once(
      'close',
      auditor.listener(() => {
        if (recorded) return;
        // A response the client abandoned before it finished: 499 (nginx's "client closed request").
        auditor.record(facts(res.writableFinished ? res.statusCode : 499));
      }),
    );
    next();
  };
  return Object.assign(middleware, { auditor, close: () => auditor.close() });
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
    state.audit = {
      ...state.audit,
      ...marks,
      classified: state.audit?.classified === true || marks.classified === true,
    };
    next();
  };
}
