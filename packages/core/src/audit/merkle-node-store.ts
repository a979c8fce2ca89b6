/**
 * Append-only array of 32-byte hashes for one level of a Merkle tree, kept in large
 * preallocated chunks instead of one Buffer per node: a million-entry log holds about two
 * million nodes, and two million small Buffers cost far more memory and GC time than 64 MB
 * of flat bytes. Internal to the audit engine (not exported publicly).
 */
export const HASH_SIZE = 32;

export class MerkleNodeStore {
  private readonly chunkBits: number;
  private readonly chunkMask: number;
  /** Buffers rather than plain Uint8Arrays so hex leaf hashes can be decoded straight into them. */
  private chunks: Buffer[] = [];
  private count = 0;

  /** @param chunkBits log2 of nodes per chunk (leaves use big chunks, sparse upper levels small ones). */
  constructor(chunkBits: number) {
    this.chunkBits = chunkBits;
    this.chunkMask = (1 << chunkBits) - 1;
  }

  get length(): number {
    return this.count;
  }

  /** Appends the 32 bytes of `hash` starting at `offset`. */
  push(hash: Uint8Array, offset = 0): void {
    const chunkIndex = this.count >>> this.chunkBits;
    if (chunkIndex === this.chunks.length) this.chunks.push(Buffer.alloc(HASH_SIZE << this.chunkBits));
    const at = (this.count & this.chunkMask) * HASH_SIZE;
    const chunk = this.chunks[chunkIndex];
    for (let i = 0; i < HASH_SIZE; i++) chunk[at + i] = hash[offset + i];
    this.count++;
  }

  /**
   * Appends a hash given as a string: 64 hex digits (how entries carry leaf hashes) or 32 latin1
   * characters (a digest straight from `crypto.hash(..., 'latin1')`), decoded into the chunk with
   * no intermediate Buffer. Returns false, appending nothing, if the string does not decode to
   * exactly 32 bytes.
   */
  pushEncoded(digest: string, encoding: 'hex' | 'latin1'): boolean {
    if (digest.length !== (encoding === 'hex' ? 2 * HASH_SIZE : HASH_SIZE)) return false;
    const chunkIndex = this.count >>> this.chunkBits;
    if (chunkIndex === this.chunks.length) this.chunks.push(Buffer.alloc(HASH_SIZE << this.chunkBits));
    const at = (this.count & this.chunkMask) * HASH_SIZE;
    // Buffer#write stops at the first non-hex pair, so a short count means invalid input; the
    // partly written slot lies beyond `count` and is overwritten by the next push.
    if (this.chunks[chunkIndex].write(digest, at, HASH_SIZE, encoding) !== HASH_SIZE) return false;
    this.count++;
    return true;
  }

  /** A view (no copy) of node `index`; callers must copy before handing it out. */
  view(index: number): Uint8Array {
    const at = (index & this.chunkMask) * HASH_SIZE;
    return this.chunks[index >>> this.chunkBits].subarray(at, at + HASH_SIZE);
  }

  /**
   * A view of nodes `index` and `index + 1` as 64 contiguous bytes. Requires `index` even:
   * an even/odd pair never straddles a chunk because chunks hold an even number of nodes.
   */
  pairView(index: number): Uint8Array {
    const at = (index & this.chunkMask) * HASH_SIZE;
    return this.chunks[index >>> this.chunkBits].subarray(at, at + 2 * HASH_SIZE);
  }

  /**
   * Copies nodes `index` and `index + 1` (64 contiguous bytes; `index` even, see `pairView`) into
   * `target` at `targetStart`, without creating a view object.
   */
  copyPair(index: number, target: Buffer, targetStart: number): void {
    const at = (index & this.chunkMask) * HASH_SIZE;
    const chunk = this.chunks[index >>> this.chunkBits];
    // A byte loop: cheaper than Buffer#copy or set(subarray) for 64 bytes (no native call, no view).
    for (let i = 0; i < 2 * HASH_SIZE; i++) target[targetStart + i] = chunk[at + i];
  }

  /** Keeps the first `length` nodes and releases chunks no longer needed. */
  truncate(length: number): void {
    if (length >= this.count) return;
    this.count = length;
    const chunksNeeded = Math.ceil(length / (this.chunkMask + 1));
    if (this.chunks.length > chunksNeeded) this.chunks.length = chunksNeeded;
  }
}
