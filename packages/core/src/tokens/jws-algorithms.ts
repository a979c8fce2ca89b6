import { type KeyObject } from 'node:crypto';

/**
 * JWS algorithms Bulwark accepts in an allow-list (RFC 7518 §3.1 plus EdDSA from RFC 8037).
 * `none` is deliberately absent and can never be allowed.
 */
export const JWS_ALGORITHMS = [
  'EdDSA',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'HS256',
  'HS384',
  'HS512',
] as const;

export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

export function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return typeof value === 'string' && (JWS_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * Legacy choices a token service refuses unless the app names them in `legacyAlgorithms`
 * (ASVS 5.0 V11.6.1, V11.2.3): the RSASSA-PKCS1-v1_5 signatures RS256 / RS384 / RS512 (RFC 8017
 * §8.2; RSASSA-PSS, ES* and EdDSA replace them), and `RSA-2048`: RSA keys of 2048 to 3071 bits
 * (about 112-bit security; 3072 bits gives the 128 bits current guidance asks for); and
 * `HMAC-SHORT-SECRET`: an HS256 secret shorter than the 32 bytes RFC 7518 §3.2 requires (an
 * existing app's secret, accepted so its tokens keep working while it rotates to a strong one; the
 * service warns at start-up and reports it, and the compliance token-key check fails).
 */
export const LEGACY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'RSA-2048', 'HMAC-SHORT-SECRET'] as const;

export type LegacyAlgorithm = (typeof LEGACY_ALGORITHMS)[number];

/** RSA keys this size and larger are not legacy (NIST SP 800-57 Part 1 Table 2: 128-bit security). */
export const MODERN_RSA_BITS = 3072;

/** The modulus length of an RSA / RSA-PSS key, undefined for any other key. */
export function rsaModulusBits(key: KeyObject): number | undefined {
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return undefined;
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

/** HMAC algorithms share one secret between signer and verifier; everything else is asymmetric. */
export function isHmacAlgorithm(alg: string): boolean {
  return alg === 'HS256' || alg === 'HS384' || alg === 'HS512';
}

/** RFC 7518 §3.2: an HMAC key must be at least as long as the hash output. */
const HMAC_MIN_BYTES: Record<'HS256' | 'HS384' | 'HS512', number> = { HS256: 32, HS384: 48, HS512: 64 };
/** RFC 7518 §3.3 / §3.5: RSA keys of 2048 bits or more. */
const MIN_RSA_BITS = 2048;

const EC_CURVE_ALG: Record<string, JwsAlgorithm> = {
  prime256v1: 'ES256',
  'P-256': 'ES256',
  secp384r1: 'ES384',
  'P-384': 'ES384',
  secp521r1: 'ES512',
  'P-521': 'ES512',
};

/**
 * The algorithms a key can legitimately be used with. Verification only ever passes jose the
 * intersection of this list and the allow-list, so a token whose header names an algorithm of
 * another family than the key (the classic "HS256 signed with the RSA public key as HMAC secret"
 * confusion) is refused before any signature maths runs.
 */
export function algorithmsForKey(key: KeyObject): JwsAlgorithm[] {
  if (key.type === 'secret') {
    const length = key.symmetricKeySize ?? 0;
    return (['HS256', 'HS384', 'HS512'] as const).filter((alg) => length >= HMAC_MIN_BYTES[alg]);
  }
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return ['EdDSA'];
    case 'ec': {
      const alg = details.namedCurve !== undefined ? EC_CURVE_ALG[details.namedCurve] : undefined;
      return alg === undefined ? [] : [alg];
    }
    case 'rsa':
      return (details.modulusLength ?? 0) >= MIN_RSA_BITS
        ? ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
        : [];
    case 'rsa-pss':
      return (details.modulusLength ?? 0) >= MIN_RSA_BITS ? ['PS256', 'PS384', 'PS512'] : [];
    default:
      return [];
  }
}
