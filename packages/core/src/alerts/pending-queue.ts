import { join } from 'node:path';
import { promises as fs } from 'node:fs';
import { AuditSpool, type SpoolRecord } from '../audit/audit-spool';

/** A channel's alerts waiting for a retry, oldest first. */
export interface PendingQueue {
  append(alertJson: string): Promise<void>;
  /** The oldest pending alert's JSON, or undefined. */
  peek(): Promise<string | undefined>;
  /** Removes the alert `peek` returned. */
  ack(): Promise<void>;
  size(): number;
  close(): Promise<void>;
}

/** In memory (lost on restart): the fallback when no spool directory is configured. Bounded. */
export class MemoryPendingQueue implements PendingQueue {
  readonly #items: string[] = [];
  constructor(private readonly max = 1000) {}
  async append(alertJson: string): Promise<void> {
    this.#items.push(alertJson);
    if (this.#items.length > this.max) this.#items.shift();
  }
  async peek(): Promise<string | undefined> {
    return this.#items[0];
  }
  async ack(): Promise<void> {
    this.#items.shift();
  }
  size(): number {
    return this.#items.length;
  }
  async close(): Promise<void> {}
}

/**
 * On disk, through the audit spool (segment files + cursor, crash-safe, bounded): one spool
 * directory per channel, `<dir>/<channel>`, so a receiver that is down never holds back another.
 */
export class SpoolPendingQueue implements PendingQueue {
  #seq = 0;
  #head?: SpoolRecord;
  private constructor(private readonly spool: AuditSpool) {}

  static async open(dir: string, channel: string, maxBytes: number): Promise<SpoolPendingQueue> {
    const sub = join(dir, channel);
    await fs.mkdir(sub, { recursive: true, mode: 0o700 });
    const spool = await AuditSpool.open({ dir: sub, maxBytes, onFull: 'drop-oldest', fsync: 'always' });
    return new SpoolPendingQueue(spool);
  }

  async append(alertJson: string): Promise<void> {
    // seq only orders lines inside this spool; the alert id inside the JSON identifies the alert.
    await this.spool.append([{ seq: ++this.#seq, subject: 'alert', data: alertJson }]);
  }

  async peek(): Promise<string | undefined> {
    for (;;) {
      const [record] = await this.spool.peek(1);
      if (record === undefined) return undefined;
      if (record.corrupt !== true) {
        this.#head = record;
        return record.data;
      }
      await this.spool.ack([record]); // a corrupt line can never be delivered: skip it
    }
  }

  async ack(): Promise<void> {
    if (this.#head !== undefined) await this.spool.ack([this.#head]);
    this.#head = undefined;
  }

  size(): number {
    return this.spool.stats().pending;
  }

  close(): Promise<void> {
    return this.spool.close();
  }
}
