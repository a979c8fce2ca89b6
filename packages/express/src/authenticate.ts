import { BearerAuthenticator, type BearerAuthenticatorOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

export interface AuthenticateOptions extends BearerAuthenticatorOptions {
  /** Let requests without any Authorization header through without a principal. Default false. */
  optional?: boolean;
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
  return (req, _res, next) => {
    // A principal set by an earlier step (a signed-in `session()`) authenticates a request that
    // carries no Authorization header; a bearer token, when sent, is always the one verified.
    if (req.principal !== undefined && req.headers.authorization === undefined) return next();
    authenticator.authenticate(req.headers.authorization, optional).then((principal) => {
      if (principal !== undefined) req.principal = principal;
      next();
    }, next);
  };
}
