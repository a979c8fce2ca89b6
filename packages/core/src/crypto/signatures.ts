import {
  createPrivateKey,
  createPublicKey,
  KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  constants,
  type JsonWebKey,
} from 'node:crypto';
import { ErrorCodes } from '../errors';
import { inputBytes } from './bytes';
import { asCryptoError, cryptoError } from './cipher-entry';

/**
 * Signature algorithms, named as in JOSE (RFC 7518 / RFC 8037): Ed25519 (RFC 8032), ES256 (ECDSA
 * P-256 + SHA-256, signatures as r || s, 64 bytes) and PS256 (RSASSA-PSS, SHA-256, MGF1-SHA-256,
 * 32-byte salt, RFC 8017). An explicit allow-list: nothing else is signed or verified.
 */
export type SignatureAlgorithm = 'Ed25519' | 'ES256' | 'PS256';

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = Object.freeze([
  'Ed25519',
  'ES256',
  'PS256',
]);

/** A key as node:crypto accepts it: a KeyObject, PEM text or a JWK. */
export type SignatureKey = KeyObject | string | JsonWebKey;

/** RSA moduli below this are refused (NIST SP 800-131A: 2048 bits through 2030). */
export const MIN_RSA_BITS = 2048;

function toKey(key: SignatureKey, kind: 'private' | 'public'): KeyObject {
  try {
    if (key instanceof KeyObject) {
      if (kind === 'private' && key.type !== 'private') throw new Error('not a private key');
      return kind === 'public' && key.type === 'private' ? createPublicKey(key) : key;
    }
    if (typeof key === 'string') return kind === 'private' ? createPrivateKey(key) : createPublicKey(key);
    if (key !== null && typeof key === 'object') {
      return kind === 'private'
        ? createPrivateKey({ key, format: 'jwk' })
        : createPublicKey({ key, format: 'jwk' });
    }
  } catch {
    // node's parse error is not passed on: it may quote part of the key.
    throw cryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      `Not a usable ${kind} key (KeyObject, PEM or JWK expected)`,
    );
  }
  throw cryptoError(
    ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    `Not a usable ${kind} key (KeyObject, PEM or JWK expected)`,
  );
}

/** Checks that `key` is of the kind `algorithm` needs (a P-384 key is not an ES256 key). */
function checkKey(algorithm: SignatureAlgorithm, key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const ok =
    algorithm === 'Ed25519'
      ? type === 'ed25519'
      : algorithm === 'ES256'
        ? type === 'ec' && details.namedCurve === 'prime256v1'
        : type === 'rsa' || type === 'rsa-pss';
  if (!ok) {
    throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, `The key does not fit ${algorithm}`, { algorithm });
  }
  if (algorithm === 'PS256' && (details.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw cryptoError(
      ErrorCodes.CRYPTO_WEAK_PARAMETERS,
      `PS256 keys must have at least ${MIN_RSA_BITS} bits`,
      {
        parameter: 'modulusLength',
      },
    );
  }
  // An rsa-pss key may carry PSS parameters that restrict what it signs: they must allow PS256.
  if (
    type === 'rsa-pss' &&
    ((details.hashAlgorithm !== undefined && details.hashAlgorithm !== 'sha256') ||
      (details.mgf1HashAlgorithm !== undefined && details.mgf1HashAlgorithm !== 'sha256') ||
      (details.saltLength !== undefined && details.saltLength > 32))
  ) {
    throw cryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      'The rsa-pss key is restricted to parameters other than PS256 (SHA-256, MGF1-SHA-256, 32-byte salt)',
      { algorithm },
    );
  }
}

function checkAlgorithm(algorithm: unknown): asserts algorithm is SignatureAlgorithm {
  if (!SIGNATURE_ALGORITHMS.includes(algorithm as SignatureAlgorithm)) {
    throw cryptoError(
      ErrorCodes.CRYPTO_UNSUPPORTED_ALGORITHM,
      `Unsupported signature algorithm; use one of ${SIGNATURE_ALGORITHMS.join(', ')}`,
    );
  }
}

function nodeParams(algorithm: SignatureAlgorithm, key: KeyObject) {
  switch (algorithm) {
    case 'Ed25519':
      return { digest: null, options: { key } };
    case 'ES256':
      return { digest: 'sha256', options: { key, dsaEncoding: 'ieee-p1363' as const } };
    default:
      return {
        digest: 'sha256',
        options: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
      };
  }
}

/** Signs `payload` (string: UTF-8) with a private key of `algorithm`. */
export function signMessage(
  algorithm: SignatureAlgorithm,
  privateKey: SignatureKey,
  payload: string | Uint8Array,
): Buffer {
  checkAlgorithm(algorithm);
  const key = toKey(privateKey, 'private');
  checkKey(algorithm, key);
  const { digest, options } = nodeParams(algorithm, key);
  const message = inputBytes(payload, 'data');
  try {
    return nodeSign(digest, message, options);
  } catch (error) {
    // OpenSSL's own error (e.g. ERR_OSSL_...) stays the cause, never the message.
    throw asCryptoError(error, ErrorCodes.CRYPTO_INVALID_ARGUMENT, `Signing with ${algorithm} failed`);
  }
}

/**
 * True only if `signature` is a valid `algorithm` signature of `payload` under `publicKey` (a
 * private key is accepted and its public half used). A malformed signature is `false`, never an
 * exception; a key of the wrong kind or an unknown algorithm is a typed error.
 */
export function verifyMessage(
  algorithm: SignatureAlgorithm,
  publicKey: SignatureKey,
  payload: string | Uint8Array,
  signature: Uint8Array,
): boolean {
  checkAlgorithm(algorithm);
  const key = toKey(publicKey, 'public');
  checkKey(algorithm, key);
  if (!(signature instanceof Uint8Array)) return false;
  if (algorithm !== 'PS256' && signature.length !== 64) return false;
  const { digest, options } = nodeParams(algorithm, key);
  try {
    return nodeVerify(digest, inputBytes(payload, 'data'), options, signature);
  } catch {
    return false;
  }
}
