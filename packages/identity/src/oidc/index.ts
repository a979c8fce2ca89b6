// @bulwark/identity/oidc: OpenID Connect sign-in (authorization code + PKCE S256) on openid-client.
// The Express, Koa and NestJS routers in the adapter packages are glue over OidcRelyingParty.
export {
  OidcRelyingParty,
  type OidcRequest,
  type OidcLoginRedirect,
  type OidcTokens,
  type OidcSignIn,
  type OidcRelyingPartyDescription,
} from './oidc-relying-party';
export {
  OidcEndpoint,
  type OidcEndpointRequest,
  type OidcEndpointAnswer,
  type OidcEndpointHooks,
} from './oidc-endpoint';
export {
  OIDC_ID_TOKEN_ALGORITHMS,
  type OidcIdTokenAlgorithm,
  type OidcRelyingPartyOptions,
  type OidcBackchannelLogout,
} from './oidc-options';
export { AMR_FACTORS, amrShowsMultiFactor, factorsFromAmr } from './amr-factors';
export { BACKCHANNEL_LOGOUT_EVENT } from './logout-token';
export type { OidcFailureReason } from './oidc-failure';
