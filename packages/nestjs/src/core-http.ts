/**
 * The framework-free HTTP helpers of @bulwark/core (problem details, bearer authentication,
 * authorization, consent checks, request audit) that this adapter maps to NestJS.
 */
export {
  BearerAuthenticator,
  PROBLEM_CONTENT_TYPE,
  REQUEST_ID_HEADER,
  RequestAuditor,
  authorizeRequest,
  checkRouteAuditMarks,
  holdResponseUntilAudited,
  checkConsentPurpose,
  checkResourceId,
  problemFor,
  refusalReason,
  TrustedProxies,
  captureRequestArrival,
  requireConsentFor,
  requestIdFrom,
  requireStepUp,
  type StepUpRequirement,
  type BearerAuthenticatorOptions,
  type BearerTokenVerifier,
  type ConsentChecker,
  type ProblemResponse,
  type RequestAuditFacts,
  type RequestAuditLog,
  type RequestArrival,
  type AuditFailurePolicy,
} from '@bulwark/core/http';
export { BulwarkHttpError, type HttpPrincipal, type TrustProxyOption } from '@bulwark/core';
