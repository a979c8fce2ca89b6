import type { AuthzSubject } from '../authz/authorizer';
import type { PrincipalAuthentication } from '../identity/authentication';
import type { TokenClaims } from '../tokens/token-service';

/**
 * The authenticated caller, as adapters put it on `req.principal` / `ctx.state.principal`. It is
 * an `AuthzSubject` (id + roles + attributes), so it goes to any Authorizer unchanged.
 */
export interface HttpPrincipal extends AuthzSubject {
  readonly id: string;
  readonly roles: readonly string[];
  readonly type: 'user' | 'service';
  /** The verified token's claims (for app code; never logged by Bulwark). */
  readonly claims: Readonly<TokenClaims>;
  /**
   * How the caller authenticated (path, factors, time of sign-in and of the last second factor).
   * Set by sessions and the sign-in paths; absent on a plain bearer token unless its claims carry
   * `amr` / `auth_time`. MFA enforcement and step-up read it.
   */
  readonly authentication?: PrincipalAuthentication;
}
