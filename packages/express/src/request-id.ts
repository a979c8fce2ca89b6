import { TrustedProxies, type RequestIdOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';
import { requestArrival, requestState } from './request-state';

/**
 * Takes the request's arrival facts: a server-generated request id (set as `req.requestId` and
 * echoed in X-Request-Id; a client's own X-Request-Id is kept apart, as `clientRequestId` in the
 * audit event), the client address under `trustProxy`, the user agent. First in the bundle.
 */
export function requestId(options: RequestIdOptions = {}): RequestHandler {
  const proxies = TrustedProxies.from(options.trustProxy, 'requestId.trustProxy');
  return (req, res, next) => {
    // A fresh capture: an arrival taken earlier without this step's proxies is replaced.
    requestState(req).arrival = undefined;
    const { requestId: id } = requestArrival(req, proxies);
    req.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}
