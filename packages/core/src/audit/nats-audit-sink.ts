import { BulwarkAuditError, ErrorCodes } from '../errors';
import type { AuditEntry } from './audit-event';
import type { AuditSink } from './audit-sink';
import { canonicalBytes } from './canonical-json';
import { configError, intInRange, isPlainObject, nonEmptyString, oneOf } from '../util/options';
import { AuditSpool, type AuditSpoolFsync, type AuditSpoolOnFull, type SpoolRecord } from './audit-spool';
import { NatsAuditConnection, type NatsConnect } from './nats-audit-connection';

export type { NatsConnect, NatsConnectOptions, NatsConnectionLike } from './nats-audit-connection';
export type { AuditSpoolFsync, AuditSpoolOnFull } from './audit-spool';

/*
 * Core never depends on the `nats` package: the app connects and hands over its JetStream client.
 * The types below are the structural subset the sink uses; `nc.jetstream()` from nats.js 2.x, the
 * `headers` function and a `NatsConnection` satisfy them as they are.
 */

/** Headers object (nats.js `MsgHdrs`); only `set` is used. */
export interface NatsHeaders {
  set(key: string, value: string): void;
}

/** The publish options the sink sends (a subset of nats.js `JetStreamPublishOptions`). */
export interface NatsPublishOptions {
  /** Sent as `Nats-Msg-Id`: the stream drops a second message with the same id inside its duplicate window. */
  msgID?: string;
  /** Milliseconds to wait for the PubAck. */
  timeout?: number;
  headers?: NatsHeaders;
  expect?: { streamName?: string };
}

/** The stream's acknowledgement: the message is stored (or was already, `duplicate`). */
export interface NatsPubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** A connected JetStream client (nats.js `JetStreamClient`); only `publish` is used. */
export interface NatsJetStreamPublisher {
  publish(subject: string, data: Uint8Array, options?: NatsPublishOptions): Promise<NatsPubAck>;
}

export interface NatsAuditSinkOptions {
  /**
   * Identifies the log; message ids are `<logId>:<seq>`. Required, with no default, because two
   * logs sharing a stream under one id would have each other's entries dropped as duplicates.
   * Use the `logId` given to `AuditLog.open`. At most 256 characters, no control characters.
   */
  logId: string;
  /**
   * Subject per entry. A string is a template in which `{category}` is replaced by the entry's
   * category (its dots become subject levels; an empty level becomes `_`); without `{category}`
   * it is one fixed subject. A function gets the entry and returns the subject.
   * Default `bulwark.audit.{category}`, so consumers can take `bulwark.audit.>` or one category.
   */
  subject?: string | ((entry: AuditEntry) => string);
  /** Retries after a transient failure (timeout, no responders, disconnect). Integer 0-10; default 3. */
  retries?: number;
  /** First retry delay in ms; doubles per retry (with jitter), capped at 5000. Integer 0-60000; default 100. */
  retryDelayMs?: number;
  /** PubAck timeout per attempt in ms (default: the client's own, 5000 in nats.js). Integer 1-300000. */
  timeoutMs?: number;
  /** Stream that must store the messages (`Nats-Expected-Stream`): a subject bound elsewhere fails. */
  expectStream?: string;
  /**
   * Header factory (pass `headers` from `nats`). When given, each message also carries
   * `Bulwark-Audit-Log-Id`, `Bulwark-Audit-Seq` and `Bulwark-Audit-Leaf-Hash`, so a consumer can
   * route or gap-check without parsing the payload.
   */
  headers?: () => NatsHeaders;
  /**
   * A connection `close()` drains (and so closes) after the last publish. Omit it (the default)
   * to leave the app's connection open: it usually serves more than this sink.
   */
  drainOnClose?: { drain(): Promise<void> };
  /**
   * With a connect function (not a JetStream client): reconnect attempts per server the nats
   * client makes before it closes for good; -1 (the default) = forever. When it does close for
   * good, the sink connects again anyway (capped backoff) for as long as it is open.
   */
  maxReconnectAttempts?: number;
  /** With a connect function: ms between the nats client's reconnect attempts. Default 2000. */
  reconnectTimeWaitMs?: number;
  /**
   * A bounded on-disk spool for the time the bus is away. Without it, a batch that fails after
   * `retries` is reported (ERR_AUDIT_SINK) and not retried. With it, a batch that cannot be
   * published is appended to the spool and `write` resolves; a background loop delivers the spool
   * in seq order (same message ids, so an unknown outcome never duplicates) when the bus is back,
   * and new entries queue behind it. Spooled entries left at `close()` are delivered by the next
   * sink opened on the same directory.
   */
  spool?: NatsAuditSpoolOptions;
  /** Background delivery failures (spooled entries the stream refused for good). Default: process warning. */
  onDeliveryError?: (error: BulwarkAuditError) => void;
  /** Config path used in error messages. Default `audit.nats`. */
  configPath?: string;
}

export interface NatsAuditSpoolOptions {
  /** Directory of the spool (created with mode 0700). One sink per directory. */
  dir: string;
  /** Bound on the spool files' total size. Integer 64 KiB - 64 GiB; default 64 MiB. */
  maxBytes?: number;
  /**
   * When a batch does not fit: 'refuse' (default) rejects the write with ERR_AUDIT_SINK and keeps
   * the oldest entries; 'drop-oldest' deletes the oldest spooled entries to make room. Either way
   * the entries stay in the audit store, and `stats` counts them (`refused` / `dropped`).
   */
  onFull?: AuditSpoolOnFull;
  /**
   * 'always' (default): each spooled batch is fsynced before `write` resolves (survives power
   * loss). 'never': written, not fsynced (survives a process crash, not a power loss).
   */
  fsync?: AuditSpoolFsync;
}

/** Delivery counters, for monitoring and compliance evidence. */
export interface NatsAuditSinkStats {
  /** Entries the stream acknowledged as new. */
  published: number;
  /** Entries the stream acknowledged as duplicates (already stored: a retry or re-publish). */
  duplicates: number;
  /** Publish attempts that failed (each retry counts). */
  failedAttempts: number;
  /** `write` calls that ended in `ERR_AUDIT_SINK`, plus spooled entries dropped after a permanent refusal. */
  failedWrites: number;
  /** Entries the stream acknowledged (new or duplicate): `published + duplicates`. */
  delivered: number;
  /** Whether the sink has a live connection (always true for a JetStream client given directly). */
  connected: boolean;
  /** Connections established (with a connect function; 0 otherwise). */
  connections: number;
  /** Entries in the spool, waiting for the bus (0 without a spool). */
  spooled: number;
  /** Bytes of the spool files. */
  spoolBytes: number;
  /** Age in ms of the oldest spooled entry (the delivery lag), absent when the spool is empty. */
  oldestSpooledAgeMs?: number;
  /** Entries ever spooled by this sink. */
  spooledTotal: number;
  /** Spooled entries discarded undelivered by onFull 'drop-oldest'. */
  dropped: number;
  /** Entries refused by a full spool (onFull 'refuse'). */
  refused: number;
  /** The last NATS error code seen (no message: messages may carry server addresses). */
  lastErrorCode?: string;
}

/** Non-secret facts about the sink and its lag (compliance evidence). */
export interface NatsAuditSinkDescription {
  readonly kind: 'nats';
  readonly logId: string;
  /** 'connect': the sink owns and re-creates its connection; 'client': the app's JetStream client. */
  readonly connection: 'connect' | 'client';
  readonly maxReconnectAttempts?: number;
  readonly spool?: {
    readonly maxBytes: number;
    readonly onFull: AuditSpoolOnFull;
    readonly fsync: AuditSpoolFsync;
  };
  readonly stats: NatsAuditSinkStats;
}

const DEFAULT_SUBJECT = 'bulwark.audit.{category}';
const CATEGORY_PLACEHOLDER = '{category}';
const MAX_RETRY_DELAY_MS = 5000;
const HEX64 = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\s\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * nats.js error codes that another attempt cannot fix: the connection is gone or closing, the
 * message is malformed or too large, or the account may not publish there.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DRAINING',
  'BAD_SUBJECT',
  'BAD_HEADER',
  'BAD_PAYLOAD',
  'BAD_JSON',
  'INVALID_OPTION',
  'INVALID_PAYLOAD',
  'MAX_PAYLOAD_EXCEEDED',
  'PERMISSIONS_VIOLATION',
  'AUTHORIZATION_VIOLATION',
  'AUTHENTICATION_EXPIRED',
  'BAD_AUTHENTICATION',
  'ACCOUNT_EXPIRED',
  'NOT_FUNC',
]);

/**
 * Whether a publish error is worth another attempt. JetStream API errors carry an HTTP-like code:
 * 4xx (wrong expected stream, bad request) are permanent, 5xx and 408 transient. Without one, a
 * timeout, "503 no responders" (no stream yet, or a stream leader election in progress) and a
 * disconnect are transient. Retrying is safe either way: the message id makes the stream drop a
 * copy whose first attempt was stored but whose PubAck was lost.
 */
function isTransient(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return true;
  const apiCode = (err as { api_error?: { code?: unknown } }).api_error?.code;
  if (typeof apiCode === 'number') return apiCode >= 500 || apiCode === 408;
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || !PERMANENT_CODES.has(code);
}

function errorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const apiCode = (err as { api_error?: { code?: unknown; err_code?: unknown } }).api_error;
  if (apiCode !== undefined && typeof apiCode.code === 'number') {
    return typeof apiCode.err_code === 'number'
      ? `${apiCode.code}/${apiCode.err_code}`
      : String(apiCode.code);
  }
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

/** NATS subject rules for publishing: non-empty tokens, no whitespace, no wildcards. */
function subjectProblem(subject: unknown): string | undefined {
  if (typeof subject !== 'string' || subject === '') return 'must be a non-empty string';
  if (subject.length > 1024) return 'must be at most 1024 characters';
  if (CONTROL_OR_SPACE.test(subject)) return 'must not contain whitespace or control characters';
  if (/[*>]/.test(subject))
    return "must not contain the wildcards '*' or '>' (publish needs a concrete subject)";
  if (subject.split('.').some((t) => t === ''))
    return "must not have empty tokens (leading, trailing or double '.')";
  return undefined;
}

/** A category as subject levels: dots kept (hierarchy), other characters outside the audit category alphabet and empty levels become `_`. */
function categoryTokens(category: unknown): string {
  const text = typeof category === 'string' && category !== '' ? category : '_';
  return text
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .split('.')
    .map((t) => (t === '' ? '_' : t))
    .join('.');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Errors that mean "the bus is away" for the spool: transient ones and a closed/draining connection. */
function busAway(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isTransient(err) || code === 'CONNECTION_CLOSED' || code === 'CONNECTION_DRAINING';
}

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
      return { entry, data: canonicalBytes(entry) };
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
