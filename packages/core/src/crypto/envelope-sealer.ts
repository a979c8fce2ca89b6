import { createHmac } from 'node:crypto';
import { ErrorCodes } from '../errors';
import { IV_LENGTH, open as openAead, seal } from './aead';
import { asCryptoError, cryptoError, type CipherEntry } from './cipher-entry';
import { decodeBody, type EnvelopeFormat, type ParsedEnvelope } from './envelope';
import { commitmentMatches } from './key-commitment';
import { IvPool } from './iv-pool';
import type { EncryptOptions } from './key-ring';
import { decodeUtf8 } from './utf8';

/** Most distinct aads EnvelopeSealer.joinedAad keeps per key header (a column uses one). */
const AAD_CACHE_LIMIT = 64;

/** The caller's associated data: `''` when omitted, else a string or bytes. */
export function checkAad(value: unknown): string | Uint8Array {
  if (value === undefined) return '';
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'aad must be a string or Uint8Array');
}

export function checkPlaintext(plaintext: unknown): asserts plaintext is string | Uint8Array {
  if (typeof plaintext !== 'string' && !(plaintext instanceof Uint8Array)) {
    throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'plaintext must be a string or Uint8Array');
  }
}

export function checkOptions(options: unknown): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'options must be an object');
  }
}

/** The plaintext as text, zeroing its bytes; ERR_CRYPTO_MALFORMED if it is not UTF-8. */
export function utf8(buffer: Buffer): string {
  try {
    const text = decodeUtf8(buffer);
    if (text === undefined) {
      throw cryptoError(
        ErrorCodes.CRYPTO_MALFORMED,
        'The decrypted value is not UTF-8 text; use decrypt() for binary values',
      );
    }
    return text;
  } finally {
    // Cheap (~0.1 µs per 10 KiB) and it shortens the life of the plaintext bytes, even though
    // the returned string is a copy the garbage collector will free whenever it likes.
    buffer.fill(0);
  }
}

/**
 * Seals and opens envelopes under a key entry: the IV source (a pooled CSPRNG, or the synthetic IV
 * of deterministic mode) and the associated data (the envelope header followed by the caller's
 * aad). Holds no key material of its own.
 */
export class EnvelopeSealer {
  private readonly ivPool = new IvPool();
  /** Told when a format-2 envelope's key commitment does not match its key (the ring's integrity hook). */
  onCommitmentFailure?: (parsed: ParsedEnvelope) => void;

  /**
   * `format`: what seal() writes by default (2, key-committing, unless a ring opts out).
   * `acceptFormat1`: false refuses format-1 envelopes (not key-committing) in open().
   */
  constructor(
    readonly format: EnvelopeFormat = 2,
    readonly acceptFormat1 = true,
  ) {}
  /** Cache of `header || aad` per header buffer, then per aad string (see joinedAad). */
  private aadCache = new WeakMap<Buffer, Map<string, Buffer>>();

  /** Seals `plaintext` under `entry` into an envelope (random or synthetic IV). */
  seal(
    entry: CipherEntry,
    plaintext: string | Uint8Array,
    options: EncryptOptions | undefined,
    format: EnvelopeFormat = this.format,
  ): string {
    checkPlaintext(plaintext);
    checkOptions(options);
    const aad = checkAad(options?.aad);
    const deterministic = options?.deterministic ?? false;
    if (typeof deterministic !== 'boolean') {
      throw cryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'deterministic must be a boolean');
    }
    try {
      const keys = format === 2 ? entry.v2 : entry;
      const header = deterministic ? keys.detHeader : keys.header;
      const aad1 = typeof aad === 'string' ? this.joinedAad(header, aad) : header;
      const aad2 = typeof aad === 'string' ? undefined : aad;
      let iv: Buffer;
      if (deterministic) {
        // Synthetic IV (SIV-style): HMAC-SHA256(detKey, u64be(len(aad)) || aad || plaintext)[0..12].
        // The length prefix makes (aad, plaintext) -> input injective.
        const aadBytes = aad2 ?? aad1.subarray(header.length);
        const length = Buffer.alloc(8);
        length.writeBigUInt64BE(BigInt(aadBytes.length));
        const mac = createHmac('sha256', entry.detKey).update(length).update(aadBytes);
        if (typeof plaintext === 'string') mac.update(plaintext, 'utf8');
        else mac.update(plaintext);
        iv = mac.digest().subarray(0, IV_LENGTH);
      } else {
        iv = this.ivPool.next();
      }
      const sealed = seal(entry.algorithm, keys.key, iv, plaintext, aad1, aad2);
      return (
        (deterministic ? keys.detHeaderText : keys.headerText) +
        iv.toString('base64url') +
        '.' +
        sealed.toString('base64url')
      );
    } catch (error) {
      throw asCryptoError(error, ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Encryption failed');
    }
  }

  /**
   * Verifies and opens a parsed envelope under `entry`. Format 2: the key commitment is checked
   * first, without an early exit, so an envelope made for another key is refused before the AEAD runs.
   */
  open(entry: CipherEntry, parsed: ParsedEnvelope, aad: string | Uint8Array): Buffer {
    if (parsed.format === 1 && !this.acceptFormat1) {
      throw cryptoError(
        ErrorCodes.CRYPTO_DECRYPTION_FAILED,
        'Decryption failed: format-1 envelopes (not key-committing) are refused by this key ring (acceptFormat1: false)',
      );
    }
    if (parsed.format === 2 && !commitmentMatches(parsed.commitment, entry.v2.commitment)) {
      this.onCommitmentFailure?.(parsed);
      throw cryptoError(
        ErrorCodes.CRYPTO_DECRYPTION_FAILED,
        'Decryption failed: the key commitment does not match the key (tampered, or made for another key)',
      );
    }
    const keys = parsed.format === 2 ? entry.v2 : entry;
    // The entry's cached header is byte-for-byte the envelope's header: the parser accepts only
    // canonical key ids, versions and subject references, exactly what the header was built from
    // (and, format 2, the commitment text was just compared with the key's own).
    const header = parsed.deterministic ? keys.detHeader : keys.header;
    const aad1 = typeof aad === 'string' ? this.joinedAad(header, aad) : header;
    const aad2 = typeof aad === 'string' ? undefined : aad;
    // Last: the views point into a shared scratch buffer (see decodeBody), and nothing between
    // here and open() runs caller code that could decrypt (and decode) re-entrantly.
    const { iv, ciphertext, tag } = decodeBody(parsed);
    return openAead(entry.algorithm, keys.key, iv, ciphertext, tag, aad1, aad2);
  }

  /**
   * `header || aad` as ONE buffer for a string aad, so the AEAD gets one setAAD call and no
   * per-call conversion. Field encryption repeats a few aads (one per column) call after call, in
   * turn: a row of two encrypted columns alternates between two, so a one-entry cache missed on
   * every call. Entries are keyed by the header buffer (one per key version and mode; weakly, so a
   * dropped version's header and its entries go away, and a stale entry can never match) and then
   * by the aad text. Strings are immutable, so the cached bytes cannot go stale; a Uint8Array aad
   * can change between calls and never comes here. AEADs authenticate the concatenation of all
   * setAAD calls, so one call with `header || aad` is the same associated data as two calls.
   */
  private joinedAad(header: Buffer, aad: string): Buffer {
    if (aad === '') return header;
    let perHeader = this.aadCache.get(header);
    const cached = perHeader?.get(aad);
    if (cached !== undefined) return cached;
    const bytes = Buffer.allocUnsafeSlow(header.length + Buffer.byteLength(aad, 'utf8'));
    header.copy(bytes, 0);
    bytes.write(aad, header.length, 'utf8');
    // Only short aads are kept, and at most AAD_CACHE_LIMIT per header (row-bound aads are one
    // per row: they must not pile up); when full, the header's entries start over.
    if (aad.length <= 256) {
      if (perHeader === undefined) this.aadCache.set(header, (perHeader = new Map()));
      else if (perHeader.size >= AAD_CACHE_LIMIT) perHeader.clear();
      perHeader.set(aad, bytes);
    }
    return bytes;
  }

  wipe(): void {
    this.ivPool.wipe();
    this.aadCache = new WeakMap();
  }
}
