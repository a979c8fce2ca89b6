import { BulwarkAuditError, ErrorCodes } from '../errors';
import type { AuditEntry } from './audit-event';
import type { AuditSink } from './audit-sink';
import { canonicalBytes } from './canonical-json';
import { configError, intInRange } from '../util/options';

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
  /** Config path used in error messages. Default `audit.nats`. */
  configPath?: string;
}

/** Delivery counters, for monitoring and compliance evidence. */
export interface NatsAuditSinkStats {
  /** Entries the stream acknowledged as new. */
  published: number;
  /** Entries the stream acknowledged as duplicates (already stored: a retry or re-publish). */
  duplicates: number;
  /** Publish attempts that failed (each retry counts). */
  failedAttempts: number;
  /** `write` calls that ended in `ERR_AUDIT_SINK`. */
  failedWrites: number;
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

/**
 * Publishes audit entries to a NATS JetStream stream, the message-bus fan-out for multi-instance
 * deployments (SIEM forwarders, detection rules, other regions).
 *
 * The audit store is the source of truth; the bus is a copy. The sink runs after an append is
 * durable, so a bus outage never loses or blocks an event: a failed publish is reported through
 * the log's `onSinkError` as `ERR_AUDIT_SINK` (with the first unpublished `seq`), and a consumer
 * that sees a gap re-syncs from the store by seq (or the app re-publishes with `write()`).
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
  private readonly counters: NatsAuditSinkStats = {
    published: 0,
    duplicates: 0,
    failedAttempts: 0,
    failedWrites: 0,
  };
  /** Writes run one after another, so concurrent callers cannot interleave seqs. */
  private tail: Promise<void> = Promise.resolve();
  private closing?: Promise<void>;

  constructor(
    private readonly js: NatsJetStreamPublisher,
    options: NatsAuditSinkOptions,
  ) {
    const path =
      typeof options?.configPath === 'string' && options.configPath !== ''
        ? options.configPath
        : 'audit.nats';
    if (js === null || typeof js !== 'object' || typeof js.publish !== 'function') {
      throw configError(path, 'needs a connected JetStream client (nc.jetstream()) with a publish method');
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
  }

  /** A snapshot of the delivery counters. */
  get stats(): NatsAuditSinkStats {
    return { ...this.counters };
  }

  /**
   * Publishes `entries` in seq order, each awaited until the stream acknowledges it. Rejects with
   * `ERR_AUDIT_SINK` when an entry still fails after the retries (later entries of the batch are
   * not published), `ERR_AUDIT_INVALID_ARGUMENT` for something that is not a stored entry, and
   * `ERR_AUDIT_CLOSED` after `close()`.
   */
  write(entries: readonly AuditEntry[]): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'the NATS audit sink is closed'));
    }
    let messages: { entry: AuditEntry; data: Uint8Array }[];
    try {
      messages = this.prepare(entries);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.tail.then(() => this.publishAll(messages));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Validates and serialises the whole batch before anything is published. */
  private prepare(entries: readonly AuditEntry[]): { entry: AuditEntry; data: Uint8Array }[] {
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

  private async publishAll(messages: readonly { entry: AuditEntry; data: Uint8Array }[]): Promise<void> {
    for (let i = 0; i < messages.length; i++) {
      const { entry, data } = messages[i]!;
      let subject: string;
      try {
        subject = this.subjectFor(entry);
      } catch (err) {
        throw this.failure(entry, i, messages.length, 0, 'subject function threw', err);
      }
      const problem = subjectProblem(subject);
      if (problem !== undefined) {
        throw this.failure(entry, i, messages.length, 0, `subject ${problem}`, undefined);
      }
      await this.publishOne(subject, entry, data, i, messages.length);
    }
  }

  private async publishOne(
    subject: string,
    entry: AuditEntry,
    data: Uint8Array,
    index: number,
    total: number,
  ): Promise<void> {
    const msgID = `${this.logId}:${entry.seq}`;
    for (let attempt = 1; ; attempt++) {
      const options: NatsPublishOptions = { msgID };
      if (this.timeoutMs !== undefined) options.timeout = this.timeoutMs;
      if (this.expectStream !== undefined) options.expect = { streamName: this.expectStream };
      if (this.headers !== undefined) {
        const h = this.headers();
        h.set('Bulwark-Audit-Log-Id', this.logId);
        h.set('Bulwark-Audit-Seq', String(entry.seq));
        h.set('Bulwark-Audit-Leaf-Hash', entry.leafHash);
        options.headers = h;
      }
      let ack: NatsPubAck;
      try {
        ack = await this.js.publish(subject, data, options);
      } catch (err) {
        this.counters.failedAttempts++;
        if (attempt > this.retries || !isTransient(err)) {
          const code = errorCode(err);
          throw this.failure(entry, index, total, attempt, `NATS error ${code ?? 'unknown'}`, err, code);
        }
        // Exponential backoff with jitter, so instances that failed together do not retry together.
        const base = Math.min(MAX_RETRY_DELAY_MS, this.retryDelayMs * 2 ** (attempt - 1));
        await sleep(base / 2 + Math.random() * (base / 2));
        continue;
      }
      if (ack === null || typeof ack !== 'object' || !Number.isSafeInteger(ack.seq)) {
        this.counters.failedAttempts++;
        throw this.failure(entry, index, total, attempt, 'invalid PubAck', undefined);
      }
      if (ack.duplicate === true) this.counters.duplicates++;
      else this.counters.published++;
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
   * then drains `drainOnClose` if one was given. Later writes fail with `ERR_AUDIT_CLOSED`.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.tail;
      await this.drainTarget?.drain();
    })();
    return this.closing;
  }
}
