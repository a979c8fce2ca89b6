import { hash, type KeyObject } from 'node:crypto';

/** Block and output sizes (bytes) of the hashes JWS HMAC uses (FIPS 180-4). */
const SIZES: Readonly<Record<string, { block: number; out: number }>> = {
  sha256: { block: 64, out: 32 },
  sha384: { block: 128, out: 48 },
  sha512: { block: 128, out: 64 },
};

/**
 * Signing inputs up to this many bytes are hashed from a buffer kept for the purpose; longer ones
 * (rare: a bearer header is capped well below) from a buffer of their own.
 */
const SCRATCH_BYTES = 4096;

/** HMAC of a latin1 (ASCII) string into a buffer it reuses: valid until the next call. */
export type PrecomputedHmac = (input: string) => Buffer;

/**
 * HMAC (RFC 2104) for one secret key, built on one-shot `crypto.hash`:
 * `H((K ^ opad) || H((K ^ ipad) || message))`, with both padded key blocks prepared once.
 *
 * Why not `createHmac(hash, key)` per token: OpenSSL 3 sets up a MAC context for every call (a
 * provider fetch and the key schedule), which under load cost as much as the two hashes
 * themselves; this is the token fast path's hottest line. The result is byte-for-byte HMAC: the
 * tests hold it to Wycheproof's HMAC-SHA-256/384/512 vectors and to `createHmac` on random keys
 * (shorter than, equal to and longer than a block) and messages.
 *
 * The padded key blocks live in buffers of their own (never Node's shared pool) for the life of
 * the check, as the KeyObject it came from does. Synchronous and single-threaded: the reused
 * buffers cannot be written by two calls at once.
 * @internal
 */
export function precomputedHmac(algorithm: 'sha256' | 'sha384' | 'sha512', key: KeyObject): PrecomputedHmac {
  const sizes = SIZES[algorithm];
  if (sizes === undefined || key.type !== 'secret') {
    throw new TypeError('precomputedHmac needs a secret key and sha256, sha384 or sha512');
  }
  const { block, out } = sizes;
  let raw = key.export();
  // RFC 2104 §2: a key longer than the block is hashed first.
  if (raw.length > block) {
    const exported = raw;
    raw = Buffer.from(hash(algorithm, raw, 'binary'), 'binary');
    exported.fill(0);
  }
  // inner = ipad block then the message; outer = opad block then the inner digest.
  const inner = Buffer.alloc(block + SCRATCH_BYTES);
  const outer = Buffer.alloc(block + out);
  for (let i = 0; i < block; i++) {
    const k = i < raw.length ? raw[i]! : 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  raw.fill(0);
  const mac = Buffer.alloc(out);
  return (input) => {
    let innerDigest: string;
    if (input.length <= SCRATCH_BYTES) {
      const n = inner.write(input, block, 'latin1');
      innerDigest = hash(algorithm, inner.subarray(0, block + n), 'binary');
    } else {
      const own = Buffer.allocUnsafeSlow(block + input.length);
      inner.copy(own, 0, 0, block);
      own.write(input, block, 'latin1');
      innerDigest = hash(algorithm, own, 'binary');
    }
    outer.write(innerDigest, block, 'latin1');
    mac.write(hash(algorithm, outer, 'binary'), 0, 'latin1');
    return mac;
  };
}
