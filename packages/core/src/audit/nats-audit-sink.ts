import { HEX64 } from './audit-proofs';
import { BulwarkAuditError, ErrorCodes } from '../errors';
import type { AuditEntry } from './audit-event';
import type { AuditSink } from './audit-sink';
import { canonicalBytes } from './canonical-json';
import { toOcsf } from './ocsf-event';
import { toSyslog } from './syslog-message';
import { configError, intInRange, isPlainObject, nonEmptyString, oneOf } from '../util/options';
import { AuditSpool, type SpoolRecord } from './audit-spool';
import { NatsAuditConnection, type NatsConnect } from './nats-audit-connection';

import type {
  NatsAuditSinkDescription,
  NatsAuditSinkOptions,
  NatsAuditSinkStats,
  NatsAuditSpoolOptions,
  NatsHeaders,
  NatsJetStreamPublisher,
  NatsPubAck,
  NatsPublishOptions,
} from './nats-audit-sink-options';
import {
  busAway,
  categoryTokens,
  CATEGORY_PLACEHOLDER,
  CONTROL,
  CONTROL_OR_SPACE,
  DEFAULT_SUBJECT,
  errorCode,
  isTransient,
  MAX_RETRY_DELAY_MS,
  subjectProblem,
} from './nats-publish-rules';

export type { NatsConnect, NatsConnectOptions, NatsConnectionLike } from './nats-audit-connection';
export type { AuditSpoolFsync, AuditSpoolOnFull } from './audit-spool';
export type {
  NatsAuditSinkDescription,
  NatsAuditSinkOptions,
  NatsAuditSinkStats,
  NatsAuditSpoolOptions,
  NatsHeaders,
  NatsJetStreamPublisher,
  NatsPubAck,
  NatsPublishOptions,
} from './nats-audit-sink-options';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Message {
  entry: AuditEntry;
  data: Uint8Array;
}

const PUMP_BATCH = 256;

/**
 * Publishes audit entries to a NATS JetStream stream, the message-bus fan-out for multi-instance
 * deployments (SIEM forwarders, detection rules, other regions).
 *
 * The audit store is the source of truth; the bus is a copy. The sink runs after an append is
 * durable, so a bus outage never loses or blocks an event. Without a spool, a failed publish is
 * reported through the log's `onSinkError` as `ERR_AUDIT_SINK` (with the first unpublished `seq`),
 * and a consumer that sees a gap re-syncs from the store by seq (or the app re-publishes with
 * `write()`). With `spool`, entries the bus cannot take are kept on disk (bounded) and delivered in
 * order when it is back; `stats` reports the lag.
 *
 * Given a connect function instead of a JetStream client, the sink owns its connection: the nats
 * client reconnects `maxReconnectAttempts` times (default forever), and if it closes for good the
 * sink connects again, for as long as the sink is open.
 *
 * Delivery is exactly-once-ish: each message has the JetStream message id `<logId>:<seq>`, so a
 * retry, or a re-publish inside the stream's `duplicate_window` (2 minutes by default), is dropped
 * by the server; past that window a consumer dedups by the same id or by seq. Entries are
 * published one at a time in seq order, each awaiting its PubAck (stored in the stream) before the
 * next, so the stream holds a log's entries in seq order; a failed entry stops the batch rather
 * than let later entries overtake it.
 *
 * Each payload is the RFC 8785 canonical JSON of the whole entry, so a consumer can recompute the
 * leaf hash (drop `leafHash` and `redacted`, canonicalise, hash as `EntryHasher` does) and check
 * inclusion proofs against a checkpoint.
 */
export class NatsAuditSink implements AuditSink {
  private readonly logId: string;
  private readonly encode: (entry: AuditEntry) => Uint8Array;
  private readonly subjectFor: (entry: AuditEntry) => string;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs?: number;
  private readonly expectStream?: string;
  private readonly headers?: () => NatsHeaders;
  private readonly drainTarget?: { drain(): Promise<void> };
  private readonly client?: NatsJetStreamPublisher;
  private readonly connection?: NatsAuditConnection;
  private readonly maxReconnectAttempts?: number;
  private readonly spoolOptions?: Required<NatsAuditSpoolOptions>;
  private readonly spoolReady?: Promise<AuditSpool>;
  private spool?: AuditSpool;
  private readonly onDeliveryError: (error: BulwarkAuditError) => void;
  private readonly counters = {
    published: 0,
    duplicates: 0,
    failedAttempts: 0,
    failedWrites: 0,
  };
  private lastErrorCode?: string;
  /** Writes run one after another, so concurrent callers cannot interleave seqs. */
  private tail: Promise<void> = Promise.resolve();
  private closing?: Promise<void>;
  private stopping = false;
  /** close() in progress: the pump delivers what it can and returns at its first failure. */
  private finishing = false;
  private pumping?: Promise<void>;
  private pumpWake?: () => void;

  constructor(client: NatsJetStreamPublisher | NatsConnect, options: NatsAuditSinkOptions) {
    const path =
      typeof options?.configPath === 'string' && options.configPath !== ''
        ? options.configPath
        : 'audit.nats';
    const isConnect = typeof client === 'function';
    if (
      !isConnect &&
      (client === null || typeof client !== 'object' || typeof client.publish !== 'function')
    ) {
      throw configError(
        path,
        'needs a connected JetStream client (nc.jetstream()) with a publish method, or a connect function',
      );
    }
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    const format = options.format ?? 'bulwark';
    if (format !== 'bulwark' && format !== 'ocsf' && format !== 'syslog') {
      throw configError(`${path}.format`, "must be 'bulwark', 'ocsf' or 'syslog'");
    }
    // Entries reach sinks when appended, never redacted (redaction comes later), so every entry
    // has an OCSF form; the canonical form stays the fallback for anything without content.
    this.encode =
      format === 'ocsf'
        ? (e) => {
            const event = toOcsf(e, options.ocsf);
            return event === undefined ? canonicalBytes(e) : Buffer.from(JSON.stringify(event), 'utf8');
          }
        : format === 'syslog'
          ? (e) => Buffer.from(toSyslog(e, options.syslog), 'utf8')
          : (e) => canonicalBytes(e);

    const { logId } = options;
    if (typeof logId !== 'string' || logId === '' || logId.length > 256 || CONTROL_OR_SPACE.test(logId)) {
      throw configError(
        `${path}.logId`,
        'must be a non-empty string of at most 256 characters without whitespace (use the AuditLog logId)',
      );
    }
    this.logId = logId;

    const subject = options.subject ?? DEFAULT_SUBJECT;
    if (typeof subject === 'function') {
      this.subjectFor = subject;
    } else {
      const problem = subjectProblem(
        typeof subject === 'string' ? subject.split(CATEGORY_PLACEHOLDER).join('x') : subject,
      );
      if (problem !== undefined) throw configError(`${path}.subject`, problem);
      this.subjectFor = subject.includes(CATEGORY_PLACEHOLDER)
        ? (entry) => subject.split(CATEGORY_PLACEHOLDER).join(categoryTokens(entry.category))
        : () => subject;
    }

    this.retries = intInRange(options.retries, `${path}.retries`, 0, 10, 3);
    this.retryDelayMs = intInRange(options.retryDelayMs, `${path}.retryDelayMs`, 0, 60_000, 100);
    this.timeoutMs =
      options.timeoutMs === undefined
        ? undefined
        : intInRange(options.timeoutMs, `${path}.timeoutMs`, 1, 300_000);

    if (options.expectStream !== undefined) {
      if (
        typeof options.expectStream !== 'string' ||
        options.expectStream === '' ||
        /[\s.*>/\\]/.test(options.expectStream) ||
        CONTROL.test(options.expectStream)
      ) {
        throw configError(
          `${path}.expectStream`,
          'must be a stream name (no spaces, dots, wildcards or slashes)',
        );
      }
      this.expectStream = options.expectStream;
    }
    if (options.headers !== undefined) {
      if (typeof options.headers !== 'function') {
        throw configError(`${path}.headers`, "must be a header factory such as `headers` from 'nats'");
      }
      this.headers = options.headers;
    }
    if (options.drainOnClose !== undefined) {
      if (
        options.drainOnClose === null ||
        typeof options.drainOnClose !== 'object' ||
        typeof options.drainOnClose.drain !== 'function'
      ) {
        throw configError(`${path}.drainOnClose`, 'must be a NATS connection (with a drain method)');
      }
      this.drainTarget = options.drainOnClose;
    }
    if (options.onDeliveryError !== undefined && typeof options.onDeliveryError !== 'function') {
      throw configError(`${path}.onDeliveryError`, 'must be a function');
    }
    this.onDeliveryError =
      options.onDeliveryError ??
      ((err) => process.emitWarning(`audit sink delivery failed: ${err.message}`, 'BulwarkAuditSinkWarning'));

    if (options.spool !== undefined) {
      const sp = options.spool;
      if (!isPlainObject(sp)) throw configError(`${path}.spool`, 'must be an object with a dir');
      this.spoolOptions = {
        dir: nonEmptyString(sp.dir, `${path}.spool.dir`, 4096),
        maxBytes: intInRange(
          sp.maxBytes,
          `${path}.spool.maxBytes`,
          64 * 1024,
          64 * 1024 ** 3,
          64 * 1024 ** 2,
        ),
        onFull: oneOf(sp.onFull, `${path}.spool.onFull`, ['refuse', 'drop-oldest'] as const, 'refuse'),
        fsync: oneOf(sp.fsync, `${path}.spool.fsync`, ['always', 'never'] as const, 'always'),
      };
    }

    if (isConnect) {
      if (options.drainOnClose !== undefined) {
        throw configError(
          `${path}.drainOnClose`,
          'is for a JetStream client; with a connect function the sink drains its own connection',
        );
      }
      this.maxReconnectAttempts = intInRange(
        options.maxReconnectAttempts,
        `${path}.maxReconnectAttempts`,
        -1,
        1_000_000,
        -1,
      );
      const reconnectTimeWait = intInRange(
        options.reconnectTimeWaitMs,
        `${path}.reconnectTimeWaitMs`,
        1,
        600_000,
        2000,
      );
      this.connection = new NatsAuditConnection(
        client,
        { maxReconnectAttempts: this.maxReconnectAttempts, reconnectTimeWait, waitOnFirstConnect: false },
        this.retryDelayMs,
        () => this.wakePump(),
      );
    } else {
      if (options.maxReconnectAttempts !== undefined || options.reconnectTimeWaitMs !== undefined) {
        throw configError(
          `${path}.maxReconnectAttempts`,
          'needs a connect function (the sink cannot reconnect a JetStream client it did not open)',
        );
      }
      this.client = client;
    }

    // Start-up I/O: the spool (whose leftovers from a previous run are delivered first) and the
    // connection. Failures surface on write (and in stats), never as an unhandled rejection.
    if (this.spoolOptions !== undefined) {
      this.spoolReady = AuditSpool.open(this.spoolOptions).then((spool) => {
        this.spool = spool;
        if (spool.pending > 0) this.kickPump();
        return spool;
      });
      this.spoolReady.catch(() => undefined);
    }
    this.connection?.start();
  }

  /** A snapshot of the delivery counters and the spool's lag. */
  get stats(): NatsAuditSinkStats {
    const spool = this.spool?.stats();
    const oldest = spool?.oldestSpooledAt;
    return {
      ...this.counters,
      delivered: this.counters.published + this.counters.duplicates,
      connected: this.connection === undefined ? true : this.connection.connected,
      connections: this.connection?.connections ?? 0,
      spooled: spool?.pending ?? 0,
      spoolBytes: spool?.bytes ?? 0,
      ...(oldest === undefined || spool?.pending === 0
        ? {}
        : { oldestSpooledAgeMs: Math.max(0, Date.now() - oldest) }),
      spooledTotal: spool?.spooled ?? 0,
      dropped: spool?.dropped ?? 0,
      refused: spool?.refused ?? 0,
      ...(this.lastErrorCode === undefined ? {} : { lastErrorCode: this.lastErrorCode }),
    };
  }

  /** What this sink is and how far behind it is, as non-secret facts (no server address, no path). */
  describe(): NatsAuditSinkDescription {
    return Object.freeze({
      kind: 'nats' as const,
      logId: this.logId,
      connection: this.connection === undefined ? ('client' as const) : ('connect' as const),
      ...(this.maxReconnectAttempts === undefined ? {} : { maxReconnectAttempts: this.maxReconnectAttempts }),
      ...(this.spoolOptions === undefined
        ? {}
        : {
            spool: Object.freeze({
              maxBytes: this.spoolOptions.maxBytes,
              onFull: this.spoolOptions.onFull,
              fsync: this.spoolOptions.fsync,
            }),
          }),
      stats: Object.freeze(this.stats),
    });
  }

  /**
   * Publishes `entries` in seq order, each awaited until the stream acknowledges it. Without a
   * spool, rejects with `ERR_AUDIT_SINK` when an entry still fails after the retries (later entries
   * of the batch are not published). With a spool, what the bus cannot take now is spooled and the
   * write resolves; it rejects with `ERR_AUDIT_SINK` only when the spool refuses (full, disk error)
   * or the stream refuses for good (a permanent error). `ERR_AUDIT_INVALID_ARGUMENT` for something
   * that is not a stored entry, and `ERR_AUDIT_CLOSED` after `close()`.
   */
  write(entries: readonly AuditEntry[]): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'the NATS audit sink is closed'));
    }
    let messages: Message[];
    try {
      messages = this.prepare(entries);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.tail.then(() =>
      this.spoolReady === undefined ? this.publishAll(messages) : this.publishOrSpool(messages),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Validates and serialises the whole batch before anything is published. */
  private prepare(entries: readonly AuditEntry[]): Message[] {
    if (!Array.isArray(entries)) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_INVALID_ARGUMENT,
        'NatsAuditSink.write needs an array of audit entries',
      );
    }
    const out = entries.map((entry: AuditEntry, i) => {
      if (
        entry === null ||
        typeof entry !== 'object' ||
        !Number.isSafeInteger(entry.seq) ||
        entry.seq < 1 ||
        typeof entry.leafHash !== 'string' ||
        !HEX64.test(entry.leafHash)
      ) {
        throw new BulwarkAuditError(
          ErrorCodes.AUDIT_INVALID_ARGUMENT,
          `NatsAuditSink.write: item ${i} is not a stored audit entry (needs a positive integer seq and a hex leafHash)`,
          { index: i },
        );
      }
      return { entry, data: this.encode(entry) };
    });
    // The log hands batches over in seq order already; sorting makes a caller's re-publish safe too.
    return out.sort((a, b) => a.entry.seq - b.entry.seq);
  }

  private subjectOf(entry: AuditEntry, index: number, total: number): string {
    let subject: string;
    try {
      subject = this.subjectFor(entry);
    } catch (err) {
      throw this.failure(entry, index, total, 0, 'subject function threw', err);
    }
    const problem = subjectProblem(subject);
    if (problem !== undefined) {
      throw this.failure(entry, index, total, 0, `subject ${problem}`, undefined);
    }
    return subject;
  }

  /** The publisher to use now: the app's client, or the owned connection's while it is up. */
  private publisher(): NatsJetStreamPublisher | undefined {
    return this.client ?? this.connection?.current();
  }

  private async publishAll(messages: readonly Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i++) {
      const { entry, data } = messages[i]!;
      const subject = this.subjectOf(entry, i, messages.length);
      await this.publishOne(subject, entry, data, i, messages.length);
    }
  }

  /**
   * Spool mode: publish directly while the bus is up and nothing is queued ahead; on the first
   * entry the bus cannot take, spool it and every later one (order is kept: the pump delivers the
   * spool before any new entry goes direct again).
   */
  private async publishOrSpool(messages: readonly Message[]): Promise<void> {
    const subjects = messages.map((m, i) => this.subjectOf(m.entry, i, messages.length));
    const spool = await this.openSpool();
    let i = 0;
    while (i < messages.length && this.pumping === undefined && spool.pending === 0) {
      const js = this.publisher();
      if (js === undefined) break;
      const { entry, data } = messages[i]!;
      try {
        this.count(
          await js.publish(subjects[i]!, data, this.publishOptions(entry)),
          entry,
          i,
          messages.length,
          1,
        );
      } catch (err) {
        this.counters.failedAttempts++;
        this.lastErrorCode = errorCode(err) ?? this.lastErrorCode;
        if (!busAway(err)) {
          const code = errorCode(err);
          throw this.failure(entry, i, messages.length, 1, `NATS error ${code ?? 'unknown'}`, err, code);
        }
        break;
      }
      i++;
    }
    if (i === messages.length) return;
    const records = messages.slice(i).map((m, k) => ({
      seq: m.entry.seq,
      subject: subjects[i + k]!,
      data: Buffer.from(m.data).toString('utf8'),
    }));
    try {
      await spool.append(records);
    } catch (err) {
      this.counters.failedWrites++;
      throw err;
    } finally {
      this.kickPump();
    }
  }

  private async openSpool(): Promise<AuditSpool> {
    try {
      return await this.spoolReady!;
    } catch (err) {
      this.counters.failedWrites++;
      throw err;
    }
  }

  private kickPump(): void {
    if (this.pumping !== undefined || this.stopping || this.spool === undefined) return;
    this.pumping = this.pump(this.spool).finally(() => {
      this.pumping = undefined;
      // an append that landed while the pump was finishing
      if (!this.stopping && this.spool !== undefined && this.spool.pending > 0) this.kickPump();
    });
  }

  private wakePump(): void {
    this.pumpWake?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.pumpWake === done) this.pumpWake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.pumpWake = done;
    });
  }

  /** Delivers the spool in order until it is empty or the sink stops; waits out the bus's absence. */
  private async pump(spool: AuditSpool): Promise<void> {
    let delay = Math.max(this.retryDelayMs, 10);
    let refusals = 0;
    while (!this.stopping) {
      let batch: SpoolRecord[];
      try {
        batch = await spool.peek(PUMP_BATCH);
      } catch (err) {
        // unreadable spool file: keep trying (slowly), the records stay on disk
        this.lastErrorCode = (err as NodeJS.ErrnoException)?.code ?? 'SPOOL_READ';
        if (this.finishing) return;
        await this.pause(MAX_RETRY_DELAY_MS);
        continue;
      }
      if (batch.length === 0) {
        if (spool.pending === 0) return;
        // appends still being written: they are next in the spool's queue
        await this.pause(10);
        continue;
      }
      let done = 0;
      let failed = false;
      for (const record of batch) {
        if (this.stopping) break;
        if (record.corrupt === true) {
          done++;
          this.counters.failedWrites++;
          this.report(record, undefined);
          continue;
        }
        const js = this.publisher();
        if (js === undefined) {
          failed = true;
          break;
        }
        try {
          const ack = await js.publish(
            record.subject,
            Buffer.from(record.data, 'utf8'),
            this.publishOptions(record),
          );
          if (ack === null || typeof ack !== 'object' || !Number.isSafeInteger(ack.seq))
            throw new Error('invalid PubAck');
          if (ack.duplicate === true) this.counters.duplicates++;
          else this.counters.published++;
          done++;
          refusals = 0;
        } catch (err) {
          this.counters.failedAttempts++;
          this.lastErrorCode = errorCode(err) ?? this.lastErrorCode;
          if (!busAway(err) && ++refusals > this.retries) {
            // The stream refuses this entry for good (permissions, wrong stream): keeping it would
            // block every later entry forever. Drop it from the spool, loudly; the store has it.
            done++;
            refusals = 0;
            this.counters.failedWrites++;
            this.report(record, err);
          }
          failed = true;
          break;
        }
      }
      if (done > 0) {
        try {
          await spool.ack(batch.slice(0, done));
        } catch (err) {
          // the cursor did not move: those records are delivered again (dropped by msg id)
          this.lastErrorCode = (err as NodeJS.ErrnoException)?.code ?? 'SPOOL_WRITE';
          failed = true;
        }
      }
      if (failed && this.finishing) return;
      if (failed && !this.stopping) {
        await this.pause(delay);
        delay = Math.min(MAX_RETRY_DELAY_MS, delay * 2);
      } else {
        delay = Math.max(this.retryDelayMs, 10);
      }
    }
  }

  private report(record: SpoolRecord, cause: unknown): void {
    const code = errorCode(cause);
    try {
      this.onDeliveryError(
        record.corrupt === true
          ? new BulwarkAuditError(
              ErrorCodes.AUDIT_SINK,
              'the audit spool held an unreadable record (disk corruption); it was skipped. ' +
                'Compare the stream with the audit store and re-publish what is missing.',
              { logId: this.logId },
            )
          : new BulwarkAuditError(
              ErrorCodes.AUDIT_SINK,
              `NATS refused spooled audit entry seq ${record.seq} for good (NATS error ${code ?? 'unknown'}); ` +
                `it was removed from the spool. The entry is durable in the audit store: re-publish it from there.`,
              { logId: this.logId, seq: record.seq, ...(code === undefined ? {} : { natsCode: code }) },
              { cause },
            ),
      );
    } catch {
      // a throwing handler must not stop delivery
    }
  }

  private publishOptions(entry: { seq: number; leafHash?: string; data?: string }): NatsPublishOptions {
    const options: NatsPublishOptions = { msgID: `${this.logId}:${entry.seq}` };
    if (this.timeoutMs !== undefined) options.timeout = this.timeoutMs;
    if (this.expectStream !== undefined) options.expect = { streamName: this.expectStream };
    if (this.headers !== undefined) {
      const leafHash = entry.leafHash ?? (JSON.parse(entry.data!) as { leafHash: string }).leafHash;
      const h = this.headers();
      h.set('Bulwark-Audit-Log-Id', this.logId);
      h.set('Bulwark-Audit-Seq', String(entry.seq));
      h.set('Bulwark-Audit-Leaf-Hash', leafHash);
      options.headers = h;
    }
    return options;
  }

  private count(ack: NatsPubAck, entry: AuditEntry, index: number, total: number, attempt: number): void {
    if (ack === null || typeof ack !== 'object' || !Number.isSafeInteger(ack.seq)) {
      this.counters.failedAttempts++;
      throw this.failure(entry, index, total, attempt, 'invalid PubAck', undefined);
    }
    if (ack.duplicate === true) this.counters.duplicates++;
    else this.counters.published++;
  }

  private async publishOne(
    subject: string,
    entry: AuditEntry,
    data: Uint8Array,
    index: number,
    total: number,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const js = this.publisher();
      let ack: NatsPubAck;
      try {
        if (js === undefined) {
          throw Object.assign(new Error('not connected to NATS'), { code: 'DISCONNECT' });
        }
        ack = await js.publish(subject, data, this.publishOptions(entry));
      } catch (err) {
        this.counters.failedAttempts++;
        this.lastErrorCode = errorCode(err) ?? this.lastErrorCode;
        if (attempt > this.retries || !isTransient(err)) {
          const code = errorCode(err);
          throw this.failure(entry, index, total, attempt, `NATS error ${code ?? 'unknown'}`, err, code);
        }
        // Exponential backoff with jitter, so instances that failed together do not retry together.
        const base = Math.min(MAX_RETRY_DELAY_MS, this.retryDelayMs * 2 ** (attempt - 1));
        await sleep(base / 2 + Math.random() * (base / 2));
        continue;
      }
      this.count(ack, entry, index, total, attempt);
      return;
    }
  }

  private failure(
    entry: AuditEntry,
    index: number,
    total: number,
    attempts: number,
    reason: string,
    cause: unknown,
    natsCode?: string,
  ): BulwarkAuditError {
    this.counters.failedWrites++;
    return new BulwarkAuditError(
      ErrorCodes.AUDIT_SINK,
      `NATS publish of audit entry seq ${entry.seq} failed (${reason}, ${attempts} attempt(s)); ` +
        `${total - index} entr${total - index === 1 ? 'y was' : 'ies were'} not published. ` +
        `The entries are durable in the audit store: re-publish from seq ${entry.seq} to re-sync the stream.`,
      {
        logId: this.logId,
        seq: entry.seq,
        attempts,
        published: index,
        unpublished: total - index,
        ...(natsCode === undefined ? {} : { natsCode }),
      },
      cause === undefined ? undefined : { cause },
    );
  }

  /**
   * Waits for queued and in-flight publishes (their failures are reported by `write`, not here),
   * stops the spool's delivery loop, then drains the sink's own connection (connect function) or
   * `drainOnClose` if one was given. Later writes fail with `ERR_AUDIT_CLOSED`.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.tail;
      // While the bus answers, the pump delivers the rest of the spool; at its first failure it
      // stops, and what it did not deliver stays in the spool for the next sink on the directory.
      this.finishing = true;
      if (this.spool !== undefined && this.spool.pending > 0) this.kickPump();
      this.wakePump();
      await this.pumping;
      this.stopping = true;
      this.wakePump();
      await this.pumping;
      await this.spool?.close();
      await this.connection?.stop();
      await this.drainTarget?.drain();
    })();
    return this.closing;
  }
}
