/**
 * Lossless text columns. A JS string may hold U+0000 (PostgreSQL `text` rejects it) and lone
 * surrogates (both drivers re-encode strings as UTF-8 and turn them into U+FFFD). Audit strings
 * are attacker-influenced (user agents, resource ids), so storing them as-is would either reject
 * the whole batch or change what was hashed, and the chain would no longer verify.
 *
 * The encoding escapes only `\` (as `\\`), U+0000 (as `\0`) and lone surrogates (as `\uXXXX`):
 * ordinary strings are stored unchanged and stay readable in plain SQL. It maps code unit by code
 * unit, so it is injective and keeps prefixes (equality and `LIKE 'prefix%'` work on encoded values).
 */

const NEEDS_ESCAPE = /[\\\0\ud800-\udfff]/;

export function encodeSqlText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x5c) out += '\\\\';
    else if (c === 0) out += '\\0';
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += value[i]! + value[i + 1]!;
        i++;
      } else out += `\\u${c.toString(16)}`;
    } else if (c >= 0xdc00 && c <= 0xdfff) out += `\\u${c.toString(16)}`;
    else out += value[i]!;
  }
  return out;
}

/**
 * Inverse of `encodeSqlText`. Returns undefined for text this codec never produces (a `\` not
 * followed by a valid escape, a raw U+0000 or lone surrogate): such a value was written by someone
 * else, and the caller must make the entry fail verification rather than guess.
 */
export function decodeSqlText(stored: string): string | undefined {
  if (!NEEDS_ESCAPE.test(stored)) return stored;
  let out = '';
  for (let i = 0; i < stored.length; i++) {
    const c = stored.charCodeAt(i);
    if (c === 0) return undefined;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = stored.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return undefined;
      out += stored[i]! + stored[i + 1]!;
      i++;
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return undefined;
    if (c !== 0x5c) {
      out += stored[i]!;
      continue;
    }
    const e = stored[i + 1];
    if (e === '\\') {
      out += '\\';
      i++;
    } else if (e === '0') {
      out += '\0';
      i++;
    } else if (e === 'u') {
      const hex = stored.slice(i + 2, i + 6);
      // Only lone surrogates are escaped, in lower-case hex: anything else is not canonical.
      if (!/^d[89a-f][0-9a-f]{2}$/.test(hex)) return undefined;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 5;
    } else return undefined;
  }
  // A decoded high+low escape pair would be a valid pair the encoder writes raw: not canonical.
  return encodeSqlText(out) === stored ? out : undefined;
}
