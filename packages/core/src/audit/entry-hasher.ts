import * as crypto from 'node:crypto';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import { precomputedHmac, type PrecomputedHmac } from '../util/precomputed-hmac';
import type { AuditEntry } from './audit-event';
import {
  canonicalAsciiBytes,
  canonicalBuiltEntryAsciiBytes,
  canonicalEntryAsciiBytes,
  canonicalize,
  canonicalizeFast,
} from './canonical-json';

/**
 * RFC 6962 §2.1 domain separation: leaf inputs are prefixed with 0x00 (interior nodes with 0x01).
 * As a string: U+0000 is the single UTF-8 byte 0x00, so hashing `LEAF_PREFIX + canonical` as
 * UTF-8 hashes exactly 0x00 || canonicalBytes(content), in one call and without Buffer copies.
 * (The canonical text never holds a lone surrogate, so its UTF-8 encoding is lossless.)
 */
const LEAF_PREFIX = '\u0000';
const HEX64 = /^[0-9a-f]{64}$/;
/** Fields that are not hashed: the hash itself and the redaction marker. */
const UNHASHED: ReadonlySet<string> = new Set(['leafHash', 'redacted']);

/**
 * Hex SHA-256 of a string's UTF-8 bytes: one-shot crypto.hash (Node >= 20.12), else createHash.
 * Hex is what entries carry, and crypto.hash's default hex output is its fastest (its 'buffer'
 * output is about twice as slow in Node 20).
 */
const sha256HexUtf8: (data: string) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data)
    : (data) => crypto.createHash('sha256').update(data, 'utf8').digest('hex');

const sha256Hex: (data: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data)
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

/** Scratch space for the constant-time compare in `matches` (synchronous, so never shared). */
const compareScratch = Buffer.alloc(64);
const computedView = compareScratch.subarray(0, 32);
const storedView = compareScratch.subarray(32, 64);

/**
 * Computes an entry's leaf hash over the canonical JSON (RFC 8785) of every field except
 * `leafHash` and `redacted`, `prevHash` included, so each entry commits to its predecessor.
 *
 * Hashing "every other field" rather than a fixed list means a field an attacker adds to a stored
 * entry also breaks the hash.
 *
 * With an HMAC key the leaf hash is HMAC-SHA256(key, 0x00 || canonical): someone with write access
 * to the store but not the key cannot recompute a valid chain after editing it. Interior Merkle
 * nodes stay plain SHA-256 (RFC 6962), so proofs verify without the key.
 */
export class EntryHasher {
  /**
   * HMAC-SHA256 with the log's key, its padded blocks prepared once (a createHmac per entry cost
   * more); the raw key is not kept. Undefined for an unkeyed log.
   */
  readonly #mac?: PrecomputedHmac;

  constructor(hmacKey?: Uint8Array) {
    if (hmacKey !== undefined) {
      if (!(hmacKey instanceof Uint8Array) || hmacKey.length < 32) {
        throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit.hmacKey must be at least 32 bytes', {
          path: 'audit.hmacKey',
        });
      }
      this.#mac = precomputedHmac('sha256', hmacKey);
    }
  }

  get keyed(): boolean {
    return this.#mac !== undefined;
  }

  /** Leaf hash of `entry` (its `leafHash` and `redacted` fields are ignored). */
  hash(entry: Omit<AuditEntry, 'leafHash'> & { leafHash?: string }): Buffer {
    return Buffer.from(this.hashHex(entry), 'hex');
  }

  /**
   * `hashHex` of an entry `auditEntryOf` has just built from a normalised event (the writer's
   * entries): its members are known, so their canonical bytes are written without looking for
   * them. Anything unexpected takes `hashHex`.
   * @internal
   */
  hashBuiltHex(entry: AuditEntry): string {
    const bytes = canonicalBuiltEntryAsciiBytes(entry, 0x00);
    if (bytes === undefined) return this.hashHex(entry);
    if (this.#mac === undefined) return sha256Hex(bytes);
    return this.#mac.bytes(bytes).toString('hex');
  }

  /** `hash(entry)` as 64 lowercase hex digits (the form `leafHash` is stored in). */
  hashHex(entry: Omit<AuditEntry, 'leafHash'> & { leafHash?: string }): string {
    // Usual case: 0x00 || canonical JSON written as bytes straight into a scratch buffer, in the
    // entry's known member order (an object with other members gets the general byte path).
    let bytes = canonicalEntryAsciiBytes(entry, 0x00);
    if (bytes === null) bytes = canonicalAsciiBytes(entry, UNHASHED, 0x00);
    if (bytes !== undefined) {
      if (this.#mac === undefined) return sha256Hex(bytes);
      return this.#mac.bytes(bytes).toString('hex');
    }
    const input = LEAF_PREFIX + this.canonicalContent(entry);
    if (this.#mac === undefined) return sha256HexUtf8(input);
    return this.#mac.bytes(Buffer.from(input, 'utf8')).toString('hex');
  }

  /** Canonical JSON of every field but `leafHash` and `redacted`. */
  private canonicalContent(entry: Omit<AuditEntry, 'leafHash'> & { leafHash?: string }): string {
    // Fast path: the entry serialised in place, skipping the two fields (no copy of the entry).
    const fast = canonicalizeFast(entry, UNHASHED);
    if (fast !== undefined) return fast;
    // Anything unusual (or invalid) takes the reference serialiser, as before.
    if (entry.leafHash === undefined && entry.redacted === undefined) return canonicalize(entry);
    const { leafHash: _l, redacted: _r, ...content } = entry;
    return canonicalize(content);
  }

  /** True when the stored `leafHash` equals the recomputed one (constant-time compare). */
  matches(entry: AuditEntry): boolean {
    if (typeof entry.leafHash !== 'string' || !HEX64.test(entry.leafHash)) return false;
    return this.matchesValidHex(entry);
  }

  /**
   * `matches` for an entry whose `leafHash` the caller has already checked is 64 lowercase hex
   * digits (the verifier checks every entry's once; testing it twice was measurable).
   * @internal
   */
  matchesValidHex(entry: AuditEntry): boolean {
    let computed: string;
    try {
      computed = this.hashHex(entry);
    } catch {
      return false; // a stored entry that is not even canonicalisable JSON cannot match
    }
    // An unkeyed leaf hash is a SHA-256 of the entry itself, which anyone holding the entry can
    // compute: nothing secret to leak through timing, so plain equality (both are lowercase hex).
    if (this.#mac === undefined) return computed === entry.leafHash;
    // A keyed one is an HMAC: compare in constant time (no byte-at-a-time forgery oracle).
    computedView.write(computed, 'hex');
    storedView.write(entry.leafHash, 'hex');
    return crypto.timingSafeEqual(computedView, storedView);
  }
}
