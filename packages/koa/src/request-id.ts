import { TrustedProxies, type RequestIdOptions } from '@bulwark/core/http';
import type { Middleware } from 'koa';
import { bulwarkState, requestArrival, requestState } from './request-state';

/**
 * Takes the request's arrival facts: a server-generated request id (set as `ctx.state.requestId`
 * and echoed in X-Request-Id; a client's own X-Request-Id is kept apart, as `clientRequestId` in
 * the audit event), the client address under `trustProxy`, the user agent. First in the bundle.
 */
export function requestId(options: RequestIdOptions = {}): Middleware {
  const proxies = TrustedProxies.from(options.trustProxy, 'requestId.trustProxy');
  return (ctx, next) => {
    // A fresh capture: an arrival taken earlier without this step's proxies is replaced.
    requestState(ctx).arrival = undefined;
    const { requestId: id } = requestArrival(ctx, proxies);
    bulwarkState(ctx).requestId = id;
    ctx.res.setHeader('X-Request-Id', id);
    return next();
  };
}
