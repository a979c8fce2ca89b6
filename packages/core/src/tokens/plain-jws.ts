import {
  constants as cryptoConstants,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import type { JwsAlgorithm } from './jws-algorithms';
import { precomputedHmac } from '../util/precomputed-hmac';

/**
 * The synchronous fast path of `TokenService.verify()`: an accept-only check of the plain case on
 * node:crypto with a KeyObject prepared once, in front of jose (which verifies HMAC through
 * WebCrypto, an asynchronous thread-pool hop per token).
 *
 * It can only say "this token is plainly valid" or "not sure": every token it does not accept goes
 * on to jose, which gives the definitive verdict and the error. So it must accept a subset of what
 * jose (plus the service's own claim checks) accepts, never more; the differential test in
 * test/tokens/fast-path.test.ts holds it to that.
 */

/** Checks one signature over the signing input; false means "not sure" (jose decides). */
export type PlainSignatureCheck = (signingInput: string, signature: Buffer) => boolean;

/** Header parameters of the plain case. Anything else (`crit`, `b64`, `jku`, `jwk`, `x5c`, ...) goes to jose. */
const PLAIN_HEADER_PARAMETERS: ReadonlySet<string> = new Set(['alg', 'typ', 'kid']);

/**
 * Test and benchmark hook, not part of the public API (not exported from the package): `enabled`
 * switches the fast path off (jose alone, the reference), `accepted` counts the tokens it accepted.
 */
export const plainJwsFastPath = { enabled: true, accepted: 0 };

const HMAC_HASH: Partial<Record<JwsAlgorithm, 'sha256' | 'sha384' | 'sha512'>> = {
  HS256: 'sha256',
  HS384: 'sha384',
  HS512: 'sha512',
};
/** ES* signatures are R || S (RFC 7518 §3.4), each the size of the curve's order. */
const ECDSA: Partial<Record<JwsAlgorithm, { hash: string; bytes: number }>> = {
  ES256: { hash: 'sha256', bytes: 64 },
  ES384: { hash: 'sha384', bytes: 96 },
  ES512: { hash: 'sha512', bytes: 132 },
};
/** RSASSA-PSS with the salt as long as the hash (RFC 7518 §3.5), as WebCrypto checks it for jose. */
const RSA: Partial<Record<JwsAlgorithm, { hash: string; pss?: number }>> = {
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  RS512: { hash: 'sha512' },
  PS256: { hash: 'sha256', pss: 32 },
  PS384: { hash: 'sha384', pss: 48 },
  PS512: { hash: 'sha512', pss: 64 },
};

/** node:crypto throws on some malformed signatures where WebCrypto answers false: both are "not sure". */
function safely(check: PlainSignatureCheck): PlainSignatureCheck {
  return (input, signature) => {
    try {
      return check(input, signature);
    } catch {
      return false;
    }
  };
}

/**
 * One synchronous signature check per algorithm the key verifies here (`algorithms` is already the
 * allow-list narrowed to the key's family). Keys and algorithms this does not cover (an RSA-PSS
 * restricted key, anything unexpected) get no entry, and their tokens all go to jose.
 */
export function plainSignatureChecks(
  key: KeyObject,
  algorithms: readonly JwsAlgorithm[],
): ReadonlyMap<string, PlainSignatureCheck> {
  const checks = new Map<string, PlainSignatureCheck>();
  for (const alg of algorithms) {
    const hmac = HMAC_HASH[alg];
    if (hmac !== undefined) {
      if (key.type !== 'secret') continue;
      const macOf = precomputedHmac(hmac, key);
      checks.set(
        alg,
        safely((input, signature) => {
          const mac = macOf(input);
          return signature.length === mac.length && timingSafeEqual(mac, signature);
        }),
      );
      continue;
    }
    if (key.type !== 'public') continue;
    const type = key.asymmetricKeyType;
    const ec = ECDSA[alg];
    const rsa = RSA[alg];
    if (alg === 'EdDSA' && type === 'ed25519') {
      checks.set(
        alg,
        safely((input, signature) => cryptoVerify(null, Buffer.from(input, 'latin1'), key, signature)),
      );
    } else if (ec !== undefined && type === 'ec') {
      const options = { key, dsaEncoding: 'ieee-p1363' as const };
      checks.set(
        alg,
        safely(
          (input, signature) =>
            signature.length === ec.bytes &&
            cryptoVerify(ec.hash, Buffer.from(input, 'latin1'), options, signature),
        ),
      );
    } else if (rsa !== undefined && type === 'rsa') {
      const options =
        rsa.pss === undefined
          ? { key, padding: cryptoConstants.RSA_PKCS1_PADDING }
          : { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: rsa.pss };
      checks.set(
        alg,
        safely((input, signature) =>
          cryptoVerify(rsa.hash, Buffer.from(input, 'latin1'), options, signature),
        ),
      );
    }
  }
  return checks;
}

/**
 * Whether a parsed header is the plain case: an object with nothing but `alg`, a string `typ` and a
 * string `kid`. `typ`/`kid` of another type are legal for jose (it does not read them with a single
 * key), but they are not plain.
 */
export function isPlainHeader(header: Record<string, unknown>): boolean {
  for (const name of Object.keys(header)) {
    if (!PLAIN_HEADER_PARAMETERS.has(name)) return false;
    if (name !== 'alg' && typeof header[name] !== 'string') return false;
  }
  return true;
}

/** A base64url segment jose decodes (its `atob` refuses a length of 4n+1; Buffer would not). */
export function decodableSegment(segment: string): boolean {
  return segment.length % 4 !== 1;
}

/** jose's JWT `typ` comparison (RFC 8725 §3.11): case-insensitive, `application/` implied. */
export function normalizeTyp(value: string): string {
  const normalized = value.toLowerCase();
  return value.includes('/') ? normalized : `application/${normalized}`;
}

/** The payload decoding jose uses: strict UTF-8 (a byte-order mark is dropped), then JSON.parse. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The payload as jose returns it, or undefined if it is not a JSON object (jose then reports why). */
export function decodePayload(segment: string): Record<string, unknown> | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return undefined;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  return payload as Record<string, unknown>;
}

/** A NumericDate the fast path accepts: a finite number (jose takes any number, `1e400` included). */
export function finiteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
