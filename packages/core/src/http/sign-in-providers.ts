import type { HttpPrincipal } from './http-principal';

/** The request facts a sign-in path records (never the credential). */
export interface SignInRequestFacts {
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

/** What the adapters' LDAP routes need of `LdapAuthenticator` (@bulwark/identity/ldap). */
export interface LdapSignInProvider {
  authenticate(
    credentials: { username: string; password: string },
    request: SignInRequestFacts,
  ): Promise<HttpPrincipal>;
}

/** A SAML NameID and session, for single logout. */
export interface SamlSessionInfo {
  readonly nameId: string;
  readonly nameIdFormat: string;
  readonly sessionIndex?: string;
}

/** What the adapters' SAML routes need of `SamlServiceProvider` (@bulwark/identity/saml). */
export interface SamlSignInProvider {
  metadata(): string;
  loginUrl(relayState?: string): Promise<string>;
  acs(
    body: unknown,
    request: SignInRequestFacts,
  ): Promise<{ principal: HttpPrincipal; relayState?: string; session: SamlSessionInfo }>;
  logoutUrl(session: SamlSessionInfo, relayState?: string): Promise<string>;
  logoutResponse(body: unknown): Promise<void>;
  logoutRequest(body: unknown): Promise<{ session: SamlSessionInfo; responseUrl: string }>;
}
