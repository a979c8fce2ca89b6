import type { HttpPrincipal } from './core-http';
import type { SamlSessionInfo, SamlSignInProvider } from './core-http';
export type { SamlSessionInfo, SamlSignInProvider } from './core-http';

/** Injection token of the SAML sign-in options. */
export const SAML_SIGN_IN_OPTIONS = Symbol('bulwark:saml-sign-in-options');

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
