import fc from 'fast-check';
import { KeyRing } from '../../src/crypto/key-ring';
import { BulwarkCryptoError } from '../../src/errors';
import { formatOneRing } from './helpers';

/** Decrypt must either throw a BulwarkCryptoError or (only for the untouched envelope) succeed. */
function mustReject(ring: KeyRing, envelope: string, aad?: string): void {
  let result: unknown;
  try {
    result = ring.decrypt(envelope, { aad });
  } catch (error) {
    if (error instanceof BulwarkCryptoError) return;
    throw new Error(`untyped error escaped: ${String(error)}`, { cause: error });
  }
  throw new Error(`tampered envelope decrypted to ${String(result)}: ${envelope}`);
}

const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u00e9\u0000';

describe('envelope tamper resistance (property-based)', () => {
  let ring: KeyRing;
  const samples: Array<{ envelope: string; aad: string; plaintext: string }> = [];

  beforeAll(async () => {
    ring = await formatOneRing();
    await ring.createKey('pii');
    await ring.createKey('other', { algorithm: 'chacha20-poly1305' });
    await ring.rotate('pii');
    const plaintexts = ['', 'a', 'alice@example.com', 'Zoë 🚀', 'x'.repeat(100)];
    for (const plaintext of plaintexts) {
      for (const [keyId, deterministic] of [
        ['pii', false],
        ['pii', true],
        ['other', false],
      ] as const) {
        const aad = `t.c|${plaintext.length}`;
        samples.push({ envelope: ring.encrypt(keyId, plaintext, { aad, deterministic }), aad, plaintext });
      }
      const aad = 'subject.col';
      samples.push({ envelope: await ring.encryptForSubject('user-42', plaintext, { aad }), aad, plaintext });
    }
    // Sanity: the untouched samples decrypt (so a rejection below is due to the change).
    for (const s of samples) expect(ring.decryptString(s.envelope, { aad: s.aad })).toBe(s.plaintext);
  });
  afterAll(() => ring.close());

  const sample = () => fc.integer({ min: 0, max: 1000 }).map((i) => samples[i % samples.length]);

  it('rejects any single-character change in any part', () => {
    fc.assert(
      fc.property(sample(), fc.nat(), fc.constantFrom(...CHARS), (s, pos, c) => {
        const i = pos % s.envelope.length;
        fc.pre(s.envelope[i] !== c);
        mustReject(ring, s.envelope.slice(0, i) + c + s.envelope.slice(i + 1), s.aad);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects any flipped bit in the decoded IV, ciphertext or tag', () => {
    fc.assert(
      fc.property(sample(), fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 7 }), (s, inIv, pos, bit) => {
        const parts = s.envelope.split('.');
        const index = inIv ? parts.length - 2 : parts.length - 1;
        const bytes = Buffer.from(parts[index], 'base64url');
        bytes[pos % bytes.length] ^= 1 << bit;
        parts[index] = bytes.toString('base64url');
        mustReject(ring, parts.join('.'), s.aad);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects every truncation, insertion, and extra or missing part', () => {
    fc.assert(
      fc.property(sample(), fc.nat(), fc.string({ minLength: 1, maxLength: 8 }), (s, pos, extra) => {
        const cut = pos % s.envelope.length;
        mustReject(ring, s.envelope.slice(0, cut), s.aad);
        mustReject(ring, s.envelope.slice(0, cut) + extra + s.envelope.slice(cut), s.aad);
        mustReject(ring, `${s.envelope}.${extra}`, s.aad);
        const parts = s.envelope.split('.');
        mustReject(ring, parts.filter((_p, i) => i !== pos % parts.length).join('.'), s.aad);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a payload that is not canonical base64url (unused low bits set)', () => {
    // A 1-byte plaintext gives 17 payload bytes = 23 characters, whose last character has 4 unused bits.
    const env = ring.encrypt('pii', 'a');
    const payload = env.split('.')[4];
    expect(payload.length % 4).toBe(3);
    const last = payload[payload.length - 1];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1];
    // Node alone would decode both spellings to the same bytes.
    const forged = env.slice(0, -1) + sibling;
    expect(Buffer.from(forged.split('.')[4], 'base64url').equals(Buffer.from(payload, 'base64url'))).toBe(
      true,
    );
    mustReject(ring, forged);
    expect(ring.decryptString(env)).toBe('a');
  });

  it('lets only BulwarkCryptoError escape for arbitrary input (fuzz)', () => {
    const envelopeLike = fc
      .tuple(
        fc.constantFrom('bw1', 'bw1d', 'bw1s', 'bw1sd', 'bw2', 'BW1', ''),
        fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{0,30}$/), { maxLength: 6 }),
      )
      .map(([fmt, parts]) => [fmt, ...parts].join('.'));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), envelopeLike), (input) => {
        mustReject(ring, input);
      }),
      { numRuns: 300 },
    );
    for (const junk of [null, undefined, 42, {}, [], Buffer.from('bw1.pii.1')]) {
      mustReject(ring, junk as unknown as string);
    }
  });

  it('needsRewrap and reencrypt also reject tampered input with typed errors only', () => {
    fc.assert(
      fc.property(sample(), fc.nat(), fc.constantFrom(...CHARS), (s, pos, c) => {
        const i = pos % s.envelope.length;
        fc.pre(s.envelope[i] !== c);
        const tampered = s.envelope.slice(0, i) + c + s.envelope.slice(i + 1);
        try {
          ring.reencrypt(tampered, { aad: s.aad });
          throw new Error('reencrypt accepted a tampered envelope');
        } catch (error) {
          if (!(error instanceof BulwarkCryptoError)) throw error;
        }
        try {
          ring.needsRewrap(tampered);
        } catch (error) {
          if (!(error instanceof BulwarkCryptoError)) throw error;
        }
      }),
      { numRuns: 200 },
    );
  });
});
