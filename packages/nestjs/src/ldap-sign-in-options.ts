import type { HttpPrincipal } from './core-http';
import type { LdapSignInProvider } from './core-http';
export type { LdapSignInProvider } from './core-http';

/** Injection token of the LDAP sign-in options. */
export const LDAP_SIGN_IN_OPTIONS = Symbol('bulwark:ldap-sign-in-options');

export interface LdapSignInOptions {
  readonly ldap: LdapSignInProvider;
  /**
   * Issues the app's session or token (`res` is the platform response: set a cookie on it, or
   * return a token). The return value is the response body; undefined answers `{ id, roles }`.
   */
  readonly onSignIn: (principal: HttpPrincipal, context: { req: unknown; res: unknown }) => unknown;
}
