import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BulwarkAuditError, BulwarkConfigError, BulwarkError, ErrorCodes } from '../errors';
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
  /**
   * Open for reading only (verify, prove, tail, export next to a running writer): no lock file,
   * no write handle, the file must already exist. `append`, `redact` and `repair` throw
   * ERR_AUDIT_READ_ONLY. A final line without newline while a live writer holds the lock is a
   * write in progress (`inProgressTail`), not a torn tail; with no live writer it is a torn tail
   * as usual. `refresh()` picks up what the writer appended since.
   */
  readOnly?: boolean;
  /**
   * On open, repair a torn tail (a final line without newline left by a crash or a full disk)
   * instead of refusing appends until `repair()` is called: the partial line is moved to
   * `<path>.torn-<epoch ms>` and cut off (`repairedOnOpen` says what was done). The line was never
   * acknowledged, so no accepted event is lost. Default false: an operator decides (`bulwark audit
   * repair` makes a backup first). Ignored with `readOnly`.
   */
  repairTornTail?: boolean;
}

/** What `repair()` did: bytes cut off the end, and where they were kept. */
export interface TornTailRepair {
  bytes: number;
  /** Byte offset the log was cut at (its new size). */
  offset?: number;
  movedTo?: string;
}

/**
 * The pid in a file store's lock file and whether that process is alive (EPERM: alive, not ours
 * to signal); undefined without a lock file. Internal (also read by JsonLinesLogReader).
 */
export async function lockHolder(lockPath: string): Promise<{ pid?: number; alive: boolean } | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(lockPath, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { alive: true }; // being written right now
  if (pid === process.pid) return { pid, alive: true };
  try {
    process.kill(pid, 0);
    return { pid, alive: true };
  } catch (err) {
    return { pid, alive: (err as NodeJS.ErrnoException).code === 'EPERM' };
  }
}

/** A partial final line seen by a read-only store while a live writer holds the lock. */
export interface InProgressTail extends TornTail {
  /** The pid in the lock file (the writer still writing that line). */
  writerPid?: number;
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

function readOnlyError(operation: string): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_READ_ONLY,
    `audit store is open read-only; ${operation} needs the writer (open it without readOnly)`,
    { operation },
  );
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** A full disk (or quota) gets its own code: the remedy is to free space, not to look for damage. */
function ioError(message: string, cause: unknown, operation: string): BulwarkAuditError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && NO_SPACE.has(code)) {
    return new BulwarkAuditError(
      ErrorCodes.AUDIT_NO_SPACE,
      `${message}: no space left on the audit log's disk (${code}); free space, then run repair (bulwark audit repair)`,
      { operation, errno: code },
      { cause },
    );
  }
  return storeError(message, cause, code === undefined ? { operation } : { operation, errno: code });
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
 * Readers: `open({ path, readOnly: true })` takes no lock and never writes, so any number of
 * readers may verify or export the file while the one writer appends. The writer only appends
 * whole lines and replaces the file by rename when redacting, so a reader sees every complete line
 * as written; the only thing it can catch half-done is the last line, see `inProgressTail`.
 *
 * All entries are also held in memory (for reads and queries), so this store suits logs of up to
 * a few million entries; beyond that use a SQL store.
 */
export class FileAuditStore implements AuditStore {
  readonly path: string;
  private readonly lockPath: string;
  private readonly policy: FsyncPolicy;
  /** Opened with `readOnly: true`: no lock held, no write handle. */
  readonly readOnly: boolean;
  private entries: AuditEntry[] = [];
  private fd = -1;
  private torn?: TornTail;
  private inProgress?: InProgressTail;
  /** Read-only: bytes of complete lines loaded so far, and the file's identity (a rename replaces it). */
  private loadedBytes = 0;
  private fileId = '';
  private lines = 0;
  private damagedLine?: number;
  private failed?: unknown;
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly mutex = new AsyncMutex();
  #repairedOnOpen?: TornTailRepair;

  private constructor(options: FileAuditStoreOptions) {
    this.path = path.resolve(options.path);
    this.lockPath = `${this.path}.lock`;
    this.policy = options.fsync ?? 'every-append';
    this.readOnly = options.readOnly === true;
  }

  /**
   * Opens (or creates) the log, takes the writer lock and loads existing entries; with
   * `readOnly: true` only loads an existing log (no lock, nothing created).
   */
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
    if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit.file.readOnly must be a boolean', {
        path: 'audit.file.readOnly',
      });
    }
    if (options.repairTornTail !== undefined && typeof options.repairTornTail !== 'boolean') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit.file.repairTornTail must be a boolean', {
        path: 'audit.file.repairTornTail',
      });
    }
    const store = new FileAuditStore(options);
    if (store.readOnly) {
      try {
        await store.load();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // A reader must not create the log: verifying a mistyped path must not pass as "0 entries".
          throw new BulwarkConfigError(
            ErrorCodes.CONFIG_INVALID,
            `audit.file.path: no audit log at ${store.path}`,
            { path: 'audit.file.path' },
            { cause: err },
          );
        }
        throw err instanceof BulwarkError ? err : storeError('cannot read the audit log file', err);
      }
      return store;
    }
    await fs.promises.mkdir(path.dirname(store.path), { recursive: true });
    await store.lock();
    try {
      await store.load();
      store.fd = await openFd(store.path, 'a', 0o600);
    } catch (err) {
      await fs.promises.rm(store.lockPath, { force: true });
      throw err instanceof BulwarkAuditError ? err : storeError('cannot open the audit log file', err);
    }
    if (options.repairTornTail === true && store.torn !== undefined) {
      try {
        store.#repairedOnOpen = await store.repair();
      } catch (err) {
        await store.close();
        throw err;
      }
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

  /**
   * Read-only stores: a partial final line that a live writer is still writing, left out of the
   * entries (it is not yet an acknowledged event). Undefined when the file ends cleanly.
   */
  get inProgressTail(): InProgressTail | undefined {
    return this.inProgress;
  }

  /** The pid in `<path>.lock` and whether that process is alive (EPERM: alive, not ours to signal). */
  private lockHolder(): Promise<{ pid?: number; alive: boolean } | undefined> {
    return lockHolder(this.lockPath);
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
      const holder = (await this.lockHolder()) ?? { alive: true };
      if (holder.alive || attempt > 0) {
        throw new BulwarkAuditError(
          ErrorCodes.AUDIT_STORE_LOCKED,
          `audit log is locked by another writer (${path.basename(this.lockPath)}); one process may append to a file store`,
          { pid: holder.pid },
        );
      }
      await fs.promises.rm(this.lockPath, { force: true }); // stale: its process is gone
    }
  }

  private async load(): Promise<void> {
    let data: Buffer;
    let id = '';
    if (this.readOnly) {
      // One handle for stat and read, so the identity and the bytes are of the same file.
      const handle = await fs.promises.open(this.path, 'r');
      try {
        const st = await handle.stat();
        id = `${st.dev}:${st.ino}`;
        data = await handle.readFile();
      } finally {
        await handle.close();
      }
    } else {
      try {
        data = await fs.promises.readFile(this.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
    }
    this.entries = [];
    this.lines = 0;
    this.damagedLine = undefined;
    this.fileId = id;
    await this.parse(data, 0);
  }

  /** Parses complete lines of `data` (the file from byte `base` on) into entries. */
  private async parse(data: Buffer, base: number): Promise<void> {
    let start = 0;
    this.torn = undefined;
    this.inProgress = undefined;
    while (start < data.length) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) {
        const tail = { offset: base + start, length: data.length - start };
        const holder = this.readOnly ? await this.lockHolder() : undefined;
        // A reader next to a live writer may catch a batch half-written: that line is not yet an
        // acknowledged event, so leave it out instead of calling it damage. Without a live
        // writer nobody will finish it: it is a torn tail, reported as on a writer's open.
        if (holder?.alive === true) this.inProgress = { ...tail, writerPid: holder.pid };
        else this.torn = tail;
        break;
      }
      this.lines++;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(data.toString('utf8', start, nl)) as AuditEntry;
        if (entry === null || typeof entry !== 'object') throw new Error('not an object');
      } catch {
        // A complete but unparsable line is damage, not a crash artefact. Keep a placeholder so
        // verification reports it at its position; appends are refused.
        this.damagedLine ??= this.lines;
        entry = {} as AuditEntry;
      }
      this.entries.push(entry);
      start = nl + 1;
    }
    this.loadedBytes = base + start;
  }

  /**
   * Read-only stores: loads what the writer appended since the last load (or the whole file again
   * when the writer replaced it, e.g. after a redaction). Resolves with the number of entries.
   * On a writer store this is a no-op: it already holds everything it wrote.
   */
  refresh(): Promise<number> {
    return this.mutex.run(async () => {
      this.checkOpen();
      if (this.readOnly) {
        try {
          if (!(await this.readAppended())) await this.load();
        } catch (err) {
          throw err instanceof BulwarkError ? err : storeError('cannot read the audit log file', err);
        }
      }
      return this.entries.length;
    });
  }

  /** Parses the bytes after `loadedBytes`; false when the file was replaced or shrank (reload). */
  private async readAppended(): Promise<boolean> {
    const handle = await fs.promises.open(this.path, 'r');
    try {
      const st = await handle.stat();
      if (`${st.dev}:${st.ino}` !== this.fileId || st.size < this.loadedBytes) return false;
      const data = Buffer.alloc(st.size - this.loadedBytes);
      let got = 0;
      while (got < data.length) {
        const { bytesRead } = await handle.read(data, got, data.length - got, this.loadedBytes + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      await this.parse(data.subarray(0, got), this.loadedBytes);
      return true;
    } finally {
      await handle.close();
    }
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
        throw ioError(
          'writing the audit log failed; the store refuses further appends until repaired or reopened',
          err,
          'append',
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
   * the log, so appends can resume. A no-op without a torn tail. After a failed write in this
   * process (a full disk), it first re-reads the file to find what the write left, so a running
   * application recovers without a restart. Errors are typed: ERR_AUDIT_NO_SPACE when the disk is
   * still full (nothing was changed), ERR_AUDIT_STORE otherwise.
   */
  repair(): Promise<TornTailRepair> {
    return this.mutex.run(async () => {
      this.checkOpen();
      if (this.readOnly) throw readOnlyError('repair');
      if (this.failed !== undefined) {
        try {
          await this.load();
        } catch (err) {
          throw ioError('re-reading the audit log for repair failed', err, 'repair');
        }
        this.failed = undefined;
      }
      const torn = this.torn;
      if (torn === undefined) return { bytes: 0 };
      const movedTo = `${this.path}.torn-${Date.now()}`;
      try {
        const all = await fs.promises.readFile(this.path);
        const fd = await openFd(movedTo, 'wx', 0o600);
        try {
          await writeAll(fd, all.subarray(torn.offset));
          await fsync(fd);
        } finally {
          await closeFd(fd);
        }
      } catch (err) {
        // The evidence copy could not be made: leave the log as it is (still refusing appends).
        await fs.promises.rm(movedTo, { force: true }).catch(() => undefined);
        throw ioError('keeping the torn tail before repair failed; the log was not changed', err, 'repair');
      }
      try {
        await fs.promises.truncate(this.path, torn.offset);
        if (this.fd !== -1) await fsync(this.fd);
        else this.fd = await openFd(this.path, 'a', 0o600);
      } catch (err) {
        throw ioError('truncating the torn tail failed', err, 'repair');
      }
      this.torn = undefined;
      return { bytes: torn.length, offset: torn.offset, movedTo };
    });
  }

  /** What `repairTornTail: true` repaired when the store was opened. */
  get repairedOnOpen(): TornTailRepair | undefined {
    return this.#repairedOnOpen;
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
        // A reader never took the lock: the file there belongs to the writer.
        if (!this.readOnly) await fs.promises.rm(this.lockPath, { force: true });
      }
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'audit store is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw readOnlyError('appending or redacting');
    if (this.failed !== undefined) {
      throw storeError(
        'an earlier write failed; call repair() (or reopen the store) before appending',
        undefined,
        { operation: 'append' },
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
