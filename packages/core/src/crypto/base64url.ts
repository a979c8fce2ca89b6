/**
 * Strict base64url (RFC 4648 §5, no padding). Node's decoder is lenient: it skips characters
 * outside the alphabet and ignores the unused low bits of the last character, so two different
 * strings can decode to the same bytes. An envelope must have exactly one spelling (otherwise a
 * changed character could still decrypt), so this decoder rejects anything non-canonical.
 * @internal
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes canonical unpadded base64url, or returns undefined. */
export function decodeBase64url(text: string): Buffer | undefined {
  const n = text.length;
  const rem = n & 3;
  if (rem === 1) return undefined;
  if (!BASE64URL.test(text)) return undefined;
  // The last character of a 2- or 3-char tail carries 4 or 2 unused bits, which must be zero.
  if (rem !== 0) {
    const last = VALUE[text.charCodeAt(n - 1)];
    if ((last & (rem === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  return Buffer.from(text, 'base64url');
}
