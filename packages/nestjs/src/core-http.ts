/**
 * The framework-free HTTP helpers of @bulwark/core (problem details, bearer authentication,
 * authorization, consent checks, request audit) that this adapter maps to NestJS.
 */
export {
  BearerAuthenticator,
  BulwarkHttpError,
  PROBLEM_CONTENT_TYPE,
  REQUEST_ID_HEADER,
  RequestAuditor,
  authorizeRequest,
  checkConsentPurpose,
  checkResourceId,
  problemFor,
  refusalReason,
  TrustedProxies,
  captureRequestArrival,
  requireConsentFor,
  // Deprecated (it no longer adopts the header); kept so code importing it still builds.
  requestIdFrom,
  type BearerAuthenticatorOptions,
  type BearerTokenVerifier,
  type ConsentChecker,
  type HttpPrincipal,
  type ProblemResponse,
  type RequestAuditFacts,
  type RequestAuditLog,
  type RequestArrival,
  type TrustProxyOption,
} from '@bulwark/core';
