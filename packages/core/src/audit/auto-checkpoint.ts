import { configError, invalid, positiveInt } from '../util/options';
import type { Checkpoint } from './checkpoint';

/**
 * When AuditLog signs checkpoints by itself: after every `entries` new entries, every `ms`
 * milliseconds (only if entries were added since the last one), or both (whichever comes first).
 */
export interface AutoCheckpointEvery {
  entries?: number;
  ms?: number;
}

export interface AutoCheckpointOptions {
  every: AutoCheckpointEvery;
}

/** Validates `checkpoint: { every }` (config path in messages); returns it frozen. */
export function checkAutoCheckpoint(value: unknown, path: string): AutoCheckpointOptions {
  if (value === null || typeof value !== 'object') throw invalid(path, '{ every: { entries?, ms? } }', value);
  const every = (value as { every?: unknown }).every;
  if (every === null || typeof every !== 'object') {
    throw invalid(`${path}.every`, '{ entries?: positive integer, ms?: positive integer }', every);
  }
  const { entries, ms } = every as AutoCheckpointEvery;
  for (const key of Object.keys(every)) {
    if (key !== 'entries' && key !== 'ms') throw configError(`${path}.every.${key}`, 'is not an option');
  }
  if (entries === undefined && ms === undefined) {
    throw configError(`${path}.every`, 'needs entries or ms (or both)');
  }
  if (entries !== undefined) positiveInt(entries, `${path}.every.entries`);
  if (ms !== undefined) {
    positiveInt(ms, `${path}.every.ms`);
    // setInterval clamps larger values to 1 ms: a typo would sign a checkpoint a millisecond.
    if (ms > 2 ** 31 - 1)
      throw configError(`${path}.every.ms`, 'must be at most 2147483647 (about 24.8 days)');
  }
  return Object.freeze({
    every: Object.freeze({
      ...(entries !== undefined ? { entries } : {}),
      ...(ms !== undefined ? { ms } : {}),
    }),
  });
}

/**
 * Signs checkpoints on its own so that deleting the newest entries is caught: a verifier compares
 * the store with the latest signed tree head, and entries removed after it show as a tree smaller
 * than the checkpoint. Without checkpoints, a tail cut by someone with write access to the store
 * leaves a shorter chain that is still internally consistent.
 *
 * One checkpoint at a time; a trigger while one runs is remembered and run after it. Failures go to
 * `onError` (they never reach the append path: the entries are durable whether or not a checkpoint
 * follows).
 */
export class AutoCheckpoint {
  readonly #every: AutoCheckpointEvery;
  readonly #sign: () => Promise<Checkpoint>;
  readonly #size: () => number;
  readonly #onError: (error: unknown) => void;
  #signedSize = 0;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;
  #again = false;
  #stopped = false;

  constructor(options: {
    every: AutoCheckpointEvery;
    /** Flushes and signs (AuditLog.checkpoint). */
    sign: () => Promise<Checkpoint>;
    /** The log's current size. */
    size: () => number;
    onError: (error: unknown) => void;
    /** Size covered by the newest checkpoint already stored (so a restart does not re-sign it). */
    signedSize?: number;
  }) {
    this.#every = options.every;
    this.#sign = options.sign;
    this.#size = options.size;
    this.#onError = options.onError;
    this.#signedSize = options.signedSize ?? 0;
    if (this.#every.ms !== undefined) {
      this.#timer = setInterval(() => {
        if (this.#size() > this.#signedSize) this.trigger();
      }, this.#every.ms);
      // A pending checkpoint must not keep a process alive that has nothing else to do.
      this.#timer.unref();
    }
  }

  /** After each durable batch. */
  noteSize(size: number): void {
    const n = this.#every.entries;
    if (n !== undefined && size - this.#signedSize >= n) this.trigger();
  }

  /** Starts a checkpoint (or queues one behind the running one). */
  trigger(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        if (this.#size() > this.#signedSize) this.trigger();
      }
    });
  }

  async #run(): Promise<void> {
    try {
      const cp = await this.#sign();
      this.#signedSize = Math.max(this.#signedSize, cp.treeSize);
    } catch (error) {
      try {
        this.#onError(error);
      } catch {
        // a throwing reporter must not become an unhandled rejection
      }
    }
  }

  /** Stops the timer and waits for a running checkpoint (AuditLog.close, before the store closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    while (this.#running !== undefined) await this.#running;
  }
}
