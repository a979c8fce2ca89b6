import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { BulwarkAuditError, ErrorCodes } from '../errors';

/** What the spool does when an append would pass `maxBytes`. */
export type AuditSpoolOnFull = 'drop-oldest' | 'refuse';

/**
 * When spooled bytes reach the disk: `'always'` fsyncs each append (and the delivery cursor)
 * before it resolves, so a spooled batch survives a power loss; `'never'` leaves it to the OS
 * (survives a process crash, not a power loss) and is faster.
 */
export type AuditSpoolFsync = 'always' | 'never';

export interface AuditSpoolOptions {
  /** Directory holding the segment files and the cursor. Created (mode 0700) if missing. One spool per directory. */
  dir: string;
  /** Upper bound on the segment files' total size. Default 64 MiB. */
  maxBytes: number;
  onFull: AuditSpoolOnFull;
  fsync: AuditSpoolFsync;
  /** Rotate to a new segment past this size. Default min(1 MiB, maxBytes / 4). */
  segmentBytes?: number;
  /** Time source for the spooled-at stamp (oldest-age evidence). */
  now?: () => number;
}

/** One spooled message: the subject and payload the sink will publish, keyed by the entry's seq. */
export interface SpoolRecord {
  seq: number;
  subject: string;
  /** The payload as text (RFC 8785 canonical JSON: one line, no raw newline). */
  data: string;
  /** Epoch ms when it was spooled. */
  spooledAt: number;
  /** Bytes of its line in the segment file. */
  size: number;
  /** The line did not parse (disk corruption): nothing to deliver, acknowledge and report it. */
  corrupt?: true;
}

export interface AuditSpoolStats {
  /** Records spooled and not yet delivered. */
  pending: number;
  /** Bytes of the segment files on disk. */
  bytes: number;
  /** Epoch ms when the oldest pending record was spooled (undefined when empty). */
  oldestSpooledAt?: number;
  /** Records spooled since open. */
  spooled: number;
  /** Records discarded by 'drop-oldest' (never delivered). */
  dropped: number;
  /** Records refused by 'refuse' (never spooled). */
  refused: number;
  /** Partial lines found at open (a crash mid-append, before that append was acknowledged) and removed. */
  tornDiscarded: number;
}

interface Segment {
  id: number;
  path: string;
  bytes: number;
  /** Records in this segment from its read offset on. */
  pending: number;
}

const SEGMENT_RE = /^(\d{16})\.spool$/;
const CURSOR_FILE = 'cursor.json';
const LOCK_FILE = 'spool.lock';
const NL = 0x0a;

function segmentName(id: number): string {
  return `${String(id).padStart(16, '0')}.spool`;
}

function encode(record: Omit<SpoolRecord, 'size'>): string {
  // `<spooledAt> <seq> <subject> <payload>\n`: subjects and the canonical payload hold no whitespace
  // that matters here (subjects none at all, the payload no raw newline), so a line splits cleanly.
  return `${record.spooledAt} ${record.seq} ${record.subject} ${record.data}\n`;
}

function decode(line: string, size: number): SpoolRecord | undefined {
  const a = line.indexOf(' ');
  const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
  const c = b < 0 ? -1 : line.indexOf(' ', b + 1);
  if (c < 0) return undefined;
  const spooledAt = Number(line.slice(0, a));
  const seq = Number(line.slice(a + 1, b));
  if (!Number.isSafeInteger(spooledAt) || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { spooledAt, seq, subject: line.slice(b + 1, c), data: line.slice(c + 1), size };
}

function spoolError(message: string, cause?: unknown, details?: Record<string, unknown>): BulwarkAuditError {
  return new BulwarkAuditError(
    ErrorCodes.AUDIT_SINK,
    message,
    details,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A bounded, append-only, on-disk FIFO of messages waiting for the bus (NatsAuditSink's spool).
 *
 * Layout: numbered segment files (`0000000000000001.spool`, ...) of newline-terminated records,
 * plus `cursor.json` holding the segment and byte offset of the first undelivered record. Appends
 * go to the newest segment; delivery reads from the cursor; a segment fully delivered is deleted.
 * A crash can leave a partial last line (an append that was never acknowledged): `open()` cuts it.
 * A crash between a delivery and the cursor write re-delivers a few records, which the bus drops
 * by message id (and consumers by seq).
 *
 * Every operation runs on one internal queue, so appends, reads and acknowledgements never
 * interleave on the files.
 */
export class AuditSpool {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly onFull: AuditSpoolOnFull;
  private readonly fsyncAlways: boolean;
  private readonly segmentBytes: number;
  private readonly now: () => number;
  private segments: Segment[] = [];
  /** Byte offset of the first undelivered record in segments[0]. */
  private offset = 0;
  private oldestAt?: number;
  private queue: Promise<unknown> = Promise.resolve();
  /** Appends accepted by `append()` whose write has not finished: they count as pending already. */
  private inFlight = 0;
  /** Bumped when 'drop-oldest' deletes segments: an `ack` for records peeked before is void. */
  private epoch = 0;
  private peekedEpoch = -1;
  private readonly counters = { spooled: 0, dropped: 0, refused: 0, tornDiscarded: 0 };
  private locked = false;

  private constructor(options: AuditSpoolOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.onFull = options.onFull;
    this.fsyncAlways = options.fsync === 'always';
    this.segmentBytes = Math.max(
      1024,
      Math.min(options.segmentBytes ?? 1024 * 1024, Math.floor(options.maxBytes / 4)),
    );
    this.now = options.now ?? Date.now;
  }

  /** Opens (creating if needed) the spool in `options.dir`, cutting a torn last line. */
  static async open(options: AuditSpoolOptions): Promise<AuditSpool> {
    const spool = new AuditSpool(options);
    try {
      await spool.load();
    } catch (err) {
      await spool.close().catch(() => undefined);
      if (err instanceof BulwarkAuditError) throw err;
      throw spoolError('the audit spool directory could not be opened', err, {
        errno: (err as NodeJS.ErrnoException)?.code,
      });
    }
    return spool;
  }

  /**
   * One spool per directory: two sinks appending and acknowledging on the same files would lose
   * or repeat entries. The lock file holds the owner's pid; one left by a dead process is taken over.
   */
  private async lock(): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await fs.open(path, 'wx', 0o600);
        await fh.writeFile(String(process.pid));
        await fh.close();
        this.locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await fs.readFile(path, 'utf8').catch(() => '')).trim());
      let alive = true;
      if (Number.isSafeInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive || attempt > 0) {
        throw spoolError(
          'the audit spool directory is in use by another sink (one sink per spool directory)',
          undefined,
          {
            ...(Number.isSafeInteger(pid) && pid > 0 ? { pid } : {}),
          },
        );
      }
      await fs.rm(path, { force: true }); // stale: its process is gone
    }
  }

  private async load(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.lock();
    const names = (await fs.readdir(this.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    let cursor: { segment: number; offset: number } | undefined;
    try {
      const raw = JSON.parse(await fs.readFile(join(this.dir, CURSOR_FILE), 'utf8')) as unknown;
      const c = raw as { segment?: unknown; offset?: unknown };
      if (Number.isSafeInteger(c?.segment) && Number.isSafeInteger(c?.offset) && (c.offset as number) >= 0) {
        cursor = { segment: c.segment as number, offset: c.offset as number };
      }
    } catch (err) {
      // No cursor yet (or a torn one from a crash mid-rename, which rename makes impossible on
      // POSIX): deliver from the start of the oldest segment; duplicates are dropped by msg id.
      if ((err as NodeJS.ErrnoException)?.code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
    }
    for (const name of names) {
      const id = Number(SEGMENT_RE.exec(name)![1]);
      if (cursor !== undefined && id < cursor.segment) {
        // delivered already; the delete after the cursor write did not happen (crash)
        await fs.rm(join(this.dir, name), { force: true });
        continue;
      }
      this.segments.push({ id, path: join(this.dir, name), bytes: 0, pending: 0 });
    }
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      let buf = await fs.readFile(seg.path);
      const end = buf.lastIndexOf(NL) + 1;
      if (end < buf.length) {
        // A partial last line: an append that crashed before it was acknowledged.
        this.counters.tornDiscarded++;
        await fs.truncate(seg.path, end);
        buf = buf.subarray(0, end);
      }
      seg.bytes = buf.length;
      const from =
        i === 0 && cursor !== undefined && cursor.segment === seg.id ? Math.min(cursor.offset, end) : 0;
      if (i === 0) this.offset = from;
      let count = 0;
      for (let p = from; p < end;) {
        const nl = buf.indexOf(NL, p);
        if (count === 0 && this.oldestAt === undefined) {
          this.oldestAt = decode(buf.subarray(p, nl).toString('utf8'), nl + 1 - p)?.spooledAt;
        }
        count++;
        p = nl + 1;
      }
      seg.pending = count;
    }
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.queue.then(op);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Records waiting (including appends still being written). */
  get pending(): number {
    return this.inFlight + this.segments.reduce((n, s) => n + s.pending, 0);
  }

  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  stats(): AuditSpoolStats {
    return {
      pending: this.pending,
      bytes: this.bytes,
      ...(this.oldestAt === undefined ? {} : { oldestSpooledAt: this.oldestAt }),
      ...this.counters,
    };
  }

  /**
   * Appends records in order. Resolves once they are written (and fsynced with `fsync: 'always'`).
   * When they do not fit: 'refuse' rejects with ERR_AUDIT_SINK (`details.refused`), nothing spooled;
   * 'drop-oldest' deletes the oldest segments (undelivered records counted as `dropped`) first.
   * A batch larger than `maxBytes` on its own is refused under either policy.
   */
  append(records: readonly Omit<SpoolRecord, 'spooledAt' | 'size'>[]): Promise<{ dropped: number }> {
    this.inFlight += records.length;
    return this.run(async () => {
      try {
        return await this.appendNow(records);
      } finally {
        this.inFlight -= records.length;
      }
    });
  }

  private async appendNow(
    records: readonly Omit<SpoolRecord, 'spooledAt' | 'size'>[],
  ): Promise<{ dropped: number }> {
    if (records.length === 0) return { dropped: 0 };
    const spooledAt = this.now();
    const text = records.map((r) => encode({ ...r, spooledAt })).join('');
    const size = Buffer.byteLength(text);
    let dropped = 0;
    if (size > this.maxBytes || (this.onFull === 'refuse' && this.bytes + size > this.maxBytes)) {
      this.counters.refused += records.length;
      throw spoolError(
        `the audit spool is full (${this.bytes} of ${this.maxBytes} bytes); ${records.length} entr${records.length === 1 ? 'y was' : 'ies were'} not spooled (onFull: 'refuse')`,
        undefined,
        {
          refused: records.length,
          firstSeq: records[0]!.seq,
          spoolBytes: this.bytes,
          maxBytes: this.maxBytes,
        },
      );
    }
    while (this.bytes + size > this.maxBytes && this.segments.length > 0) {
      const oldest = this.segments.shift()!;
      this.epoch++;
      dropped += oldest.pending;
      this.counters.dropped += oldest.pending;
      await fs.rm(oldest.path, { force: true });
      this.offset = 0;
      await this.writeCursor(this.segments.length === 0 ? oldest.id + 1 : undefined);
      await this.refreshOldest();
    }
    if (this.segments.length === 0 || this.segments.at(-1)!.bytes >= this.segmentBytes) {
      const id = (this.segments.at(-1)?.id ?? (await this.lastDeletedId())) + 1;
      this.segments.push({ id, path: join(this.dir, segmentName(id)), bytes: 0, pending: 0 });
    }
    const seg = this.segments.at(-1)!;
    const fh = await fs.open(seg.path, 'a', 0o600);
    try {
      await fh.write(text);
      if (this.fsyncAlways) await fh.sync();
    } catch (err) {
      // A partial write (disk full) leaves a torn line; cut it so the next append starts clean.
      await fs.truncate(seg.path, seg.bytes).catch(() => undefined);
      throw spoolError('the audit spool could not be written', err, {
        errno: (err as NodeJS.ErrnoException)?.code,
        firstSeq: records[0]!.seq,
      });
    } finally {
      await fh.close();
    }
    // A new segment's directory entry must be durable too, or a power loss could lose the file.
    if (this.fsyncAlways && seg.bytes === 0) await this.syncDir();
    seg.bytes += size;
    seg.pending += records.length;
    this.counters.spooled += records.length;
    if (this.pending - this.inFlight === records.length || this.oldestAt === undefined) {
      this.oldestAt = spooledAt;
    }
    return { dropped };
  }

  /** After the last segment was deleted, new ids continue after the cursor's (never reuse an id). */
  private async lastDeletedId(): Promise<number> {
    try {
      const c = JSON.parse(await fs.readFile(join(this.dir, CURSOR_FILE), 'utf8')) as { segment?: unknown };
      return Number.isSafeInteger(c.segment) ? (c.segment as number) : 0;
    } catch {
      return 0;
    }
  }

  /** Up to `max` of the oldest undelivered records, in order (not removed: call `ack`). */
  peek(max: number): Promise<SpoolRecord[]> {
    return this.run(async () => {
      this.peekedEpoch = this.epoch;
      const out: SpoolRecord[] = [];
      for (let i = 0; i < this.segments.length && out.length < max; i++) {
        const seg = this.segments[i]!;
        const from = i === 0 ? this.offset : 0;
        if (seg.pending === 0 || from >= seg.bytes) continue;
        await this.readRecords(seg, from, max - out.length, out);
      }
      return out;
    });
  }

  /** Reads up to `max` whole records of `seg` from byte `from` (at most two segments' worth of bytes). */
  private async readRecords(seg: Segment, from: number, max: number, out: SpoolRecord[]): Promise<void> {
    const fh = await fs.open(seg.path, 'r');
    try {
      // A window of two segments' worth, grown when one record is larger (records are whole lines).
      let length = Math.min(seg.bytes - from, this.segmentBytes * 2);
      let buf = Buffer.alloc(length);
      let { bytesRead } = await fh.read(buf, 0, length, from);
      while (buf.subarray(0, bytesRead).indexOf(NL) < 0 && from + bytesRead < seg.bytes) {
        length = Math.min(seg.bytes - from, length * 2);
        buf = Buffer.alloc(length);
        ({ bytesRead } = await fh.read(buf, 0, length, from));
      }
      let taken = 0;
      for (let p = 0; p < bytesRead && taken < max;) {
        const nl = buf.indexOf(NL, p);
        if (nl < 0 || nl >= bytesRead) break;
        const line = buf.subarray(p, nl).toString('utf8');
        // A line that does not parse (disk corruption) comes back as `corrupt`: the caller
        // acknowledges and reports it instead of stalling every later record behind it.
        out.push(
          decode(line, nl + 1 - p) ?? {
            seq: 0,
            subject: '',
            data: '',
            spooledAt: 0,
            size: nl + 1 - p,
            corrupt: true,
          },
        );
        taken++;
        p = nl + 1;
      }
    } finally {
      await fh.close();
    }
  }

  /** Marks the records returned by the last `peek` (or a prefix of them) delivered. */
  ack(records: readonly SpoolRecord[]): Promise<void> {
    return this.run(async () => {
      // records peeked before 'drop-oldest' removed their segment are gone already
      if (records.length === 0 || this.peekedEpoch !== this.epoch) return;
      const emptied: Segment[] = [];
      for (const r of records) {
        const seg = this.segments[0];
        if (seg === undefined) break;
        this.offset += r.size;
        seg.pending--;
        if (seg.pending <= 0) {
          // fully delivered: the cursor moves on first, then the file goes
          emptied.push(this.segments.shift()!);
          this.offset = 0;
        }
      }
      const last = emptied.at(-1);
      // with no segment left, new ones continue after the last id (ids are never reused)
      await this.writeCursor(this.segments.length === 0 && last !== undefined ? last.id + 1 : undefined);
      for (const seg of emptied) await fs.rm(seg.path, { force: true });
      await this.refreshOldest();
    });
  }

  private async refreshOldest(): Promise<void> {
    this.oldestAt = undefined;
    const seg = this.segments[0];
    if (seg === undefined || seg.pending === 0) return;
    const out: SpoolRecord[] = [];
    await this.readRecords(seg, this.offset, 1, out);
    this.oldestAt = out[0]?.spooledAt;
  }

  private async syncDir(): Promise<void> {
    const dir = await fs.open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private async writeCursor(segmentId?: number): Promise<void> {
    const segment = segmentId ?? this.segments[0]?.id ?? 0;
    const tmp = join(this.dir, `${CURSOR_FILE}.tmp`);
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.write(JSON.stringify({ segment, offset: this.offset }));
      if (this.fsyncAlways) await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, join(this.dir, CURSOR_FILE));
    if (this.fsyncAlways) await this.syncDir();
  }

  /** Waits for queued file operations and releases the directory. The files stay for the next `open`. */
  async close(): Promise<void> {
    await this.queue;
    if (this.locked) {
      this.locked = false;
      await fs.rm(join(this.dir, LOCK_FILE), { force: true });
    }
  }
}
