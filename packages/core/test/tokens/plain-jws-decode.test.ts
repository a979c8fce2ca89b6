import * as fc from 'fast-check';
import { decodePayload } from '../../src/tokens/plain-jws';

/**
 * decodePayload skips the strict UTF-8 decoder for an all-ASCII payload. It must decide exactly as
 * the decoder alone (jose's decoding: strict UTF-8, a leading byte-order mark dropped, then
 * JSON.parse, a JSON object only), for every byte string: ASCII, valid UTF-8 beyond it, a BOM,
 * lone latin1 bytes and truncated sequences.
 */

const strict = new TextDecoder('utf-8', { fatal: true });

function reference(bytes: Uint8Array): Record<string, unknown> | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(strict.decode(bytes));
  } catch {
    return undefined;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  return payload as Record<string, unknown>;
}

const segment = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));

describe('decodePayload (the fast path of the payload decode)', () => {
  it('decides as the strict decoder on JSON objects of any text, and on arbitrary bytes', () => {
    const objects = fc
      .dictionary(fc.string({ unit: 'binary', maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }))
      .map((o) => utf8(JSON.stringify(o)));
    const mangled = fc
      .tuple(objects, fc.nat(), fc.constantFrom(0x80, 0xbf, 0xc3, 0xe9, 0xef, 0xff))
      .map(([bytes, at, byte]) => {
        const out = new Uint8Array(bytes);
        if (out.length > 0) out[at % out.length] = byte;
        return out;
      });
    const withBom = objects.map((b) => new Uint8Array([0xef, 0xbb, 0xbf, ...b]));
    fc.assert(
      fc.property(fc.oneof(objects, mangled, withBom, fc.uint8Array({ maxLength: 24 })), (bytes) => {
        expect(decodePayload(segment(bytes))).toEqual(reference(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps non-ASCII text, drops a byte-order mark, refuses invalid UTF-8 and non-objects', () => {
    expect(decodePayload(segment(utf8('{"sub":"zoë","n":"日本","e":"😀"}')))).toEqual({
      sub: 'zoë',
      n: '日本',
      e: '😀',
    });
    expect(decodePayload(segment(utf8('\uFEFF{"sub":"a"}')))).toEqual({ sub: 'a' });
    // "zoë" in latin1: 0xE9 alone is not UTF-8 (a latin1 decode would accept it).
    expect(decodePayload(segment(new Uint8Array(Buffer.from('{"sub":"zo\u00e9"}', 'latin1'))))).toBe(
      undefined,
    );
    expect(decodePayload(segment(utf8('[1]')))).toBe(undefined);
    expect(decodePayload(segment(utf8('null')))).toBe(undefined);
    expect(decodePayload(segment(utf8('{"sub":"a"}')))).toEqual({ sub: 'a' });
  });
});
