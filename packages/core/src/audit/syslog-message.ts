import { hostname } from 'node:os';
import type { AuditEntry } from './audit-event';
import { auditRisk, auditSeverity, type AuditSeverity } from './audit-severity';

// RFC 5424 syslog: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ELEMENT] MSG`.

export interface SyslogOptions {
  /** Facility (0-23). Default 10 (security/authorization, authpriv). 13 is "log audit". */
  facility?: number;
  /** HOSTNAME field (≤ 255 printable ASCII). Default the OS host name. */
  hostname?: string;
  /** APP-NAME field (≤ 48). Default `bulwark`. */
  appName?: string;
  /**
   * Private Enterprise Number of the structured-data id `audit@<PEN>`. Default 32473, the number
   * RFC 5612 reserves for documentation: set your organisation's own.
   */
  enterpriseId?: number;
}

/** RFC 5424 §6.2.1 severities: critical 2, high 3 (error), medium 4 (warning), low 6 (informational). */
const SYSLOG_SEVERITY: Readonly<Record<AuditSeverity, number>> = { critical: 2, high: 3, medium: 4, low: 6 };

/** RFC 5424 §6: header fields are PRINTUSASCII (33-126) with a length cap; empty becomes NILVALUE. */
function header(value: string | undefined, max: number): string {
  const v = (value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return v === '' ? '-' : v;
}

/** RFC 5424 §6.3.3: in PARAM-VALUE, '"', '\' and ']' are escaped with a backslash. */
function param(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** One audit entry as an RFC 5424 message (no trailing newline; the transport frames it). */
export function toSyslog(entry: AuditEntry, options: SyslogOptions = {}): string {
  const facility = options.facility ?? 10;
  const severity = auditSeverity(entry);
  const pri = facility * 8 + SYSLOG_SEVERITY[severity];
  const pen = options.enterpriseId ?? 32473;
  const params: [string, string | number | undefined][] = [
    ['seq', entry.seq],
    ['action', entry.action],
    ['outcome', entry.outcome],
    ['severity', severity],
    ['category', entry.category],
    ['actorId', entry.actor?.id],
    ['actorType', entry.actor?.type],
    ['ip', entry.actor?.ip],
    ['resourceType', entry.resource?.type],
    ['resourceId', entry.resource?.id],
    ['requestId', entry.requestId],
    ['risk', auditRisk(entry)],
    ['leafHash', entry.leafHash],
  ];
  const sd = `[audit@${pen}${params
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${param(String(v))}"`)
    .join('')}]`;
  const msg =
    entry.redacted !== undefined
      ? 'audit entry (redacted)'
      : (entry.reason ?? `${entry.action} ${entry.outcome}`);
  return [
    `<${pri}>1`,
    entry.time,
    header(options.hostname ?? hostname(), 255),
    header(options.appName ?? 'bulwark', 48),
    header(String(process.pid), 128),
    header(entry.action ?? 'redacted', 32),
    sd,
    // MSG: UTF-8 text, marked by the BOM as RFC 5424 §6.4 asks for MSG-UTF8.
    `\uFEFF${msg.replace(/[\r\n]+/g, ' ')}`,
  ].join(' ');
}
