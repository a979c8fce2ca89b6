import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../errors';
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
  type TornTail,
} from './audit-store';

/**
 * When appended data is forced to stable storage:
 * - `every-append`: fsync before an append resolves (default; group commit makes one fsync cover
 *   a whole batch). An acknowledged event survives power loss.
 * - `{ intervalMs }`: fsync at most every `intervalMs` and on close; a crash can lose the last
 *   interval of acknowledged events (the chain stays valid, it is just shorter).
 * - `none`: leave it to the OS page cache. Only for tests or logs replicated elsewhere.
 */
export type FsyncPolicy = 'every-append' | 'none' | { intervalMs: number };

export interface FileAuditStoreOptions {
  /** The JSON-lines log file (created if missing). `<path>.lock` is the writer lock. */
  path: string;
  fsync?: FsyncPolicy;
}

// The callback API is used through the module object (not destructured) so tests can spy on fsync.
function fsCall<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}
const fsync = (fd: number) => fsCall<void>((cb) => fs.fsync(fd, cb));
const closeFd = (fd: number) => fsCall<void>((cb) => fs.close(fd, cb));
const openFd = (file: string, flags: string, mode?: number) =>
  fsCall<number>((cb) => fs.open(file, flags, mode, cb));
async function writeAll(fd: number, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    off += await fsCall<number>((cb) => fs.write(fd, data, off, data.length - off, null, cb));
  }
}

function storeError(message: string, cause?: unknown, details?: Record<string, unknown>): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_STORE,
    message,
    details,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Append-only JSON-lines `AuditStore`: one entry per line, written with O_APPEND.
 *
 * Single writer: `open()` takes `<path>.lock` (O_EXCL, holding the pid) and fails with
 * ERR_AUDIT_STORE_LOCKED while another live process holds it; a lock left by a dead process on
 * this host is taken over. For several writer processes use a SQL store.
 *
 * Crash safety: a batch is written as whole lines and acknowledged after the write (and fsync per
 * policy). A crash mid-write leaves a final line without newline: `open()` reports it as
 * `tornTail` and appends are refused (ERR_AUDIT_TORN_TAIL) until `repair()` moves those bytes to
 * `<path>.torn-<time>` and truncates them. Such a line was never acknowledged, so no accepted
 * event is lost, and every earlier entry still verifies.
 *
 * All entries are also held in memory (for reads and queries), so this store suits logs of up to
 * a few million entries; beyond that use a SQL store.
 */
export class FileAuditStore implements AuditStore {
  readonly path: string;
  private readonly lockPath: string;
  private readonly policy: FsyncPolicy;
  private entries: AuditEntry[] = [];
  private fd = -1;
  private torn?: TornTail;
  private damagedLine?: number;
  private failed?: unknown;
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly mutex = new AsyncMutex();

  private constructor(options: FileAuditStoreOptions) {
    this.path = path.resolve(options.path);
    this.lockPath = `${this.path}.lock`;
    this.policy = options.fsync ?? 'every-append';
  }

  /** Opens (or creates) the log, takes the writer lock and loads existing entries. */
  static async open(options: FileAuditStoreOptions): Promise<FileAuditStore> {
    if (
      options === null ||
      typeof options !== 'object' ||
      typeof options.path !== 'string' ||
      options.path === ''
    ) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit.file.path must be a non-empty string', {
        path: 'audit.file.path',
      });
    }
    const p = options.fsync ?? 'every-append';
    if (
      p !== 'every-append' &&
      p !== 'none' &&
      !(typeof p === 'object' && p !== null && Number.isInteger(p.intervalMs) && p.intervalMs > 0)
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        "audit.file.fsync must be 'every-append', 'none' or { intervalMs: positive integer }",
        { path: 'audit.file.fsync' },
      );
    }
    const store = new FileAuditStore(options);
    await fs.promises.mkdir(path.dirname(store.path), { recursive: true });
    await store.lock();
    try {
      await store.load();
      store.fd = await openFd(store.path, 'a', 0o600);
    } catch (err) {
      await fs.promises.rm(store.lockPath, { force: true });
      throw err instanceof BulwarkAuditError ? err : storeError('cannot open the audit log file', err);
    }
    if (typeof p === 'object') {
      store.timer = setInterval(
        () => void store.mutex.run(() => store.syncIfDirty()).catch(() => undefined),
        p.intervalMs,
      );
      store.timer.unref();
    }
    return store;
  }

  /** A partial final line found at open (crash mid-write), until `repair()`. */
  get tornTail(): TornTail | undefined {
    return this.torn;
  }

  private async lock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await fs.promises.open(this.lockPath, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
          throw storeError('cannot create the audit lock file', err);
      }
      const pid = Number((await fs.promises.readFile(this.lockPath, 'utf8').catch(() => '')).trim());
      let alive = true;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive || attempt > 0) {
        throw new BulwarkAuditError(
          ErrorCodes.AUDIT_STORE_LOCKED,
          `audit log is locked by another writer (${path.basename(this.lockPath)}); one process may append to a file store`,
          { pid: Number.isInteger(pid) ? pid : undefined },
        );
      }
      await fs.promises.rm(this.lockPath, { force: true }); // stale: its process is gone
    }
  }

  private async load(): Promise<void> {
    let data: Buffer;
    try {
      data = await fs.promises.readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const entries: AuditEntry[] = [];
    let start = 0;
    let line = 0;
    while (start < data.length) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) {
        this.torn = { offset: start, length: data.length - start };
        break;
      }
      line++;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(data.toString('utf8', start, nl)) as AuditEntry;
        if (entry === null || typeof entry !== 'object') throw new Error('not an object');
      } catch {
        // A complete but unparsable line is damage, not a crash artefact. Keep a placeholder so
        // verification reports it at its position; appends are refused.
        this.damagedLine ??= line;
        entry = {} as AuditEntry;
      }
      entries.push(entry);
      start = nl + 1;
    }
    this.entries = entries;
  }

  async head(): Promise<AuditHead> {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? EMPTY_HEAD : { seq: last.seq, leafHash: last.leafHash };
  }

  append(prepare: AuditPrepare): Promise<AuditEntry[]> {
    return this.mutex.run(async () => {
      this.checkWritable();
      const head = await this.head();
      const batch = await prepare(head);
      checkAppendContinuity(head, batch);
      if (batch.length === 0) return batch;
      const data = Buffer.from(batch.map((e) => JSON.stringify(e)).join('\n') + '\n', 'utf8');
      try {
        this.dirty = true;
        await writeAll(this.fd, data);
        if (this.policy === 'every-append') await this.syncIfDirty();
      } catch (err) {
        // The file may now end in a partial line; stop writing (fail closed). Reopening detects it.
        this.failed = err;
        throw storeError(
          'writing the audit log failed; the store refuses further appends until reopened',
          err,
        );
      }
      for (const e of batch) this.entries.push(e);
      return batch;
    });
  }

  async read(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    this.checkOpen();
    const start = Math.max(0, fromSeq - 1);
    return this.entries.slice(start, start + limit);
  }

  async query(query: NormalizedAuditQuery): Promise<AuditPage> {
    this.checkOpen();
    return queryEntriesInMemory(this.entries, query);
  }

  /** Rewrites the file without the redacted content (temp file, fsync, rename, fsync directory). */
  redact(seqs: readonly number[], redaction: AuditRedaction): Promise<number> {
    return this.mutex.run(async () => {
      this.checkWritable();
      const next = this.entries.slice();
      let changed = 0;
      for (const seq of seqs) {
        const e = next[seq - 1];
        if (e === undefined || e.seq !== seq || e.redacted !== undefined) continue;
        next[seq - 1] = redactedEntry(e, redaction);
        changed++;
      }
      if (changed === 0) return 0;
      await this.rewrite(next);
      this.entries = next;
      return changed;
    });
  }

  private async rewrite(entries: readonly AuditEntry[]): Promise<void> {
    const dir = path.dirname(this.path);
    const tmp = path.join(dir, `.${path.basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const fd = await openFd(tmp, 'wx', 0o600);
      try {
        const chunk: string[] = [];
        for (const e of entries) {
          chunk.push(JSON.stringify(e));
          if (chunk.length === 1000) {
            await writeAll(fd, Buffer.from(chunk.join('\n') + '\n'));
            chunk.length = 0;
          }
        }
        if (chunk.length > 0) await writeAll(fd, Buffer.from(chunk.join('\n') + '\n'));
        await fsync(fd);
      } finally {
        await closeFd(fd);
      }
      await closeFd(this.fd);
      this.fd = -1;
      await fs.promises.rename(tmp, this.path);
      const dfd = await openFd(dir, 'r');
      try {
        await fsync(dfd);
      } finally {
        await closeFd(dfd);
      }
      this.fd = await openFd(this.path, 'a', 0o600);
      this.dirty = false;
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      if (this.fd === -1) this.failed = err;
      throw storeError('rewriting the audit log failed', err);
    }
  }

  /**
   * Moves a torn final line to `<path>.torn-<epoch ms>` (kept as evidence) and truncates it from
   * the log, so appends can resume. A no-op without a torn tail.
   */
  repair(): Promise<{ bytes: number; movedTo?: string }> {
    return this.mutex.run(async () => {
      this.checkOpen();
      const torn = this.torn;
      if (torn === undefined) return { bytes: 0 };
      const movedTo = `${this.path}.torn-${Date.now()}`;
      const all = await fs.promises.readFile(this.path);
      const fd = await openFd(movedTo, 'wx', 0o600);
      try {
        await writeAll(fd, all.subarray(torn.offset));
        await fsync(fd);
      } finally {
        await closeFd(fd);
      }
      await fs.promises.truncate(this.path, torn.offset);
      await fsync(this.fd);
      this.torn = undefined;
      return { bytes: torn.length, movedTo };
    });
  }

  private async syncIfDirty(): Promise<void> {
    if (!this.dirty || this.fd === -1) return;
    this.dirty = false;
    await fsync(this.fd);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.mutex.run(async () => {
      if (this.closed) return;
      this.closed = true;
      if (this.timer !== undefined) clearInterval(this.timer);
      try {
        if (this.failed === undefined) await this.syncIfDirty();
      } finally {
        if (this.fd !== -1) await closeFd(this.fd).catch(() => undefined);
        this.fd = -1;
        await fs.promises.rm(this.lockPath, { force: true });
      }
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'audit store is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.failed !== undefined) {
      throw storeError(
        'an earlier write failed; reopen the store (it will detect a torn tail) before appending',
      );
    }
    if (this.torn !== undefined) {
      throw new BulwarkAuditError(
        ErrorCodes.AUDIT_TORN_TAIL,
        'audit log ends with a partial line from an interrupted write; call repair() before appending',
        { offset: this.torn.offset, length: this.torn.length },
      );
    }
    if (this.damagedLine !== undefined) {
      throw storeError(
        `audit log line ${this.damagedLine} is not valid JSON; verify the log and restore it from backup`,
        undefined,
        {
          line: this.damagedLine,
        },
      );
    }
  }
}
