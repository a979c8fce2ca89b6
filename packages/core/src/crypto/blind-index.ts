import { createHmac, type KeyObject } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes } from '../errors';

/** Maps a plaintext to the canonical form that is indexed (equal forms => equal indexes). */
export type Normaliser = (value: string) => string;

/**
 * Built-in normalisers. Apply them in the order given; e.g. a card number indexed by its last
 * four digits is `['digitsOnly', 'last4']`, an email `['trim', 'lowercase']`.
 */
export const normalisers = Object.freeze({
  /** Locale-independent lower-casing (String#toLowerCase, not toLocaleLowerCase). */
  lowercase: (value: string): string => value.toLowerCase(),
  /** Strips leading / trailing whitespace. */
  trim: (value: string): string => value.trim(),
  /** Keeps ASCII digits only (phone numbers, card numbers, national ids with separators). */
  digitsOnly: (value: string): string => value.replace(/[^0-9]/g, ''),
  /** The last four characters (or the whole value if shorter); usually after digitsOnly. */
  last4: (value: string): string => value.slice(-4),
  /** Trims and folds runs of whitespace into one space. */
  collapseWhitespace: (value: string): string => value.trim().replace(/\s+/g, ' '),
  /** Unicode NFKC, so visually identical spellings (full-width digits, ligatures) index alike. */
  nfkc: (value: string): string => value.normalize('NFKC'),
} satisfies Record<string, Normaliser>);

export type NormaliserName = keyof typeof normalisers;

export interface BlindIndexOptions {
  /**
   * Index length in bits, an integer from 1 to 256 (default 32). Fewer bits => more rows share an
   * index value (false positives the caller filters after decrypting) and less leaked about which
   * rows are equal; more bits => fewer false positives. 32 bits keeps false positives below one
   * in ~400 lookups for tables up to 10 million rows while storing only 8 hex characters. For
   * low-entropy fields (last 4 digits, birth years) consider far fewer bits (CipherSweet-style
   * "blind index planning"), since an index can be matched against every candidate value by
   * anyone who can query the index column for known rows.
   */
  bits?: number;
  /** Normalisers (functions or built-in names) applied in order before hashing. */
  normalise?: Normaliser | NormaliserName | ReadonlyArray<Normaliser | NormaliserName>;
  /**
   * Domain separator, e.g. `users.email`: the same value indexed in two columns then yields
   * unrelated indexes, so equal values cannot be correlated across columns. Default: none.
   */
  context?: string;
  /** `hex` (default: lower-case, safe in case-insensitive collations) or `base64url` (shorter). */
  encoding?: 'hex' | 'base64url';
  /**
   * Which version of the key the index key is derived from. Default: the key's first version (so
   * indexes survive data-key rotations unchanged). `'primary'` or a later, live version rotates
   * the blind-index key with the data key: see docs/key-rotation.md, "Blind-index key rotation".
   */
  keyVersion?: number | 'primary';
}

export const DEFAULT_BLIND_INDEX_BITS = 32;

function invalid(message: string): BulwarkCryptoError {
  return new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, message);
}

function resolveNormaliser(n: Normaliser | NormaliserName): Normaliser {
  if (typeof n === 'function') return n;
  if (typeof n === 'string' && Object.prototype.hasOwnProperty.call(normalisers, n)) return normalisers[n];
  throw invalid(`Unknown normaliser; use a function or one of ${Object.keys(normalisers).join(', ')}`);
}

/**
 * HMAC-SHA256(indexKey, u32be(len(context)) || context || normalised value), truncated to `bits`
 * (the unused low bits of the last byte are zeroed). The length prefix keeps (context, value)
 * pairs unambiguous. @internal
 */
export function computeBlindIndex(
  indexKey: KeyObject,
  value: string,
  options: BlindIndexOptions = {},
): string {
  if (typeof value !== 'string') throw invalid('blindIndex value must be a string');
  const bits = options.bits ?? DEFAULT_BLIND_INDEX_BITS;
  if (!Number.isInteger(bits) || bits < 1 || bits > 256) {
    throw invalid(`blindIndex bits must be an integer from 1 to 256, got ${String(bits)}`);
  }
  const encoding = options.encoding ?? 'hex';
  if (encoding !== 'hex' && encoding !== 'base64url')
    throw invalid('blindIndex encoding must be hex or base64url');
  const context = options.context ?? '';
  if (typeof context !== 'string') throw invalid('blindIndex context must be a string');
  let normalised = value;
  if (options.normalise !== undefined) {
    const list = Array.isArray(options.normalise) ? options.normalise : [options.normalise];
    for (const n of list as Array<Normaliser | NormaliserName>) {
      normalised = resolveNormaliser(n)(normalised);
      if (typeof normalised !== 'string') throw invalid('A normaliser returned a non-string');
    }
  }
  const contextBytes = Buffer.from(context, 'utf8');
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeUInt32BE(contextBytes.length, 0);
  const mac = createHmac('sha256', indexKey)
    .update(prefix)
    .update(contextBytes)
    .update(normalised, 'utf8')
    .digest();
  const bytes = Math.ceil(bits / 8);
  const out = mac.subarray(0, bytes);
  const spare = bytes * 8 - bits;
  if (spare > 0) out[bytes - 1] &= (0xff << spare) & 0xff;
  return out.toString(encoding);
}
