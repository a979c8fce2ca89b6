import { RequestAuditor, type RequestAuditorOptions } from '@bulwark/core';
import type { Request, RequestHandler, Response } from 'express';
import { requestState } from './request-state';

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
 */
export function audit(options: RequestAuditorOptions): AuditMiddleware {
  const auditor = new RequestAuditor(options);
  const middleware: RequestHandler = (req, res: Response, next) => {
    const start = performance.now();
    res.once('close', () => {
      const state = requestState(req);
      auditor.record({
        method: req.method,
        route: route(req),
        // A response the client abandoned before it finished: 499 (nginx's "client closed request").
        status: res.writableFinished ? res.statusCode : 499,
        latencyMs: performance.now() - start,
        ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
        ...(req.principal !== undefined ? { principal: req.principal } : {}),
        ...(req.ip !== undefined ? { ip: req.ip } : {}),
        ...(req.headers['user-agent'] !== undefined ? { userAgent: req.headers['user-agent'] } : {}),
        ...(state.resource !== undefined ? { resource: state.resource } : {}),
        ...(state.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
        ...(state.errorReason !== undefined ? { errorReason: state.errorReason } : {}),
        ...(state.reasonId !== undefined ? { reasonId: state.reasonId } : {}),
      });
    });
    next();
  };
  return Object.assign(middleware, { auditor, close: () => auditor.close() });
}
