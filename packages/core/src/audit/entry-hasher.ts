import { createHmac, timingSafeEqual } from 'node:crypto';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import type { AuditEntry } from './audit-event';
import { canonicalBytes } from './canonical-json';
import { hashLeaf } from './merkle-tree';

/** RFC 6962 §2.1 domain separation: leaf inputs are prefixed with 0x00 (interior nodes with 0x01). */
const LEAF_PREFIX = Buffer.from([0x00]);
const HEX64 = /^[0-9a-f]{64}$/;

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
  private readonly key?: Buffer;

  constructor(hmacKey?: Uint8Array) {
    if (hmacKey !== undefined) {
      if (!(hmacKey instanceof Uint8Array) || hmacKey.length < 32) {
        throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit.hmacKey must be at least 32 bytes', {
          path: 'audit.hmacKey',
        });
      }
      this.key = Buffer.from(hmacKey);
    }
  }

  get keyed(): boolean {
    return this.key !== undefined;
  }

  /** Leaf hash of `entry` (its `leafHash` and `redacted` fields are ignored). */
  hash(entry: Omit<AuditEntry, 'leafHash'> & { leafHash?: string }): Buffer {
    if (entry.leafHash === undefined && entry.redacted === undefined) return this.hashContent(entry);
    const { leafHash: _l, redacted: _r, ...content } = entry;
    return this.hashContent(content);
  }

  /** Leaf hash of an object that is exactly the hashed content (no `leafHash` / `redacted`). */
  private hashContent(content: object): Buffer {
    const bytes = canonicalBytes(content);
    if (this.key === undefined) return hashLeaf(bytes);
    return createHmac('sha256', this.key).update(LEAF_PREFIX).update(bytes).digest();
  }

  /** True when the stored `leafHash` equals the recomputed one (constant-time compare). */
  matches(entry: AuditEntry): boolean {
    if (typeof entry.leafHash !== 'string' || !HEX64.test(entry.leafHash)) return false;
    let computed: Buffer;
    try {
      computed = this.hash(entry);
    } catch {
      return false; // a stored entry that is not even canonicalisable JSON cannot match
    }
    return timingSafeEqual(computed, Buffer.from(entry.leafHash, 'hex'));
  }
}
