import { BulwarkAuditError, ErrorCodes } from '../errors';
import type { Checkpoint } from './checkpoint';

/**
 * Where signed checkpoints are kept. Keep it apart from the `AuditStore` (another file, bucket,
 * database or host): a checkpoint only helps if whoever can rewrite the log cannot also rewrite
 * its checkpoints. Implementations refuse a checkpoint smaller than the latest one (a rollback).
 */
export interface CheckpointStore {
  save(checkpoint: Checkpoint): Promise<void>;
  /** The checkpoint with the largest tree size, if any. */
  latest(): Promise<Checkpoint | undefined>;
  /** All checkpoints, oldest first. */
  list(): Promise<Checkpoint[]>;
  close?(): Promise<void>;
}

/** Shared rule: tree sizes of successive checkpoints never decrease. */
export function checkCheckpointOrder(latest: Checkpoint | undefined, next: Checkpoint): void {
  if (latest !== undefined && next.treeSize < latest.treeSize) {
    throw new BulwarkAuditError(
      ErrorCodes.AUDIT_CHECKPOINT_INVALID,
      `refusing a checkpoint of tree size ${next.treeSize} after one of size ${latest.treeSize} (logs only grow)`,
      { reason: 'rollback', treeSize: next.treeSize, latestTreeSize: latest.treeSize },
    );
  }
}
