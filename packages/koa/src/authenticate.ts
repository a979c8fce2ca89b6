import { BearerAuthenticator, type BearerAuthenticatorOptions } from '@bulwark/core/http';
import type { Middleware } from 'koa';
import { bulwarkState } from './request-state';

export interface AuthenticateOptions extends BearerAuthenticatorOptions {
  /** Let requests without any Authorization header through without a principal. Default false. */
  optional?: boolean;
}

/**
 * Bearer JWT authentication through the core TokenService. Sets `ctx.state.principal` (a request
 * without an Authorization header that a signed-in `session()` already authenticated passes); failures
 * become 401 with `WWW-Authenticate: Bearer error="invalid_token"` (no credential: a plain challenge).
 */
export function authenticate(options: AuthenticateOptions): Middleware {
  const authenticator = new BearerAuthenticator(options);
  const optional = options.optional === true;
  return async (ctx, next) => {
    const state = bulwarkState(ctx);
    // A principal set by an earlier step (a signed-in `session()`) authenticates a request that
    // carries no Authorization header; a bearer token, when sent, is always the one verified.
    if (state.principal === undefined || ctx.req.headers.authorization !== undefined) {
      const principal = await authenticator.authenticate(ctx.req.headers.authorization, optional);
      if (principal !== undefined) state.principal = principal;
    }
    await next();
  };
}
