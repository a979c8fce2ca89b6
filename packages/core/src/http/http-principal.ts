import type { AuthzSubject } from '../authz/authorizer';
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
}
