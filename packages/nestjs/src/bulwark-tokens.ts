/**
 * Injection tokens of the services BulwarkModule provides. Inject them with `@Inject(TOKEN)`;
 * TokenService, AuditLog and PolicyEngine are also what the tokens usually hold, but the module
 * only relies on their interfaces (BearerTokenVerifier, RequestAuditLog, Authorizer, ConsentChecker),
 * so an app can plug in its own implementation. A service that was not configured is `null`.
 */

/** The options BulwarkModule was configured with (after validation). */
export const BULWARK_OPTIONS = 'BULWARK_OPTIONS';
/** The token verifier (`TokenService`) used for bearer authentication. */
export const BULWARK_TOKEN_SERVICE = 'BULWARK_TOKEN_SERVICE';
/** The `Authorizer` behind `@Authorize` (a `PolicyEngine`, or CASL / casbin behind the interface). */
export const BULWARK_AUTHORIZER = 'BULWARK_AUTHORIZER';
/** The `AuditLog` that `@Audited` routes write to. */
export const BULWARK_AUDIT_LOG = 'BULWARK_AUDIT_LOG';
/** The `ConsentManager` behind `@RequireConsent`. */
export const BULWARK_CONSENT_MANAGER = 'BULWARK_CONSENT_MANAGER';
/** The result of `registerBulwarkEncryption` (`{ subscriber, unregister }`) when `typeorm` is configured. */
export const BULWARK_TYPEORM_ENCRYPTION = 'BULWARK_TYPEORM_ENCRYPTION';
