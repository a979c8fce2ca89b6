export type OpenIdClient = typeof import('openid-client');
export type { Configuration, TokenEndpointResponse, TokenEndpointResponseHelpers } from 'openid-client';

let loaded: OpenIdClient | undefined;

/**
 * openid-client, loaded by the first OIDC operation. It is ESM-only (v6) and reaches this CommonJS
 * build through Node's require(esm) (Node >= 20.19), like jose in @bulwark/core; it is an optional
 * peer dependency, needed only by apps that use `@bulwark/identity/oidc`.
 */
export function openidClient(): OpenIdClient {
  return (loaded ??= require('openid-client') as OpenIdClient);
}
