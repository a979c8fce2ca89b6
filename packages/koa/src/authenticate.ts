import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import {
  BearerAuthenticator,
  markPrivateResponse,
  type BearerAuthenticatorOptions,
} from '@bulwark/core/http';
import type { Middleware } from 'koa';
import { bulwarkState } from './request-state';

export interface AuthenticateOptions extends BearerAuthenticatorOptions {
  /** Let requests without any Authorization header through without a principal. Default false. */
  optional?: boolean;
  /**
   * `Cache-Control: no-store` on every authenticated response unless the handler sets its own
   * (ASVS 5.0 V14.3.2: private data stays out of shared and browser caches). Default true.
   */
  noStore?: boolean;
}

/**
 * Bearer JWT authentication through the core TokenService. Sets `ctx.state.principal`; failures
 * become 401 with `WWW-Authenticate: Bearer error="invalid_token"` (no credential: a plain challenge).
 */
export function authenticate(options: AuthenticateOptions): Middleware {
  const authenticator = new BearerAuthenticator(options);
  const optional = options.optional === true;
  if (options.noStore !== undefined && typeof options.noStore !== 'boolean') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authenticate.noStore must be a boolean', {
      path: 'authenticate.noStore',
    });
  }
  const noStore = options.noStore !== false;
  return async (ctx, next) => {
    const principal = await authenticator.authenticate(ctx.req.headers.authorization, optional);
    if (principal !== undefined) {
      bulwarkState(ctx).principal = principal;
      if (noStore) markPrivateResponse(ctx.res);
    }
    await next();
  };
}
