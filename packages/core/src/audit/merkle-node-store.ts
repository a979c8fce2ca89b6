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
  private chunks: Uint8Array[] = [];
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
    if (chunkIndex === this.chunks.length) this.chunks.push(new Uint8Array(HASH_SIZE << this.chunkBits));
    const at = (this.count & this.chunkMask) * HASH_SIZE;
    const chunk = this.chunks[chunkIndex];
    for (let i = 0; i < HASH_SIZE; i++) chunk[at + i] = hash[offset + i];
    this.count++;
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

  /** Keeps the first `length` nodes and releases chunks no longer needed. */
  truncate(length: number): void {
    if (length >= this.count) return;
    this.count = length;
    const chunksNeeded = Math.ceil(length / (this.chunkMask + 1));
    if (this.chunks.length > chunksNeeded) this.chunks.length = chunksNeeded;
  }
}
