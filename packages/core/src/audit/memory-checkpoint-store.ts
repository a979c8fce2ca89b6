import { decodeCheckpoint, type Checkpoint } from './checkpoint';
import { checkCheckpointOrder, type CheckpointStore } from './checkpoint-store';

/** In-memory `CheckpointStore` (tests; or as a cache in front of a durable one). */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly items: Checkpoint[] = [];

  async save(checkpoint: Checkpoint): Promise<void> {
    const cp = decodeCheckpoint(checkpoint.jws); // store what is signed, not the loose fields
    checkCheckpointOrder(this.items[this.items.length - 1], cp);
    this.items.push(cp);
  }

  async latest(): Promise<Checkpoint | undefined> {
    return this.items[this.items.length - 1];
  }

  async list(): Promise<Checkpoint[]> {
    return this.items.slice();
  }
}
