/**
 * Bulwark errors. One class per engine, each instance with a stable `code` that callers (and
 * the HTTP adapters' RFC 9457 mapping) branch on. Messages say what was wrong and what to do;
 * they never contain key material, tokens or plaintext personal data.
 */
export class BulwarkError extends Error {
  /** Stable machine-readable code, e.g. `ERR_CRYPTO_TAMPERED`. */
  readonly code: string;
  /** Non-secret context (key id, field path, sequence number...). */
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    if (details !== undefined) this.details = Object.freeze({ ...details });
  }
}

/** Crypto engine failures: malformed or tampered envelopes, unknown / retired keys, shredded subjects. */
export class BulwarkCryptoError extends BulwarkError {}

/** Audit engine failures: broken chain, bad proof, bad checkpoint, store problems. */
export class BulwarkAuditError extends BulwarkError {}

/** Access-control failures: denied decisions, invalid policies. */
export class BulwarkPolicyError extends BulwarkError {}

/** Invalid configuration; `details.path` names the offending field. */
export class BulwarkConfigError extends BulwarkError {}

/** Consent failures: unknown purpose, consent missing or withdrawn. */
export class BulwarkConsentError extends BulwarkError {}

/** Token failures: malformed, expired, wrong issuer/audience, disallowed algorithm, bad signature. */
export class BulwarkTokenError extends BulwarkError {}

/** Multi-factor authentication failures: wrong or replayed code, not enrolled, used recovery code. */
export class BulwarkMfaError extends BulwarkError {}

/** Threat engine failures: the rate-limit store is unreachable, bad input to a guard or detector. */
export class BulwarkThreatError extends BulwarkError {}

/** Privacy engine failures: data-subject requests, retention, processors, breach register, RoPA. */
export class BulwarkPrivacyError extends BulwarkError {}

/** Compliance failures: evidence snapshots, attestations and report signatures that do not verify. */
export class BulwarkComplianceError extends BulwarkError {}

/** Sign-in failures (OIDC, SAML, LDAP, sessions): refused or unmappable identities, provider faults. */
export class BulwarkIdentityError extends BulwarkError {}

/** Alert routing and delivery (webhooks, e-mail, NATS) and webhook verification. */
export class BulwarkAlertError extends BulwarkError {}

/**
 * Stable error codes. Adding a code is fine; renaming one is a breaking change.
 */
export const ErrorCodes = {
  // crypto
  CRYPTO_MALFORMED: 'ERR_CRYPTO_MALFORMED', // not a Bulwark envelope / bad encoding / truncated
  CRYPTO_UNSUPPORTED_VERSION: 'ERR_CRYPTO_UNSUPPORTED_VERSION', // unknown envelope format version
  CRYPTO_UNSUPPORTED_ALGORITHM: 'ERR_CRYPTO_UNSUPPORTED_ALGORITHM',
  CRYPTO_DECRYPTION_FAILED: 'ERR_CRYPTO_DECRYPTION_FAILED', // tag check failed: tampered or wrong associated data
  CRYPTO_UNKNOWN_KEY: 'ERR_CRYPTO_UNKNOWN_KEY', // key id or version not in the ring
  CRYPTO_KEY_RETIRED: 'ERR_CRYPTO_KEY_RETIRED', // version below the key's minimum decryption version
  CRYPTO_SUBJECT_SHREDDED: 'SUBJECT_SHREDDED', // the data subject's key was destroyed
  CRYPTO_KEY_UNWRAP_FAILED: 'ERR_CRYPTO_KEY_UNWRAP_FAILED', // wrong master key or tampered key store
  CRYPTO_KEY_PROVIDER: 'ERR_CRYPTO_KEY_PROVIDER', // master key missing / unreadable / wrong size
  CRYPTO_KEY_STORE: 'ERR_CRYPTO_KEY_STORE', // key store unreadable / corrupt
  CRYPTO_INVALID_ARGUMENT: 'ERR_CRYPTO_INVALID_ARGUMENT',
  CRYPTO_KEY_EXISTS: 'ERR_CRYPTO_KEY_EXISTS', // createKey on an existing key id
  CRYPTO_SUBJECT_KEY_NOT_LOADED: 'ERR_CRYPTO_SUBJECT_KEY_NOT_LOADED', // sync decrypt of a subject envelope whose key is not cached: use decryptAsync
  CRYPTO_REWRAP_WRITE_FAILED: 'ERR_CRYPTO_REWRAP_WRITE_FAILED', // rewrap: the caller's write() threw
  CRYPTO_CLOSED: 'ERR_CRYPTO_CLOSED', // the key ring / provider was closed
  CRYPTO_SUBJECT_MISMATCH: 'ERR_CRYPTO_SUBJECT_MISMATCH', // the envelope is not under the expected data subject's key (a value moved to another subject)
  CRYPTO_KEY_FILE_INSECURE: 'ERR_CRYPTO_KEY_FILE_INSECURE', // the master key file is readable or writable by group / others (chmod 600 it)
  CRYPTO_KEY_EXPIRED: 'ERR_CRYPTO_KEY_EXPIRED', // encrypt with a primary version past its expiry (RotationPolicy.expireAfter): rotate the key; decryption still works
  CRYPTO_WEAK_PARAMETERS: 'ERR_CRYPTO_WEAK_PARAMETERS', // a KDF / signature parameter below Bulwark's floor (iterations, cost, salt or key size)
  // passwords
  PASSWORD_INVALID_HASH: 'ERR_PASSWORD_INVALID_HASH',
  // tokens
  TOKEN_MALFORMED: 'ERR_TOKEN_MALFORMED',
  TOKEN_EXPIRED: 'ERR_TOKEN_EXPIRED',
  TOKEN_NOT_YET_VALID: 'ERR_TOKEN_NOT_YET_VALID',
  TOKEN_ALGORITHM_NOT_ALLOWED: 'ERR_TOKEN_ALGORITHM_NOT_ALLOWED',
  TOKEN_SIGNATURE_INVALID: 'ERR_TOKEN_SIGNATURE_INVALID',
  TOKEN_CLAIM_INVALID: 'ERR_TOKEN_CLAIM_INVALID', // iss / aud / sub / required claim
  TOKEN_KEY_NOT_FOUND: 'ERR_TOKEN_KEY_NOT_FOUND', // no JWKS key matches kid/alg
  TOKEN_JWKS_UNAVAILABLE: 'ERR_TOKEN_JWKS_UNAVAILABLE',
  TOKEN_INVALID: 'ERR_TOKEN_INVALID', // HTTP answer for every refused token but an expired one (which check failed is not told); never thrown: library callers get the precise codes above
  TOKEN_REVOKED: 'ERR_TOKEN_REVOKED', // the token's jti is on the deny-list, or it was issued before its subject's revocation time
  TOKEN_REVOCATION_STORE: 'ERR_TOKEN_REVOCATION_STORE', // the revocation store failed, so the token was not accepted (fail closed)
  // config
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
  CONFIG_NOT_PRODUCTION_READY: 'ERR_CONFIG_NOT_PRODUCTION_READY', // production preset: demo-grade settings; details.problems lists each by config path
  // audit
  AUDIT_INVALID_EVENT: 'ERR_AUDIT_INVALID_EVENT',
  AUDIT_CHAIN_BROKEN: 'ERR_AUDIT_CHAIN_BROKEN',
  AUDIT_PROOF_INVALID: 'ERR_AUDIT_PROOF_INVALID',
  AUDIT_CHECKPOINT_INVALID: 'ERR_AUDIT_CHECKPOINT_INVALID',
  AUDIT_STORE: 'ERR_AUDIT_STORE',
  AUDIT_LEGAL_HOLD: 'ERR_AUDIT_LEGAL_HOLD',
  AUDIT_CLOSED: 'ERR_AUDIT_CLOSED',
  AUDIT_INVALID_QUERY: 'ERR_AUDIT_INVALID_QUERY', // bad filter / cursor / limit
  AUDIT_STORE_LOCKED: 'ERR_AUDIT_STORE_LOCKED', // another process holds the file store's lock
  AUDIT_TORN_TAIL: 'ERR_AUDIT_TORN_TAIL', // file store ends with a partial line (crash mid-write); repair() first
  AUDIT_INVALID_ARGUMENT: 'ERR_AUDIT_INVALID_ARGUMENT', // bad argument to an audit API: index/size out of range, hash not 32 bytes
  AUDIT_SINK: 'ERR_AUDIT_SINK', // a sink could not deliver durable entries (e.g. message bus publish failed after retries); the store still holds them
  AUDIT_READ_ONLY: 'ERR_AUDIT_READ_ONLY', // append / redact / repair on a store opened read-only (FileAuditStore readOnly)
  AUDIT_STORE_UNAVAILABLE: 'ERR_AUDIT_STORE_UNAVAILABLE', // the audit database did not answer within its timeouts or dropped the connection; nothing was stored (safe to retry)
  AUDIT_OUTCOME_UNKNOWN: 'ERR_AUDIT_OUTCOME_UNKNOWN', // the connection died after COMMIT was sent and reading back failed within the resolve timeout: the batch may be stored; do not re-append blindly (details.batchId, firstSeq)
  AUDIT_UNAVAILABLE: 'ERR_AUDIT_UNAVAILABLE', // a fail-closed route's audit event could not be stored, so the response was withheld (HTTP 503)
  AUDIT_NO_SPACE: 'ERR_AUDIT_NO_SPACE', // the file store's disk is full (ENOSPC / EDQUOT): free space, then repair
  // authz (access-control policy engine)
  POLICY_INVALID: 'ERR_POLICY_INVALID', // policy document failed validation; details.path names the field
  POLICY_DENIED: 'ERR_POLICY_DENIED', // PolicyEngine.enforce(): the decision was deny; details.reasonId is safe to show
  POLICY_BREAK_GLASS_INVALID: 'ERR_POLICY_BREAK_GLASS_INVALID', // bad break-glass request: reason, actor, scope or expiry
  POLICY_BREAK_GLASS_NOT_FOUND: 'ERR_POLICY_BREAK_GLASS_NOT_FOUND', // revoke of an unknown grant id
  POLICY_AUDIT_FAILED: 'ERR_POLICY_AUDIT_FAILED', // the audit hook failed, so the audited operation was not performed
  POLICY_BREAK_GLASS_STORE: 'ERR_POLICY_BREAK_GLASS_STORE', // the shared break-glass grant store failed or holds a malformed grant (fail closed)
  POLICY_UNTRANSLATABLE: 'ERR_POLICY_UNTRANSLATABLE', // a query scope met a rule condition it cannot express as a query (fail closed); details.path names it
  // mfa
  MFA_INVALID_CODE: 'ERR_MFA_INVALID_CODE', // wrong, malformed or expired TOTP / recovery code
  MFA_REPLAY: 'ERR_MFA_REPLAY', // RFC 6238 §5.2: a TOTP time step already accepted for this user
  MFA_NOT_ENROLLED: 'ERR_MFA_NOT_ENROLLED', // no confirmed TOTP enrolment / no recovery codes
  MFA_ALREADY_ENROLLED: 'ERR_MFA_ALREADY_ENROLLED', // enrol over a confirmed factor without replace: true
  MFA_RECOVERY_CODE_USED: 'ERR_MFA_RECOVERY_CODE_USED', // recovery codes are single-use
  MFA_LOCKED: 'ERR_MFA_LOCKED', // too many failed codes; details.retryAfterSec
  MFA_STORE: 'ERR_MFA_STORE', // the MFA store failed or holds a corrupt / unreadable record
  MFA_INVALID_ARGUMENT: 'ERR_MFA_INVALID_ARGUMENT', // bad user id / label / code type
  // threat (brute force, rate limits, detection)
  THREAT_STORE: 'ERR_THREAT_STORE', // the rate-limit store (Redis) failed; guards fail closed
  THREAT_INVALID_ARGUMENT: 'ERR_THREAT_INVALID_ARGUMENT', // bad ip / account / audit entry handed to a guard or detector
  // adapter packages declare their own codes (e.g. @bulwark/typeorm's TypeOrmErrorCodes)
  // consent (privacy engine)
  CONSENT_UNKNOWN_PURPOSE: 'ERR_CONSENT_UNKNOWN_PURPOSE', // purpose id not registered with the ConsentManager
  CONSENT_REQUIRED: 'ERR_CONSENT_REQUIRED', // requireConsent(): no valid consent (never given, withdrawn, or to an outdated text)
  CONSENT_UNKNOWN_VERSION: 'ERR_CONSENT_UNKNOWN_VERSION', // grant/withdraw of a text version the purpose does not have
  CONSENT_VERSION_CONFLICT: 'ERR_CONSENT_VERSION_CONFLICT', // a purpose version re-registered with a different text
  CONSENT_INVALID_ARGUMENT: 'ERR_CONSENT_INVALID_ARGUMENT', // bad subject id / purpose definition / proof fields
  CONSENT_STORE: 'ERR_CONSENT_STORE', // the consent store failed or returned a malformed record
  // privacy engine: data-subject requests, retention, processors, breaches, RoPA
  PRIVACY_INVALID_ARGUMENT: 'ERR_PRIVACY_INVALID_ARGUMENT', // bad input to a privacy service; details.path names the field
  PRIVACY_DUPLICATE_ID: 'ERR_PRIVACY_DUPLICATE_ID', // registering an id that already exists
  PRIVACY_NOT_FOUND: 'ERR_PRIVACY_NOT_FOUND', // unknown request / source / processor / incident / activity / hold id
  PRIVACY_CONFLICT: 'ERR_PRIVACY_CONFLICT', // another instance changed the record since it was read (optimistic version check); reload and retry
  PRIVACY_STORE: 'ERR_PRIVACY_STORE', // a register's store failed or holds a malformed record
  DSR_INVALID_TRANSITION: 'ERR_DSR_INVALID_TRANSITION', // lifecycle step not allowed from the request's current status
  DSR_IDENTITY_NOT_VERIFIED: 'ERR_DSR_IDENTITY_NOT_VERIFIED', // the request's identity check has not passed (or failed)
  DSR_EXTENSION_INVALID: 'ERR_DSR_EXTENSION_INVALID', // deadline extension without a reason, beyond the limit, or repeated
  DSR_SOURCE_FAILED: 'ERR_DSR_SOURCE_FAILED', // a registered data source's export/erase/rectify threw
  DSR_UNSUPPORTED: 'ERR_DSR_UNSUPPORTED', // no registered source supports the operation (e.g. rectify)
  DSR_RECEIPT_INVALID: 'ERR_DSR_RECEIPT_INVALID', // erasure receipt malformed, signature invalid, or wrong key
  RETENTION_LEGAL_HOLD: 'ERR_RETENTION_LEGAL_HOLD', // a legal hold blocks the purge of this source / category
  RETENTION_PURGE_FAILED: 'ERR_RETENTION_PURGE_FAILED', // a source's purge() threw or returned a bad count
  // http adapters (@bulwark/express, @bulwark/koa; shared logic in core/src/http)
  CSRF_INVALID: 'EBADCSRFTOKEN', // missing / forged / mismatched CSRF token; csurf's code, kept so csurf error handlers keep working
  HTTP_AUTH_REQUIRED: 'ERR_HTTP_AUTH_REQUIRED', // no bearer token on a route that needs a principal
  HTTP_AUTH_MALFORMED: 'ERR_HTTP_AUTH_MALFORMED', // Authorization header of an accepted scheme whose credential is not token68 (400 invalid_request, RFC 6750 §3.1)
  HTTP_BODY_TOO_LARGE: 'ERR_HTTP_BODY_TOO_LARGE', // request body over the input guard's limit (413)
  HTTP_MALFORMED_BODY: 'ERR_HTTP_MALFORMED_BODY', // body is not valid JSON / form data / UTF-8 (400)
  HTTP_UNSUPPORTED_MEDIA_TYPE: 'ERR_HTTP_UNSUPPORTED_MEDIA_TYPE', // body content type the guard does not accept (415)
  HTTP_INPUT_TOO_DEEP: 'ERR_HTTP_INPUT_TOO_DEEP', // JSON / query nesting over the limit (422)
  HTTP_INPUT_FORBIDDEN_KEY: 'ERR_HTTP_INPUT_FORBIDDEN_KEY', // __proto__ / constructor / prototype key (prototype pollution) (400)
  HTTP_INPUT_NUL_BYTE: 'ERR_HTTP_INPUT_NUL_BYTE', // NUL byte in path, query or body (400)
  HTTP_PATH_TRAVERSAL: 'ERR_HTTP_PATH_TRAVERSAL', // '..', encoded dots/slashes or backslashes in a path segment / resource id (400)
  HTTP_TOO_MANY_REQUESTS: 'ERR_HTTP_TOO_MANY_REQUESTS', // brute-force lockout; details.retryAfterSec (429)
  HTTP_NOT_FOUND: 'ERR_HTTP_NOT_FOUND', // no route / unknown privacy resource (404)
  HTTP_HEADERS_TOO_LARGE: 'ERR_HTTP_HEADERS_TOO_LARGE', // request headers over Node's limit, refused before any middleware (431)
  HTTP_BAD_REQUEST: 'ERR_HTTP_BAD_REQUEST', // request Node's HTTP parser rejected (400)
  HTTP_UNKNOWN_FIELD: 'ERR_HTTP_UNKNOWN_FIELD', // body field outside the route's allowlist (mass assignment); the detail names the fields (400)
  HTTP_RATE_LIMITED: 'ERR_HTTP_RATE_LIMITED', // a general request rate limit (per user / per IP) is spent; details.retryAfterSec (429)
  HTTP_CORS_REFUSED: 'ERR_HTTP_CORS_REFUSED', // CORS preflight from an origin, method or header not in the allowlist (403)
  HTTP_CROSS_SITE_REFUSED: 'ERR_HTTP_CROSS_SITE_REFUSED', // cross-site non-navigation request refused by the Fetch Metadata policy (403)
  HTTP_DUPLICATE_PARAMETER: 'ERR_HTTP_DUPLICATE_PARAMETER', // a query / form parameter given twice with rejectDuplicateParams (400)
  // compliance
  COMPLIANCE_SNAPSHOT_INVALID: 'ERR_COMPLIANCE_SNAPSHOT_INVALID', // evidence snapshot unsigned, malformed, tampered or signed by another key
  COMPLIANCE_SNAPSHOT_STALE: 'ERR_COMPLIANCE_SNAPSHOT_STALE', // evidence snapshot older than the accepted maximum age (or dated in the future)
  COMPLIANCE_ATTESTATION_STORE: 'ERR_COMPLIANCE_ATTESTATION_STORE', // the attestation store failed or holds a corrupt record
  COMPLIANCE_REPORT_SIGNATURE_INVALID: 'ERR_COMPLIANCE_REPORT_SIGNATURE_INVALID', // a report's detached JWS does not verify over its canonical JSON
  // identity (sign-in paths, sessions)
  SIGNIN_NOT_PROVISIONED: 'ERR_SIGNIN_NOT_PROVISIONED', // the identity provider accepted the user, the app's provisioning hook refused (403)
  SIGNIN_FAILED: 'ERR_SIGNIN_FAILED', // credentials or provider response refused; details.reason says which check (401)
  // crypto: HSM and cloud KMS master-key providers (@bulwark/kms)
  CRYPTO_KMS_UNAVAILABLE: 'ERR_CRYPTO_KMS_UNAVAILABLE', // the HSM / KMS did not answer, throttled or failed (5xx) after the provider's retries, or timed out; retry later
  CRYPTO_KMS_ACCESS_DENIED: 'ERR_CRYPTO_KMS_ACCESS_DENIED', // the HSM / KMS refused the caller: wrong PIN or token, credentials missing or without permission on the key
  CRYPTO_MASTER_KEY_UNUSABLE: 'ERR_CRYPTO_MASTER_KEY_UNUSABLE', // the master key is missing, disabled, pending deletion or not allowed to encrypt / decrypt
  SIGNIN_UNAVAILABLE: 'ERR_SIGNIN_UNAVAILABLE', // the identity provider / directory or the sign-in transaction or replay store did not answer (down, timeout, TLS failure); details.reason (503)
  // mfa: more factors and step-up
  MFA_WEBAUTHN_INVALID: 'ERR_MFA_WEBAUTHN_INVALID', // a WebAuthn response that does not verify: signature, origin, RP id, challenge unknown / used / expired, user verification missing (401)
  MFA_WEBAUTHN_COUNTER: 'ERR_MFA_WEBAUTHN_COUNTER', // signature counter did not increase: a possibly cloned authenticator; answered as ERR_MFA_WEBAUTHN_INVALID (401)
  MFA_DELIVERY: 'ERR_MFA_DELIVERY', // a one-time code could not be sent through its transport (503)
  MFA_STEP_UP_REQUIRED: 'ERR_MFA_STEP_UP_REQUIRED', // a second factor, a given factor or a recent sign-in is required (401, RFC 9470 insufficient_user_authentication)
  // sessions and password policy
  SESSION_STORE: 'ERR_SESSION_STORE', // the session store failed or holds a malformed record; no session is trusted (503)
  SESSION_REVOKED: 'ERR_SESSION_REVOKED', // the session was revoked or expired while the request used it (401)
  SESSION_INVALID_ARGUMENT: 'ERR_SESSION_INVALID_ARGUMENT', // bad user id / data / factor handed to a session (400)
  PASSWORD_POLICY: 'ERR_PASSWORD_POLICY', // the password policy refused a password; details.reasons lists stable reason ids (422)
  // account lifecycle
  ACCOUNT_DISABLED: 'ERR_ACCOUNT_DISABLED', // the account is disabled: no sign-in, no session (403)
  ACCOUNT_RESET_TOKEN_INVALID: 'ERR_ACCOUNT_RESET_TOKEN_INVALID', // malformed, unknown, expired or used reset token; which one is not told (400)
  ACCOUNT_STORE: 'ERR_ACCOUNT_STORE', // the account store failed or holds a malformed record (503)
  ACCOUNT_INVALID_ARGUMENT: 'ERR_ACCOUNT_INVALID_ARGUMENT', // bad user id / reason handed to the account lifecycle (400)
  // alerts
  ALERT_WEBHOOK_INVALID: 'ERR_ALERT_WEBHOOK_INVALID', // a received webhook's headers, timestamp or signature do not verify; details.reason (401)
  ALERT_DELIVERY_FAILED: 'ERR_ALERT_DELIVERY_FAILED', // a channel could not deliver an alert (it is queued for retry); details.channel
  ACCOUNT_CURRENT_PASSWORD_INVALID: 'ERR_ACCOUNT_CURRENT_PASSWORD_INVALID', // a password change gave a wrong current password (403)
  ACCOUNT_LOCKED: 'ERR_ACCOUNT_LOCKED', // too many wrong passwords for this account; details.retryAfterSec (429)
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
