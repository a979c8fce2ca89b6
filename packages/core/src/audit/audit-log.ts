import { BulwarkAuditError, BulwarkConfigError, BulwarkError, ErrorCodes } from '../errors';
import {
  AUDIT_LIMITS,
  checkAuditDetailsSize,
  normalizeAuditEvent,
  normalizeAuditTime,
  type AuditActor,
  type AuditEntry,
  type AuditEvent,
  type NormalizedAuditEvent,
} from './audit-event';
import type { AuditSink } from './audit-sink';
import { normalizeAuditQuery, type AuditPage, type AuditQuery, type AuditStore } from './audit-store';
import type { Checkpoint, CheckpointPublicKey } from './checkpoint';
import type { CheckpointSigner } from './checkpoint-signer';
import type { CheckpointStore } from './checkpoint-store';
import { EntryHasher } from './entry-hasher';
import { MerkleTree, verifyConsistency, verifyInclusion } from './merkle-tree';
import { Redactor } from './redactor';
import { PRESERVED_FROM_KEY } from './subject-pseudonymizer';
import { RetentionPolicy, type LegalHold, type RetentionPolicyOptions } from './retention-policy';
import { REDACTION_RECORD_ACTIONS, verifyAuditLog, type AuditVerificationReport } from './verify-audit-log';

export interface AuditLogOptions {
  store: AuditStore;
  /** HMAC-SHA256 leaf hashes (>= 32 bytes): a writer with store access alone cannot forge the chain. */
  hmacKey?: Uint8Array;
  /** Redacts `details` before hashing. Default: `new Redactor()` (built-in secret and card-number rules). */
  redactor?: Redactor;
  /** Time source for events without a time, checkpoints and redaction markers. */
  clock?: () => Date;
  /** Signs checkpoints (`checkpoint()`); its public key is the default for `verify()`. */
  signer?: CheckpointSigner;
  /** Where `checkpoint()` saves; `verify()` checks against all of them by default. */
  checkpointStore?: CheckpointStore;
  /** Identifies this log in checkpoints. */
  logId?: string;
  /** Notified after each durable batch. */
  sinks?: readonly AuditSink[];
  retention?: RetentionPolicy | RetentionPolicyOptions;
  /** Most events per store call (group commit). Default 5000. */
  maxBatchSize?: number;
  /** Called when a sink throws (the events are durable regardless). Default: process warning. */
  onSinkError?: (error: unknown, sink: AuditSink) => void;
  /** Actor recorded on the log's own redaction / purge records. */
  systemActor?: AuditActor;
  /** `close()` also closes the store (default true). */
  closeStore?: boolean;
}

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

export interface RemovalReport {
  /** Entries whose content was removed. */
  removed: number;
  /** Seq ranges removed (or, on a dry run, that would be). */
  ranges: [number, number][];
  /** Matching entries kept because of legal holds. */
  held: { count: number; holdIds: string[] };
  dryRun: boolean;
  /** Entries whose content was kept as a pseudonymised copy (`redact` with `preserve`). */
  preserved?: number;
}

export interface RedactOptions {
  /**
   * Evidence to keep (GDPR Art. 17(3)(b), (e)): called for every entry about to be redacted; an
   * event returned is appended as the entry's replacement (normally the entry with the subject
   * pseudonymised, see `SubjectPseudonymizer.preserve`) before the original is reduced to a stub.
   * Return undefined to redact the entry without a copy.
   */
  preserve?: (entry: AuditEntry) => AuditEvent | undefined | Promise<AuditEvent | undefined>;
}

interface Pending {
  event: NormalizedAuditEvent;
  resolve: (entry: AuditEntry) => void;
  reject: (err: unknown) => void;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** A redaction record lists at most this many ranges, so it stays inside the details limits. */
const RANGES_PER_RECORD = 200;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Freezes a normalised event: its actor and resource are flat objects of strings that
 * normalizeAuditEvent built, so only `details` needs the recursive walk.
 */
function freezeEvent(event: NormalizedAuditEvent): NormalizedAuditEvent {
  Object.freeze(event.actor);
  if (event.resource !== undefined) Object.freeze(event.resource);
  if (event.details !== undefined) deepFreeze(event.details);
  return Object.freeze(event);
}

function toRanges(seqs: number[]): [number, number][] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

const hexList = (list: Buffer[]): string[] => list.map((b) => b.toString('hex'));

function bufList(list: unknown): Buffer[] | undefined {
  if (!Array.isArray(list) || !list.every((h) => typeof h === 'string' && HEX64.test(h))) return undefined;
  return list.map((h: string) => Buffer.from(h, 'hex'));
}

function argError(message: string, details?: Record<string, unknown>): BulwarkAuditError {
  return new BulwarkAuditError(ErrorCodes.AUDIT_INVALID_ARGUMENT, message, details);
}

/**
 * The tamper-evident audit log (PCI DSS 10.2-10.5, HIPAA 164.312(b), SOC 2 CC7.2).
 *
 * Each entry carries seq, prevHash and leafHash (a hash chain for linear checks) and is a leaf of
 * an RFC 6962 Merkle tree (O(log n) inclusion and consistency proofs); signed checkpoints pin the
 * tree so truncation and rewrites are caught. `details` are redacted before hashing, so personal
 * data never enters the chain.
 *
 * Appends are group-committed: every `append()` made while a store write is in flight (or in the
 * same tick) goes into the next single `store.append` call.
 */
export class AuditLog {
  private readonly store: AuditStore;
  private readonly hasher: EntryHasher;
  private readonly hmacKey?: Uint8Array;
  private readonly redactor: Redactor;
  private readonly clock: () => Date;
  private readonly signer?: CheckpointSigner;
  private readonly checkpointStore?: CheckpointStore;
  readonly #logId?: string;
  private readonly sinks: readonly AuditSink[];
  private readonly maxBatch: number;
  private readonly onSinkError: (error: unknown, sink: AuditSink) => void;
  private readonly systemActor: AuditActor;
  private readonly closeStore: boolean;
  readonly retention: RetentionPolicy;
  private readonly tree = new MerkleTree();
  private pending: Pending[] = [];
  private loop?: Promise<void>;
  private sinkChain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(options: AuditLogOptions) {
    this.store = options.store;
    this.hasher = new EntryHasher(options.hmacKey);
    if (options.hmacKey !== undefined) this.hmacKey = Uint8Array.from(options.hmacKey);
    this.redactor = options.redactor ?? new Redactor();
    this.clock = options.clock ?? (() => new Date());
    this.signer = options.signer;
    this.checkpointStore = options.checkpointStore;
    this.#logId = options.logId;
    this.sinks = [...(options.sinks ?? [])];
    this.maxBatch = options.maxBatchSize ?? 5000;
    this.onSinkError =
      options.onSinkError ??
      ((err) =>
        process.emitWarning(
          `audit sink failed: ${(err as Error)?.message ?? String(err)}`,
          'BulwarkAuditSinkWarning',
        ));
    this.systemActor = options.systemActor ?? { id: 'bulwark-audit', type: 'system' };
    this.closeStore = options.closeStore ?? true;
    this.retention =
      options.retention instanceof RetentionPolicy
        ? options.retention
        : new RetentionPolicy(options.retention);
  }

  /** Opens a log over a store, loading its leaf hashes into the Merkle tree. */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    if (
      options === null ||
      typeof options !== 'object' ||
      options.store === null ||
      typeof options.store?.append !== 'function'
    ) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit.store must be an AuditStore', {
        path: 'audit.store',
      });
    }
    if (
      options.maxBatchSize !== undefined &&
      (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1)
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.maxBatchSize must be a positive integer',
        {
          path: 'audit.maxBatchSize',
        },
      );
    }
    if (
      options.logId !== undefined &&
      (typeof options.logId !== 'string' || options.logId === '' || options.logId.length > 256)
    ) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit.logId must be a non-empty string', {
        path: 'audit.logId',
      });
    }
    const log = new AuditLog(options);
    await log.catchUp(Infinity);
    return log;
  }

  /** Adds leaf hashes of stored entries the tree has not seen (ours at open, or other writers'). */
  private async catchUp(upTo: number): Promise<void> {
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

  /**
   * Loads entries other writers appended to a shared store (multi-process SQL stores) into the
   * tree. `append`, `checkpoint` and `verify` do this themselves. Resolves with the new size.
   */
  async refresh(): Promise<number> {
    this.checkOpen();
    await this.flush();
    const head = await this.store.head();
    if (head.seq < this.tree.size) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_CHAIN_BROKEN,
        `the store's head (seq ${head.seq}) is behind this log (size ${this.tree.size}): entries were removed`,
        { headSeq: head.seq, size: this.tree.size },
      );
    }
    await this.catchUp(head.seq);
    return this.tree.size;
  }

  /** Entries in the Merkle tree (everything durable that this log has seen). */
  /** The id given to `open` (checkpoints carry it; give sinks such as NatsAuditSink the same). */
  get logId(): string | undefined {
    return this.#logId;
  }

  get size(): number {
    return this.tree.size;
  }

  /** Validates, redacts and queues an event; resolves with the stored entry once durable. */
  append(event: AuditEvent): Promise<AuditEntry> {
    let normalized: NormalizedAuditEvent;
    try {
      this.checkOpen();
      if (typeof event?.action === 'string' && REDACTION_RECORD_ACTIONS.has(event.action)) {
        throw new BulwarkAuditError(
          ErrorCodes.AUDIT_INVALID_EVENT,
          `audit event action '${event.action}' is reserved for the log itself`,
          {
            field: 'action',
          },
        );
      }
      normalized = this.normalize(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(normalized);
  }

  private normalize(event: AuditEvent): NormalizedAuditEvent {
    const normalized = normalizeAuditEvent(event, this.clock);
    if (normalized.details !== undefined) {
      // Redaction happens here, before the entry is hashed or handed to any store or sink.
      normalized.details = this.redactor.redact(normalized.details);
      checkAuditDetailsSize(Buffer.byteLength(JSON.stringify(normalized.details)));
    }
    return freezeEvent(normalized);
  }

  private enqueue(event: NormalizedAuditEvent): Promise<AuditEntry> {
    return new Promise<AuditEntry>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      this.loop ??= this.run();
    });
  }

  private async run(): Promise<void> {
    // Yield once so every append made in the current tick joins the first batch.
    await Promise.resolve();
    try {
      while (this.pending.length > 0) {
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
          const entry = { seq: ++seq, ...batch[i]!.event, prevHash } as AuditEntry;
          prevHash = entry.leafHash = this.hasher.hashHex(entry);
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
      if (entries.length > 0) {
        await this.catchUp(entries[0]!.seq - 1);
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
      for (const p of batch) p.reject(error);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(entries[i]!);
    if (this.sinks.length > 0) {
      this.sinkChain = this.sinkChain.then(() => this.deliver(entries));
    }
  }

  private async deliver(entries: readonly AuditEntry[]): Promise<void> {
    for (const sink of this.sinks) {
      try {
        await sink.write(entries);
      } catch (err) {
        try {
          this.onSinkError(err, sink);
        } catch {
          // an error handler that throws must not break delivery to the other sinks
        }
      }
    }
  }

  /** Resolves when every queued append is durable and delivered to the sinks. */
  async flush(): Promise<void> {
    while (this.loop !== undefined) await this.loop;
    await this.sinkChain;
  }

  /** Flushes, closes sinks and (by default) the store. Later appends fail with ERR_AUDIT_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    for (const sink of this.sinks) {
      try {
        await sink.close?.();
      } catch (err) {
        try {
          this.onSinkError(err, sink);
        } catch {
          // a throwing handler must not keep the store open
        }
      }
    }
    if (this.closeStore) await this.store.close();
    await this.checkpointStore?.close?.();
  }

  private checkOpen(): void {
    if (this.closed) throw new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'audit log is closed');
  }

  /** Queries stored entries (paged; pass `nextCursor` back as `cursor`). */
  async query(filter: AuditQuery = {}): Promise<AuditPage> {
    this.checkOpen();
    return this.store.query(normalizeAuditQuery(filter));
  }

  /** The entry with this seq, if stored. */
  async get(seq: number): Promise<AuditEntry | undefined> {
    this.checkOpen();
    if (!Number.isSafeInteger(seq) || seq < 1) throw argError('seq must be a positive integer', { seq });
    const [entry] = await this.store.read(seq, 1);
    return entry?.seq === seq ? entry : undefined;
  }

  /** Hex Merkle root of the first `size` entries (default all). */
  root(size: number = this.tree.size): string {
    this.checkSize(size, 'size');
    return this.tree.root(size).toString('hex');
  }

  private checkSize(size: number, name: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.tree.size) {
      throw argError(`${name} must be an integer from 0 to ${this.tree.size}`, { [name]: size });
    }
  }

  /** RFC 9162 §2.1.3 inclusion proof of entry `seq` in the tree of `treeSize` entries (default all). */
  proveInclusion(seq: number, treeSize: number = this.tree.size): InclusionProof {
    this.checkSize(treeSize, 'treeSize');
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > treeSize) {
      throw argError(`seq must be an integer from 1 to ${treeSize}`, { seq, treeSize });
    }
    return {
      seq,
      treeSize,
      leafHash: this.tree.leaf(seq - 1).toString('hex'),
      proof: hexList(this.tree.inclusionProof(seq - 1, treeSize)),
      root: this.tree.root(treeSize).toString('hex'),
    };
  }

  /** RFC 9162 §2.1.4 consistency proof that the tree of `toSize` extends the tree of `fromSize`. */
  proveConsistency(fromSize: number, toSize: number = this.tree.size): ConsistencyProof {
    this.checkSize(toSize, 'toSize');
    if (!Number.isSafeInteger(fromSize) || fromSize < 1 || fromSize > toSize) {
      throw argError(`fromSize must be an integer from 1 to ${toSize}`, { fromSize, toSize });
    }
    return {
      fromSize,
      toSize,
      fromRoot: this.tree.root(fromSize).toString('hex'),
      toRoot: this.tree.root(toSize).toString('hex'),
      proof: hexList(this.tree.consistencyProof(fromSize, toSize)),
    };
  }

  /**
   * Checks an inclusion proof. Pass `root` from a checkpoint you trust (a proof's own root proves
   * nothing by itself); pass `entry` (and `hmacKey` if keyed) to also tie the proof to the content.
   */
  static verifyInclusion(
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
  static verifyConsistency(
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

  /** Flushes, signs the current tree head and saves it to the checkpoint store (if any). */
  async checkpoint(): Promise<Checkpoint> {
    this.checkOpen();
    if (this.signer === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'audit.signer is required to create checkpoints',
        { path: 'audit.signer' },
      );
    }
    await this.refresh();
    const treeSize = this.tree.size;
    const cp = await this.signer.sign({
      treeSize,
      rootHash: this.tree.root(treeSize).toString('hex'),
      time: normalizeAuditTime(this.clock()),
      ...(this.#logId === undefined ? {} : { logId: this.#logId }),
    });
    await this.checkpointStore?.save(cp);
    return cp;
  }

  /**
   * Verifies the stored log (see `verifyAuditLog`). Defaults: the signer's public key, every
   * checkpoint in the checkpoint store, and the root this log holds in memory (so entries removed
   * or rewritten in the store since this log saw them are caught even without a checkpoint).
   */
  async verify(
    options: {
      from?: Checkpoint | string;
      checkpoints?: readonly (Checkpoint | string)[];
      publicKey?: CheckpointPublicKey;
    } = {},
  ): Promise<AuditVerificationReport> {
    this.checkOpen();
    await this.flush();
    const publicKey = options.publicKey ?? this.signer?.publicKey;
    let checkpoints = options.checkpoints;
    if (checkpoints === undefined && this.checkpointStore !== undefined && publicKey !== undefined) {
      checkpoints = await this.checkpointStore.list();
    }
    const size = this.tree.size;
    return verifyAuditLog(this.store, {
      hmacKey: this.hmacKey,
      publicKey,
      checkpoints,
      from: options.from,
      logId: this.#logId,
      trustedHeads: size > 0 ? [{ treeSize: size, rootHash: this.tree.root(size).toString('hex') }] : [],
    });
  }

  private async scan(visit: (entry: AuditEntry) => void): Promise<void> {
    for (let pos = 1; ;) {
      const page = await this.store.read(pos, 1000);
      for (const e of page) visit(e);
      if (page.length < 1000) return;
      pos += page.length;
    }
  }

  /** Appends the log's own records of a removal, `RANGES_PER_RECORD` ranges per record. */
  private async record(
    action: 'audit.redacted' | 'audit.purged',
    ranges: [number, number][],
    reason: string,
    count: number,
  ): Promise<void> {
    const writes: Promise<AuditEntry>[] = [];
    for (let i = 0; i < ranges.length; i += RANGES_PER_RECORD) {
      writes.push(
        this.enqueue(
          this.normalize({
            actor: this.systemActor,
            action,
            outcome: 'success',
            reason,
            category: 'audit',
            details: { ranges: ranges.slice(i, i + RANGES_PER_RECORD), count },
          }),
        ),
      );
    }
    await Promise.all(writes);
  }

  private holdSummary(held: Map<string, number>, heldCount: number): RemovalReport['held'] {
    return { count: heldCount, holdIds: [...held.keys()].sort() };
  }

  /**
   * Removes the content of matching entries (GDPR Art. 17 erasure), keeping seq, time, category,
   * prevHash and leafHash so the chain and every proof still verify. Trade-off: a redacted
   * entry's content can no longer be checked against its leaf hash; instead the log first appends
   * an `audit.redacted` record listing the seqs (an erasure is itself audited) and verification
   * demands that every stub is covered by such a record. Entries under a legal hold are kept and
   * reported.
   *
   * With `options.preserve`, entries that must outlive the erasure (a subject's own attacks) are
   * first appended again as the replacement events it returns, then stubbed like the rest: the
   * originals, which name the subject, are gone, and the copies are ordinary hashed entries of the
   * chain (time, action, outcome, category kept, so queries still find them), each naming the
   * original's seq and leaf hash in `details.erasurePreservedFrom`. Order: copies, record, stubs,
   * so a crash never loses the evidence (a retry after a crash between copies and stubs copies
   * those entries again).
   */
  async redact(filter: AuditQuery, reason: string, options: RedactOptions = {}): Promise<RemovalReport> {
    this.checkOpen();
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > AUDIT_LIMITS.reason) {
      throw argError(
        `redaction reason must be a non-empty string of at most ${AUDIT_LIMITS.reason} characters`,
      );
    }
    const q = normalizeAuditQuery({
      ...filter,
      cursor: undefined,
      limit: 1000,
      includeRedacted: false,
      order: 'asc',
    });
    if (Object.keys(q).every((k) => ['limit', 'order', 'includeRedacted'].includes(k))) {
      throw argError('redact() needs at least one filter criterion (refusing to redact the whole log)');
    }
    await this.flush();
    const seqs: number[] = [];
    const held = new Map<string, number>();
    let heldCount = 0;
    for (
      let page = await this.store.query(q);
      ;
      page = await this.store.query({ ...q, after: page.entries[page.entries.length - 1]!.seq })
    ) {
      for (const e of page.entries) {
        const holds = this.retention.holdsFor(e);
        if (holds.length > 0) {
          heldCount++;
          for (const h of holds) held.set(h.id, (held.get(h.id) ?? 0) + 1);
        } else seqs.push(e.seq);
      }
      if (page.nextCursor === undefined || page.entries.length === 0) break;
    }
    const ranges = toRanges(seqs);
    let preserved = 0;
    if (options.preserve !== undefined && seqs.length > 0) {
      const wanted = new Set(seqs);
      const copies: NormalizedAuditEvent[] = [];
      for (const e of await this.entriesAt(seqs)) {
        if (!wanted.has(e.seq) || e.redacted !== undefined) continue;
        const event = await options.preserve(e);
        if (event === undefined) continue;
        if (REDACTION_RECORD_ACTIONS.has(event.action)) {
          throw argError(`a preserved copy cannot use the reserved action '${event.action}'`);
        }
        let copy: NormalizedAuditEvent;
        try {
          copy = this.normalize(event);
        } catch (err) {
          // Pseudonyms are longer than most ids: details near the size limit can outgrow it. The
          // copy then keeps its other fields and the reference to the original, not the details.
          if (!(err instanceof BulwarkAuditError) || err.code !== ErrorCodes.AUDIT_INVALID_EVENT) throw err;
          const from = (event.details as Record<string, unknown> | undefined)?.[PRESERVED_FROM_KEY];
          copy = this.normalize({
            ...event,
            details: { ...(from === undefined ? {} : { [PRESERVED_FROM_KEY]: from }), detailsOmitted: true },
          });
        }
        copies.push(copy);
      }
      // Copies become durable before any original loses its content.
      await Promise.all(copies.map((c) => this.enqueue(c)));
      await this.flush();
      preserved = copies.length;
    }
    if (seqs.length > 0) {
      // Record first: a crash between the two steps leaves a record without stubs (harmless),
      // never stubs without a record.
      await this.record('audit.redacted', ranges, reason, seqs.length);
      await this.store.redact(seqs, { at: normalizeAuditTime(this.clock()), reason });
    }
    return {
      removed: seqs.length,
      ranges,
      held: this.holdSummary(held, heldCount),
      dryRun: false,
      ...(options.preserve === undefined ? {} : { preserved }),
    };
  }

  /** The stored entries with these seqs (read in runs of consecutive seqs). */
  private async entriesAt(seqs: readonly number[]): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for (const [from, to] of toRanges([...seqs])) {
      for (let pos = from; pos <= to;) {
        const page = await this.store.read(pos, Math.min(1000, to - pos + 1));
        if (page.length === 0) break;
        out.push(...page.filter((e) => e.seq >= from && e.seq <= to));
        pos += page.length;
      }
    }
    return out;
  }

  /**
   * Retention purge: removes the content of entries older than their category's period, the same
   * way as `redact()` (stubs keep the chain verifiable; an `audit.purged` record lists them).
   * Held entries are kept and reported. Stubs themselves are never deleted.
   */
  async purge(options: { now?: Date; dryRun?: boolean } = {}): Promise<RemovalReport> {
    this.checkOpen();
    const now = (options.now ?? this.clock()).getTime();
    if (!Number.isFinite(now)) throw argError('purge now must be a valid Date');
    await this.flush();
    const byCategory = new Map<string, number[]>();
    const held = new Map<string, number>();
    let heldCount = 0;
    await this.scan((e) => {
      if (e.redacted !== undefined) return;
      const expires = this.retention.expiresAt(e);
      if (expires === undefined || expires > now) return;
      const holds = this.retention.holdsFor(e);
      if (holds.length > 0) {
        heldCount++;
        for (const h of holds) held.set(h.id, (held.get(h.id) ?? 0) + 1);
        return;
      }
      const list = byCategory.get(e.category) ?? [];
      list.push(e.seq);
      byCategory.set(e.category, list);
    });
    const all = [...byCategory.values()].flat();
    const ranges = toRanges(all);
    const report = {
      removed: options.dryRun ? 0 : all.length,
      ranges,
      held: this.holdSummary(held, heldCount),
      dryRun: options.dryRun === true,
    };
    if (options.dryRun || all.length === 0) return report;
    await this.record('audit.purged', ranges, 'retention period elapsed', all.length);
    const at = normalizeAuditTime(this.clock());
    for (const [category, seqs] of byCategory) {
      await this.store.redact(seqs, { at, reason: `retention period of category ${category} elapsed` });
    }
    return report;
  }

  /** Places a legal hold (see `RetentionPolicy`). In-memory: re-apply holds at start-up from your config. */
  addLegalHold(hold: LegalHold): void {
    this.retention.addHold(hold);
  }

  removeLegalHold(id: string): boolean {
    return this.retention.removeHold(id);
  }

  /**
   * What protects this log, as non-secret facts (compliance evidence: ComplianceKit reads it
   * instead of inferring keying from a stored hash). Says whether an HMAC key is set, never the key.
   */
  describe(): {
    readonly hmac: boolean;
    readonly signer: boolean;
    readonly checkpointStore: boolean;
    readonly logId?: string;
    readonly sinks: number;
  } {
    return Object.freeze({
      hmac: this.hmacKey !== undefined,
      signer: this.signer !== undefined,
      checkpointStore: this.checkpointStore !== undefined,
      ...(this.#logId === undefined ? {} : { logId: this.#logId }),
      sinks: this.sinks.length,
    });
  }
}
