// @bulwark/koa: Bulwark's core engines as Koa 3 middleware. Each middleware is glue over a
// framework-free core function (see @bulwark/core http), shared with @bulwark/express.
export { bulwark, type BulwarkOptions, type BulwarkMiddleware } from './bulwark';
export { requestId } from './request-id';
export { problemDetails, sendProblem, type ProblemDetailsOptions } from './problem-details';
export { securityHeaders, type SecurityHeadersMiddleware } from './security-headers';
export { inputGuard, type InputGuardMiddleware } from './input-guard';
export { audit, auditActor, auditRoute, type AuditMiddleware } from './audit';
export { authenticate, type AuthenticateOptions } from './authenticate';
export { authorize, type AuthorizeOptions, type ResourceSpec } from './authorize';
export { requireRecentAuth } from './require-recent-auth';
export { csrf, type KoaCsrfOptions, type CsrfMiddleware } from './csrf';
export { session, type SessionMiddleware } from './session';
export { requireConsent } from './require-consent';
export { bruteForce } from './brute-force';
export { clientIp, type BulwarkRequestState, type BulwarkState } from './request-state';
export { privacyRouter } from './privacy-router';
export { allowFields } from './allow-fields';
export { cors } from './cors';
export { fetchMetadata } from './fetch-metadata';
export { rateLimit, type RateLimitMiddleware } from './rate-limit';
export { clearSiteData } from './clear-site-data';
// Requests Node's HTTP parser refuses before any middleware (431, 400) answer problem+json too:
// `handleClientErrors(app.listen(3000))`.
export { handleClientErrors } from '@bulwark/core/http';
export { oidcRouter, type KoaOidcRouterOptions } from './oidc-router';
export { ldapRouter, type LdapRouterOptions, type LdapSignInProvider } from './ldap-router';
export {
  samlRouter,
  type SamlRouterOptions,
  type SamlSessionInfo,
  type SamlSignInProvider,
} from './saml-router';
