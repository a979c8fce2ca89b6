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

/** HMACs for one key, each into a buffer it reuses: a result is valid until the next call. */
export interface PrecomputedHmac {
  /** HMAC of a latin1 (ASCII) string's bytes: a JWS signing input. */
  (input: string): Buffer;
  /** HMAC of bytes. */
  bytes(data: Uint8Array): Buffer;
}

/**
 * HMAC (RFC 2104) for one secret key (a KeyObject or its bytes), built on one-shot `crypto.hash`:
 * `H((K ^ opad) || H((K ^ ipad) || message))`, with both padded key blocks prepared once.
 *
 * Why not `createHmac(hash, key)` per call: each call sets up a new OpenSSL MAC context and a
 * native handle for the garbage collector to finalise. On the token fast path that was about a
 * sixth of a Koa request's main-thread time under load (bench/, bundle without the token cache),
 * far more than the two hashes; a keyed audit log pays it per entry. The result is byte-for-byte
 * HMAC: the tests hold it to Wycheproof's HMAC-SHA-256/384/512 vectors and to `createHmac` on
 * random keys (shorter than, equal to and longer than a block) and messages.
 *
 * The padded key blocks live in buffers of their own (never Node's shared pool) for the life of
 * the check, as the KeyObject it came from does. Synchronous and single-threaded: the reused
 * buffers cannot be written by two calls at once.
 * @internal
 */
export function precomputedHmac(
  algorithm: 'sha256' | 'sha384' | 'sha512',
  key: KeyObject | Uint8Array,
): PrecomputedHmac {
  const sizes = SIZES[algorithm];
  const secret = key instanceof Uint8Array || key.type === 'secret';
  if (sizes === undefined || !secret) {
    throw new TypeError('precomputedHmac needs a secret key and sha256, sha384 or sha512');
  }
  const { block, out } = sizes;
  // A copy either way (the caller's bytes stay as they are); wiped once the blocks are built.
  let raw = key instanceof Uint8Array ? Buffer.from(key) : key.export();
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
  /** The outer hash over the inner digest (latin1 text of its bytes) into `mac`. */
  const finish = (innerDigest: string): Buffer => {
    outer.write(innerDigest, block, 'latin1');
    mac.write(hash(algorithm, outer, 'binary'), 0, 'latin1');
    return mac;
  };
  /** A buffer of its own holding the ipad block and room for `length` more bytes. */
  const ownInner = (length: number): Buffer => {
    const own = Buffer.allocUnsafeSlow(block + length);
    inner.copy(own, 0, 0, block);
    return own;
  };
  const ofLatin1 = (input: string): Buffer => {
    if (input.length <= SCRATCH_BYTES) {
      const n = inner.write(input, block, 'latin1');
      return finish(hash(algorithm, inner.subarray(0, block + n), 'binary'));
    }
    const own = ownInner(input.length);
    own.write(input, block, 'latin1');
    return finish(hash(algorithm, own, 'binary'));
  };
  return Object.assign(ofLatin1, {
    bytes(data: Uint8Array): Buffer {
      const into = data.length <= SCRATCH_BYTES ? inner : ownInner(data.length);
      into.set(data, block);
      return finish(hash(algorithm, into.subarray(0, block + data.length), 'binary'));
    },
  });
}
