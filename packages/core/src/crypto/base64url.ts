/**
 * Strict base64url (RFC 4648 §5, no padding). Node's decoder is lenient: it skips characters
 * outside the alphabet, accepts the standard alphabet's `+` and `/`, stops at `=`, ignores the
 * unused low bits of the last character, and truncates UTF-16 code units to their low byte (so
 * `\u0141` reads as `A`). Two different strings can therefore decode to the same bytes. An
 * envelope must have exactly one spelling (otherwise a changed character could still decrypt),
 * so these decoders reject anything non-canonical.
 *
 * Canonicality is checked by definition rather than by a character scan: a string is canonical
 * iff re-encoding its decoded bytes gives the string back. Node's encoder only emits the 64
 * alphabet characters, no padding and zero unused bits, so any skipped, foreign, truncated,
 * padded or low-bit-altered character makes the round trip differ. Decoding and encoding are
 * native and linear: ~2 µs for a 10 KiB payload, where a JS character-class regex took ~12 µs
 * (the decryption hot path used to spend more time validating base64url than in AES-GCM).
 * @internal
 */

/** Exact decoded size of a canonical text of `length` characters; -1 if no text has that length. */
function decodedLength(length: number): number {
  const rem = length & 3;
  if (rem === 1) return -1;
  return (length >>> 2) * 3 + (rem === 0 ? 0 : rem - 1);
}

/** Decodes canonical unpadded base64url into a fresh buffer, or returns undefined. */
export function decodeBase64url(text: string): Buffer | undefined {
  if (typeof text !== 'string' || decodedLength(text.length) < 0) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** Alphabet value of each 7-bit code, -1 outside the base64url alphabet. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  VALUES['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i;
}

/**
 * Texts up to this length are decoded in JS: for an IV or a field value's payload, the native
 * write plus the re-encoding round trip cost more than a table lookup per character (~170 ns
 * against ~60 ns for 64 characters); longer texts take the native path, which is linear at ~2 µs
 * per 10 KiB where a JS loop is not.
 */
const JS_DECODE_LIMIT = 128;

/**
 * Strict decoding by definition of the alphabet: every character must be one of the 64 (a code
 * above 127 is rejected before the table is read, so a UTF-16 unit with an alphabet low byte
 * fails), and the unused low bits of a partial last group must be zero (RFC 4648 §3.5 canonical
 * form). Writes `size` bytes at `offset`; returns false (bytes written are then garbage) if the
 * text is not canonical.
 */
function decodeShortInto(text: string, size: number, target: Buffer, offset: number): boolean {
  const length = text.length;
  const full = length & ~3;
  let codes = 0;
  let values = 0;
  let o = offset;
  for (let i = 0; i < full; i += 4) {
    const c0 = text.charCodeAt(i);
    const c1 = text.charCodeAt(i + 1);
    const c2 = text.charCodeAt(i + 2);
    const c3 = text.charCodeAt(i + 3);
    codes |= c0 | c1 | c2 | c3;
    const a = VALUES[c0 & 127];
    const b = VALUES[c1 & 127];
    const c = VALUES[c2 & 127];
    const d = VALUES[c3 & 127];
    values |= a | b | c | d;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    target[o++] = n >>> 16;
    target[o++] = n >>> 8;
    target[o++] = n;
  }
  const rem = length - full;
  if (rem > 0) {
    const c0 = text.charCodeAt(full);
    const c1 = text.charCodeAt(full + 1);
    codes |= c0 | c1;
    const a = VALUES[c0 & 127];
    const b = VALUES[c1 & 127];
    values |= a | b;
    if (rem === 2) {
      if ((b & 0x0f) !== 0) return false;
      target[o++] = (a << 2) | (b >>> 4);
    } else {
      const c2 = text.charCodeAt(full + 2);
      codes |= c2;
      const c = VALUES[c2 & 127];
      values |= c;
      if ((c & 0x03) !== 0) return false;
      const n = (a << 12) | (b << 6) | c;
      target[o++] = n >>> 10;
      target[o++] = n >>> 2;
    }
  }
  // values < 0: some character was outside the alphabet (-1); codes > 127: a non-ASCII unit.
  return values >= 0 && (codes & ~127) === 0 && o - offset === size;
}

/**
 * Decodes canonical unpadded base64url into `target` at `offset` without allocating. Returns the
 * number of bytes written, or -1 if `text` is not canonical or does not fit (nothing past
 * `offset + decoded length` is touched either way).
 */
export function decodeBase64urlInto(text: string, target: Buffer, offset: number): number {
  const size = decodedLength(text.length);
  if (size < 0 || offset + size > target.length) return -1;
  if (text.length <= JS_DECODE_LIMIT) return decodeShortInto(text, size, target, offset) ? size : -1;
  const written = target.write(text, offset, size, 'base64url');
  return written === size && target.toString('base64url', offset, offset + size) === text ? size : -1;
}
