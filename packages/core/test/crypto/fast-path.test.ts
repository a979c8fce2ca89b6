import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { decodeBase64url, decodeBase64urlInto } from '../../src/crypto/base64url';
import { KeyRing } from '../../src/crypto/key-ring';
import { decodeUtf8 } from '../../src/crypto/utf8';
import { ErrorCodes } from '../../src/errors';
import { codeOf, formatOneRing } from './helpers';

/**
 * The decryption hot path validates base64url by round trip (decode, re-encode, compare) and
 * decodes long non-ASCII UTF-8 through ICU. These tests pin both to independent references so
 * the fast paths can never accept more (or return anything different) than the specification.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** RFC 4648 §5 strict decoder written from the spec, character by character. */
function referenceDecode(text: string): Buffer | undefined {
  if (text.length % 4 === 1) return undefined;
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (ch.length !== 1 || v < 0) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  // The leftover bits of the last character must be zero (RFC 4648 §3.5, canonical encoding).
  if (value !== 0) return undefined;
  return Buffer.from(out);
}

/** Characters Node's lenient decoder treats specially: skipped, other alphabet, padding, or
 *  UTF-16 units whose low byte is an alphabet character (U+0141 -> 'A', U+0162 -> 'b'); and
 *  non-ASCII units the short decoder's UTF-8 copy must not take for one byte (Latin-1, a lone
 *  surrogate whose low byte is 'A', a surrogate pair). */
const NASTY = [
  ...['+', '/', '=', ' ', '\n', '.', '\u0000', '\u00e9', '\u0141', '\u0162', '\u0130', '\uff21'],
  ...['\u0080', '\u00ff', '\ud841', '\udc41', '\u{1f600}'],
];
// Up to 140 characters: both sides of the JS / native decoding limit (128).
const textArb = fc
  .array(fc.oneof(fc.constantFrom(...ALPHABET), fc.constantFrom(...NASTY)), { maxLength: 140 })
  .map((chars) => chars.join(''));

function decodeIntoFresh(text: string): Buffer | undefined {
  const target = Buffer.alloc(text.length + 8, 0xaa);
  const n = decodeBase64urlInto(text, target, 5);
  return n < 0 ? undefined : Buffer.from(target.subarray(5, 5 + n));
}

describe('strict base64url fast path', () => {
  it('accepts exactly what an RFC 4648 reference decoder accepts, with the same bytes', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const expected = referenceDecode(text);
        for (const actual of [decodeBase64url(text), decodeIntoFresh(text)]) {
          if (expected === undefined) expect(actual).toBeUndefined();
          else expect(actual?.equals(expected)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips every byte string and rejects any other spelling of the same bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 105 }),
        fc.nat(),
        fc.constantFrom(...ALPHABET, ...NASTY),
        (bytes, pos, c) => {
          const text = Buffer.from(bytes).toString('base64url');
          expect(decodeBase64url(text)?.equals(Buffer.from(bytes))).toBe(true);
          expect(decodeIntoFresh(text)?.equals(Buffer.from(bytes))).toBe(true);
          if (text.length === 0) return;
          const i = pos % text.length;
          fc.pre(text[i] !== c);
          const changed = text.slice(0, i) + c + text.slice(i + 1);
          const decoded = decodeBase64url(changed);
          // Canonical spellings are unique: a changed text never decodes to the original bytes.
          if (decoded !== undefined) expect(decoded.equals(Buffer.from(bytes))).toBe(false);
          expect(decodeIntoFresh(changed)?.equals(Buffer.from(bytes)) ?? false).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a UTF-16 unit whose low byte is an alphabet character, at every length and position', () => {
    // 16: charCodeAt decoder; 40, 94, 128: the byte-copy decoder; 140: native write + round trip.
    for (const length of [16, 40, 94, 128, 140]) {
      const text = 'A'.repeat(length); // zero bytes, canonical
      expect(decodeIntoFresh(text)?.every((b) => b === 0)).toBe(true);
      for (const unit of ['\u0141', '\ud841', '\u0100', '\u00c1']) {
        for (const at of [0, length >> 1, length - 1]) {
          const changed = text.slice(0, at) + unit + text.slice(at + 1);
          expect(decodeIntoFresh(changed)).toBeUndefined();
          expect(decodeBase64url(changed)).toBeUndefined();
        }
      }
    }
  });

  it('never writes past the decoded length, and refuses a target that is too small', () => {
    const target = Buffer.alloc(8, 0xaa);
    expect(decodeBase64urlInto('AAAA', target, 2)).toBe(3);
    expect([...target]).toEqual([0xaa, 0xaa, 0, 0, 0, 0xaa, 0xaa, 0xaa]);
    expect(decodeBase64urlInto('AAAAAAAA', target, 4)).toBe(-1);
    expect(target.subarray(4).every((b) => b === 0xaa || b === 0)).toBe(true);
  });
});

describe('strict UTF-8 fast path', () => {
  /** Repeats text until its UTF-8 form is long enough for the ICU path. */
  const long = (s: string, bytes = 1100) =>
    s.length === 0 ? s : s.repeat(Math.ceil(bytes / Math.max(1, Buffer.byteLength(s))) + 1);

  it('returns exactly what toString gives for well-formed UTF-8, short and long', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        for (const text of [s, long(s)]) {
          const bytes = Buffer.from(text, 'utf8');
          expect(decodeUtf8(bytes)).toBe(bytes.toString('utf8'));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('returns undefined exactly when the bytes are not UTF-8 (any length)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        fc.uint8Array({ minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        (s, junk, pos, makeLong) => {
          const valid = Buffer.from(makeLong ? long(`${s}é`) : s, 'utf8');
          const at = pos % (valid.length + 1);
          const bytes = Buffer.concat([valid.subarray(0, at), Buffer.from(junk), valid.subarray(at)]);
          expect(decodeUtf8(bytes)).toBe(isUtf8(bytes) ? bytes.toString('utf8') : undefined);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ['BOM kept', '\uFEFFabc'],
    ['NUL, noncharacters and the last code point', '\u0000\uFFFE\uFFFF\u{10FFFF}'],
    ['Latin-1 only', 'é'.repeat(2000)],
    ['CJK and emoji', '日本語🚀'.repeat(300)],
    ['mostly ASCII', `${'a'.repeat(5000)}€`],
  ])('decodes %s exactly', (_name, text) => {
    expect(decodeUtf8(Buffer.from(text, 'utf8'))).toBe(text);
    expect(decodeUtf8(Buffer.from(long(text), 'utf8'))).toBe(long(text));
  });

  it.each([
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['an overlong NUL', [0xc0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a truncated sequence', [0xe6, 0x97]],
    ['a lone continuation byte', [0x80]],
  ])('rejects %s, short and long', (_name, bad) => {
    const long = Buffer.concat([Buffer.from('é'.repeat(700)), Buffer.from(bad), Buffer.from('ü')]);
    expect(decodeUtf8(Buffer.from(bad))).toBeUndefined();
    expect(long.length).toBeGreaterThan(1024);
    expect(decodeUtf8(long)).toBeUndefined();
  });
});

describe('KeyRing hot path', () => {
  let ring: KeyRing;
  beforeAll(async () => {
    ring = await formatOneRing();
    await ring.createKey('pii');
    await ring.createKey('other', { algorithm: 'chacha20-poly1305' });
  });
  afterAll(() => ring.close());

  it('rejects an IV or payload character replaced by a UTF-16 unit with the same low byte', () => {
    // Node's decoder keeps only the low byte of each UTF-16 unit (U+0151 reads as 'Q'), so only
    // strict checking stops these forgeries.
    const env = ring.encrypt('pii', 'secret', { aad: 't.c' });
    const parts = env.split('.');
    for (const index of [3, 4]) {
      for (const at of [0, 7, parts[index].length - 1]) {
        const part = parts[index];
        const forged = [...parts];
        forged[index] =
          part.slice(0, at) + String.fromCharCode(0x100 + part.charCodeAt(at)) + part.slice(at + 1);
        expect(Buffer.from(forged[index], 'base64url').equals(Buffer.from(part, 'base64url'))).toBe(true);
        expect(codeOf(() => ring.decrypt(forged.join('.'), { aad: 't.c' }))).toBe(
          ErrorCodes.CRYPTO_MALFORMED,
        );
      }
    }
    expect(ring.decryptString(env, { aad: 't.c' })).toBe('secret');
  });

  it('round-trips values on both sides of the scratch and ICU thresholds', () => {
    for (const size of [0, 1, 1023, 1024, 4096, 64 * 1024 - 16, 64 * 1024 + 1, 200_000]) {
      const text = 'é日🚀a'.repeat(Math.ceil(size / 10)).slice(0, size);
      for (const keyId of ['pii', 'other']) {
        const env = ring.encrypt(keyId, text, { aad: `t.c|${size}` });
        expect(ring.decryptString(env, { aad: `t.c|${size}` })).toBe(text);
        expect(codeOf(() => ring.decrypt(env, { aad: 't.c' }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
      }
    }
  });

  it('a long binary value is refused by decryptString, not turned into text', () => {
    const bytes = Buffer.concat([Buffer.from('é'.repeat(1000)), Buffer.from([0xff])]);
    const env = ring.encrypt('pii', bytes);
    expect(codeOf(() => ring.decryptString(env))).toBe(ErrorCodes.CRYPTO_MALFORMED);
    expect(ring.decrypt(env).equals(bytes)).toBe(true);
  });

  it('the cached string aad is the same associated data as its bytes, per key and mode', () => {
    const aadText = 'users.émail';
    const aadBytes = Buffer.from(aadText, 'utf8');
    for (const deterministic of [false, true]) {
      // Alternate keys, modes and aads so the one-entry cache misses and hits in turn.
      const a = ring.encrypt('pii', 'v', { aad: aadText, deterministic });
      const b = ring.encrypt('other', 'v', { aad: aadBytes, deterministic });
      const c = ring.encrypt('pii', 'v', { aad: aadBytes, deterministic });
      expect(ring.decryptString(a, { aad: aadBytes })).toBe('v');
      expect(ring.decryptString(b, { aad: aadText })).toBe('v');
      expect(ring.decryptString(c, { aad: aadText })).toBe('v');
      expect(ring.decryptString(c, { aad: aadText })).toBe('v');
      if (deterministic) expect(a).toBe(c);
      for (const other of ['users.email', '', 'users.émail ']) {
        expect(codeOf(() => ring.decrypt(a, { aad: other }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
      }
    }
    // The header stays authenticated when the aad bytes come from the cache.
    const env = ring.encrypt('pii', 'v', { aad: aadText });
    const relabelled = env.replace(/^bw1\./, 'bw1d.');
    expect(codeOf(() => ring.decrypt(relabelled, { aad: aadText }))).toBe(
      ErrorCodes.CRYPTO_DECRYPTION_FAILED,
    );
  });

  it('a decryption run from inside an aad getter cannot disturb the outer one', () => {
    const inner = ring.encrypt('pii', 'inner'.repeat(50), { aad: 'i' });
    const outer = ring.encrypt('pii', 'outer', { aad: 'o' });
    let innerResult = '';
    const options = {
      get aad() {
        innerResult = ring.decryptString(inner, { aad: 'i' });
        return 'o';
      },
    };
    expect(ring.decryptString(outer, options)).toBe('outer');
    expect(innerResult).toBe('inner'.repeat(50));
  });
});
