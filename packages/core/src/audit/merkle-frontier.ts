import { BulwarkAuditError, ErrorCodes } from '../errors';
import { HEX64 } from './audit-proofs';
import { EMPTY_ROOT, hashChildren } from './merkle-tree';

/**
 * The RFC 9162 Merkle tree head of a growing list of leaves in O(log n) memory: only the roots of
 * the complete subtrees of the size's binary decomposition are kept (the "frontier", largest
 * first). Enough for verification, which needs the root at each size it reaches; proofs need the
 * whole tree (`MerkleTree`). Internal.
 */
export class MerkleFrontier {
  /** Roots of complete subtrees, largest first; `heights[i]` is log2 of subtree i's size. */
  readonly #nodes: Buffer[] = [];
  readonly #heights: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends a leaf hash given as 64 lowercase hex digits (how entries carry it). */
  appendHex(leafHashHex: string): void {
    if (typeof leafHashHex !== 'string' || !HEX64.test(leafHashHex)) {
      throw new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, 'a leaf hash must be 64 hex digits');
    }
    let node: Buffer = Buffer.from(leafHashHex, 'hex');
    let height = 0;
    // Two complete subtrees of equal height merge into one a level up (binary carry).
    while (this.#heights.length > 0 && this.#heights[this.#heights.length - 1] === height) {
      this.#heights.pop();
      node = hashChildren(this.#nodes.pop()!, node);
      height++;
    }
    this.#nodes.push(node);
    this.#heights.push(height);
    this.#size++;
  }

  /**
   * MTH of all leaves so far. RFC 9162 §2.1.1 splits n leaves at the largest power of two k < n:
   * that left part is the largest complete subtree, and the right part splits the same way, so
   * the head is the frontier folded from the right.
   */
  root(): Buffer {
    if (this.#nodes.length === 0) return Buffer.from(EMPTY_ROOT);
    let acc = this.#nodes[this.#nodes.length - 1]!;
    for (let i = this.#nodes.length - 2; i >= 0; i--) acc = hashChildren(this.#nodes[i]!, acc);
    return acc;
  }
}
