import { BearerAuthenticator, type BearerAuthenticatorOptions } from '@bulwark/core/http';
import type { RequestHandler } from 'express';

export interface AuthenticateOptions extends BearerAuthenticatorOptions {
  /** Let requests without any Authorization header through without a principal. Default false. */
  optional?: boolean;
}

/**
 * Bearer JWT authentication through the core TokenService (algorithm allow-list, signature,
 * exp / nbf / iss / aud). Sets `req.principal`; failures become 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` (no credential: a plain Bearer challenge).
 */
export function authenticate(options: AuthenticateOptions): RequestHandler {
  const authenticator = new BearerAuthenticator(options);
  const optional = options.optional === true;
  return (req, _res, next) => {
    authenticator.authenticate(req.headers.authorization, optional).then((principal) => {
      if (principal !== undefined) req.principal = principal;
      next();
    }, next);
  };
}
