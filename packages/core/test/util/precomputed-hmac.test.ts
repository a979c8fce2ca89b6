import { createHmac, createSecretKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as fc from 'fast-check';
import { precomputedHmac } from '../../src/util/precomputed-hmac';

/**
 * The token fast path's HMAC (RFC 2104 over one-shot hashes, padded keys prepared once) must be
 * HMAC exactly: Project Wycheproof's known answers, and node:crypto's createHmac on random keys and
 * messages. Vectors: test/vectors/README.md (origin and licence).
 */

const VECTORS = path.join(__dirname, '..', 'vectors');
const ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;

interface MacTest {
  tcId: number;
  key: string;
  msg: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface MacGroup {
  keySize: number;
  tagSize: number;
  tests: MacTest[];
}

const latin1OfHex = (hex: string) => Buffer.from(hex, 'hex').toString('latin1');

describe('precomputedHmac', () => {
  it.each(ALGORITHMS)(
    'HMAC-%s gives every Wycheproof tag (full and truncated) and no modified one',
    (algorithm) => {
      const file = `wycheproof_hmac_${algorithm}_test.json`;
      const { testGroups } = JSON.parse(readFileSync(path.join(VECTORS, file), 'utf8')) as {
        testGroups: MacGroup[];
      };
      const counts = { valid: 0, invalid: 0, longKeys: 0 };
      for (const group of testGroups) {
        for (const t of group.tests) {
          // Alternately from a KeyObject over the latin1 text and from raw key bytes over bytes.
          const mac =
            t.tcId % 2 === 0
              ? precomputedHmac(algorithm, createSecretKey(Buffer.from(t.key, 'hex')))(latin1OfHex(t.msg))
              : precomputedHmac(algorithm, Buffer.from(t.key, 'hex')).bytes(Buffer.from(t.msg, 'hex'));
          // Truncated-tag groups compare the tag's length of the full MAC.
          const got = mac.subarray(0, group.tagSize / 8).toString('hex');
          if (t.result === 'invalid') {
            expect({ tcId: t.tcId, got }).not.toEqual({ tcId: t.tcId, got: t.tag });
            counts.invalid++;
          } else {
            expect({ tcId: t.tcId, got }).toEqual({ tcId: t.tcId, got: t.tag });
            counts.valid++;
          }
          if (t.key.length / 2 > (algorithm === 'sha256' ? 64 : 128)) counts.longKeys++;
        }
      }
      // The files hold both kinds. Their longest keys (65 bytes) are longer than a SHA-256 block
      // (hashed first, RFC 2104 §2); the property below covers that for SHA-384/512 (128-byte blocks).
      expect(counts.valid).toBeGreaterThan(50);
      expect(counts.invalid).toBeGreaterThan(50);
      if (algorithm === 'sha256') expect(counts.longKeys).toBeGreaterThan(0);
    },
  );

  it('equals createHmac for random keys (empty to over two blocks) and messages (past the reused buffer), call after call', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALGORITHMS),
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.array(
          fc.oneof(
            fc.string({
              unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
              maxLength: 600,
            }),
            fc.integer({ min: 4000, max: 5000 }).map((n) => 'e'.repeat(n)),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (algorithm, keyBytes, messages) => {
          const key = createSecretKey(Buffer.from(keyBytes));
          const mac = precomputedHmac(algorithm, key);
          const fromBytes = precomputedHmac(algorithm, keyBytes);
          for (const message of messages) {
            // Each call reuses the same buffers: a longer message before a shorter one must not leak into it.
            const want = createHmac(algorithm, key).update(message, 'latin1').digest('hex');
            expect(mac(message).toString('hex')).toBe(want);
            expect(fromBytes.bytes(Buffer.from(message, 'latin1')).toString('hex')).toBe(want);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("leaves the KeyObject and the caller's key bytes as they were (its own copies are wiped)", () => {
    const key = createSecretKey(Buffer.alloc(200, 7)); // longer than a SHA-256 block
    precomputedHmac('sha256', key)('x');
    expect(key.export().equals(Buffer.alloc(200, 7))).toBe(true);
    const bytes = Buffer.alloc(40, 9);
    precomputedHmac('sha256', bytes).bytes(Buffer.from('x'));
    expect(bytes.equals(Buffer.alloc(40, 9))).toBe(true);
  });

  it('refuses a key that is not secret and a hash JWS does not use', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    expect(() => precomputedHmac('sha256', publicKey)).toThrow(TypeError);
    expect(() => precomputedHmac('md5' as 'sha256', createSecretKey(Buffer.alloc(32)))).toThrow(TypeError);
  });
});
