// @bulwark/nestjs public API: module, decorators, middleware, guard, interceptor, exception filter, tokens.
export { BulwarkModule } from './bulwark-module';
export {
  validateBulwarkOptions,
  type BulwarkModuleOptions,
  type BulwarkModuleRootOptions,
  type BulwarkModuleAsyncOptions,
  type BulwarkModuleRegistration,
  type BulwarkAuthenticationOptions,
  type BulwarkAuditOptions,
  type BulwarkTypeOrmOptions,
} from './bulwark-module-options';
export {
  BULWARK_OPTIONS,
  BULWARK_TOKEN_SERVICE,
  BULWARK_AUTHORIZER,
  BULWARK_AUDIT_LOG,
  BULWARK_CONSENT_MANAGER,
  BULWARK_TYPEORM_ENCRYPTION,
} from './bulwark-tokens';
export { Public, BULWARK_PUBLIC } from './public';
export { Authorize, BULWARK_AUTHORIZE, type AuthorizeMetadata } from './authorize';
export { Audited, BULWARK_AUDITED, type AuditedOptions, type AuditedMetadata } from './audited';
export { RequireConsent, BULWARK_REQUIRE_CONSENT } from './require-consent';
export { Principal } from './principal';
export { CsrfToken } from './csrf-token';
export { Session } from './session-param';
export type { BulwarkCsrfOptions } from './csrf';
export type { MiddlewareRequest } from './platform-middleware';
export type { ResourceSpec } from './resource-spec';
export type { BulwarkRequestContext } from './bulwark-request-context';
export { BulwarkGuard } from './bulwark-guard';
export { BulwarkAuditInterceptor } from './bulwark-audit-interceptor';
export { BulwarkExceptionFilter } from './bulwark-exception-filter';
export { BulwarkHttpMiddleware } from './bulwark-http-middleware';
export type { BulwarkHttpSteps } from './bulwark-http-steps';
export { BulwarkRuntime } from './bulwark-runtime';
export type { BulwarkTypeOrmEncryption } from './typeorm-encryption-provider';
export type { HttpPrincipal, TrustProxyOption } from './core-http';
export { clientIp, type PlatformRequest } from './request-tracking';
// Requests Node's HTTP parser refuses before any middleware (431, 400) answer problem+json too:
// `handleClientErrors(app.getHttpServer())` before `app.listen()`.
export { handleClientErrors } from '@bulwark/core/http';
