import {
  BearerAuthenticator,
  markPrivateResponse,
  type BearerAuthenticatorOptions,
} from '@bulwark/core/http';
import type { RequestHandler } from 'express';
import { requestState } from './request-state';

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
 * Bearer JWT authentication through the core TokenService (algorithm allow-list, signature,
 * exp / nbf / iss / aud), for the `schemes` given (default `['Bearer']`). Sets `req.principal` (a
 * request without an Authorization header that a signed-in `session()` already authenticated
 * passes); failures become 401 with `WWW-Authenticate: <scheme> realm="...", error="invalid_token"`
 * (no credential of an accepted scheme: a challenge without `error`; a malformed one: 400 with
 * `error="invalid_request"`). With `optional`, a header the route does not need (another scheme,
 * malformed) is ignored; a token of an accepted scheme that fails verification is still refused.
 */
export function authenticate(options: AuthenticateOptions): RequestHandler {
  const { authenticator, optional, noStore, scheme } = BearerAuthenticator.forStep(options);
  return (req, res, next) => {
    requestState(req).authScheme = scheme;
    // A principal set by an earlier step (a signed-in `session()`) authenticates a request that
    // carries no Authorization header; a token of an accepted scheme, when sent, is always the one
    // verified (another scheme's credential, or a malformed one, leaves the session in charge).
    if (req.principal !== undefined && req.headers.authorization === undefined) {
      if (noStore) markPrivateResponse(res);
      return next();
    }
    // A token verified moments ago (cached), or plainly valid for the synchronous check: the same
    // principal as authenticate() gives, without a promise per request.
    const cached = authenticator.immediatePrincipal(req.headers.authorization);
    if (cached !== undefined) {
      req.principal = cached;
      if (noStore) markPrivateResponse(res);
      return next();
    }
    const orSession = optional || req.principal !== undefined;
    authenticator.authenticate(req.headers.authorization, orSession).then((principal) => {
      if (principal !== undefined) req.principal = principal;
      // A session principal kept beside another scheme's credential is as personal: no-store too.
      if (noStore && req.principal !== undefined) markPrivateResponse(res);
      next();
    }, next);
  };
}
