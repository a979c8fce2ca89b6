import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { AuditEntry } from './audit-event';
import type { AuditSink } from './audit-sink';
import { toOcsf, type OcsfOptions } from './ocsf-event';
import { toSyslog, type SyslogOptions } from './syslog-message';
import { configError } from '../util/options';

/** Line format: pino-compatible Bulwark JSON, an OCSF 1.2 event, or an RFC 5424 syslog message. */
export type AuditSinkFormat = 'bulwark' | 'ocsf' | 'syslog';

export interface JsonLinesSinkOptions {
  /** pino level number; default 30 (info). Failures and denials use `alertLevel`. */
  level?: number;
  /** Level for outcome failure/denied; default 40 (warn). */
  alertLevel?: number;
  /** Message; default `audit <action>`. */
  msg?: (entry: AuditEntry) => string;
  /** Close the stream on `close()`; default false (stdout must stay open). */
  end?: boolean;
  /** Default `bulwark`. `ocsf` leaves redacted entries out (no content to map). */
  format?: AuditSinkFormat;
  /** Options of the `ocsf` format. */
  ocsf?: OcsfOptions;
  /** Options of the `syslog` format. */
  syslog?: SyslogOptions;
}

/**
 * Writes each entry as one pino-compatible JSON line: `{"level":30,"time":<epoch ms>,"msg":...,
 * "audit":{...entry}}`, so log shippers that understand pino (pino-pretty, pino transports,
 * Datadog / Loki pipelines) take it as is. The entry is nested under `audit` so its ISO `time`
 * does not clash with pino's epoch `time`. Respects stream back-pressure.
 */
export class JsonLinesSink implements AuditSink {
  private readonly level: number;
  private readonly alertLevel: number;
  private readonly msg: (entry: AuditEntry) => string;
  private readonly format: AuditSinkFormat;

  constructor(
    private readonly stream: Writable,
    private readonly options: JsonLinesSinkOptions = {},
  ) {
    this.level = options.level ?? 30;
    this.alertLevel = options.alertLevel ?? 40;
    this.msg =
      options.msg ?? ((e) => (e.redacted === undefined ? `audit ${e.action}` : 'audit entry (redacted)'));
    this.format = options.format ?? 'bulwark';
    if (!['bulwark', 'ocsf', 'syslog'].includes(this.format)) {
      throw configError('audit.sinks[].format', "must be 'bulwark', 'ocsf' or 'syslog'");
    }
  }

  /** One entry as a line (without the newline), or undefined when the format skips it. */
  line(e: AuditEntry): string | undefined {
    if (this.format === 'ocsf') {
      const event = toOcsf(e, this.options.ocsf);
      return event === undefined ? undefined : JSON.stringify(event);
    }
    if (this.format === 'syslog') return toSyslog(e, this.options.syslog);
    const level = e.outcome === 'failure' || e.outcome === 'denied' ? this.alertLevel : this.level;
    return JSON.stringify({ level, time: Date.parse(e.time), msg: this.msg(e), audit: e });
  }

  async write(entries: readonly AuditEntry[]): Promise<void> {
    let chunk = '';
    for (const e of entries) {
      const line = this.line(e);
      if (line !== undefined) chunk += `${line}\n`;
    }
    if (chunk === '') return;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    if (this.options.end === true) {
      const done = once(this.stream, 'finish');
      this.stream.end();
      await done;
    }
  }
}
