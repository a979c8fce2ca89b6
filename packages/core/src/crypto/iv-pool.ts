import { randomFillSync } from 'node:crypto';
import { IV_LENGTH } from './aead';

/**
 * Random 96-bit IVs drawn from a pooled CSPRNG buffer: one randomFillSync call per 341 IVs
 * instead of one randomBytes call (and allocation) per message.
 *
 * Invariants that keep every IV single-use:
 * - each 12-byte slice is handed out once per refill, and the pool is refilled with fresh random
 *   bytes before any byte is handed out again;
 * - `next()` returns a VIEW into the pool; the caller must consume it synchronously (createCipheriv
 *   copies it, toString encodes it) before calling `next()` again. KeyRing.encrypt is synchronous,
 *   so no other take can interleave.
 * Randomly drawn 96-bit IVs keep the GCM collision bound of SP 800-38D §8.3 (2^32 messages per key).
 * Node's child_process/cluster start fresh processes, so a pool is never duplicated by fork.
 * @internal
 */
export class IvPool {
  private readonly pool: Buffer;
  private offset: number;

  constructor(slices = 341) {
    // allocUnsafeSlow: a dedicated allocation, never shared with Node's small-buffer pool.
    this.pool = Buffer.allocUnsafeSlow(slices * IV_LENGTH);
    this.offset = this.pool.length; // force a fill on first use
  }

  next(): Buffer {
    if (this.offset + IV_LENGTH > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const iv = this.pool.subarray(this.offset, this.offset + IV_LENGTH);
    this.offset += IV_LENGTH;
    return iv;
  }

  /** Wipes unused random bytes (they would be future IVs; not secret, but no reason to keep them). */
  wipe(): void {
    this.pool.fill(0);
    this.offset = this.pool.length;
  }
}
