import { createCipheriv, createDecipheriv, KeyObject, type CipherGCMTypes } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes } from '../errors';
import { inputBytes } from './bytes';

/** AEAD algorithms a key ring can use. Both take a 256-bit key, a 96-bit nonce and a 128-bit tag. */
export type AeadAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

/**
 * Algorithms the low-level functions accept. AES-128/192-GCM exist only so known-answer suites
 * (Wycheproof) can exercise the same code path; a key ring never creates such keys.
 */
export type LowLevelAeadAlgorithm = AeadAlgorithm | 'aes-128-gcm' | 'aes-192-gcm';

/** Algorithms a key ring may be configured with (explicit allow-list, checked at every entry point). */
export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = Object.freeze(['aes-256-gcm', 'chacha20-poly1305']);

/** NIST SP 800-38D §8.2 / RFC 8439 §2.8: 96-bit nonces; the only size Bulwark accepts. */
export const IV_LENGTH = 12;
/** Full 128-bit tags only: truncated GCM tags weaken forgery resistance (SP 800-38D Appendix C). */
export const TAG_LENGTH = 16;
/** Key length of every ring algorithm. */
export const KEY_LENGTH = 32;

/**
 * Pins the tag length for createCipheriv / createDecipheriv: without it a GCM decipher would
 * accept any tag length setAuthTag allows (4..16 bytes). One frozen object, not one per call.
 */
const TAG_OPTIONS = Object.freeze({ authTagLength: TAG_LENGTH });

const KEY_LENGTHS: Readonly<Record<LowLevelAeadAlgorithm, number>> = Object.freeze({
  'aes-128-gcm': 16,
  'aes-192-gcm': 24,
  'aes-256-gcm': 32,
  'chacha20-poly1305': 32,
});

/** True for the algorithms a key ring may use. */
export function isAeadAlgorithm(value: unknown): value is AeadAlgorithm {
  return value === 'aes-256-gcm' || value === 'chacha20-poly1305';
}

function checkParams(algorithm: LowLevelAeadAlgorithm, key: KeyObject | Uint8Array, iv: Uint8Array): void {
  const keyLength = Object.prototype.hasOwnProperty.call(KEY_LENGTHS, algorithm)
    ? KEY_LENGTHS[algorithm]
    : undefined;
  if (keyLength === undefined) {
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_UNSUPPORTED_ALGORITHM,
      `Unsupported AEAD algorithm; use one of ${Object.keys(KEY_LENGTHS).join(', ')}`,
    );
  }
  const actual =
    key instanceof KeyObject ? (key.symmetricKeySize ?? -1) : key instanceof Uint8Array ? key.length : -1;
  if (actual !== keyLength) {
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      `${algorithm} needs a ${keyLength}-byte key, got ${actual < 0 ? 'no key' : `${actual} bytes`}`,
    );
  }
  if (!(iv instanceof Uint8Array) || iv.length !== IV_LENGTH) {
    throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, `The IV must be ${IV_LENGTH} bytes`);
  }
}

/**
 * Encrypts and returns `ciphertext || tag` in ONE buffer (no Buffer.concat on the hot path).
 * Associated data is fed in pieces: GCM and ChaCha20-Poly1305 authenticate the concatenation of
 * every setAAD call made before the first update, so `[header, callerAad]` costs no copy.
 * Internal: callers have validated algorithm, key and IV.
 * @internal
 */
export function seal(
  algorithm: LowLevelAeadAlgorithm,
  key: KeyObject | Uint8Array,
  iv: Uint8Array,
  plaintext: string | Uint8Array,
  aad1?: Uint8Array,
  aad2?: Uint8Array,
): Buffer {
  const cipher = createCipheriv(algorithm as CipherGCMTypes, key, iv, TAG_OPTIONS);
  if (aad1 !== undefined && aad1.length > 0) cipher.setAAD(aad1);
  if (aad2 !== undefined && aad2.length > 0) cipher.setAAD(aad2);
  const body = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  // final() emits nothing for GCM / ChaCha20-Poly1305 (stream modes), but call it to compute the tag.
  const rest = cipher.final();
  const tag = cipher.getAuthTag();
  const out = Buffer.allocUnsafe(body.length + rest.length + TAG_LENGTH);
  body.copy(out, 0);
  if (rest.length > 0) rest.copy(out, body.length);
  tag.copy(out, body.length + rest.length);
  return out;
}

/**
 * Verifies and decrypts `sealed` (= ciphertext || tag). Throws ERR_CRYPTO_DECRYPTION_FAILED on a
 * bad tag; never returns unauthenticated plaintext (the partial `update()` output is wiped).
 * @internal
 */
export function open(
  algorithm: LowLevelAeadAlgorithm,
  key: KeyObject | Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad1?: Uint8Array,
  aad2?: Uint8Array,
): Buffer {
  let body: Buffer | undefined;
  try {
    const decipher = createDecipheriv(algorithm as CipherGCMTypes, key, iv, TAG_OPTIONS);
    decipher.setAuthTag(tag);
    if (aad1 !== undefined && aad1.length > 0) decipher.setAAD(aad1);
    if (aad2 !== undefined && aad2.length > 0) decipher.setAAD(aad2);
    body = decipher.update(ciphertext);
    const rest = decipher.final();
    return rest.length === 0 ? body : Buffer.concat([body, rest]);
  } catch (cause) {
    // The tag did not verify: whatever update() produced is unauthenticated, so wipe it.
    body?.fill(0);
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      'Decryption failed: the ciphertext was tampered with, or the associated data or key does not match',
      undefined,
      { cause },
    );
  }
}

function toBytes(value: string | Uint8Array | undefined, what: string): Uint8Array | undefined {
  return value === undefined ? undefined : inputBytes(value, what);
}

/**
 * Low-level AEAD encryption with an explicit IV. The caller owns nonce uniqueness: never reuse an
 * IV under the same key (GCM loses confidentiality AND authenticity on reuse). Prefer `KeyRing`.
 */
export function aeadEncrypt(
  algorithm: LowLevelAeadAlgorithm,
  key: KeyObject | Uint8Array,
  iv: Uint8Array,
  plaintext: string | Uint8Array,
  aad?: string | Uint8Array,
): { ciphertext: Buffer; tag: Buffer } {
  checkParams(algorithm, key, iv);
  const data = toBytes(plaintext, 'plaintext') as Uint8Array;
  let sealed: Buffer;
  try {
    sealed = seal(algorithm, key, iv, data, toBytes(aad, 'aad'));
  } catch (cause) {
    throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Encryption failed', undefined, {
      cause,
    });
  }
  const split = sealed.length - TAG_LENGTH;
  return { ciphertext: sealed.subarray(0, split), tag: sealed.subarray(split) };
}

/**
 * Low-level AEAD decryption. Only 128-bit tags are accepted. Throws BulwarkCryptoError
 * (ERR_CRYPTO_DECRYPTION_FAILED) when the tag does not verify.
 */
export function aeadDecrypt(
  algorithm: LowLevelAeadAlgorithm,
  key: KeyObject | Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad?: string | Uint8Array,
): Buffer {
  checkParams(algorithm, key, iv);
  if (!(ciphertext instanceof Uint8Array)) {
    throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'ciphertext must be a Uint8Array');
  }
  if (!(tag instanceof Uint8Array) || tag.length !== TAG_LENGTH) {
    throw new BulwarkCryptoError(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      `Decryption failed: the tag must be ${TAG_LENGTH} bytes`,
    );
  }
  return open(algorithm, key, iv, ciphertext, tag, toBytes(aad, 'aad'));
}
