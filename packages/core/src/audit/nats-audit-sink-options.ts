import type { BulwarkAuditError } from '../errors';
import type { AuditEntry } from './audit-event';
import type { AuditSpoolFsync, AuditSpoolOnFull } from './audit-spool';
import type { AuditSinkFormat } from './json-lines-sink';
import type { OcsfOptions } from './ocsf-event';
import type { SyslogOptions } from './syslog-message';

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
  /**
   * Payload format: `bulwark` (default: the entry's RFC 8785 canonical JSON, whose leaf hash a
   * consumer can recompute), `ocsf` (an OCSF 1.2 event, see `toOcsf`) or `syslog` (an RFC 5424
   * line, see `toSyslog`), for SIEMs that read the bus directly. Message ids stay `<logId>:<seq>`.
   */
  format?: AuditSinkFormat;
  /** Options of the `ocsf` format. */
  ocsf?: OcsfOptions;
  /** Options of the `syslog` format. */
  syslog?: SyslogOptions;
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
