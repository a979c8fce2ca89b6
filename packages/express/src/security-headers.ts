import {
  BulwarkConfigError,
  ErrorCodes,
  captureHeaders,
  securityHeaderOptions,
  type SecurityHeaderOptions,
} from '@bulwark/core';
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

export type SecurityHeadersMiddleware = RequestHandler & {
  /** The headers this middleware sets (compliance evidence). */
  readonly headers: Readonly<Record<string, string>>;
};

/** helmet with Bulwark's strict defaults (see SECURITY_HEADER_DEFAULTS); options override per header. */
export function securityHeaders(options: SecurityHeaderOptions = {}): SecurityHeadersMiddleware {
  let middleware: ReturnType<typeof helmet>;
  try {
    middleware = helmet(securityHeaderOptions(options) as HelmetOptions);
  } catch (err) {
    if (err instanceof BulwarkConfigError) throw err;
    // helmet validates eagerly too; its message names the bad directive or value.
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `securityHeaders: ${(err as Error).message}`, {
      path: 'securityHeaders',
    });
  }
  return Object.assign(middleware as unknown as RequestHandler, {
    headers: captureHeaders(middleware as never),
  });
}
