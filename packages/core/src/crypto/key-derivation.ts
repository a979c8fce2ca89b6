import { hkdfSync, pbkdf2, scrypt } from 'node:crypto';
import { ErrorCodes } from '../errors';
import { inputBytes } from './bytes';
import { cryptoError } from './cipher-entry';

// Key derivation with parameter floors. A parameter below its floor is refused with
// ERR_CRYPTO_WEAK_PARAMETERS (details.parameter names it) unless the caller says, by name, that it
// accepts weak parameters (`insecureAllowWeakParameters`: known-answer tests, reading a legacy
// format). Passwords are for PasswordHasher (argon2id) when the goal is storing a verifier; these
// derive KEYS (e.g. to encrypt an export under a passphrase).

/** Hashes the derivations accept. */
export type KdfHash = 'sha256' | 'sha384' | 'sha512';

const HASH_BYTES: Readonly<Record<KdfHash | 'sha1', number>> = Object.freeze({
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
});

/** NIST SP 800-132 §5.1: salts of at least 128 bits. */
export const MIN_SALT_BYTES = 16;
/** Derived keys shorter than 128 bits are refused. */
export const MIN_KEY_BYTES = 16;

export interface HkdfOptions {
  /** Default sha256. */
  hash?: KdfHash;
  /** Optional (RFC 5869 §3.1: a random salt strengthens the extraction). */
  salt?: string | Uint8Array;
  /** Context and purpose label, e.g. `myapp/v1/export-key`. */
  info?: string | Uint8Array;
  /** Output length in bytes (16 to 255 × hash length; default 32). */
  length?: number;
  insecureAllowWeakParameters?: boolean;
}

export interface ScryptOptions {
  /** CPU/memory cost, a power of two (default 2^17, OWASP; floor 2^15). */
  N?: number;
  /** Block size (default 8; floor 8). */
  r?: number;
  /** Parallelism (default 1; 1 to 16). */
  p?: number;
  /** Output length in bytes (default 32; floor 16). */
  keyLength?: number;
  insecureAllowWeakParameters?: boolean;
}

export interface Pbkdf2Options {
  /** Default sha256 (sha1 only with insecureAllowWeakParameters). */
  hash?: KdfHash | 'sha1';
  /** Default and floor: OWASP 2023 (sha256 600 000, sha384 / sha512 210 000). */
  iterations?: number;
  /** Output length in bytes (default 32; floor 16). */
  keyLength?: number;
  insecureAllowWeakParameters?: boolean;
}

/** OWASP Password Storage Cheat Sheet (2023) PBKDF2 iteration counts, used as defaults and floors. */
export const PBKDF2_MIN_ITERATIONS: Readonly<Record<KdfHash | 'sha1', number>> = Object.freeze({
  sha1: 1_300_000,
  sha256: 600_000,
  sha384: 210_000,
  sha512: 210_000,
});
const SCRYPT_DEFAULT_N = 2 ** 17;
const SCRYPT_MIN_N = 2 ** 15;

function invalid(message: string): Error {
  return cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, message);
}

function weak(parameter: string, message: string, allow: boolean | undefined): void {
  if (allow === true) return;
  throw cryptoError(
    ErrorCodes.CRYPTO_WEAK_PARAMETERS,
    `${message} (insecureAllowWeakParameters: true accepts it, e.g. for known-answer tests)`,
    { parameter },
  );
}

function integer(value: unknown, fallback: number, what: string, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`${what} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function checkSalt(salt: Buffer, allow: boolean | undefined): void {
  if (salt.length < MIN_SALT_BYTES) {
    weak('salt', `The salt must be at least ${MIN_SALT_BYTES} random bytes, got ${salt.length}`, allow);
  }
}

function checkKeyLength(length: number, allow: boolean | undefined): void {
  if (length < MIN_KEY_BYTES)
    weak('keyLength', `Derived keys must be at least ${MIN_KEY_BYTES} bytes`, allow);
}

/**
 * HKDF (RFC 5869) over key material that is already random (a shared secret, a master key), not a
 * password. The input must carry at least 128 bits (16 bytes).
 */
export function hkdf(ikm: string | Uint8Array, options: HkdfOptions = {}): Buffer {
  const hash = options.hash ?? 'sha256';
  if (hash !== 'sha256' && hash !== 'sha384' && hash !== 'sha512')
    throw invalid('hash must be sha256, sha384 or sha512');
  const key = inputBytes(ikm, 'ikm');
  const length = integer(options.length, 32, 'length', 1, 255 * HASH_BYTES[hash]);
  if (key.length < MIN_KEY_BYTES)
    weak(
      'ikm',
      `HKDF input key material must be at least ${MIN_KEY_BYTES} bytes`,
      options.insecureAllowWeakParameters,
    );
  checkKeyLength(length, options.insecureAllowWeakParameters);
  const salt = options.salt === undefined ? Buffer.alloc(0) : inputBytes(options.salt, 'salt');
  const info = options.info === undefined ? Buffer.alloc(0) : inputBytes(options.info, 'info');
  if (info.length > 1024) throw invalid('info must be at most 1024 bytes');
  return Buffer.from(hkdfSync(hash, key, salt, info, length));
}

/**
 * scrypt (RFC 7914) key derivation from a password. Defaults: N = 2^17, r = 8, p = 1 (OWASP),
 * 128 MiB of memory; floors N >= 2^15, r >= 8, salt >= 16 bytes.
 */
export async function scryptKey(
  password: string | Uint8Array,
  salt: string | Uint8Array,
  options: ScryptOptions = {},
): Promise<Buffer> {
  const allow = options.insecureAllowWeakParameters;
  const N = integer(options.N, SCRYPT_DEFAULT_N, 'N', 2, 2 ** 24);
  if ((N & (N - 1)) !== 0) throw invalid('N must be a power of two');
  const r = integer(options.r, 8, 'r', 1, 64);
  const p = integer(options.p, 1, 'p', 1, 16);
  const keyLength = integer(options.keyLength, 32, 'keyLength', 1, 1024);
  const saltBytes = inputBytes(salt, 'salt');
  const passwordBytes = inputBytes(password, 'password');
  if (N < SCRYPT_MIN_N) weak('N', `scrypt N must be at least 2^15, got ${N}`, allow);
  if (r < 8) weak('r', `scrypt r must be at least 8, got ${r}`, allow);
  checkSalt(saltBytes, allow);
  checkKeyLength(keyLength, allow);
  // scrypt needs 128 * N * r * p bytes (plus slack); Node's default cap is 32 MiB.
  const maxmem = 128 * N * r * p + 32 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(passwordBytes, saltBytes, keyLength, { N, r, p, maxmem }, (error, key) => {
      if (error)
        reject(
          cryptoError(
            ErrorCodes.CRYPTO_INVALID_ARGUMENT,
            'scrypt failed (parameters too large for this machine?)',
          ),
        );
      else resolve(key);
    });
  });
}

/**
 * PBKDF2 (RFC 8018) key derivation from a password, for interoperability with systems that
 * require it (prefer scryptKey otherwise). Iteration floors per hash: PBKDF2_MIN_ITERATIONS.
 */
export async function pbkdf2Key(
  password: string | Uint8Array,
  salt: string | Uint8Array,
  options: Pbkdf2Options = {},
): Promise<Buffer> {
  const allow = options.insecureAllowWeakParameters;
  const hash = options.hash ?? 'sha256';
  if (!Object.hasOwn(HASH_BYTES, hash)) throw invalid('hash must be sha256, sha384 or sha512');
  if (hash === 'sha1') weak('hash', 'PBKDF2 with SHA-1 is refused', allow);
  const floor = PBKDF2_MIN_ITERATIONS[hash];
  const iterations = integer(options.iterations, floor, 'iterations', 1, 100_000_000);
  const keyLength = integer(options.keyLength, 32, 'keyLength', 1, 1024);
  const saltBytes = inputBytes(salt, 'salt');
  const passwordBytes = inputBytes(password, 'password');
  if (iterations < floor)
    weak('iterations', `PBKDF2-${hash} needs at least ${floor} iterations, got ${iterations}`, allow);
  checkSalt(saltBytes, allow);
  checkKeyLength(keyLength, allow);
  return new Promise((resolve, reject) => {
    pbkdf2(passwordBytes, saltBytes, iterations, keyLength, hash, (error, key) => {
      if (error) reject(cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'PBKDF2 failed'));
      else resolve(key);
    });
  });
}
