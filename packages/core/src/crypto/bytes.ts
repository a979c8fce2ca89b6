import { BulwarkCryptoError, ErrorCodes } from '../errors';

/**
 * Bytes of a caller's input: a string as UTF-8, a Uint8Array as a Buffer view of the same memory
 * (no copy). Anything else is ERR_CRYPTO_INVALID_ARGUMENT naming `what` (never the value).
 * @internal
 */
export function inputBytes(value: unknown, what: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, `${what} must be a string or Uint8Array`);
}
