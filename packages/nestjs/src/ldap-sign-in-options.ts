import type { HttpPrincipal } from './core-http';

/** Injection token of the LDAP sign-in options. */
export const LDAP_SIGN_IN_OPTIONS = Symbol('bulwark:ldap-sign-in-options');

/** What the controller needs of `LdapAuthenticator` (@bulwark/identity/ldap). */
export interface LdapSignInProvider {
  authenticate(
    credentials: { username: string; password: string },
    request: { ip?: string; userAgent?: string; requestId?: string },
  ): Promise<HttpPrincipal>;
}

export interface LdapSignInOptions {
  readonly ldap: LdapSignInProvider;
  /**
   * Issues the app's session or token (`res` is the platform response: set a cookie on it, or
   * return a token). The return value is the response body; undefined answers `{ id, roles }`.
   */
  readonly onSignIn: (principal: HttpPrincipal, context: { req: unknown; res: unknown }) => unknown;
}
