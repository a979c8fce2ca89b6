import {
  BulwarkConfigError,
  ErrorCodes,
  captureHeaders,
  securityHeaderOptions,
  type SecurityHeaderOptions,
} from '@bulwark/core';
import helmet, { type HelmetOptions } from 'helmet';
import type { Middleware } from 'koa';

export type SecurityHeadersMiddleware = Middleware & {
  /** The headers this middleware sets (compliance evidence). */
  readonly headers: Readonly<Record<string, string>>;
};

/**
 * helmet itself, called with Koa's raw req/res, with Bulwark's strict defaults: the Express and Koa
 * adapters send the same headers from the same code.
 */
export function securityHeaders(options: SecurityHeaderOptions = {}): SecurityHeadersMiddleware {
  let helmetMw: ReturnType<typeof helmet>;
  try {
    helmetMw = helmet(securityHeaderOptions(options) as HelmetOptions);
  } catch (err) {
    if (err instanceof BulwarkConfigError) throw err;
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `securityHeaders: ${(err as Error).message}`, {
      path: 'securityHeaders',
    });
  }
  // helmet's middleware is synchronous and calls next() before returning.
  const middleware: Middleware = (ctx, next) => {
    helmetMw(ctx.req, ctx.res, noop);
    return next();
  };
  return Object.assign(middleware, { headers: captureHeaders(helmetMw as never) });
}

function noop(): void {}
