import { BulwarkAuditError, BulwarkError, ErrorCodes } from '../errors';
import { auditEntryOf, type AuditEntry, type NormalizedAuditEvent } from './audit-event';
import { HEX64 } from './audit-proofs';
import type { AuditSink } from './audit-sink';
import type { AuditStore } from './audit-store';
import type { AuditWriteHealth } from '../compliance/evidence';
import type { EntryHasher } from './entry-hasher';
import type { MerkleTree } from './merkle-tree';

interface Pending {
  event: NormalizedAuditEvent;
  resolve: (entry: AuditEntry) => void;
  reject: (err: unknown) => void;
}

export interface AuditWriterOptions {
  store: AuditStore;
  hasher: EntryHasher;
  /** The log's Merkle tree: the writer appends each durable batch's leaf hashes to it. */
  tree: MerkleTree;
  maxBatchSize: number;
  /** Group-commit window (ms): how long the first queued event waits for others. 0: one loop turn. */
  commitWindowMs: number;
  sinks: readonly AuditSink[];
  onSinkError: (error: unknown, sink: AuditSink) => void;
  /** Called once when appends start failing (the first failure of a burst), never per event. */
  onWriteFailure: (error: BulwarkError, health: AuditWriteHealth) => void;
  /** Called once when appends succeed again after a burst of failures. */
  onWriteRecovery?: (health: AuditWriteHealth) => void;
  /** Called after each durable batch with the log's new size (automatic checkpoints). */
  onDurable?: (size: number) => void;
  clock: () => Date;
}

/**
 * AuditLog's write path: group commit (every event queued while a store write is in flight, or in
 * the same tick, goes into the next single `store.append` call), chaining and hashing inside the
 * store's append callback, keeping the Merkle tree in step with the store, and delivering each
 * durable batch to the sinks in order.
 */
export class AuditWriter {
  private readonly store: AuditStore;
  private readonly hasher: EntryHasher;
  private readonly tree: MerkleTree;
  private readonly maxBatch: number;
  private readonly commitWindowMs: number;
  private readonly sinks: readonly AuditSink[];
  private readonly onSinkError: (error: unknown, sink: AuditSink) => void;
  private pending: Pending[] = [];
  private loop?: Promise<void>;
  private sinkChain: Promise<void> = Promise.resolve();
  private readonly onWriteFailure: (error: BulwarkError, health: AuditWriteHealth) => void;
  private readonly onWriteRecovery?: (health: AuditWriteHealth) => void;
  private readonly onDurable?: (size: number) => void;
  private readonly clock: () => Date;
  #failed = 0;
  #succeeded = 0;
  #failing = false;
  #lastFailureAt?: string;
  #lastFailureCode?: string;

  constructor(options: AuditWriterOptions) {
    this.store = options.store;
    this.hasher = options.hasher;
    this.tree = options.tree;
    this.maxBatch = options.maxBatchSize;
    this.commitWindowMs = options.commitWindowMs;
    this.sinks = options.sinks;
    this.onSinkError = options.onSinkError;
    this.onWriteFailure = options.onWriteFailure;
    this.onWriteRecovery = options.onWriteRecovery;
    this.onDurable = options.onDurable;
    this.clock = options.clock;
  }

  /** Appends stored and lost since the log was opened (compliance evidence; no event content). */
  health(): AuditWriteHealth {
    return Object.freeze({
      failed: this.#failed,
      succeeded: this.#succeeded,
      failing: this.#failing,
      ...(this.#lastFailureAt !== undefined ? { lastFailureAt: this.#lastFailureAt } : {}),
      ...(this.#lastFailureCode !== undefined ? { lastFailureCode: this.#lastFailureCode } : {}),
    });
  }

  /** Adds leaf hashes of stored entries the tree has not seen (ours at open, or other writers'). */
  async catchUp(upTo: number): Promise<void> {
    while (this.tree.size < upTo) {
      const page = await this.store.read(this.tree.size + 1, 1000);
      for (const e of page) {
        if (this.tree.size >= upTo) break;
        if (e?.seq !== this.tree.size + 1 || typeof e.leafHash !== 'string' || !HEX64.test(e.leafHash)) {
          throw new BulwarkAuditError(
            ErrorCodes.AUDIT_CHAIN_BROKEN,
            `stored entry at position ${this.tree.size + 1} is out of sequence or malformed; run verify() for details`,
            { seq: this.tree.size + 1 },
          );
        }
        this.tree.appendHex(e.leafHash);
      }
      if (page.length < 1000) break;
    }
  }

  /** Queues a normalised (redacted, frozen) event; resolves with the stored entry once durable. */
  enqueue(event: NormalizedAuditEvent): Promise<AuditEntry> {
    return new Promise<AuditEntry>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      this.loop ??= this.run();
    });
  }

  /** Resolves when every queued event is durable and delivered to the sinks. */
  async flush(): Promise<void> {
    await this.durable();
    await this.sinkChain;
  }

  /**
   * Resolves when every queued event is durable in the store, without waiting for the sinks:
   * reads of the store (verify, refresh, checkpoint) must not stall behind a slow or absent bus.
   */
  async durable(): Promise<void> {
    while (this.loop !== undefined) await this.loop;
  }

  /** Calls the sink error handler, which must not break delivery or shutdown by throwing. */
  reportSinkError(err: unknown, sink: AuditSink): void {
    try {
      this.onSinkError(err, sink);
    } catch {
      // an error handler that throws must not break delivery to the other sinks
    }
  }

  private async run(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        // Group commit: wait one event-loop turn (setImmediate runs after the poll phase) before
        // taking the batch, so every request whose I/O is ready in this turn joins it. A
        // synchronous store (better-sqlite3) blocks the loop for its whole write, so without this
        // turn nothing could queue behind a write and every batch would hold one event: one
        // fsync'd commit per request.
        await yieldTurn();
        if (this.commitWindowMs > 0 && this.pending.length < this.maxBatch) await sleep(this.commitWindowMs);
        const batch =
          this.pending.length <= this.maxBatch ? this.pending : this.pending.slice(0, this.maxBatch);
        this.pending = this.pending.length <= this.maxBatch ? [] : this.pending.slice(this.maxBatch);
        await this.write(batch);
      }
    } finally {
      this.loop = undefined;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    let entries: AuditEntry[];
    let prepared: AuditEntry[] = [];
    try {
      entries = await this.store.append((head) => {
        // The store may be ahead of us (another writer) but never behind: that is truncation.
        if (head.seq < this.tree.size) {
          throw new BulwarkAuditError(
            ErrorCodes.AUDIT_CHAIN_BROKEN,
            `the store's head (seq ${head.seq}) is behind this log (size ${this.tree.size}): entries were removed; refusing to append`,
            { headSeq: head.seq, size: this.tree.size },
          );
        }
        let seq = head.seq;
        let prevHash = head.leafHash;
        // A plain loop over the batch: no per-entry closure, one hash call per entry.
        prepared = new Array<AuditEntry>(batch.length);
        for (let i = 0; i < batch.length; i++) {
          const entry = auditEntryOf(++seq, batch[i]!.event, prevHash);
          prevHash = entry.leafHash = this.hasher.hashBuiltHex(entry);
          prepared[i] = Object.freeze(entry);
        }
        return prepared;
      });
      if (entries.length !== batch.length) {
        throw new BulwarkAuditError(
          ErrorCodes.AUDIT_STORE,
          'the store stored a different number of entries than prepared',
        );
      }
      if (entries.length > 0 && (await this.caughtUp(entries[0]!.seq - 1))) {
        if (this.tree.size !== entries[0]!.seq - 1) {
          throw new BulwarkAuditError(
            ErrorCodes.AUDIT_CHAIN_BROKEN,
            'the store returned entries that do not follow this log',
          );
        }
        // The store contract returns the prepared entries (whose hashes this log computed); a
        // store that returns other objects gets their hex validated by appendHex.
        for (let i = 0; i < entries.length; i++) this.tree.appendHex(entries[i]!.leafHash);
      }
    } catch (err) {
      const error =
        err instanceof BulwarkError
          ? err
          : new BulwarkAuditError(ErrorCodes.AUDIT_STORE, 'the audit store failed to append', undefined, {
              cause: err,
            });
      this.#noteFailure(batch.length, error);
      for (const p of batch) p.reject(error);
      return;
    }
    this.#noteSuccess(batch.length);
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(entries[i]!);
    if (this.sinks.length > 0) {
      this.sinkChain = this.sinkChain.then(() => this.deliver(entries));
    }
  }

  /**
   * Catches the tree up to `upTo` after a durable append. A read that fails (the database went
   * away right after the commit) must not turn the stored batch into a reported failure, which a
   * caller would answer by writing it twice: the tree stays behind and catches up from the store
   * on the next append, refresh or verify. A broken chain still fails.
   */
  private async caughtUp(upTo: number): Promise<boolean> {
    try {
      await this.catchUp(upTo);
      return true;
    } catch (err) {
      if (err instanceof BulwarkAuditError && err.code === ErrorCodes.AUDIT_CHAIN_BROKEN) throw err;
      return false;
    }
  }

  #noteFailure(count: number, error: BulwarkError): void {
    this.#failed += count;
    this.#lastFailureCode = error.code;
    try {
      this.#lastFailureAt = this.clock().toISOString();
    } catch {
      this.#lastFailureAt = new Date().toISOString();
    }
    if (this.#failing) return;
    // One report per burst: a store that is down fails every request, and a log line per
    // request would bury the first one (and fill the disk the store may have run out of).
    this.#failing = true;
    try {
      this.onWriteFailure(error, this.health());
    } catch {
      // a throwing reporter must not turn a lost event into a crash of the write loop
    }
  }

  #noteSuccess(count: number): void {
    this.#succeeded += count;
    if (this.#failing) {
      this.#failing = false;
      try {
        this.onWriteRecovery?.(this.health());
      } catch {
        // as above
      }
    }
    try {
      this.onDurable?.(this.tree.size);
    } catch {
      // automatic checkpoints report their own failures
    }
  }

  private async deliver(entries: readonly AuditEntry[]): Promise<void> {
    for (const sink of this.sinks) {
      try {
        await sink.write(entries);
      } catch (err) {
        this.reportSinkError(err, sink);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
