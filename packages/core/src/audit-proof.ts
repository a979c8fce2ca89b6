// @bulwark/core/audit-proof: proofs from a JSON-lines log's persisted Merkle tree, and nothing
// else — for `bulwark audit prove --file`, whose wall time is mostly Node's start-up and module
// loading (issue 15: under 100 ms at 1M entries). The names are the main entry's (the same
// objects); test/surface pins the list and test/cli-startup.test.ts what the command loads.

export * from './errors';
export { MerkleNodeCache } from './audit/merkle-node-cache';
export type { InclusionProof, ConsistencyProof } from './audit/audit-proofs';
