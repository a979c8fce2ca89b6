import type { ModuleMetadata } from '@nestjs/common';
import type { HttpPrincipal } from '@bulwark/core';
import type { OidcRelyingParty, OidcSignIn } from '@bulwark/identity/oidc';
import type { PlatformRequest, PlatformResponse } from './request-tracking';

/** Injection token of the resolved BulwarkOidcModule options. */
export const BULWARK_OIDC_OPTIONS = Symbol.for('bulwark.nestjs.oidc-options');

/** What the app does when a user signs in or out through OpenID Connect. */
export interface BulwarkOidcOptions {
  /** The relying party (`new OidcRelyingParty(...)` from @bulwark/identity/oidc). */
  relyingParty: OidcRelyingParty;
  /**
   * Issue the app's session or token for `principal` (keep `signIn.tokens` and
   * `signIn.sessionId` server side for refresh and back-channel logout). Without a response
   * written, the browser is then redirected (303) to the login's `returnTo`.
   */
  onSignIn(
    principal: HttpPrincipal,
    context: { req: PlatformRequest; res: PlatformResponse; signIn: OidcSignIn },
  ): unknown;
  /**
   * `POST <path>/logout`: end the app's session; return the signed-out principal (audited as
   * `auth.logout`) and the ID token kept at sign-in. Without it the route answers 404.
   */
  onLogout?(context: {
    req: PlatformRequest;
    res: PlatformResponse;
  }):
    | Promise<{ principal?: HttpPrincipal; idToken?: string } | undefined>
    | { principal?: HttpPrincipal; idToken?: string }
    | undefined;
}

export interface BulwarkOidcModuleOptions extends BulwarkOidcOptions {
  /** Controller path of the routes. Default `auth/oidc`. */
  path?: string;
}

export interface BulwarkOidcModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Controller path of the routes (routes are fixed before the factory runs). Default `auth/oidc`. */
  path?: string;
  inject?: unknown[];
  useFactory(...args: never[]): BulwarkOidcOptions | Promise<BulwarkOidcOptions>;
}
