import * as crypto from 'node:crypto';
import { BulwarkAuditError, ErrorCodes } from '../errors';
import { HASH_SIZE, MerkleNodeStore } from './merkle-node-store';

/**
 * The audit log's Merkle tree, hashed as in RFC 6962 §2.1 / RFC 9162 §2.1 (Certificate
 * Transparency): leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right). The
 * distinct prefixes stop a leaf from being passed off as an interior node (second-preimage
 * attack). A tree of n leaves splits at the largest power of two below n, so its shape is
 * fixed by n alone and any size has O(log n) inclusion and consistency proofs.
 *
 * Storage: level k holds the hash of every complete, aligned subtree of 2^k leaves (level 0
 * are the leaves themselves), about 2n nodes in all. Every node of the RFC tree of any size
 * m <= n is either such a complete subtree or sits on the right edge of that tree, and a
 * right-edge node covers [start, m) with `start` aligned, which splits into at most log2(n)
 * complete aligned subtrees. So root(m) and proofs for any past size cost O(log n) hashes,
 * and nothing is ever recomputed from the leaves.
 */

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;
/** Indices are kept below 2^32 so 32-bit shifts stay exact; 2^32 leaves would need 256 GB anyway. */
const MAX_TREE_SIZE = 0xffffffff;

/**
 * crypto.hash (one-shot, Node >= 20.12) is about twice as fast as createHash for 65-byte inputs.
 * Its 'buffer' output takes a slow path in Node 20 (the encoding name fails normalisation and is
 * lower-cased on every call); a latin1 string (lossless: one char per byte) turned into a Buffer
 * costs about a third less ('binary' is Node's name for latin1 in the typed overloads).
 */
const oneShot = typeof crypto.hash === 'function';
const sha256: (data: Uint8Array) => Buffer = oneShot
  ? (data) => Buffer.from(crypto.hash('sha256', data, 'binary'), 'latin1')
  : (data) => crypto.createHash('sha256').update(data).digest();

/** SHA-256 digest as a 32-character latin1 string (for MerkleNodeStore.pushEncoded). */
const sha256Latin1: (data: Uint8Array) => string = oneShot
  ? (data) => crypto.hash('sha256', data, 'binary')
  : (data) => crypto.createHash('sha256').update(data).digest('binary');

/** Reused input buffer for node hashes (hashing is synchronous, so no sharing hazard). */
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeInput[0] = NODE_PREFIX;

/** Private copy: Buffers cannot be frozen, so a caller mutating EMPTY_ROOT must not affect verification. */
const EMPTY_TREE_HASH = sha256(new Uint8Array(0));

/** MTH of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Buffer = Buffer.from(EMPTY_TREE_HASH);

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || data). */
export function hashLeaf(data: Uint8Array): Buffer {
  assertBytes(data, 'data');
  const input = Buffer.allocUnsafe(1 + data.length);
  input[0] = LEAF_PREFIX;
  input.set(data, 1);
  return sha256(input);
}

/** RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  assertBytes(left, 'left');
  assertBytes(right, 'right');
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    nodeInput.set(left, 1);
    nodeInput.set(right, 1 + HASH_SIZE);
    return sha256(nodeInput);
  }
  return sha256(Buffer.concat([nodeInput.subarray(0, 1), left, right]));
}

export class MerkleTree {
  /** levels[k][i] = MTH of leaves [i * 2^k, (i + 1) * 2^k), for every such complete range. */
  private readonly levels: MerkleNodeStore[] = [];
  private count = 0;

  constructor(leafHashes?: Iterable<Uint8Array>) {
    if (leafHashes !== undefined) this.appendMany(leafHashes);
  }

  /**
   * A read-only view over nodes kept elsewhere (MerkleNodeCache's files): `levels[k].view(i)` is
   * the hash of leaves [i * 2^k, (i + 1) * 2^k). Roots and proofs only; appending throws. Internal.
   */
  static overNodes(levels: readonly { view(index: number): Uint8Array }[], size: number): MerkleTree {
    const tree = new MerkleTree();
    // Structural stand-ins for MerkleNodeStore: proofs and roots only call view().
    tree.levels.push(...(levels as unknown as MerkleNodeStore[]));
    tree.count = size;
    tree.#readOnly = true;
    return tree;
  }

  #readOnly = false;

  /** Number of leaves. */
  get size(): number {
    return this.count;
  }

  /**
   * Appends a leaf hash (normally `hashLeaf(canonicalBytes(entry))`). Amortised O(1): the new
   * leaf completes one subtree per trailing 1-bit of its index, on average one.
   */
  append(leafHash: Uint8Array): void {
    this.#checkWritable();
    assertHash(leafHash, 'leafHash');
    if (this.count >= MAX_TREE_SIZE) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        `A MerkleTree holds at most ${MAX_TREE_SIZE} leaves.`,
      );
    }
    this.store(0).push(leafHash);
    this.completeSubtrees();
  }

  /**
   * `append` for a leaf hash given as 64 hex digits (how entries carry it), decoded straight into
   * the tree's storage. Throws ERR_AUDIT_INVALID_ARGUMENT on anything but 64 hex digits.
   */
  appendHex(leafHashHex: string): void {
    this.#checkWritable();
    if (this.count >= MAX_TREE_SIZE) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        `A MerkleTree holds at most ${MAX_TREE_SIZE} leaves.`,
      );
    }
    if (typeof leafHashHex !== 'string' || !this.store(0).pushEncoded(leafHashHex, 'hex')) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        'leafHashHex must be a 32-byte SHA-256 hash as 64 hex digits.',
      );
    }
    this.completeSubtrees();
  }

  /** After leaf `count` was stored: count it and hash every subtree it completes. */
  private completeSubtrees(): void {
    let index = this.count;
    this.count++;
    let level = 0;
    // Each odd index closes the pair (index - 1, index): hash it into the level above.
    while ((index & 1) === 1) {
      this.levels[level].copyPair(index - 1, nodeInput, 1);
      const parent = sha256Latin1(nodeInput);
      level++;
      index >>>= 1;
      this.store(level).pushEncoded(parent, 'latin1');
    }
  }

  appendMany(leafHashes: Iterable<Uint8Array>): void {
    for (const leafHash of leafHashes) this.append(leafHash);
  }

  /** Copy of the hash of leaf `index`. */
  leaf(index: number): Buffer {
    this.assertIndex(index, this.count, 'index');
    return Buffer.from(this.levels[0].view(index));
  }

  /** MTH of the first `size` leaves (RFC 9162 §2.1.1); default all. O(log n). */
  root(size: number = this.count): Buffer {
    this.assertSize(size, 'size');
    if (size === 0) return Buffer.from(EMPTY_TREE_HASH);
    return this.rangeHash(0, size);
  }

  /**
   * Audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1),
   * ordered from the leaf's sibling up to the root's child. O(log n).
   */
  inclusionProof(index: number, size: number = this.count): Buffer[] {
    this.assertSize(size, 'size');
    this.assertIndex(index, size, 'index');
    return this.pathFrom(0, index, size);
  }

  /**
   * Consistency proof between the trees of the first `fromSize` and `toSize` leaves
   * (RFC 9162 §2.1.4.1), requiring 0 < fromSize <= toSize (equal sizes give []). O(log n).
   */
  consistencyProof(fromSize: number, toSize: number = this.count): Buffer[] {
    this.assertSize(toSize, 'toSize');
    this.assertSize(fromSize, 'fromSize');
    if (fromSize > toSize) {
      throw new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, 'fromSize must not exceed toSize.', {
        fromSize,
        toSize,
      });
    }
    if (fromSize === toSize) return [];
    if (fromSize === 0) {
      // RFC 9162 §2.1.4 defines proofs for 0 < m only: every tree extends the empty tree, and
      // verifiers (ours included) reject a "proof" from size 0. Compare root1 with EMPTY_ROOT.
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        'A consistency proof from the empty tree is meaningless; check the old root equals EMPTY_ROOT instead.',
        { fromSize, toSize },
      );
    }
    // The old tree's right edge ends in the complete subtree of 2^shift leaves that holds
    // leaf fromSize - 1 (shift = trailing zeros of fromSize). The proof is that node (unless
    // it is the whole old tree, whose root the verifier already has) followed by its audit
    // path in the new tree; equivalent to RFC 9162's recursive SUBPROOF.
    const shift = 31 - Math.clz32(fromSize & -fromSize);
    const index = (fromSize - 1) >>> shift;
    const proof: Buffer[] = [];
    if (fromSize !== 2 ** shift) proof.push(Buffer.from(this.levels[shift].view(index)));
    for (const node of this.pathFrom(shift, index, toSize)) proof.push(node);
    return proof;
  }

  #checkWritable(): void {
    if (this.#readOnly) {
      throw new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, 'this Merkle tree is a read-only view');
    }
  }

  /** Drops every leaf from `size` on (used when rebuilding from a store); frees their nodes. */
  truncate(size: number): void {
    this.#checkWritable();
    this.assertSize(size, 'size');
    for (let level = 0; level < this.levels.length; level++) {
      this.levels[level].truncate(Math.floor(size / 2 ** level));
    }
    this.count = size;
  }

  private store(level: number): MerkleNodeStore {
    let store = this.levels[level];
    if (store === undefined) {
      // 2048 leaves per 64 KiB chunk at level 0, halving per level down to 64 nodes (2 KiB)
      // so the sparse upper levels of a small tree do not pin large buffers.
      store = new MerkleNodeStore(Math.max(6, 11 - level));
      this.levels[level] = store;
    }
    return store;
  }

  /**
   * Siblings on the way from node `index` at `level` to the root of the tree of `size`
   * leaves. Left siblings and interior right siblings are complete stored subtrees; at most
   * one right sibling lies on the size-`size` tree's right edge and is folded by rangeHash.
   */
  private pathFrom(level: number, index: number, size: number): Buffer[] {
    const proof: Buffer[] = [];
    let last = (size - 1) >>> level; // index of the rightmost (possibly partial) node on this level
    while (last > 0) {
      const sibling = index ^ 1;
      if (sibling < last || sibling < index) {
        proof.push(Buffer.from(this.levels[level].view(sibling)));
      } else if (sibling === last) {
        proof.push(this.rangeHash(sibling * 2 ** level, size));
      }
      // else: no sibling on this level; RFC 6962 promotes the node unchanged.
      index >>>= 1;
      last >>>= 1;
      level++;
    }
    return proof;
  }

  /**
   * MTH of leaves [start, end), where `start` is a multiple of a power of two >= end - start
   * (true of every node of an RFC 6962 tree). The range splits left to right into complete
   * aligned subtrees of decreasing size, one per set bit of end - start; RFC 9162's split at
   * the largest power of two means the MTH is those subtrees folded from the right.
   */
  private rangeHash(start: number, end: number): Buffer {
    const parts: Uint8Array[] = [];
    let remaining = end - start;
    let position = start;
    while (remaining > 0) {
      const level = 31 - Math.clz32(remaining);
      const width = 2 ** level;
      parts.push(this.levels[level].view(position / width));
      position += width;
      remaining -= width;
    }
    let hash: Buffer = Buffer.from(parts[parts.length - 1]);
    for (let i = parts.length - 2; i >= 0; i--) hash = hashChildren(parts[i], hash);
    return hash;
  }

  private assertSize(size: number, name: string): void {
    if (!Number.isInteger(size) || size < 0 || size > this.count) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        `${name} must be an integer between 0 and the tree size (${this.count}).`,
        { [name]: size, treeSize: this.count },
      );
    }
  }

  private assertIndex(index: number, size: number, name: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        `${name} must be an integer below the tree size (${size}).`,
        { [name]: index, size },
      );
    }
  }
}

/**
 * RFC 9162 §2.1.3.2: the root implied by an inclusion proof. Throws ERR_AUDIT_PROOF_INVALID
 * when the input cannot be a proof at all (index >= size, hashes not 32 bytes, wrong number
 * of proof hashes); a well-formed but wrong proof just yields a different root.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Buffer {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw proofError('the leaf index must be an integer in [0, size)', { index, size });
  }
  if (!isHash(leafHash)) throw proofError('the leaf hash must be 32 bytes', {});
  checkProofHashes(proof);
  const expected = inclusionProofLength(index, size);
  if (proof.length !== expected) {
    throw proofError('wrong number of proof hashes', { index, size, length: proof.length, expected });
  }
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      // A last node with an even index has no right sibling on the next levels: RFC 6962
      // promotes it, so skip those levels until p's level (fn odd) or the root (fn 0).
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return r;
}

/**
 * True iff `proof` proves leaf `leafHash` at `index` in the tree of `size` leaves with root
 * `root` (RFC 9162 §2.1.3.2). Never throws on bad proofs: any malformed input is false.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(root)) return false;
  let computed: Buffer;
  try {
    computed = rootFromInclusionProof(leafHash, index, size, proof);
  } catch (err) {
    if (err instanceof BulwarkAuditError) return false;
    throw err;
  }
  return crypto.timingSafeEqual(computed, root);
}

/**
 * True iff `proof` shows the tree of `size2` leaves with root `root2` extends the tree of
 * `size1` leaves with root `root1` (RFC 9162 §2.1.4.2). Equal sizes need an empty proof and
 * equal roots (for size 0, the empty-tree root). Size 0 against a larger tree is rejected, as
 * RFC 9162 defines proofs for 0 < size1 only. All hashes must be 32 bytes. Never throws.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2) {
    return false;
  }
  if (!isHash(root1) || !isHash(root2) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (size1 === size2) {
    if (proof.length !== 0) return false;
    const same = crypto.timingSafeEqual(root1, root2);
    return size1 === 0 ? same && crypto.timingSafeEqual(root1, EMPTY_TREE_HASH) : same;
  }
  if (size1 === 0) return false;
  if (proof.length !== consistencyProofLength(size1, size2)) return false;

  // If size1 is a power of two the old tree is itself a subtree of the new one: its root
  // (already known to the verifier) seeds the path instead of being sent.
  const path: readonly Uint8Array[] = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      // c is a left sibling: part of both the old and the new tree.
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      // c is a right sibling: only in the new tree.
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Evaluate both comparisons (no early exit) before combining.
  const firstMatches = crypto.timingSafeEqual(fr, root1);
  const secondMatches = crypto.timingSafeEqual(sr, root2);
  return sn === 0 && firstMatches && secondMatches;
}

/** Number of hashes RFC 9162 §2.1.3.2's loop consumes for (index, size): a dry run without hashing. */
function inclusionProofLength(index: number, size: number): number {
  let fn = index;
  let sn = size - 1;
  let length = 0;
  while (sn !== 0) {
    length++;
    if (fn % 2 === 1 || fn === sn) {
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    fn = half(fn);
    sn = half(sn);
  }
  return length;
}

/** Number of proof hashes RFC 9162 §2.1.4.2 expects for 0 < size1 < size2 (dry run). */
function consistencyProofLength(size1: number, size2: number): number {
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = half(fn);
    sn = half(sn);
  }
  let length = isPowerOfTwo(size1) ? 0 : 1; // the seed, unless it is root1
  while (sn !== 0) {
    length++;
    if (fn % 2 === 1 || fn === sn) {
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    fn = half(fn);
    sn = half(sn);
  }
  return length;
}

// Arithmetic rather than bit operators: verifiers accept any safe-integer tree size, beyond 2^32.
function half(n: number): number {
  return Math.floor(n / 2);
}

function isPowerOfTwo(n: number): boolean {
  let m = n;
  while (m > 1 && m % 2 === 0) m /= 2;
  return m === 1;
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

function checkProofHashes(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) throw proofError('the proof must be an array of hashes', {});
  for (let i = 0; i < proof.length; i++) {
    if (!isHash(proof[i])) throw proofError('every proof hash must be 32 bytes', { position: i });
  }
}

function proofError(reason: string, details: Record<string, unknown>): BulwarkAuditError {
  return new BulwarkAuditError(ErrorCodes.AUDIT_PROOF_INVALID, `Invalid Merkle proof: ${reason}.`, details);
}

function assertBytes(value: unknown, name: string): void {
  if (!(value instanceof Uint8Array)) {
    throw new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, `${name} must be a Uint8Array.`);
  }
}

function assertHash(value: unknown, name: string): void {
  if (!isHash(value)) {
    throw new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, `${name} must be a 32-byte SHA-256 hash.`);
  }
}
