import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../errors';
import { decodeCheckpoint, type Checkpoint } from './checkpoint';
import { checkCheckpointOrder, type CheckpointStore } from './checkpoint-store';

/**
 * `CheckpointStore` in a file of its own: one compact JWS per line, appended and fsynced. Put it
 * somewhere the log's writer cannot rewrite (another volume, a WORM bucket sync, another host).
 */
export class FileCheckpointStore implements CheckpointStore {
  readonly path: string;

  constructor(options: { path: string }) {
    if (
      options === null ||
      typeof options !== 'object' ||
      typeof options.path !== 'string' ||
      options.path === ''
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.checkpoints.path must be a non-empty string',
        {
          path: 'audit.checkpoints.path',
        },
      );
    }
    this.path = path.resolve(options.path);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    const cp = decodeCheckpoint(checkpoint.jws);
    checkCheckpointOrder(await this.latest(), cp);
    await fsp.mkdir(path.dirname(this.path), { recursive: true });
    const handle = await fsp.open(this.path, 'a', 0o600);
    try {
      await handle.write(`${cp.jws}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async latest(): Promise<Checkpoint | undefined> {
    const all = await this.list();
    return all[all.length - 1];
  }

  /** All checkpoints; a malformed line is an error (ERR_AUDIT_CHECKPOINT_INVALID), never skipped. */
  async list(): Promise<Checkpoint[]> {
    let text: string;
    try {
      text = await fsp.readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new BulwarkAuditError(ErrorCodes.AUDIT_STORE, 'cannot read the checkpoint file', undefined, {
        cause: err,
      });
    }
    const out: Checkpoint[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      try {
        out.push(decodeCheckpoint(line));
      } catch (err) {
        throw new BulwarkAuditError(
          ErrorCodes.AUDIT_CHECKPOINT_INVALID,
          `checkpoint file line ${i + 1} is not a checkpoint`,
          {
            reason: 'malformed',
            line: i + 1,
          },
          { cause: err },
        );
      }
    }
    return out;
  }
}
