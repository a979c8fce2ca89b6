import { RequestAuditor, type RequestAuditorOptions } from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { bulwarkState, requestArrival, requestState } from './request-state';

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
 * Who and where from are taken when the request arrives: by 'close' the socket may be destroyed
 * (a client that hung up) and `ctx.ip` would throw. The listener never throws (what it would
 * throw goes to `onError`).
 */
export function audit(options: RequestAuditorOptions): AuditMiddleware {
  const auditor = new RequestAuditor(options);
  const middleware: Middleware = (ctx, next) => {
    const start = performance.now();
    const res = ctx.res;
    const arrival = requestArrival(ctx);
    res.once(
      'close',
      auditor.listener(() => {
        const state = requestState(ctx);
        const { principal, requestId } = bulwarkState(ctx);
        auditor.record({
          method: ctx.method,
          route: route(ctx),
          // A response the client abandoned before it finished: 499 (nginx's "client closed request").
          status: res.writableFinished ? res.statusCode : 499,
          latencyMs: performance.now() - start,
          requestId: requestId ?? arrival.requestId,
          ...(arrival.clientRequestId !== undefined ? { clientRequestId: arrival.clientRequestId } : {}),
          ...(principal !== undefined ? { principal } : {}),
          ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
          ...(arrival.userAgent !== undefined ? { userAgent: arrival.userAgent } : {}),
          ...(state.resource !== undefined ? { resource: state.resource } : {}),
          ...(state.errorCode !== undefined ? { errorCode: state.errorCode } : {}),
          ...(state.errorReason !== undefined ? { errorReason: state.errorReason } : {}),
          ...(state.reasonId !== undefined ? { reasonId: state.reasonId } : {}),
        });
      }),
    );
    return next();
  };
  return Object.assign(middleware, { auditor, close: () => auditor.close() });
}
