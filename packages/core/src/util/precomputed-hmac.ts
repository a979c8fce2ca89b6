import { hash, type KeyObject } from 'node:crypto';

/** Block and output sizes (bytes) of the hashes HMAC is used with here (FIPS 180-4). */
const SIZES: Readonly<Record<string, { block: number; out: number }>> = {
  sha256: { block: 64, out: 32 },
  sha384: { block: 128, out: 48 },
  sha512: { block: 128, out: 64 },
};

/**
 * Messages up to this many bytes (a JWS signing input, a usual audit entry, a CSRF binding) are
 * hashed from a buffer kept for the purpose; longer ones from a buffer of their own.
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
 * native handle for the garbage collector to finalise. On the token fast path, under load, that
 * cost the Koa bundle without the token cache 9-15% of its throughput (an ad-hoc A/B, servers
 * alternated in one process), far more than the two hashes; keyed audit logs, pseudonyms and CSRF
 * checks paid it per entry or value. The result is byte-for-byte HMAC: the tests hold it to Wycheproof's
 * HMAC-SHA-256/384/512 vectors and to `createHmac` on random keys (shorter than, equal to and
 * longer than a block) and messages.
 *
 * The padded key blocks live in buffers of their own (never Node's shared pool) for the life of
 * the function, as a KeyObject's bytes do; message bytes are wiped from the reused buffer after
 * each call. Synchronous and single-threaded: no two calls can write the reused buffers at once.
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
  /**
   * The inner hash over `into` (the ipad block, then `length` message bytes), then `into` wiped:
   * the shared buffer's message bytes, or the whole of a buffer of its own (it holds a copy of the
   * ipad block). Neither the last message nor key material is left behind in a buffer.
   */
  const innerDigest = (into: Buffer, length: number): string => {
    const digest = hash(algorithm, into.subarray(0, block + length), 'binary');
    if (into === inner) inner.fill(0, block, block + length);
    else into.fill(0);
    return digest;
  };
  const ofLatin1 = (input: string): Buffer => {
    const into = input.length <= SCRATCH_BYTES ? inner : ownInner(input.length);
    return finish(innerDigest(into, into.write(input, block, 'latin1')));
  };
  return Object.assign(ofLatin1, {
    bytes(data: Uint8Array): Buffer {
      const into = data.length <= SCRATCH_BYTES ? inner : ownInner(data.length);
      into.set(data, block);
      return finish(innerDigest(into, data.length));
    },
  });
}
