import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'jose';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import { isHmacAlgorithm, isJwsAlgorithm, type JwsAlgorithm } from './jws-algorithms';
import { jwkThumbprint, publicJwkOf } from './token-key';

const generate = promisify(generateKeyPair) as (
  type: string,
  options: Record<string, unknown>,
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

export interface GeneratedSigningKey {
  alg: JwsAlgorithm;
  /** RFC 7638 thumbprint of the public key. */
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Public JWK with `kid`, `alg` and `use: "sig"`, ready to publish in a JWKS. */
  publicJwk: JWK;
}

/**
 * Generates an asymmetric signing key pair for `alg` (demos, tests, first boot). Production keys
 * normally come from a KMS or the key ring. RSA keys are 3072 bits (128-bit security; ASVS 5.0
 * V11.2.3), so a TokenService takes them without the `RSA-2048` opt-in. RS* still needs its
 * `legacyAlgorithms` opt-in; prefer PS256. For HS* use 32+ random bytes instead.
 */
export async function generateSigningKey(alg: JwsAlgorithm): Promise<GeneratedSigningKey> {
  if (!isJwsAlgorithm(alg) || isHmacAlgorithm(alg)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'generateSigningKey(alg) needs an asymmetric JWS algorithm (EdDSA, ES256/384/512, RS*/PS*); ' +
        'for HS* use crypto.randomBytes(32|48|64)',
      { path: 'alg' },
    );
  }
  let pair: { publicKey: KeyObject; privateKey: KeyObject };
  if (alg === 'EdDSA') pair = await generate('ed25519', {});
  else if (alg.startsWith('ES')) {
    const namedCurve = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg as 'ES256' | 'ES384' | 'ES512'];
    pair = await generate('ec', { namedCurve });
  } else pair = await generate('rsa', { modulusLength: 3072, publicExponent: 0x10001 });
  const kid = jwkThumbprint(pair.privateKey);
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicJwk: { ...publicJwkOf(pair.publicKey), kid, alg, use: 'sig' },
  };
}
