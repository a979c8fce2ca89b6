import { BulwarkAuditError, BulwarkError, ErrorCodes } from '../errors';
import {
  AUDIT_LIMITS,
  auditDetailsSizeBound,
  auditTimeOfMs,
  checkAuditDetailsSize,
  normalizeAuditEvent,
  normalizeAuditTime,
  type AuditActor,
  type AuditEntry,
  type AuditEvent,
  type NormalizedAuditEvent,
} from './audit-event';
import type { AuditSink } from './audit-sink';
import {
  encodeAuditCursor,
  normalizeAuditQuery,
  type AuditPage,
  type AuditQuery,
  type AuditStore,
} from './audit-store';
import { auditRisk, auditSeverity, auditSeverityRank, type AuditSeverity } from './audit-severity';
import {
  consistencyProof,
  inclusionProof,
  verifyConsistencyProof,
  verifyInclusionProof,
  type ConsistencyProof,
  type InclusionProof,
} from './audit-proofs';
import { argError, LogRemoval, type RedactOptions, type RemovalReport } from './log-removal';
import type { Checkpoint, CheckpointPublicKey } from './checkpoint';
import type { CheckpointSigner } from './checkpoint-signer';
import type { CheckpointStore } from './checkpoint-store';
import { AuditWriter } from './audit-writer';
import { AutoCheckpoint, checkAutoCheckpoint, type AutoCheckpointOptions } from './auto-checkpoint';
import type { AuditWriteHealth } from '../compliance/evidence';
import { EntryHasher } from './entry-hasher';
import { MerkleTree } from './merkle-tree';
import { Redactor } from './redactor';
import { RetentionPolicy, type LegalHold, type RetentionPolicyOptions } from './retention-policy';
import {
  noteVerificationRecord,
  REDACTION_RECORD_ACTIONS,
  verifyAuditLog,
  type AuditVerificationReport,
} from './verify-audit-log';
import { configError, intInRange, invalid, nonEmptyString, positiveInt } from '../util/options';

/** The action `AuditLog.recordReview()` writes (the `audit.review` compliance check looks for it). */
export const AUDIT_REVIEW_ACTION = 'audit.log.reviewed';

/** A review of the log: who reviewed, what, and optionally the period of entries covered. */
export interface AuditReview {
  /** The reviewer's id (an operator, or a review job's service id). */
  by: string;
  /** `user` (default) for a person, `service` for an automated review job. */
  byType?: 'user' | 'service';
  /** What was reviewed, e.g. `security events, export of 2026-12-03` (no personal data). */
  scope: string;
  /** First and last time of the entries reviewed. */
  from?: Date | string;
  to?: Date | string;
}

function reviewTime(value: unknown, name: string): string {
  const t =
    value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(t)) throw argError(`${name} must be a valid date`);
  return new Date(t).toISOString();
}

export type { ConsistencyProof, InclusionProof } from './audit-proofs';
export type { RedactOptions, RemovalReport } from './log-removal';
export type { AutoCheckpointEvery, AutoCheckpointOptions } from './auto-checkpoint';

/** An audit query with the read-time severity and risk filters of `AuditLog.query`. */
export interface AuditLogQuery extends AuditQuery {
  /** At least this severity (see `auditSeverity`). */
  minSeverity?: AuditSeverity;
  /** At least this risk score, 0-100 (violations carry one). */
  minRisk?: number;
}

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
  /**
   * Group-commit window in milliseconds, 0..1000 (default 0: one event-loop turn). Events queued
   * within the window after the first one share one store call. For a store whose durable commit
   * blocks the event loop (SQLite with `synchronous = FULL` fsyncs on every commit, through
   * better-sqlite3 synchronously), fewer, larger commits leave the loop free for requests; the
   * price is that an event waits up to the window before it is durable (a fail-closed route's
   * response waits with it).
   */
  commitWindowMs?: number;
  /** Called when a sink throws (the events are durable regardless). Default: process warning. */
  onSinkError?: (error: unknown, sink: AuditSink) => void;
  /**
   * Called once when appends start failing (the first lost event of a burst; the burst ends at
   * the next stored batch), with the write health. Default: `console.error` of the error code and
   * counts, never the events' content. `describe().writes` keeps the counts.
   */
  onWriteFailure?: (error: BulwarkError, health: AuditWriteHealth) => void;
  /**
   * Called when `verify()` finds the log altered (a bad hash, a broken link, a truncation against a
   * checkpoint), with the report: where createBulwark raises a critical integrity alert.
   */
  onVerifyFailure?: (report: AuditVerificationReport) => void;
  /**
   * Whether each `verify()` run is itself recorded: an `audit.verified` entry (outcome success or
   * failure, the range checked, the root, the first fault) appended after the check, which the
   * security report lists as the period's integrity checks. Default true; never on a store opened
   * read-only.
   */
  recordVerifications?: boolean;
  /**
   * Signs checkpoints automatically (requires `signer`; give `checkpointStore` too, or they are
   * signed and not kept): `{ every: { entries: 1000 } }`, `{ every: { ms: 60_000 } }` or both. The
   * way to make deleting the newest entries detectable: a verifier compares the store with the
   * latest signed size. Failures go to `onCheckpointError`.
   */
  checkpoint?: AutoCheckpointOptions;
  /** Called when an automatic checkpoint fails. Default: `console.error` of its code and message. */
  onCheckpointError?: (error: unknown) => void;
  /** Actor recorded on the log's own redaction / purge records. */
  systemActor?: AuditActor;
  /** `close()` also closes the store (default true). */
  closeStore?: boolean;
  /** Config path used in error messages. Default `audit`. */
  configPath?: string;
}

/**
 * Checks the options AuditLog.open reads besides the store, synchronously: open() runs it, and
 * createBulwark runs it before anything is opened.
 */
export function checkAuditLogOptions(
  options: Pick<
    AuditLogOptions,
    'maxBatchSize' | 'commitWindowMs' | 'logId' | 'configPath' | 'checkpoint' | 'signer'
  >,
): void {
  const path = options.configPath ?? 'audit';
  if (options.maxBatchSize !== undefined) positiveInt(options.maxBatchSize, `${path}.maxBatchSize`);
  if (options.commitWindowMs !== undefined)
    intInRange(options.commitWindowMs, `${path}.commitWindowMs`, 0, 1000);
  if (options.logId !== undefined) nonEmptyString(options.logId, `${path}.logId`, 256);
  if (options.checkpoint !== undefined) checkAutoCheckpoint(options.checkpoint, `${path}.checkpoint`);
}

/** The code of an error, for reports that must not carry messages of foreign errors. */
function codeOf(error: unknown): string {
  return error instanceof BulwarkError ? error.code : ErrorCodes.AUDIT_STORE;
}

function defaultWriteFailure(error: BulwarkError, health: AuditWriteHealth): void {
  // Error level: lost audit events are an incident (PCI DSS 10.7: failures of critical security
  // control systems are detected and reported promptly). Bulwark messages carry no event content;
  // the cause (a driver error that may quote values) is not printed.
  console.error(
    `bulwark: audit writes are failing (${error.code}: ${error.message}); events are not being recorded ` +
      `(${health.failed} lost since start). Reported once until a write succeeds again.`,
  );
}

function defaultCheckpointError(error: unknown): void {
  console.error(
    `bulwark: automatic audit checkpoint failed (${codeOf(error)}${
      error instanceof BulwarkError ? `: ${error.message}` : ''
    }); tail deletion after the last checkpoint is not detectable until one succeeds.`,
  );
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    // Only objects need the call (most values of details are strings and numbers).
    for (const v of Object.values(value)) if (v !== null && typeof v === 'object') deepFreeze(v);
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
  private readonly hmacKey?: Uint8Array;
  private readonly redactor: Redactor;
  /** The redactor can redact the log's own clone in place (a Redactor; not a look-alike object). */
  readonly #redactInPlace: boolean;
  /** With the system clock: the time of an event without one, with no Date made for it. */
  readonly #nowIso?: () => string;
  private readonly clock: () => Date;
  private readonly signer?: CheckpointSigner;
  private readonly checkpointStore?: CheckpointStore;
  readonly #logId?: string;
  readonly #configPath: string;
  private readonly sinks: readonly AuditSink[];
  private readonly systemActor: AuditActor;
  private readonly closeStore: boolean;
  readonly retention: RetentionPolicy;
  private readonly tree = new MerkleTree();
  private closed = false;
  /** Group commit, chaining and sink delivery. */
  readonly #writer: AuditWriter;
  /** Erasure and the retention purge, through the log's own write path. */
  readonly #removal: LogRemoval;
  #autoCheckpoint?: AutoCheckpoint;
  readonly #checkpointOptions?: AutoCheckpointOptions;
  readonly #onCheckpointError: (error: unknown) => void;
  readonly #onVerifyFailure?: (report: AuditVerificationReport) => void;
  readonly #recordVerifications: boolean;

  private constructor(options: AuditLogOptions) {
    this.store = options.store;
    if (options.hmacKey !== undefined) this.hmacKey = Uint8Array.from(options.hmacKey);
    this.redactor = options.redactor ?? new Redactor();
    this.#redactInPlace = typeof (this.redactor as Partial<Redactor>).redactOwned === 'function';
    this.clock = options.clock ?? (() => new Date());
    if (options.clock === undefined) this.#nowIso = () => auditTimeOfMs(Date.now());
    this.signer = options.signer;
    this.checkpointStore = options.checkpointStore;
    this.#logId = options.logId;
    this.#configPath = options.configPath ?? 'audit';
    this.sinks = [...(options.sinks ?? [])];
    this.#writer = new AuditWriter({
      store: this.store,
      hasher: new EntryHasher(options.hmacKey),
      tree: this.tree,
      maxBatchSize: options.maxBatchSize ?? 5000,
      commitWindowMs: options.commitWindowMs ?? 0,
      sinks: this.sinks,
      onSinkError:
        options.onSinkError ??
        ((err) =>
          process.emitWarning(
            `audit sink failed: ${(err as Error)?.message ?? String(err)}`,
            'BulwarkAuditSinkWarning',
          )),
      onWriteFailure: options.onWriteFailure ?? defaultWriteFailure,
      onWriteRecovery: (health) =>
        console.error(`bulwark: audit writes recovered (${health.failed} events were lost since start).`),
      onDurable: (size) => this.#autoCheckpoint?.noteSize(size),
      clock: this.clock,
    });
    if (options.checkpoint !== undefined) {
      this.#checkpointOptions = checkAutoCheckpoint(options.checkpoint, `${this.#configPath}.checkpoint`);
    }
    this.#onCheckpointError = options.onCheckpointError ?? defaultCheckpointError;
    this.#onVerifyFailure = options.onVerifyFailure;
    this.#recordVerifications = options.recordVerifications ?? true;
    this.systemActor = options.systemActor ?? { id: 'bulwark-audit', type: 'system' };
    this.closeStore = options.closeStore ?? true;
    this.retention =
      options.retention instanceof RetentionPolicy
        ? options.retention
        : new RetentionPolicy({ configPath: `${this.#configPath}.retention`, ...options.retention });
    this.#removal = new LogRemoval({
      store: this.store,
      retention: this.retention,
      clock: this.clock,
      systemActor: this.systemActor,
      flush: () => this.flush(),
      normalize: (event) => this.normalize(event),
      enqueue: (event) => this.enqueue(event),
    });
  }

  /** Opens a log over a store, loading its leaf hashes into the Merkle tree. */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    if (
      options === null ||
      typeof options !== 'object' ||
      options.store === null ||
      typeof options.store?.append !== 'function'
    ) {
      const path =
        typeof options === 'object' && options !== null ? (options.configPath ?? 'audit') : 'audit';
      throw invalid(`${path}.store`, 'an AuditStore', options?.store);
    }
    checkAuditLogOptions(options);
    if (options.checkpoint !== undefined && options.signer === undefined) {
      throw configError(`${options.configPath ?? 'audit'}.checkpoint`, 'needs a signer to sign checkpoints');
    }
    if (options.onWriteFailure !== undefined && typeof options.onWriteFailure !== 'function') {
      throw invalid(`${options.configPath ?? 'audit'}.onWriteFailure`, 'a function', options.onWriteFailure);
    }
    const log = new AuditLog(options);
    await log.#writer.catchUp(Infinity);
    await log.retention.refresh();
    if (log.#checkpointOptions !== undefined) {
      const latest = await log.checkpointStore?.latest();
      log.#autoCheckpoint = new AutoCheckpoint({
        every: log.#checkpointOptions.every,
        sign: () => log.checkpoint(),
        size: () => log.size,
        onError: log.#onCheckpointError,
        signedSize: latest?.treeSize ?? 0,
      });
      // Entries appended since the last checkpoint (or before checkpoints were enabled) count now.
      log.#autoCheckpoint.noteSize(log.size);
    }
    return log;
  }

  /**
   * Loads entries other writers appended to a shared store (multi-process SQL stores) into the
   * tree. `append`, `checkpoint` and `verify` do this themselves. Resolves with the new size.
   */
  async refresh(): Promise<number> {
    this.checkOpen();
    await this.#writer.durable();
    const head = await this.store.head();
    if (head.seq < this.tree.size) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_CHAIN_BROKEN,
        `the store's head (seq ${head.seq}) is behind this log (size ${this.tree.size}): entries were removed`,
        { headSeq: head.seq, size: this.tree.size },
      );
    }
    await this.#writer.catchUp(head.seq);
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
    const normalized = normalizeAuditEvent(event, this.clock, this.#nowIso);
    if (normalized.details !== undefined) {
      // Redaction happens here, before the entry is hashed or handed to any store or sink.
      // The clone is ours: the redactor replaces values in it rather than copying it again.
      normalized.details = this.#redactInPlace
        ? this.redactor.redactOwned(normalized.details)
        : this.redactor.redact(normalized.details);
      // Serialised only when a cheap upper bound of its size does not already prove it small.
      if (auditDetailsSizeBound(normalized.details, AUDIT_LIMITS.detailsBytes) > AUDIT_LIMITS.detailsBytes) {
        checkAuditDetailsSize(Buffer.byteLength(JSON.stringify(normalized.details)));
      }
    }
    return freezeEvent(normalized);
  }

  private enqueue(event: NormalizedAuditEvent): Promise<AuditEntry> {
    return this.#writer.enqueue(event);
  }

  /** Resolves when every queued append is durable and delivered to the sinks. */
  async flush(): Promise<void> {
    await this.#writer.flush();
  }

  /** Flushes, closes sinks and (by default) the store. Later appends fail with ERR_AUDIT_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    // A checkpoint still being signed needs the log open; stop it before closing.
    await this.#autoCheckpoint?.stop();
    this.closed = true;
    await this.flush();
    for (const sink of this.sinks) {
      try {
        await sink.close?.();
      } catch (err) {
        // a throwing handler must not keep the store open
        this.#writer.reportSinkError(err, sink);
      }
    }
    if (this.closeStore) await this.store.close();
    await this.checkpointStore?.close?.();
  }

  private checkOpen(): void {
    if (this.closed) throw new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'audit log is closed');
  }

  /**
   * Queries stored entries (paged; pass `nextCursor` back as `cursor`). `minSeverity` / `minRisk`
   * filter on the severity derived from each entry (`auditSeverity`) and the detector's risk score
   * (`auditRisk`; entries without one never match `minRisk`): the store is read page by page until
   * `limit` entries match.
   */
  async query(filter: AuditLogQuery = {}): Promise<AuditPage> {
    this.checkOpen();
    const { minSeverity, minRisk, ...rest } = filter ?? {};
    if (minSeverity === undefined && minRisk === undefined)
      return this.store.query(normalizeAuditQuery(rest));
    if (minSeverity !== undefined && !['low', 'medium', 'high', 'critical'].includes(minSeverity)) {
      throw argError("minSeverity must be 'low', 'medium', 'high' or 'critical'", {
        minSeverity: String(minSeverity).slice(0, 16),
      });
    }
    if (minRisk !== undefined && (typeof minRisk !== 'number' || !(minRisk >= 0 && minRisk <= 100))) {
      throw argError('minRisk must be a number from 0 to 100', {});
    }
    const q = normalizeAuditQuery(rest);
    const matches = (e: AuditEntry): boolean =>
      (minSeverity === undefined || auditSeverityRank(auditSeverity(e)) >= auditSeverityRank(minSeverity)) &&
      (minRisk === undefined || (auditRisk(e) ?? -1) >= minRisk);
    const out: AuditEntry[] = [];
    let after = q.after;
    for (;;) {
      const page = await this.store.query({ ...q, ...(after !== undefined ? { after } : {}) });
      for (const e of page.entries) {
        if (!matches(e)) continue;
        out.push(e);
        if (out.length === q.limit) return { entries: out, nextCursor: encodeAuditCursor(e.seq) };
      }
      const last = page.entries.at(-1);
      if (page.nextCursor === undefined || last === undefined) return { entries: out };
      after = last.seq;
    }
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
    return inclusionProof(this.tree, seq, treeSize);
  }

  /** RFC 9162 §2.1.4 consistency proof that the tree of `toSize` extends the tree of `fromSize`. */
  proveConsistency(fromSize: number, toSize: number = this.tree.size): ConsistencyProof {
    this.checkSize(toSize, 'toSize');
    if (!Number.isSafeInteger(fromSize) || fromSize < 1 || fromSize > toSize) {
      throw argError(`fromSize must be an integer from 1 to ${toSize}`, { fromSize, toSize });
    }
    return consistencyProof(this.tree, fromSize, toSize);
  }

  /**
   * Checks an inclusion proof. Pass `root` from a checkpoint you trust (a proof's own root proves
   * nothing by itself); pass `entry` (and `hmacKey` if keyed) to also tie the proof to the content.
   */
  static verifyInclusion(
    proof: InclusionProof,
    options: { root?: string; entry?: AuditEntry; hmacKey?: Uint8Array } = {},
  ): boolean {
    return verifyInclusionProof(proof, options);
  }

  /** Checks a consistency proof, optionally against roots you trust (e.g. two checkpoints). */
  static verifyConsistency(
    proof: ConsistencyProof,
    options: { fromRoot?: string; toRoot?: string } = {},
  ): boolean {
    return verifyConsistencyProof(proof, options);
  }

  /** Flushes, signs the current tree head and saves it to the checkpoint store (if any). */
  async checkpoint(): Promise<Checkpoint> {
    this.checkOpen();
    if (this.signer === undefined) {
      throw configError(`${this.#configPath}.signer`, 'is required to create checkpoints');
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
      /** Record this run as an `audit.verified` entry (default: the log's `recordVerifications`). */
      record?: boolean;
    } = {},
  ): Promise<AuditVerificationReport> {
    this.checkOpen();
    // Only the store matters here: a sink (a bus that is away) must never delay verification.
    await this.#writer.durable();
    const publicKey = options.publicKey ?? this.signer?.publicKey;
    let checkpoints = options.checkpoints;
    if (checkpoints === undefined && this.checkpointStore !== undefined && publicKey !== undefined) {
      checkpoints = await this.checkpointStore.list();
    }
    const size = this.tree.size;
    const report = await verifyAuditLog(this.store, {
      hmacKey: this.hmacKey,
      publicKey,
      checkpoints,
      from: options.from,
      logId: this.#logId,
      trustedHeads: size > 0 ? [{ treeSize: size, rootHash: this.tree.root(size).toString('hex') }] : [],
    });
    if (!report.ok) {
      try {
        this.#onVerifyFailure?.(report);
      } catch {
        // a hook that throws must not hide the report from the caller
      }
    }
    // A log opened read-only (a reader next to the running writer) cannot record: the run is
    // the writer's to record, not an audit write failure.
    const readOnly = (this.store as { readOnly?: unknown }).readOnly === true;
    if ((options.record ?? this.#recordVerifications) && !readOnly) {
      await this.#recordVerification(report, options.from);
    }
    return report;
  }

  /**
   * The `audit.verified` entry of one verification run: the result and the range it covered,
   * never entry content. A failure to append does not change the report (the write path raises
   * its own alarm: onWriteFailure).
   */
  async #recordVerification(report: AuditVerificationReport, from: unknown): Promise<void> {
    try {
      const entry = await this.append(
        verificationEvent(report, this.systemActor, from !== undefined ? 'incremental' : 'full'),
      );
      noteVerificationRecord(report, entry.seq);
    } catch {
      // already reported through onWriteFailure
    }
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
    await this.retention.refresh();
    return this.#removal.redact(filter, reason, options);
  }

  /**
   * Retention purge: removes the content of entries older than their category's period, the same
   * way as `redact()` (stubs keep the chain verifiable; an `audit.purged` record lists them).
   * Held entries are kept and reported. Stubs themselves are never deleted.
   */
  async purge(options: { now?: Date; dryRun?: boolean } = {}): Promise<RemovalReport> {
    this.checkOpen();
    await this.retention.refresh();
    return this.#removal.purge(options);
  }

  /**
   * Places a legal hold (see `RetentionPolicy`): entries it matches are kept by `redact()` and
   * `purge()`. With `retention.holdStore` (e.g. `bulwarkStores(dataSource).auditLegalHolds`) it is
   * shared by every instance and survives restarts; without one it lives in this process. An id
   * already in force is refused (`ERR_AUDIT_INVALID_ARGUMENT`).
   */
  async addLegalHold(hold: LegalHold): Promise<void> {
    this.checkOpen();
    await this.retention.placeHold(hold);
  }

  /** Lifts a hold placed with `addLegalHold` (on every instance, with a hold store). False when none was in force. */
  async removeLegalHold(id: string): Promise<boolean> {
    this.checkOpen();
    return this.retention.liftHold(id);
  }

  /** The holds in force: configured ones and, with a hold store, every instance's. */
  async legalHolds(): Promise<LegalHold[]> {
    this.checkOpen();
    await this.retention.refresh();
    return this.retention.holds;
  }

  /**
   * Records that the log was reviewed: someone (or a review job) looked at its entries, e.g. an
   * operator working through an export or an admin screen's "mark reviewed". Writes an
   * `audit.log.reviewed` event (category `audit`) with the reviewer as actor and the scope as
   * details; the compliance check `audit.review` reads the latest one (HIPAA 164.308(a)(1)(ii)(D),
   * PCI DSS 10.4.1). Call it when a review actually happened, not on every query: the event is the
   * auditor's evidence that a person looked.
   */
  recordReview(review: AuditReview): Promise<AuditEntry> {
    let event: AuditEvent;
    try {
      if (review === null || typeof review !== 'object') throw argError('review must be an object');
      const { by, byType = 'user', scope } = review;
      if (typeof by !== 'string' || by.trim() === '' || by.length > 256)
        throw argError('review.by must be a non-empty string of at most 256 characters');
      if (byType !== 'user' && byType !== 'service')
        throw argError("review.byType must be 'user' or 'service'");
      if (typeof scope !== 'string' || scope.trim() === '' || scope.length > 512)
        throw argError('review.scope must be a non-empty string of at most 512 characters');
      const from = review.from === undefined ? undefined : reviewTime(review.from, 'review.from');
      const to = review.to === undefined ? undefined : reviewTime(review.to, 'review.to');
      if (from !== undefined && to !== undefined && from > to)
        throw argError('review.from must not be after review.to');
      event = {
        actor: { id: by, type: byType },
        action: AUDIT_REVIEW_ACTION,
        resource: { type: 'audit-log', ...(this.#logId === undefined ? {} : { id: this.#logId }) },
        outcome: 'success',
        category: 'audit',
        details: { scope, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) },
      };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.append(event);
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
    readonly writes: AuditWriteHealth;
    readonly autoCheckpoint?: { readonly entries?: number; readonly ms?: number };
  } {
    return Object.freeze({
      hmac: this.hmacKey !== undefined,
      signer: this.signer !== undefined,
      checkpointStore: this.checkpointStore !== undefined,
      ...(this.#logId === undefined ? {} : { logId: this.#logId }),
      sinks: this.sinks.length,
      writes: this.#writer.health(),
      ...(this.#checkpointOptions !== undefined ? { autoCheckpoint: this.#checkpointOptions.every } : {}),
    });
  }

  /** Appends stored and lost since open, and whether the last batch failed (never event content). */
  get writes(): AuditWriteHealth {
    return this.#writer.health();
  }
}

/**
 * The `audit.verified` event for a verification report (also appended by `bulwark audit verify
 * --record`): outcome, the range of entries checked, the root and the first fault, if any.
 */
export function verificationEvent(
  report: AuditVerificationReport,
  actor: AuditActor,
  mode: 'full' | 'incremental',
  source: 'api' | 'cli' = 'api',
): AuditEvent {
  return {
    actor,
    action: 'audit.verified',
    outcome: report.ok ? 'success' : 'failure',
    category: 'security',
    resource: { type: 'audit-log', id: 'audit-log' },
    details: {
      ok: report.ok,
      mode,
      source,
      fromSeq: report.treeSize - report.checkedEntries + 1,
      toSeq: report.treeSize,
      checkedEntries: report.checkedEntries,
      treeSize: report.treeSize,
      root: report.root,
      checkpointsVerified: report.checkpointsVerified,
      ...(report.firstBad !== undefined
        ? { firstBad: { seq: report.firstBad.seq, reason: report.firstBad.reason } }
        : {}),
    },
  };
}
