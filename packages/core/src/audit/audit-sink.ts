import type { AuditEntry } from './audit-event';

/**
 * Receives entries after they are durable in the store, in seq order, one batch at a time (a
 * structured log stream, a message bus). A sink failure never un-logs an event: it is reported
 * through `AuditLogOptions.onSinkError`, and the store stays the source of truth.
 */
export interface AuditSink {
  write(entries: readonly AuditEntry[]): Promise<void> | void;
  close?(): Promise<void> | void;
}
