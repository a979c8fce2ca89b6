import * as fs from 'node:fs';
import * as path from 'node:path';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../errors';
import type { AuditEntry, AuditHead } from './audit-event';
import { EMPTY_HEAD, type AuditPage, type AuditStore, type TornTail } from './audit-store';
import { lockHolder, type InProgressTail } from './file-audit-store';

/** Bytes read per call: large enough for throughput, small enough to keep memory flat. */
const CHUNK = 1 << 20;
/** A byte offset is remembered every this many lines, so a read that jumps back does not rescan all. */
const INDEX_EVERY = 4096;

function readOnly(operation: string): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_READ_ONLY,
    `the JSON-lines log reader is read-only; ${operation} needs FileAuditStore`,
    { operation },
  );
}

/**
 * A read-only, streaming view of a `FileAuditStore` JSON-lines file for verification: memory stays
 * flat whatever the log's size (one read buffer and the page asked for), where `FileAuditStore`
 * holds every entry. `read(seq, n)` streams forward from where the last read stopped (the way
 * `verifyAuditLog` walks a store), seeking back through a sparse index of line offsets when asked
 * for an earlier seq. `head()` reads the last complete line only.
 *
 * The view is of the file as it was at `open`: bytes a writer appends later are not read. A final
 * line without newline is a torn tail (`tornTail`), or, while a live writer holds the lock, a
 * write in progress (`inProgressTail`) that is left out, as with `FileAuditStore`'s read-only mode.
 * A complete line that is not JSON reads as an empty object at its position, so verification
 * reports it there. `query`, `append` and `redact` are not supported.
 */
export class JsonLinesLogReader implements AuditStore {
  readonly path: string;
  readonly #handle: fs.promises.FileHandle;
  /** Bytes of complete lines (the partial final line excluded). */
  readonly #end: number;
  readonly #torn?: TornTail;
  readonly #inProgress?: InProgressTail;
  /** Offsets of lines 1, 1 + INDEX_EVERY, ... as far as the stream has gone. */
  readonly #index: number[] = [0];
  readonly #buffer = Buffer.alloc(CHUNK);
  /** Byte offset of the next unread line, and its seq (1-based line number). */
  #offset = 0;
  #nextSeq = 1;
  #carry: Buffer = Buffer.alloc(0);
  #closed = false;

  private constructor(
    file: string,
    handle: fs.promises.FileHandle,
    end: number,
    torn?: TornTail,
    inProgress?: InProgressTail,
  ) {
    this.path = file;
    this.#handle = handle;
    this.#end = end;
    this.#torn = torn;
    this.#inProgress = inProgress;
  }

  /** Opens an existing log for reading; a missing file is a configuration error (never created). */
  static async open(file: string): Promise<JsonLinesLogReader> {
    const resolved = path.resolve(file);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(resolved, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          `audit.file.path: no audit log at ${resolved}`,
          { path: 'audit.file.path' },
          { cause: err },
        );
      }
      throw new BulwarkAuditError(ErrorCodes.AUDIT_STORE, 'cannot read the audit log file', undefined, {
        cause: err,
      });
    }
    try {
      const size = (await handle.stat()).size;
      const end = await lastNewlineEnd(handle, size);
      if (end === size) return new JsonLinesLogReader(resolved, handle, end);
      const tail = { offset: end, length: size - end };
      const holder = await lockHolder(`${resolved}.lock`);
      return holder?.alive === true
        ? new JsonLinesLogReader(resolved, handle, end, undefined, { ...tail, writerPid: holder.pid })
        : new JsonLinesLogReader(resolved, handle, end, tail);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get tornTail(): TornTail | undefined {
    return this.#torn;
  }

  get inProgressTail(): InProgressTail | undefined {
    return this.#inProgress;
  }

  /** The last complete line's seq and leaf hash (EMPTY_HEAD for an empty log). */
  async head(): Promise<AuditHead> {
    this.#checkOpen();
    if (this.#end === 0) return EMPTY_HEAD;
    const start = await lastNewlineEnd(this.#handle, this.#end - 1);
    const line = Buffer.alloc(this.#end - 1 - start);
    await readFully(this.#handle, line, start);
    const entry = JSON.parse(line.toString('utf8')) as Partial<AuditEntry>;
    if (!Number.isSafeInteger(entry?.seq) || typeof entry.leafHash !== 'string') {
      throw new BulwarkAuditError(ErrorCodes.AUDIT_STORE, 'the last line of the audit log is not an entry');
    }
    return { seq: entry.seq!, leafHash: entry.leafHash };
  }

  async read(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    this.#checkOpen();
    if (fromSeq < 1) fromSeq = 1;
    if (fromSeq !== this.#nextSeq) this.#seek(fromSeq);
    const out: AuditEntry[] = [];
    while (out.length < limit) {
      const seq = this.#nextSeq;
      const line = await this.#nextLine();
      if (line === undefined) break;
      if (seq >= fromSeq) out.push(parseLine(line));
    }
    return out;
  }

  async query(): Promise<AuditPage> {
    throw readOnly('query');
  }

  async append(): Promise<AuditEntry[]> {
    throw readOnly('append');
  }

  async redact(): Promise<number> {
    throw readOnly('redact');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new BulwarkAuditError(ErrorCodes.AUDIT_CLOSED, 'audit log reader is closed');
  }

  /** Moves to the nearest indexed line at or before `seq` (unless streaming on is nearer). */
  #seek(seq: number): void {
    const slot = Math.min(Math.floor((seq - 1) / INDEX_EVERY), this.#index.length - 1);
    const slotSeq = slot * INDEX_EVERY + 1;
    if (seq > this.#nextSeq && slotSeq <= this.#nextSeq) return; // stream forward from here
    this.#offset = this.#index[slot]!;
    this.#nextSeq = slotSeq;
    this.#carry = Buffer.alloc(0);
  }

  /** The next complete line's bytes (without the newline), or undefined at the end. */
  async #nextLine(): Promise<Buffer | undefined> {
    for (;;) {
      const nl = this.#carry.indexOf(0x0a);
      if (nl !== -1) {
        // The carry holds the bytes read ahead of `#offset`: this line starts where it starts.
        const lineStart = this.#offset - this.#carry.length;
        const seq = this.#nextSeq++;
        if ((seq - 1) % INDEX_EVERY === 0 && this.#index.length === (seq - 1) / INDEX_EVERY) {
          this.#index.push(lineStart);
        }
        const line = this.#carry.subarray(0, nl);
        this.#carry = this.#carry.subarray(nl + 1);
        return line;
      }
      if (this.#offset >= this.#end) return undefined;
      const want = Math.min(CHUNK, this.#end - this.#offset);
      const { bytesRead } = await this.#handle.read(this.#buffer, 0, want, this.#offset);
      if (bytesRead === 0) return undefined;
      this.#offset += bytesRead;
      // The carry is at most one partial line plus this chunk; concat copies, so the read buffer
      // can be reused.
      this.#carry = Buffer.concat([this.#carry, this.#buffer.subarray(0, bytesRead)]);
    }
  }
}

function parseLine(line: Buffer): AuditEntry {
  try {
    const entry = JSON.parse(line.toString('utf8')) as AuditEntry;
    if (entry !== null && typeof entry === 'object') return entry;
  } catch {
    // a complete but unparsable line: reported by the verifier at its position
  }
  return {} as AuditEntry;
}

async function readFully(handle: fs.promises.FileHandle, target: Buffer, position: number): Promise<void> {
  let got = 0;
  while (got < target.length) {
    const { bytesRead } = await handle.read(target, got, target.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
}

/** The byte just after the last newline in [0, size) (0 when there is none). */
async function lastNewlineEnd(handle: fs.promises.FileHandle, size: number): Promise<number> {
  const buf = Buffer.alloc(Math.min(64 * 1024, Math.max(size, 1)));
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    const n = end - start;
    await readFully(handle, buf.subarray(0, n), start);
    const at = buf.subarray(0, n).lastIndexOf(0x0a);
    if (at !== -1) return start + at + 1;
    end = start;
  }
  return 0;
}
