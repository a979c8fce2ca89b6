import { ErrorCodes, type BulwarkCryptoError, type KeyWrapContext } from '@bulwark/core';
import { providerError, type ProviderErrorCode } from '../lib/provider-errors';

/**
 * Cryptoki return values by what they mean for the caller (PKCS#11 v2.40 / v3.0 §5.1). Anything
 * not listed is ERR_CRYPTO_KEY_PROVIDER with the CKR name as the reason.
 */
const BY_REASON: Readonly<Record<string, ProviderErrorCode>> = {
  CKR_PIN_INCORRECT: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CKR_PIN_INVALID: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CKR_PIN_LEN_RANGE: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CKR_PIN_EXPIRED: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CKR_PIN_LOCKED: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CKR_USER_NOT_LOGGED_IN: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CKR_USER_PIN_NOT_INITIALIZED: ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
  CKR_KEY_HANDLE_INVALID: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  CKR_KEY_TYPE_INCONSISTENT: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  CKR_KEY_FUNCTION_NOT_PERMITTED: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  CKR_KEY_SIZE_RANGE: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  CKR_MECHANISM_INVALID: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  CKR_MECHANISM_PARAM_INVALID: ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
  CKR_TOKEN_NOT_PRESENT: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_TOKEN_NOT_RECOGNIZED: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_DEVICE_ERROR: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_DEVICE_MEMORY: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_DEVICE_REMOVED: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_SESSION_COUNT: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_SESSION_CLOSED: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_SESSION_HANDLE_INVALID: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_HOST_MEMORY: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_FUNCTION_CANCELED: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
  CKR_OBJECT_HANDLE_INVALID: ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
};

/** Failures after which the provider's sessions and key handle are stale: reopen on the next call. */
export const STALE = new Set([
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_USER_NOT_LOGGED_IN',
]);

/**
 * What a failed C_Decrypt of a wrapped key says: the tag did not verify (wrong master key, other
 * context, tampered blob). SoftHSM2 answers a GCM tag mismatch with CKR_GENERAL_ERROR, others
 * with CKR_ENCRYPTED_DATA_INVALID or v3.0's CKR_AEAD_DECRYPT_FAILED.
 */
const TAG_MISMATCH = new Set([
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_AEAD_DECRYPT_FAILED',
  'CKR_GENERAL_ERROR',
]);

/** The CKR name of a pkcs11js error (its message is the name), else the error's class. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const name = /^CKR_[A-Z0-9_]+/.exec(message)?.[0];
  return name ?? (error instanceof Error ? error.name : 'an unknown error');
}

/** A pkcs11js failure as a typed error. `decrypting`: the failure came from C_Decrypt. @internal */
export function pkcs11Error(
  error: unknown,
  provider: string,
  operation: string,
  context?: KeyWrapContext,
  decrypting = false,
): BulwarkCryptoError {
  const reason = reasonOf(error);
  const code =
    decrypting && TAG_MISMATCH.has(reason)
      ? ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED
      : (BY_REASON[reason] ?? ErrorCodes.CRYPTO_KEY_PROVIDER);
  return providerError(code, provider, operation, reason, error, context);
}
