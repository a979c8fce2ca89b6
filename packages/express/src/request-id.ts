import { REQUEST_ID_HEADER, requestIdFrom } from '@bulwark/core';
import type { RequestHandler } from 'express';

/** Reuses a safe incoming X-Request-Id or mints a UUID; sets `req.requestId` and echoes the header. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
}
