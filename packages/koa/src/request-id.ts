import { REQUEST_ID_HEADER, requestIdFrom } from '@bulwark/core';
import type { Middleware } from 'koa';
import { bulwarkState } from './request-state';

/** Reuses a safe incoming X-Request-Id or mints a UUID; sets `ctx.state.requestId` and echoes the header. */
export function requestId(): Middleware {
  return (ctx, next) => {
    const id = requestIdFrom(ctx.req.headers[REQUEST_ID_HEADER]);
    bulwarkState(ctx).requestId = id;
    ctx.res.setHeader('X-Request-Id', id);
    return next();
  };
}
