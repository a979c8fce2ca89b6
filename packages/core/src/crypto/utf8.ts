import { isAscii, isUtf8, transcode } from 'node:buffer';

/**
 * From this size (bytes) a non-ASCII value is converted through ICU. Measured on Node 20: mixed
 * text breaks even near 512 B, text with ~1% non-ASCII near 1.5 KiB; 1 KiB sits between.
 */
const ICU_THRESHOLD = 1024;
/** Absent from Node builds without Intl (`--without-intl`); V8's decoder is then the only path. */
const icuTranscode: typeof transcode | undefined = typeof transcode === 'function' ? transcode : undefined;

/**
 * Strict UTF-8 to string: returns undefined unless `bytes` is well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence). Node's own
 * decoders replace bad sequences with U+FFFD, which would turn a binary value into garbage text
 * instead of an error.
 *
 * Speed: `isUtf8` / `isAscii` are SIMD (simdutf) and cost ~0.3 µs per 10 KiB. V8's UTF-8 decoder
 * behind `toString('utf8')` is fast on ASCII but scalar on everything else (~2-3.5 ns per byte of
 * mixed or non-Latin text: 20-35 µs for a 10 KiB value, more than the AES-GCM work), while ICU's
 * UTF-8 -> UTF-16 conversion behind `buffer.transcode` runs at ~0.3 ns per byte after a ~0.5 µs
 * set-up. So long non-ASCII values go through ICU; short or pure-ASCII values take the V8 path.
 * Both produce the same string for well-formed input (checked first), which the tests assert.
 * @internal
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  if (!isUtf8(bytes)) return undefined;
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (icuTranscode === undefined || buffer.length < ICU_THRESHOLD || isAscii(buffer)) {
    return buffer.toString('utf8');
  }
  let utf16: Buffer;
  try {
    // Well-formed input (checked above) converts exactly: no replacement, no BOM handling.
    utf16 = icuTranscode(buffer, 'utf8', 'ucs2');
  } catch {
    return buffer.toString('utf8');
  }
  try {
    return utf16.toString('ucs2');
  } finally {
    // A second copy of the plaintext: wipe it like the decrypted bytes.
    utf16.fill(0);
  }
}
