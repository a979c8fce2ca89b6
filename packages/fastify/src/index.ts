// @bulwark/fastify: Bulwark's core engines as a Fastify 5 plugin and hooks. Each hook is glue over a
// framework-free core function (see @bulwark/core http), shared with @bulwark/express and @bulwark/koa.
export { bulwark, type BulwarkOptions, type BulwarkPlugin } from './bulwark';
export {
  fastifyProblem,
  notFoundError,
  problemDetails,
  sendProblem,
  type ProblemDetailsOptions,
} from './problem-details';
export {
  audit,
  auditRoute,
  authenticate,
  clearSiteData,
  cors,
  csrf,
  fetchMetadata,
  inputGuard,
  rateLimit,
  requestId,
  securityHeaders,
  session,
  type AuditHook,
  type AuthenticateOptions,
  type CsrfHook,
  type FastifyCsrfOptions,
  type InputGuardHook,
  type RateLimitHook,
  type SecurityHeadersHook,
  type SessionHook,
} from './hooks';
export {
  allowFields,
  authorize,
  bruteForce,
  requireConsent,
  requireRecentAuth,
  type AuthorizeOptions,
  type ResourceSpec,
} from './route-helpers';
export { privacyRoutes } from './privacy-routes';
export { clientIp, type BulwarkHook, type BulwarkRequestState } from './request-state';
// Requests Node's HTTP parser refuses before any hook (431, 400) answer problem+json too:
// `Fastify({ clientErrorHandler: clientErrorHandler() })`.
export { clientErrorHandler } from './client-errors';
