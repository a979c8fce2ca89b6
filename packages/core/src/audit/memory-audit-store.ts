import { BulwarkAuditError, ErrorCodes } from '../errors';
import type { AuditEntry, AuditHead, AuditRedaction } from './audit-event';
import {
  AsyncMutex,
  checkAppendContinuity,
  EMPTY_HEAD,
  queryEntriesInMemory,
  redactedEntry,
  type AuditPage,
  type AuditPrepare,
  type AuditStore,
  type NormalizedAuditQuery,
} from './audit-store';

/**
 * In-memory `AuditStore` for tests and short-lived processes. Nothing survives a restart, so it
 * cannot meet a retention requirement on its own.
 */
export class MemoryAuditStore implements AuditStore {
  private readonly entries: AuditEntry[] = [];
  private readonly mutex = new AsyncMutex();
  private closed = false;

  /** Direct access to the stored array, for tests that simulate tampering. */
  get rawEntries(): AuditEntry[] {
    return this.entries;
  }

  async head(): Promise<AuditHead> {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? EMPTY_HEAD : { seq: last.seq, leafHash: last.leafHash };
  }

  append(prepare: AuditPrepare): Promise<AuditEntry[]> {
    return this.mutex.run(async () => {
      this.checkOpen();
      const head = await this.head();
      const batch = await prepare(head);
      checkAppendContinuity(head, batch);
      for (const e of batch) this.entries.push(e);
      return batch;
    });
  }

  async read(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    this.checkOpen();
    return this.entries.slice(Math.max(0, fromSeq - 1), Math.max(0, fromSeq - 1) + limit);
  }

  async query(query: NormalizedAuditQuery): Promise<AuditPage> {
    this.checkOpen();
    return queryEntriesInMemory(this.entries, query);
  }

  redact(seqs: readonly number[], redaction: AuditRedaction): Promise<number> {
    return this.mutex.run(() => {
      this.checkOpen();
      let changed = 0;
      for (const seq of seqs) {
        const i = seq - 1;
        const e = this.entries[i];
        if (e === undefined || e.seq !== seq || e.redacted !== undefined) continue;
        this.entries[i] = redactedEntry(e, redaction);
        changed++;
      }
      return changed;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'audit store is closed');
  }
}
