import fc from 'fast-check';
import { decodeSqlText, encodeSqlText } from '../src/sql-text-codec';

describe('sql text codec', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.string({
      unit: fc.constantFrom('\\', '\u0000', '\ud800', '\udbff', '\udc00', 'u', 'd', '8', '0', 'a'),
    }),
  );

  it('round-trips every JS string, and its output holds no NUL and no lone surrogate', () => {
    fc.assert(
      fc.property(text, (s) => {
        const enc = encodeSqlText(s);
        expect(decodeSqlText(enc)).toBe(s);
        expect(enc.includes('\u0000')).toBe(false);
        expect(enc).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      }),
      { numRuns: 300 },
    );
  });

  it('is injective and keeps prefixes (so equality and LIKE prefix filters work on encoded values)', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        if (a !== b) expect(encodeSqlText(a)).not.toBe(encodeSqlText(b));
        expect(encodeSqlText(a + b).startsWith(encodeSqlText(a)) || /[\ud800-\udbff]$/.test(a)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves ordinary text unchanged', () => {
    expect(encodeSqlText('patient.read ☃ 𝄞 "x"')).toBe('patient.read ☃ 𝄞 "x"');
    expect(encodeSqlText('a\\b\u0000\ud800')).toBe('a\\\\b\\0\\ud800');
  });

  it.each([
    ['a lone backslash', 'a\\'],
    ['an unknown escape', '\\q'],
    ['an escaped non-surrogate', '\\u0041'],
    ['upper-case hex', '\\uD800'],
    ['an escaped surrogate pair (the encoder writes pairs raw)', '\\ud83d\\ude00'],
    ['a raw NUL', 'a\u0000'],
    ['a raw lone surrogate', 'a\udc00'],
  ])('refuses %s (text the encoder never produces)', (_what, stored) => {
    expect(decodeSqlText(stored)).toBeUndefined();
  });
});
