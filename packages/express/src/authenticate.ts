import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import {
  BearerAuthenticator,
  markPrivateResponse,
  type BearerAuthenticatorOptions,
} from '@bulwark/core/http';
import type { RequestHandler } from 'express';

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
 * exp / nbf / iss / aud). Sets `req.principal` (a request without an Authorization header that
 * a signed-in `session()` already authenticated passes); failures become 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` (no credential: a plain Bearer challenge).
 */
export function authenticate(options: AuthenticateOptions): RequestHandler {
  const authenticator = new BearerAuthenticator(options);
  const optional = options.optional === true;
  if (options.noStore !== undefined && typeof options.noStore !== 'boolean') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authenticate.noStore must be a boolean', {
      path: 'authenticate.noStore',
    });
  }
  const noStore = options.noStore !== false;
  return (req, res, next) => {
    // A principal set by an earlier step (a signed-in `session()`) authenticates a request that
    // carries no Authorization header; a bearer token, when sent, is always the one verified.
    if (req.principal !== undefined && req.headers.authorization === undefined) {
      if (noStore) markPrivateResponse(res);
      return next();
    }
    authenticator.authenticate(req.headers.authorization, optional).then((principal) => {
      if (principal !== undefined) {
        req.principal = principal;
        if (noStore) markPrivateResponse(res);
      }
      next();
    }, next);
  };
}
