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
  // config
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
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
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
