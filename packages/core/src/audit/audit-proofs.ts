import type { AuditEntry } from './audit-event';
import { EntryHasher } from './entry-hasher';
import { verifyConsistency, verifyInclusion, type MerkleTree } from './merkle-tree';

// RFC 9162 (Certificate Transparency v2) §2.1.3-2.1.4 proofs over the log's Merkle tree, in the
// hex form AuditLog hands out, and their verification.

export interface InclusionProof {
  seq: number;
  treeSize: number;
  leafHash: string;
  proof: string[];
  root: string;
}

export interface ConsistencyProof {
  fromSize: number;
  toSize: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
}

export const HEX64 = /^[0-9a-f]{64}$/;

const hexList = (list: Buffer[]): string[] => list.map((b) => b.toString('hex'));

function bufList(list: unknown): Buffer[] | undefined {
  if (!Array.isArray(list) || !list.every((h) => typeof h === 'string' && HEX64.test(h))) return undefined;
  return list.map((h: string) => Buffer.from(h, 'hex'));
}

/** Inclusion proof of entry `seq` in the tree of `treeSize` entries (sizes already checked). */
export function inclusionProof(tree: MerkleTree, seq: number, treeSize: number): InclusionProof {
  return {
    seq,
    treeSize,
    leafHash: tree.leaf(seq - 1).toString('hex'),
    proof: hexList(tree.inclusionProof(seq - 1, treeSize)),
    root: tree.root(treeSize).toString('hex'),
  };
}

/** Consistency proof that the tree of `toSize` extends the tree of `fromSize` (sizes checked). */
export function consistencyProof(tree: MerkleTree, fromSize: number, toSize: number): ConsistencyProof {
  return {
    fromSize,
    toSize,
    fromRoot: tree.root(fromSize).toString('hex'),
    toRoot: tree.root(toSize).toString('hex'),
    proof: hexList(tree.consistencyProof(fromSize, toSize)),
  };
}

/**
 * Checks an inclusion proof. Pass `root` from a checkpoint you trust (a proof's own root proves
 * nothing by itself); pass `entry` (and `hmacKey` if keyed) to also tie the proof to the content.
 */
export function verifyInclusionProof(
  proof: InclusionProof,
  options: { root?: string; entry?: AuditEntry; hmacKey?: Uint8Array } = {},
): boolean {
  if (proof === null || typeof proof !== 'object') return false;
  const path = bufList(proof.proof);
  if (path === undefined || typeof proof.leafHash !== 'string' || !HEX64.test(proof.leafHash)) return false;
  if (typeof proof.root !== 'string' || !HEX64.test(proof.root)) return false;
  if (options.root !== undefined && options.root !== proof.root) return false;
  if (options.entry !== undefined) {
    if (options.entry.seq !== proof.seq || options.entry.leafHash !== proof.leafHash) return false;
    if (options.entry.redacted === undefined && !new EntryHasher(options.hmacKey).matches(options.entry))
      return false;
  }
  return verifyInclusion(
    Buffer.from(proof.leafHash, 'hex'),
    proof.seq - 1,
    proof.treeSize,
    path,
    Buffer.from(proof.root, 'hex'),
  );
}

/** Checks a consistency proof, optionally against roots you trust (e.g. two checkpoints). */
export function verifyConsistencyProof(
  proof: ConsistencyProof,
  options: { fromRoot?: string; toRoot?: string } = {},
): boolean {
  if (proof === null || typeof proof !== 'object') return false;
  const path = bufList(proof.proof);
  if (path === undefined) return false;
  if (
    typeof proof.fromRoot !== 'string' ||
    !HEX64.test(proof.fromRoot) ||
    typeof proof.toRoot !== 'string' ||
    !HEX64.test(proof.toRoot)
  ) {
    return false;
  }
  if (options.fromRoot !== undefined && options.fromRoot !== proof.fromRoot) return false;
  if (options.toRoot !== undefined && options.toRoot !== proof.toRoot) return false;
  return verifyConsistency(
    proof.fromSize,
    proof.toSize,
    path,
    Buffer.from(proof.fromRoot, 'hex'),
    Buffer.from(proof.toRoot, 'hex'),
  );
}
