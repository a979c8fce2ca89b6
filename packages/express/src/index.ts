// @bulwark/express: Bulwark's core engines as Express 5 middleware. Each middleware is glue over
// a framework-free core function (see @bulwark/core http), shared with @bulwark/koa.
export { bulwark, type BulwarkOptions, type BulwarkMiddleware } from './bulwark';
export { requestId } from './request-id';
export { notFound, problemDetails, sendProblem, type ProblemDetailsOptions } from './problem-details';
export { securityHeaders, type SecurityHeadersMiddleware } from './security-headers';
export { inputGuard, type InputGuardMiddleware } from './input-guard';
export { audit, auditRoute, type AuditMiddleware } from './audit';
export { authenticate, type AuthenticateOptions } from './authenticate';
export { authorize, type AuthorizeOptions, type ResourceSpec } from './authorize';
export { csrf, type ExpressCsrfOptions, type CsrfMiddleware } from './csrf';
export { session, type SessionMiddleware } from './session';
export { requireConsent } from './require-consent';
export { bruteForce } from './brute-force';
export { clientIp, type BulwarkRequestState } from './request-state';
export { privacyRouter } from './privacy-router';
// Requests Node's HTTP parser refuses before any middleware (431, 400) answer problem+json too:
// `handleClientErrors(app.listen(3000))`.
export { handleClientErrors } from '@bulwark/core/http';
