// Framework-free HTTP logic shared by @bulwark/express and @bulwark/koa: adapters pass plain
// request data in and map the plain results (or BulwarkHttpError) to their framework.
export { BulwarkHttpError } from './bulwark-http-error';
export {
  problemFor,
  problemStatus,
  refusalReason,
  problemType,
  problemSlug,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
  writeNodeProblem,
  type ProblemDetails,
  type ProblemResponse,
  type ProblemContext,
} from './problem-details';
export { newRequestId, clientRequestIdFrom, requestIdFrom, REQUEST_ID_HEADER } from './request-id';
export { TrustedProxies, trustProxyFromEnv, type TrustProxyOption } from './trusted-proxies';
export {
  captureRequestArrival,
  type ArrivingRequest,
  type RequestArrival,
  type RequestIdOptions,
} from './request-arrival';
export { readBoundedBody, type BodyStream } from './read-bounded-body';
export { lingerOnUnreadBody, UNREAD_BODY_LINGER_MS, type UnreadBodyExchange } from './linger-on-unread-body';
export { handleClientErrors } from './handle-client-errors';
export { readCookie, serializeCookie, checkCookieOptions, type CookieOptions } from './cookies';
export {
  CsrfTokens,
  readCsrfToken,
  csrfError,
  CSRF_SAFE_METHODS,
  type CsrfTokensOptions,
  type CsrfRequest,
  type CsrfCookieOptions,
} from './csrf-tokens';
export { CsrfProtection, CsrfTokenIssuer, type CsrfOptions, type CsrfTokenAccess } from './csrf-protection';
export {
  InputGuard,
  checkResourceId,
  type InputGuardOptions,
  type GuardedRequestHead,
  type InputGuardDescription,
} from './input-guard';
export { bodyParserError } from './body-parser-error';
export { fastifyFrameworkError } from './fastify-framework-error';
export type { HttpPrincipal } from './http-principal';
export {
  BearerAuthenticator,
  type BearerAuthenticatorOptions,
  type BearerTokenVerifier,
  type BearerRevocationCheck,
} from './bearer-authenticator';
export {
  authorizeRequest,
  authorizeRequestNow,
  requirePrincipal,
  type AuthorizeStepUp,
  denialExplanation,
  explainDenialsByDefault,
  noteDenial,
} from './authorize-request';
export { checkBodyFields, filterResponseFields } from './authorize-fields';
export {
  requireStepUp,
  enforceMfaPolicy,
  stepUpRequirement,
  stepUpRequired,
  STEP_UP_REASON_ID,
  type StepUpRequirement,
  type PrincipalMfaPolicy,
} from './step-up';
export { tokenAuthentication } from './token-authentication';
export {
  authorizeStepUpOptions,
  checkAuthorizeArgs,
  resolveAuthorization,
  resolveAuthorizationNow,
  resolveHttpResource,
  type HttpAuthorizeOptions,
  type HttpResourceSpec,
  type RouteStepUp,
  type ResolvedAuthorization,
} from './http-resource-spec';
export { requestAuditEvent, outcomeFromStatus, type RequestAuditFacts } from './request-audit';
export { RequestAuditor, type RequestAuditorOptions, type RequestAuditLog } from './request-auditor';
export {
  auditFailurePolicy,
  checkRouteAuditMarks,
  holdResponseUntilAudited,
  isClassifiedCategory,
  AUDIT_FAILURE_POLICIES,
  type AuditFailurePolicy,
  type AuditHoldOptions,
  type RouteAuditMarks,
} from './request-audit-hold';
export {
  watchRequestAudit,
  addRouteAuditMarks,
  markRouteAudit,
  checkAuditActor,
  type AuditActorId,
  type AuditedRequest,
  type AuditedRequestState,
  type HttpRequestState,
} from './watch-request-audit';
export {
  SECURITY_HEADER_DEFAULTS,
  securityHeaderOptions,
  captureHeaders,
  buildSecurityHeaders,
  recordHeaderWrites,
  writeHeaders,
  type HeaderWrite,
  type SecurityHeaderOptions,
} from './security-header-options';
export {
  checkConsentPurpose,
  checkRequireConsent,
  consentCheckerFor,
  requireConsentFor,
  type ConsentChecker,
} from './require-consent-check';
export {
  BruteForceGate,
  lockedOut,
  type BruteForceChallengeRequest,
  type BruteForceGateOptions,
  type BruteForceLimiter,
  type BruteForceTicket,
} from './brute-force-gate';
export { httpAppEvidence, HttpTrafficRecorder, type HttpTrafficRecorderOptions } from './http-app-evidence';
export type { HttpAppEvidence } from '../compliance/evidence';
export type { BulwarkHttpKit } from './http-kit';
export {
  PrivacyApi,
  type PrivacyApiOptions,
  type PrivacyApiRequest,
  type PrivacyApiResponse,
} from './privacy-api';
export {
  PrivacyEndpoint,
  type PrivacyEndpointRequest,
  type PrivacyEndpointResponder,
} from './privacy-endpoint';
export {
  planBulwarkBundle,
  kitService,
  isPublicPath,
  type BulwarkBundleApi,
  type BulwarkBundleOptions,
  type BulwarkBundlePlan,
  type BulwarkBundleStep,
} from './plan-bulwark-bundle';
export { assembleBundleSteps, type BundleStepFactories, type BundleSteps } from './assemble-bundle-steps';
export { BodyAllowlist, type BodyAllowlistOptions } from './body-allowlist';
export { CorsPolicy, mergeVary, type CorsOptions, type CorsRequest, type CorsDecision } from './cors-policy';
export {
  FetchMetadataPolicy,
  type FetchMetadataOptions,
  type FetchMetadataRequest,
} from './fetch-metadata-policy';
export {
  RequestRateLimiter,
  rateLimitHeaders,
  type RateLimitOptions,
  type RateLimitWindow,
  type RateLimitSubject,
  type RateLimitOutcome,
} from './request-rate-limiter';
export {
  markPrivateResponse,
  clearSiteDataValue,
  type ClearSiteDataType,
  type ResponseHeaders,
} from './private-responses';
export { safeRedirectPath } from './safe-redirect-path';
export { detachExpressRequestShape } from './express-object-shape';
export type {
  LdapSignInProvider,
  SamlSessionInfo,
  SamlSignInProvider,
  SignInRequestFacts,
} from './sign-in-providers';
