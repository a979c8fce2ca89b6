import type { HttpPrincipal } from './core-http';

/** Injection token of the SAML sign-in options. */
export const SAML_SIGN_IN_OPTIONS = Symbol('bulwark:saml-sign-in-options');

/** A SAML NameID and session, for single logout. */
export interface SamlSessionInfo {
  readonly nameId: string;
  readonly nameIdFormat: string;
  readonly sessionIndex?: string;
}

/** What the controller needs of `SamlServiceProvider` (@bulwark/identity/saml). */
export interface SamlSignInProvider {
  metadata(): string;
  loginUrl(relayState?: string): Promise<string>;
  acs(
    body: unknown,
    request: { ip?: string; userAgent?: string; requestId?: string },
  ): Promise<{ principal: HttpPrincipal; relayState?: string; session: SamlSessionInfo }>;
  logoutUrl(session: SamlSessionInfo, relayState?: string): Promise<string>;
  logoutResponse(body: unknown): Promise<void>;
  logoutRequest(body: unknown): Promise<{ session: SamlSessionInfo; responseUrl: string }>;
}

export interface SamlSignInOptions {
  readonly saml: SamlSignInProvider;
  /** Issues the app's session (keep `session` with it for single logout); then 303 to the RelayState path. */
  readonly onSignIn: (
    principal: HttpPrincipal,
    context: { req: unknown; res: unknown; session: SamlSessionInfo },
  ) => unknown;
  /** The signed-in user's SAML session, enabling `GET /auth/saml/logout`. */
  readonly sessionOf?: (req: unknown) => SamlSessionInfo | undefined;
  /**
   * Ends the app's session: at `GET /logout` before the redirect to the IdP (the user asked to
   * sign out; the IdP may never answer), and again when the IdP confirms (so keep it idempotent).
   */
  readonly onSignOut?: (context: { req: unknown; res: unknown }) => unknown;
  /** IdP-initiated single logout: end the app sessions of this NameID / SessionIndex (see @bulwark/express). */
  readonly onIdpLogout?: (session: SamlSessionInfo, context: { req: unknown; res: unknown }) => unknown;
}
