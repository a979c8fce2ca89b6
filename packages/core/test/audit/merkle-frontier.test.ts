import fc from 'fast-check';
import { MerkleFrontier } from '../../src/audit/merkle-frontier';
import { MerkleTree } from '../../src/audit/merkle-tree';

describe('MerkleFrontier', () => {
  it('gives the same tree head as MerkleTree at every size (RFC 9162 §2.1.1)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 70 }), (leaves) => {
        const tree = new MerkleTree();
        const frontier = new MerkleFrontier();
        expect(frontier.root()).toEqual(tree.root());
        for (const leaf of leaves) {
          const hex = Buffer.from(leaf).toString('hex');
          tree.appendHex(hex);
          frontier.appendHex(hex);
          expect(frontier.size).toBe(tree.size);
          expect(frontier.root().toString('hex')).toBe(tree.root().toString('hex'));
        }
      }),
    );
  });

  it('refuses a leaf hash that is not 64 hex digits', () => {
    const f = new MerkleFrontier();
    for (const bad of ['', 'ab', 'g'.repeat(64), 'A'.repeat(64), 'a'.repeat(66)]) {
      expect(() => f.appendHex(bad)).toThrow(/64 hex digits/);
    }
    expect(f.size).toBe(0);
  });
});
