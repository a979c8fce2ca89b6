import { RequestAuditor, type RequestAuditorOptions } from '@bulwark/core';
import type { Context, Middleware } from 'koa';
import { bulwarkState, requestState } from './request-state';

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

/**
 * One audit event per request, recorded when the response is done (outcome from the final status:
 * 2xx/3xx success, 401/403 denied, else failure). The event is handed to the AuditLog without
 * waiting: the log group-commits it with the other requests of the same tick, off the response path.
 */
export function audit(options: RequestAuditorOptions): AuditMiddleware {
  const auditor = new RequestAuditor(options);
  const middleware: Middleware = (ctx, next) => {
    const start = performance.now();
    const res = ctx.res;
    res.once('close', () => {
      const state = requestState(ctx);
      const { principal, requestId } = bulwarkState(ctx);
      const userAgent = ctx.req.headers['user-agent'];
      auditor.record({
        method: ctx.method,
        route: route(ctx),
        // A response the client abandoned before it finished: 499 (nginx's "client closed request").
        status: res.writableFinished ? res.statusCode : 499,
        latencyMs: performance.now() - start,
        ...(requestId !== undefined ? { requestId } : {}),
        ...(principal !== undefined ? { principal } : {}),
        ...(ctx.ip ? { ip: ctx.ip } : {}),
        ...(userAgent !== undefined ? { userAgent } : {}),
        ...(state.resource !== undefined ? { resource: state.resource } : {}),
        ...(state.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
        ...(state.errorReason !== undefined ? { errorReason: state.errorReason } : {}),
        ...(state.reasonId !== undefined ? { reasonId: state.reasonId } : {}),
      });
    });
    return next();
  };
  return Object.assign(middleware, { auditor, close: () => auditor.close() });
}
