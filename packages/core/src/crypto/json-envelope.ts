import { ErrorCodes } from '../errors';
import { cryptoError } from './cipher-entry';
import type { DecryptOptions, EncryptOptions, KeyRing } from './key-ring';

/** Options of decryptJson: the ring's, plus an optional type guard for the decoded value. */
export interface DecryptJsonOptions<T> extends DecryptOptions {
  /** Checks the decoded value's shape; a value it refuses is ERR_CRYPTO_MALFORMED. */
  guard?: (value: unknown) => value is T;
}

/**
 * Encrypts a JSON-serialisable value under `keyId` (JSON.stringify, then KeyRing.encrypt with the
 * same options: aad binds it to its context). Values JSON cannot carry faithfully (undefined at
 * the top, functions, symbols, BigInt, cycles) are refused with ERR_CRYPTO_INVALID_ARGUMENT.
 */
export function encryptJson(ring: KeyRing, keyId: string, value: unknown, options?: EncryptOptions): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (typeof text !== 'string') {
    throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'encryptJson: the value is not JSON-serialisable');
  }
  return ring.encrypt(keyId, text, options);
}

/**
 * Decrypts an envelope made by encryptJson and parses it. With `guard`, the result is typed by it;
 * without, the caller's `T` is trusted (the envelope is authenticated, so it is what was written).
 */
export function decryptJson<T = unknown>(
  ring: KeyRing,
  envelope: string,
  options?: DecryptJsonOptions<T>,
): T {
  const { guard, ...decrypt } = options ?? {};
  const text = ring.decryptString(envelope, decrypt);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw cryptoError(ErrorCodes.CRYPTO_MALFORMED, 'decryptJson: the decrypted value is not JSON');
  }
  if (guard !== undefined && !guard(value)) {
    throw cryptoError(
      ErrorCodes.CRYPTO_MALFORMED,
      'decryptJson: the decrypted value does not have the expected shape',
    );
  }
  return value as T;
}
