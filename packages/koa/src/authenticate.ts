import {
  BearerAuthenticator,
  markPrivateResponse,
  type BearerAuthenticatorOptions,
} from '@bulwark/core/http';
import type { Context, Middleware, Next } from 'koa';
import { bulwarkState, requestState, type BulwarkState } from './request-state';

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
 * Bearer JWT authentication through the core TokenService, for the `schemes` given (default
 * `['Bearer']`). Sets `ctx.state.principal` (a request without an Authorization header that a
 * signed-in `session()` already authenticated passes); failures become 401 with
 * `WWW-Authenticate: <scheme> realm="...", error="invalid_token"` (no credential of an accepted
 * scheme: a challenge without `error`; a malformed one: 400 with `error="invalid_request"`). With
 * `optional`, a header the route does not need (another scheme, malformed) is ignored; a token of
 * an accepted scheme that fails verification is still refused.
 */
export function authenticate(options: AuthenticateOptions): Middleware {
  const { authenticator, optional, noStore, scheme } = BearerAuthenticator.forStep(options);
  const verify = async (ctx: Context, next: Next, state: BulwarkState): Promise<void> => {
    const principal = await authenticator.authenticate(
      ctx.req.headers.authorization,
      optional || state.principal !== undefined,
    );
    if (principal !== undefined) state.principal = principal;
    if (noStore && state.principal !== undefined) markPrivateResponse(ctx.res);
    await next();
  };
  return (ctx, next) => {
    const state = bulwarkState(ctx);
    requestState(ctx).authScheme = scheme;
    // A principal set by an earlier step (a signed-in `session()`) authenticates a request that
    // carries no Authorization header; a token of an accepted scheme, when sent, is always the one
    // verified (another scheme's credential, or a malformed one, leaves the session in charge).
    if (state.principal === undefined || ctx.req.headers.authorization !== undefined) {
      // A token verified moments ago (cached), or plainly valid for the synchronous check: the
      // same principal as authenticate() gives, without awaiting a promise.
      const cached = authenticator.immediatePrincipal(ctx.req.headers.authorization);
      if (cached === undefined) return verify(ctx, next, state);
      state.principal = cached;
    }
    if (noStore && state.principal !== undefined) markPrivateResponse(ctx.res);
    return next();
  };
}
