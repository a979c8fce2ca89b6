import type { AuditStore } from '@bulwark/core';
import type { CliIo } from './cli-io';

/** A progress line on stderr for one long operation; a no-op when not wanted. */
export interface Progress {
  /** `done` of `total` units so far (total may be unknown). */
  update(done: number, total?: number): void;
  /** Erases the line (call before printing the result). */
  end(): void;
}

const NONE: Progress = { update: () => undefined, end: () => undefined };
const REDRAW_MS = 200;

/**
 * A progress line for `label` ("verify", "export"...), drawn on stderr only when stderr is a
 * terminal, never when `quiet` (--json, or output streaming to the same terminal), and only once
 * the operation has run for `io.progressDelayMs` (1 s by default), so quick runs print nothing
 * extra. stdout is never touched: piped output stays exactly the command's result.
 */
export function startProgress(io: CliIo, label: string, unit: string, quiet: boolean): Progress {
  if (io.stderrIsTTY !== true || quiet) return NONE;
  const started = Date.now();
  const delay = io.progressDelayMs ?? 1000;
  let drawnAt = -Infinity;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - started < delay || now - drawnAt < REDRAW_MS) return;
      drawnAt = now;
      drawn = true;
      const of = total !== undefined && total > 0 ? ` of ${total.toLocaleString('en-US')}` : '';
      const pct =
        total !== undefined && total > 0 ? ` (${Math.min(100, Math.floor((done / total) * 100))}%)` : '';
      // \r + erase-line: redraw in place.
      io.stderr(`\r\x1b[K${label}: ${done.toLocaleString('en-US')}${of} ${unit}${pct}`);
    },
    end() {
      if (drawn) io.stderr('\r\x1b[K');
    },
  };
}

/**
 * The store, with every `read` reported to `onRead(entries read so far)`: verification, proofs
 * and checkpoints all read the log through `read`, so this measures their progress without the
 * engines knowing about terminals.
 */
export function reportingReads(store: AuditStore, onRead: (entriesRead: number) => void): AuditStore {
  let read = 0;
  return {
    get tornTail() {
      return store.tornTail;
    },
    head: () => store.head(),
    append: (prepare) => store.append(prepare),
    async read(fromSeq, limit) {
      const page = await store.read(fromSeq, limit);
      read += page.length;
      onRead(read);
      return page;
    },
    query: (query) => store.query(query),
    redact: (seqs, redaction) => store.redact(seqs, redaction),
    close: () => store.close(),
  };
}
