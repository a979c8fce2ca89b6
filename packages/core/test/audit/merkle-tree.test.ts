import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { BulwarkAuditError, ErrorCodes } from '../../src/errors';
import {
  EMPTY_ROOT,
  MerkleTree,
  hashChildren,
  hashLeaf,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/merkle-tree';

// Shared public vectors (transparency-dev/merkle testdata + RFC 6962 reference tree). A missing
// folder must fail the suite, never skip it: readFileSync / readdirSync throw.
const VECTORS = path.resolve(__dirname, '../vectors/merkle');

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b64 = (s: string | null | undefined): Buffer => Buffer.from(s ?? '', 'base64');
const hexList = (list: readonly Uint8Array[]): string[] => list.map(hex);

interface Reference {
  leafInputsHex: string[];
  rootHashesHex: string[];
}
const reference = JSON.parse(fs.readFileSync(path.join(VECTORS, 'rfc6962_roots.json'), 'utf8')) as Reference;
const referenceLeaves = reference.leafInputsHex.map((h) => hashLeaf(Buffer.from(h, 'hex')));
const referenceTree = new MerkleTree(referenceLeaves);

function jsonFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? jsonFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
    )
    .filter((file) => file.endsWith('.json'))
    .sort();
}
const relative = (file: string): string => path.relative(VECTORS, file);

interface InclusionCase {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyCase {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
const inclusionCases = jsonFiles(path.join(VECTORS, 'inclusion')).map(
  (file) => [relative(file), JSON.parse(fs.readFileSync(file, 'utf8')) as InclusionCase] as const,
);
const consistencyCases = jsonFiles(path.join(VECTORS, 'consistency')).map(
  (file) => [relative(file), JSON.parse(fs.readFileSync(file, 'utf8')) as ConsistencyCase] as const,
);

/** Deterministic distinct leaf hashes for generated trees. */
const leafAt = (i: number): Buffer => hashLeaf(Buffer.from(`entry-${i}`));
const leavesUpTo = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => leafAt(i));

// Independent, literal transcription of RFC 9162 §2.1 (recursive, O(n) per call) used as the
// oracle for the stored-node implementation.
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function naiveRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return crypto.createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0];
  const k = largestPowerOfTwoBelow(leaves.length);
  return hashChildren(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}
function naivePath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  return m < k
    ? [...naivePath(m, leaves.slice(0, k)), naiveRoot(leaves.slice(k))]
    : [...naivePath(m - k, leaves.slice(k)), naiveRoot(leaves.slice(0, k))];
}
function naiveSubproof(m: number, leaves: readonly Buffer[], complete: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [naiveRoot(leaves)];
  const k = largestPowerOfTwoBelow(n);
  return m <= k
    ? [...naiveSubproof(m, leaves.slice(0, k), complete), naiveRoot(leaves.slice(k))]
    : [...naiveSubproof(m - k, leaves.slice(k), false), naiveRoot(leaves.slice(0, k))];
}

function flipBit(list: readonly Buffer[], element: number, bit: number): Buffer[] {
  const copy = list.map((b) => Buffer.from(b));
  copy[element][bit >> 3] ^= 1 << (bit & 7);
  return copy;
}

function expectAuditError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BulwarkAuditError);
  expect((caught as BulwarkAuditError).code).toBe(code);
}

describe('RFC 6962 hashing', () => {
  it('prefixes leaves with 0x00 and nodes with 0x01', () => {
    const a = crypto.randomBytes(32);
    const b = crypto.randomBytes(32);
    expect(hex(hashLeaf(a))).toBe(
      crypto
        .createHash('sha256')
        .update(Buffer.concat([Buffer.from([0]), a]))
        .digest('hex'),
    );
    expect(hex(hashChildren(a, b))).toBe(
      crypto
        .createHash('sha256')
        .update(Buffer.concat([Buffer.from([1]), a, b]))
        .digest('hex'),
    );
  });

  it('separates leaf and node domains: a leaf of left||right is not the node of left, right', () => {
    const a = crypto.randomBytes(32);
    const b = crypto.randomBytes(32);
    expect(hex(hashLeaf(Buffer.concat([a, b])))).not.toBe(hex(hashChildren(a, b)));
  });

  it('uses SHA-256("") as the empty tree root, and a caller mutating EMPTY_ROOT changes nothing', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const saved = Buffer.from(EMPTY_ROOT);
    EMPTY_ROOT.fill(0);
    try {
      expect(hex(new MerkleTree().root())).toBe(hex(saved));
      expect(verifyConsistency(0, 0, [], saved, saved)).toBe(true);
    } finally {
      saved.copy(EMPTY_ROOT);
    }
  });

  it('hashes node inputs of any length (not only 32-byte children) correctly', () => {
    const expected = crypto
      .createHash('sha256')
      .update(Buffer.from([1, 7, 8, 9]))
      .digest('hex');
    expect(hex(hashChildren(Buffer.from([7]), Buffer.from([8, 9])))).toBe(expected);
  });
});

describe('MerkleTree: RFC 6962 reference tree roots', () => {
  it('has the reference vector file with 8 leaves and 9 roots', () => {
    expect(reference.leafInputsHex).toHaveLength(8);
    expect(reference.rootHashesHex).toHaveLength(9);
  });

  it('computes root(size) of every prefix from one 8-leaf tree', () => {
    for (let size = 0; size <= 8; size++) {
      expect(hex(referenceTree.root(size))).toBe(reference.rootHashesHex[size]);
    }
    expect(hex(referenceTree.root())).toBe(reference.rootHashesHex[8]);
  });

  it('computes the same roots for fresh trees and for a tree grown one leaf at a time', () => {
    const grown = new MerkleTree();
    expect(hex(grown.root())).toBe(reference.rootHashesHex[0]);
    for (let size = 1; size <= 8; size++) {
      grown.append(referenceLeaves[size - 1]);
      expect(grown.size).toBe(size);
      expect(hex(grown.root())).toBe(reference.rootHashesHex[size]);
      expect(hex(new MerkleTree(referenceLeaves.slice(0, size)).root())).toBe(reference.rootHashesHex[size]);
      for (let prefix = 0; prefix <= size; prefix++) {
        expect(hex(grown.root(prefix))).toBe(reference.rootHashesHex[prefix]);
      }
    }
  });

  it('truncates to any size and grows back to the same roots', () => {
    for (let size = 0; size <= 8; size++) {
      const tree = new MerkleTree(referenceLeaves);
      tree.truncate(size);
      expect(tree.size).toBe(size);
      expect(hex(tree.root())).toBe(reference.rootHashesHex[size]);
      expectAuditError(() => tree.root(size + 1), ErrorCodes.AUDIT_INVALID_ARGUMENT);
      tree.appendMany(referenceLeaves.slice(size));
      expect(hex(tree.root())).toBe(reference.rootHashesHex[8]);
      for (let i = 0; i < 8; i++) expect(hex(tree.leaf(i))).toBe(hex(referenceLeaves[i]));
    }
  });
});

describe('inclusion proofs: transparency-dev vectors', () => {
  const REFERENCE_HAPPY_PATH = /^inclusion\/\d\/happy-path\.json$/;

  it('found the vector files', () => {
    expect(inclusionCases.length).toBeGreaterThanOrEqual(80);
    expect(inclusionCases.filter(([name]) => REFERENCE_HAPPY_PATH.test(name))).toHaveLength(5);
    expect(inclusionCases.filter(([, c]) => !c.wantErr).length).toBeGreaterThanOrEqual(6);
  });

  it.each(inclusionCases.map(([name, c]) => [name, c.desc, c] as const))('%s (%s)', (_name, _desc, c) => {
    const leafHash = b64(c.leafHash);
    const root = b64(c.root);
    const proof = (c.proof ?? []).map(b64);
    const ok = verifyInclusion(leafHash, c.leafIdx, c.treeSize, proof, root);
    if (!c.wantErr) {
      expect(ok).toBe(true);
      expect(hex(rootFromInclusionProof(leafHash, c.leafIdx, c.treeSize, proof))).toBe(hex(root));
      if (!REFERENCE_HAPPY_PATH.test(_name)) return; // single-entry cases use another tree
      // The numbered happy paths come from the RFC 6962 reference tree: our generated proof
      // must be byte-for-byte the published one.
      expect(hex(referenceTree.leaf(c.leafIdx))).toBe(hex(leafHash));
      expect(hex(referenceTree.root(c.treeSize))).toBe(hex(root));
      expect(hexList(referenceTree.inclusionProof(c.leafIdx, c.treeSize))).toEqual(hexList(proof));
    } else {
      expect(ok).toBe(false);
      // Either structurally invalid (typed error) or it computes some other root.
      let computed: Buffer | undefined;
      try {
        computed = rootFromInclusionProof(leafHash, c.leafIdx, c.treeSize, proof);
      } catch (err) {
        expect(err).toBeInstanceOf(BulwarkAuditError);
        expect((err as BulwarkAuditError).code).toBe(ErrorCodes.AUDIT_PROOF_INVALID);
      }
      if (computed !== undefined) expect(hex(computed)).not.toBe(hex(root));
    }
  });
});

describe('consistency proofs: transparency-dev vectors', () => {
  // One "additional" case accepts 12-byte placeholder roots when size1 = size2 = 1. Bulwark
  // deliberately rejects any root that is not a 32-byte SHA-256 hash (fail closed), so that
  // case is asserted false below; the same case with real 32-byte roots is asserted true.
  const PLACEHOLDER_ROOTS_CASE = path.join(
    'consistency',
    'additional',
    'sizes-are-equal-one-and-proof-is-empty.json',
  );

  it('found the vector files', () => {
    expect(consistencyCases.length).toBeGreaterThanOrEqual(80);
    expect(consistencyCases.filter(([, c]) => !c.wantErr).length).toBeGreaterThanOrEqual(6);
  });

  it.each(consistencyCases.map(([name, c]) => [name, c.desc, c] as const))('%s (%s)', (name, _desc, c) => {
    const root1 = b64(c.root1);
    const root2 = b64(c.root2);
    const proof = (c.proof ?? []).map(b64);
    const ok = verifyConsistency(c.size1, c.size2, proof, root1, root2);
    if (name === PLACEHOLDER_ROOTS_CASE) {
      expect(c.wantErr).toBe(false);
      expect(root1.length).not.toBe(32);
      expect(ok).toBe(false);
      expect(verifyConsistency(1, 1, [], referenceTree.root(1), referenceTree.root(1))).toBe(true);
      return;
    }
    if (!c.wantErr) {
      expect(ok).toBe(true);
      expect(hex(referenceTree.root(c.size1))).toBe(hex(root1));
      expect(hex(referenceTree.root(c.size2))).toBe(hex(root2));
      expect(hexList(referenceTree.consistencyProof(c.size1, c.size2))).toEqual(hexList(proof));
    } else {
      expect(ok).toBe(false);
    }
  });

  it('treats only that one vector as a deliberate deviation', () => {
    const lenient = consistencyCases.filter(
      ([, c]) => !c.wantErr && (b64(c.root1).length !== 32 || b64(c.root2).length !== 32),
    );
    expect(lenient.map(([name]) => name)).toEqual([PLACEHOLDER_ROOTS_CASE]);
  });
});

describe('MerkleTree proofs against a literal RFC 9162 transcription', () => {
  it('generates the RFC inclusion path for every leaf of every tree up to 48 leaves', () => {
    const all = leavesUpTo(48);
    const tree = new MerkleTree(all);
    for (let size = 1; size <= 48; size++) {
      const leaves = all.slice(0, size);
      const root = naiveRoot(leaves);
      expect(hex(tree.root(size))).toBe(hex(root));
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        expect(hexList(proof)).toEqual(hexList(naivePath(index, leaves)));
        expect(verifyInclusion(all[index], index, size, proof, root)).toBe(true);
      }
    }
  });

  it('generates the RFC consistency proof for every 1 <= m <= n <= 40', () => {
    const all = leavesUpTo(40);
    const tree = new MerkleTree(all);
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(hexList(proof)).toEqual(hexList(naiveSubproof(m, all.slice(0, n), true)));
        expect(verifyConsistency(m, n, proof, tree.root(m), tree.root(n))).toBe(true);
      }
    }
  });
});

describe('MerkleTree properties (fast-check)', () => {
  const MAX = 300;
  const all = leavesUpTo(MAX + 1);
  const tree = new MerkleTree(all);
  const roots = Array.from({ length: MAX + 2 }, (_, n) => tree.root(n));

  const sizeAndIndex = fc
    .integer({ min: 1, max: MAX })
    .chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 })));

  it('inclusion proofs verify, and any bit flip, other leaf, other index or other size is rejected', () => {
    fc.assert(
      fc.property(
        sizeAndIndex,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.nat(),
        ([size, index], pick, bit, other) => {
          const proof = tree.inclusionProof(index, size);
          expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(size)));
          expect(verifyInclusion(all[index], index, size, proof, roots[size])).toBe(true);
          if (proof.length > 0) {
            const tampered = flipBit(proof, pick % proof.length, bit);
            expect(verifyInclusion(all[index], index, size, tampered, roots[size])).toBe(false);
          }
          const flippedLeaf = flipBit([all[index]], 0, bit)[0];
          expect(verifyInclusion(flippedLeaf, index, size, proof, roots[size])).toBe(false);
          const flippedRoot = flipBit([roots[size]], 0, bit)[0];
          expect(verifyInclusion(all[index], index, size, proof, flippedRoot)).toBe(false);
          if (size > 1) {
            const otherIndex = (index + 1 + (other % (size - 1))) % size;
            expect(verifyInclusion(all[otherIndex], index, size, proof, roots[size])).toBe(false);
            expect(verifyInclusion(all[index], otherIndex, size, proof, roots[size])).toBe(false);
          }
          // A different size with its own root (tree heads sign size and root together).
          const otherSize = index + 1 + (other % (MAX + 1 - index));
          if (otherSize !== size) {
            expect(verifyInclusion(all[index], index, otherSize, proof, roots[otherSize])).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('consistency proofs verify, and tampering with proof, roots or sizes is rejected', () => {
    fc.assert(
      fc.property(sizeAndIndex, fc.nat(), fc.integer({ min: 0, max: 255 }), ([n, m0], pick, bit) => {
        const m = m0 + 1; // 1 <= m <= n
        const proof = tree.consistencyProof(m, n);
        expect(verifyConsistency(m, n, proof, roots[m], roots[n])).toBe(true);
        expect(verifyConsistency(m, n, proof, roots[m], roots[n + 1])).toBe(false);
        expect(verifyConsistency(m, n, proof, flipBit([roots[m]], 0, bit)[0], roots[n])).toBe(false);
        expect(verifyConsistency(m, n, proof, roots[m], flipBit([roots[n]], 0, bit)[0])).toBe(false);
        if (m < n) {
          expect(proof.length).toBeGreaterThan(0);
          expect(verifyConsistency(m, n, flipBit(proof, pick % proof.length, bit), roots[m], roots[n])).toBe(
            false,
          );
          expect(verifyConsistency(m, n, proof.slice(1), roots[m], roots[n])).toBe(false);
          expect(verifyConsistency(m, n, proof.slice(0, -1), roots[m], roots[n])).toBe(false);
          expect(verifyConsistency(m, n, [...proof, roots[m]], roots[m], roots[n])).toBe(false);
          expect(verifyConsistency(n, m, proof, roots[n], roots[m])).toBe(false);
          expect(verifyConsistency(m, n + 1, proof, roots[m], roots[n + 1])).toBe(false);
          if (m > 1) expect(verifyConsistency(m - 1, n, proof, roots[m - 1], roots[n])).toBe(false);
        } else {
          expect(proof).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('root(m) of a grown tree equals a fresh m-leaf tree, also after truncate and regrowth', () => {
    fc.assert(
      fc.property(sizeAndIndex, ([n, m]) => {
        const grown = new MerkleTree(all.slice(0, n));
        expect(hex(grown.root(m))).toBe(hex(new MerkleTree(all.slice(0, m)).root()));
        expect(hex(grown.root(m))).toBe(hex(naiveRoot(all.slice(0, m))));
        grown.truncate(m);
        expect(hex(grown.root())).toBe(hex(roots[m]));
        grown.appendMany(all.slice(m, n));
        expect(hex(grown.root())).toBe(hex(roots[n]));
        expect(hexList(grown.inclusionProof(m, n))).toEqual(hexList(tree.inclusionProof(m, n)));
      }),
      { numRuns: 100 },
    );
  });
});

describe('MerkleTree beyond one chunk', () => {
  it('keeps roots and proofs right across node-store chunk boundaries (5000 leaves)', () => {
    const leaves = leavesUpTo(5000);
    const tree = new MerkleTree(leaves);
    for (const size of [2047, 2048, 2049, 4096, 4097, 5000]) {
      const root = naiveRoot(leaves.slice(0, size));
      expect(hex(tree.root(size))).toBe(hex(root));
      for (const index of [0, 2047, 2048, size - 1]) {
        if (index >= size) continue;
        expect(verifyInclusion(leaves[index], index, size, tree.inclusionProof(index, size), root)).toBe(
          true,
        );
      }
      expect(verifyConsistency(1000, size, tree.consistencyProof(1000, size), tree.root(1000), root)).toBe(
        true,
      );
    }
    tree.truncate(2049);
    tree.appendMany(leaves.slice(2049));
    expect(hex(tree.root())).toBe(hex(naiveRoot(leaves)));
  });
});

describe('verification arithmetic beyond 2^32 leaves', () => {
  it('folds a proof for an index in a 2^40-leaf tree by the index bits', () => {
    const size = 2 ** 40;
    const index = 2 ** 35 + 2 ** 33 + 5;
    const leafHash = leafAt(1);
    const proof = Array.from({ length: 40 }, (_, i) => leafAt(100 + i));
    let expected: Buffer = leafHash;
    for (let level = 0; level < 40; level++) {
      const rightChild = Math.floor(index / 2 ** level) % 2 === 1;
      expected = rightChild ? hashChildren(proof[level], expected) : hashChildren(expected, proof[level]);
    }
    expect(hex(rootFromInclusionProof(leafHash, index, size, proof))).toBe(hex(expected));
    expect(verifyInclusion(leafHash, index, size, proof, expected)).toBe(true);
    // A size that puts the leaf on the right edge changes the proof's shape.
    expect(verifyInclusion(leafHash, index, index + 1, proof, expected)).toBe(false);
    expect(verifyInclusion(leafHash, index + 1, size, proof, expected)).toBe(false);
    expectAuditError(
      () => rootFromInclusionProof(leafHash, index, size, proof.slice(1)),
      ErrorCodes.AUDIT_PROOF_INVALID,
    );
  });
});

describe('bad input', () => {
  const tree = new MerkleTree(leavesUpTo(10));
  const root = tree.root();
  const proof = tree.inclusionProof(3);

  it('rejects leaf hashes that are not 32-byte Uint8Arrays with a typed error', () => {
    const t = new MerkleTree();
    for (const bad of [Buffer.alloc(31), Buffer.alloc(33), 'a'.repeat(32), null]) {
      expectAuditError(() => t.append(bad as unknown as Uint8Array), ErrorCodes.AUDIT_INVALID_ARGUMENT);
    }
    expect(t.size).toBe(0);
    expectAuditError(
      () => new MerkleTree([Buffer.alloc(32), Buffer.alloc(1)]),
      ErrorCodes.AUDIT_INVALID_ARGUMENT,
    );
    expectAuditError(() => hashLeaf('text' as unknown as Uint8Array), ErrorCodes.AUDIT_INVALID_ARGUMENT);
  });

  it('rejects out-of-range indices and sizes on the tree', () => {
    for (const fn of [
      () => tree.leaf(10),
      () => tree.leaf(-1),
      () => tree.root(11),
      () => tree.root(1.5),
      () => tree.inclusionProof(10),
      () => tree.inclusionProof(5, 5),
      () => tree.inclusionProof(0, 11),
      () => tree.inclusionProof(Number.NaN),
      () => tree.consistencyProof(0, 5),
      () => tree.consistencyProof(6, 5),
      () => tree.consistencyProof(1, 11),
      () => tree.truncate(11),
      () => new MerkleTree().inclusionProof(0),
    ]) {
      expectAuditError(fn, ErrorCodes.AUDIT_INVALID_ARGUMENT);
    }
    expect(tree.consistencyProof(0, 0)).toEqual([]);
    expect(tree.consistencyProof(7, 7)).toEqual([]);
  });

  it('hands out copies: mutating a returned hash does not change the tree', () => {
    const leaf = tree.leaf(3);
    leaf.fill(0);
    const p = tree.inclusionProof(3);
    p[0].fill(0);
    tree.root().fill(0);
    expect(hex(tree.leaf(3))).toBe(hex(leafAt(3)));
    expect(hex(tree.root())).toBe(hex(root));
    expect(verifyInclusion(leafAt(3), 3, 10, tree.inclusionProof(3), root)).toBe(true);
  });

  it('throws ERR_AUDIT_PROOF_INVALID from rootFromInclusionProof on structurally bad proofs', () => {
    for (const fn of [
      () => rootFromInclusionProof(leafAt(3), 10, 10, proof),
      () => rootFromInclusionProof(leafAt(3), -1, 10, proof),
      () => rootFromInclusionProof(leafAt(3), 3, 10, proof.slice(1)),
      () => rootFromInclusionProof(leafAt(3), 3, 10, [...proof, proof[0]]),
      () => rootFromInclusionProof(leafAt(3), 3, 10, [...proof.slice(1), Buffer.alloc(31)]),
      () => rootFromInclusionProof(Buffer.alloc(31), 3, 10, proof),
      () => rootFromInclusionProof(leafAt(3), 3, 10, 'proof' as unknown as Buffer[]),
      () => rootFromInclusionProof(leafAt(3), 3.5, 10, proof),
    ]) {
      expectAuditError(fn, ErrorCodes.AUDIT_PROOF_INVALID);
    }
  });

  it('returns false (never throws) from the verifiers on malformed input', () => {
    const junk: unknown[] = [null, undefined, 'x', 3, {}, [1, 2]];
    for (const j of junk) {
      expect(verifyInclusion(j as Buffer, 3, 10, proof, root)).toBe(false);
      expect(verifyInclusion(leafAt(3), 3, 10, j as Buffer[], root)).toBe(false);
      expect(verifyInclusion(leafAt(3), 3, 10, proof, j as Buffer)).toBe(false);
      expect(verifyConsistency(4, 10, j as Buffer[], tree.root(4), root)).toBe(false);
      expect(verifyConsistency(4, 10, tree.consistencyProof(4), j as Buffer, root)).toBe(false);
    }
    for (const n of [null, undefined, '3', 3.5, -1, Number.NaN, Infinity, 2 ** 53]) {
      expect(verifyInclusion(leafAt(3), n as number, 10, proof, root)).toBe(false);
      expect(verifyInclusion(leafAt(3), 3, n as number, proof, root)).toBe(false);
      expect(verifyConsistency(n as number, 10, tree.consistencyProof(4), tree.root(4), root)).toBe(false);
      expect(verifyConsistency(4, n as number, tree.consistencyProof(4), tree.root(4), root)).toBe(false);
    }
    expect(verifyInclusion(leafAt(3), 3, 10, proof, root.subarray(0, 31))).toBe(false);
    expect(
      verifyConsistency(4, 10, tree.consistencyProof(4), tree.root(4), Buffer.concat([root, root])),
    ).toBe(false);
    expect(verifyConsistency(0, 10, [], EMPTY_ROOT, root)).toBe(false);
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(true);
    expect(verifyConsistency(0, 0, [], root, root)).toBe(false);
  });
});
