import {
  KeyObject,
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type JsonWebKey as NodeJsonWebKey,
  type webcrypto,
} from 'node:crypto';
import { types as utilTypes } from 'node:util';
import type { JWK } from 'jose';
import { BulwarkConfigError, ErrorCodes } from '../errors';

/**
 * Key material the token service accepts: a Node KeyObject, a WebCrypto CryptoKey, raw HMAC
 * secret bytes, a JWK, or a PEM string (PKCS#8 / SPKI / X.509). Everything is normalised to a
 * KeyObject once, at construction, so a bad key fails at start-up rather than on the first request.
 */
export type TokenKeyInput = KeyObject | webcrypto.CryptoKey | Uint8Array | JWK | string;

export function configError(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} ${message}`, { path });
}

/** Normalises key material to a KeyObject. Messages never include the key itself. */
export function toKeyObject(input: unknown, path: string): KeyObject {
  try {
    if (utilTypes.isKeyObject(input)) return input as KeyObject;
    if (utilTypes.isCryptoKey(input)) return KeyObject.from(input as webcrypto.CryptoKey);
    if (utilTypes.isUint8Array(input)) return createSecretKey(Buffer.from(input as Uint8Array));
    if (typeof input === 'string') {
      // A bare string is far more likely to be a human-chosen password than a key: refuse it.
      if (!input.trimStart().startsWith('-----BEGIN ')) {
        throw configError(path, 'must be a KeyObject, CryptoKey, Uint8Array secret, JWK or PEM string');
      }
      return /PRIVATE KEY-----/.test(input) ? createPrivateKey(input) : createPublicKey(input);
    }
    if (input !== null && typeof input === 'object' && typeof (input as JWK).kty === 'string') {
      const jwk = input as JWK;
      if (jwk.kty === 'oct') {
        if (typeof jwk.k !== 'string') throw configError(path, 'is an oct JWK without "k"');
        return createSecretKey(Buffer.from(jwk.k, 'base64url'));
      }
      const asNode = jwk as unknown as NodeJsonWebKey;
      return jwk.d !== undefined
        ? createPrivateKey({ key: asNode, format: 'jwk' })
        : createPublicKey({ key: asNode, format: 'jwk' });
    }
  } catch (e) {
    if (e instanceof BulwarkConfigError) throw e;
    throw configError(path, 'could not be imported as a key (corrupt PEM/JWK or unsupported key type)');
  }
  throw configError(path, 'must be a KeyObject, CryptoKey, Uint8Array secret, JWK or PEM string');
}

/** The public half of a private key; public and secret keys are returned unchanged. */
export function verificationKeyFor(key: KeyObject): KeyObject {
  return key.type === 'private' ? createPublicKey(key) : key;
}

/** Public JWK of an asymmetric key (never private members). */
export function publicJwkOf(key: KeyObject): JWK {
  const jwk = verificationKeyFor(key).export({ format: 'jwk' }) as JWK;
  return jwk;
}

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of an asymmetric key: the default `kid`, stable
 * for a given key and revealing nothing a verifier cannot already see.
 */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = publicJwkOf(key) as Record<string, string>;
  // §3.2: only the required members, in lexicographic order, no whitespace.
  const members: Record<string, string[]> = {
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
    RSA: ['e', 'kty', 'n'],
  };
  const names = members[jwk.kty];
  if (names === undefined) throw new TypeError('unsupported key type for a thumbprint');
  const canonical = `{${names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(jwk[n])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}
