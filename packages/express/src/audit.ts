import { RequestAuditor, type RequestAuditorOptions } from '@bulwark/core/http';
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
 */
export function audit(options: RequestAuditorOptions): AuditMiddleware {
  const auditor = new RequestAuditor(options);
  const middleware: RequestHandler = (req, res: Response, next) => {
    const start = performance.now();
    const arrival = requestArrival(req);
    res.once(
      'close',
      auditor.listener(() => {
        const state = requestState(req);
        auditor.record({
          method: req.method,
          route: route(req),
          // A response the client abandoned before it finished: 499 (nginx's "client closed request").
          status: res.writableFinished ? res.statusCode : 499,
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
        });
      }),
    );
    next();
  };
  return Object.assign(middleware, { auditor, close: () => auditor.close() });
}
