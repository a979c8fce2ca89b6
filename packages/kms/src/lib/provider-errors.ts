import { BulwarkCryptoError, ErrorCodes, type KeyWrapContext } from '@bulwark/core';

/** The wrapped key as an operator knows it; a subject reference never goes into a message. */
function describe(context: KeyWrapContext): string {
  if (context.keyId === '$ring') return "the key ring's internal secret";
  if (context.keyId.startsWith('$subject:')) return "a data subject's key";
  return `the data key ${JSON.stringify(context.keyId)} v${context.version}`;
}

/** The codes a master-key provider throws (all BulwarkCryptoError). */
export type ProviderErrorCode =
  | typeof ErrorCodes.CRYPTO_KMS_UNAVAILABLE
  | typeof ErrorCodes.CRYPTO_KMS_ACCESS_DENIED
  | typeof ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE
  | typeof ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED
  | typeof ErrorCodes.CRYPTO_KEY_PROVIDER;

const WHAT_TO_DO: Record<ProviderErrorCode, string> = {
  [ErrorCodes.CRYPTO_KMS_UNAVAILABLE]: 'the service did not answer after the configured retries; retry later',
  [ErrorCodes.CRYPTO_KMS_ACCESS_DENIED]: 'check the credentials / PIN and the permissions on the master key',
  [ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE]:
    'check that the master key exists, is enabled and may encrypt and decrypt',
  [ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED]: 'wrong master key, or the key store was modified',
  [ErrorCodes.CRYPTO_KEY_PROVIDER]: 'see the cause',
};

/**
 * The service's error reduced to its name and message (truncated): SDK errors carry the request
 * they failed on (Azure's RestError, gaxios's config), whose headers hold bearer tokens, and
 * loggers serialize `cause` deeply.
 */
function sanitizeCause(error: unknown): Error {
  const source = error instanceof Error ? error : undefined;
  const safe = new Error(String(source?.message ?? error).slice(0, 500));
  safe.name = typeof source?.name === 'string' ? source.name : 'Error';
  return safe;
}

/**
 * A typed provider error. The message names the provider, the operation and the service's
 * non-secret reason (an error name such as `AccessDeniedException` or `CKR_PIN_INCORRECT`), never
 * key material, a PIN, a token or a wrapped key; the service's error name and message stay as
 * `cause` for operators' logs (not the SDK's error object, which may hold the request's headers).
 * @internal
 */
export function providerError(
  code: ProviderErrorCode,
  provider: string,
  operation: string,
  reason: string,
  cause?: unknown,
  context?: KeyWrapContext,
): BulwarkCryptoError {
  const on = context === undefined ? '' : ` (${describe(context)})`;
  const details: Record<string, unknown> = { provider, operation, reason };
  if (context !== undefined) {
    details.keyId = context.keyId.startsWith('$subject:') ? '$subject' : context.keyId;
    details.version = context.version;
  }
  return new BulwarkCryptoError(
    code,
    `Key provider ${provider}: ${operation}${on} failed with ${reason}: ${WHAT_TO_DO[code]}`,
    details,
    cause === undefined ? undefined : { cause: sanitizeCause(cause) },
  );
}

/** ERR_CRYPTO_CLOSED for a call after close(). @internal */
export function closedError(provider: string): BulwarkCryptoError {
  return new BulwarkCryptoError(ErrorCodes.CRYPTO_CLOSED, `Key provider ${provider} is closed`);
}

/** ERR_CRYPTO_INVALID_ARGUMENT naming the option (never its value). @internal */
export function optionError(path: string, expected: string): BulwarkCryptoError {
  return new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, `${path} must be ${expected}`, { path });
}

/** Data keys are 32 bytes; anything else is a caller bug. @internal */
export function checkDataKey(dataKey: Buffer): void {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== 32) {
    throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Data keys must be 32 bytes');
  }
}
