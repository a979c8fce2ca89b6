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
export {
  Authorize,
  BULWARK_AUTHORIZE,
  type AuthorizeMetadata,
  type AuthorizeFieldOptions,
} from './authorize';
export { AuthorizedResource } from './authorized-resource';
export { BulwarkFieldFilterInterceptor } from './bulwark-field-filter-interceptor';
export { Audited, BULWARK_AUDITED, type AuditedOptions, type AuditedMetadata } from './audited';
export { RequireConsent, BULWARK_REQUIRE_CONSENT } from './require-consent';
export { RequireRecentAuth, BULWARK_REQUIRE_RECENT_AUTH } from './require-recent-auth';
export { Principal } from './principal';
export { AllowFields, BULWARK_ALLOW_FIELDS } from './allow-fields';
export { RateLimit, BULWARK_RATE_LIMIT, type RateLimitMetadata } from './rate-limit';
export { ClearSiteData, BULWARK_CLEAR_SITE_DATA } from './clear-site-data';
export { CsrfToken } from './csrf-token';
export { Session } from './session-param';
export type { BulwarkCsrfOptions } from './csrf';
export type { MiddlewareRequest } from './platform-middleware';
export type { ResourceSpec, ResourceLoader } from './resource-spec';
export type { BulwarkRequestContext } from './bulwark-request-context';
export { BulwarkGuard } from './bulwark-guard';
export { BulwarkAuditInterceptor } from './bulwark-audit-interceptor';
export { BulwarkExceptionFilter } from './bulwark-exception-filter';
export { BulwarkHttpMiddleware } from './bulwark-http-middleware';
export { bulwarkFrameworkErrors } from './fastify-framework-errors';
export type { BulwarkHttpSteps } from './bulwark-http-steps';
export { BulwarkRuntime } from './bulwark-runtime';
export type { BulwarkTypeOrmEncryption } from './typeorm-encryption-provider';
export type { HttpPrincipal, TrustProxyOption } from './core-http';
export { auditActor, clientIp, type PlatformRequest } from './request-tracking';
// Requests Node's HTTP parser refuses before any middleware (431, 400) answer problem+json too:
// `handleClientErrors(app.getHttpServer())` before `app.listen()`.
export { handleClientErrors } from '@bulwark/core/http';
export { BulwarkOidcModule } from './oidc-module';
export {
  BULWARK_OIDC_OPTIONS,
  type BulwarkOidcOptions,
  type BulwarkOidcModuleOptions,
  type BulwarkOidcModuleAsyncOptions,
} from './oidc-module-options';
export { LdapSignInModule } from './ldap-sign-in-module';
export { LdapSignInController } from './ldap-sign-in-controller';
export {
  LDAP_SIGN_IN_OPTIONS,
  type LdapSignInOptions,
  type LdapSignInProvider,
} from './ldap-sign-in-options';
export { SamlSignInModule } from './saml-sign-in-module';
export { SamlSignInController } from './saml-sign-in-controller';
export {
  SAML_SIGN_IN_OPTIONS,
  type SamlSessionInfo,
  type SamlSignInOptions,
  type SamlSignInProvider,
} from './saml-sign-in-options';
