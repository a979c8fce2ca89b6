import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { JsonLinesLogReader } from '../../src/audit/json-lines-log-reader';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { event, steppingClock, tempDir } from './audit-helpers';

// Issue 15 item 7: verification of a JSON-lines log in bounded memory. The streaming reader must
// give verifyAuditLog exactly what FileAuditStore gives it, on intact and damaged logs alike.

async function writeLog(file: string, n: number, detailBytes = 0): Promise<void> {
  const log = await AuditLog.open({
    store: await FileAuditStore.open({ path: file, fsync: 'none' }),
    clock: steppingClock(),
  });
  const pad = 'x'.repeat(detailBytes);
  for (let i = 0; i < n; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, (_, j) =>
        log.append(event({ requestId: `r-${i + j}`, ...(detailBytes > 0 ? { details: { pad } } : {}) })),
      ),
    );
  }
  await log.close();
}

async function both(file: string) {
  const reader = await JsonLinesLogReader.open(file);
  const store = await FileAuditStore.open({ path: file, readOnly: true });
  try {
    return { streamed: await verifyAuditLog(reader), loaded: await verifyAuditLog(store) };
  } finally {
    await reader.close();
    await store.close();
  }
}

describe('JsonLinesLogReader', () => {
  let file: string;
  beforeEach(() => {
    file = path.join(tempDir(), 'audit.jsonl');
  });

  it('streams a log larger than its read buffer and verifies it like FileAuditStore', async () => {
    await writeLog(file, 3000, 600); // ~3 MB: lines straddle the 1 MiB read chunks
    expect(fs.statSync(file).size).toBeGreaterThan(2.5 * (1 << 20));
    const { streamed, loaded } = await both(file);
    expect(streamed).toEqual(loaded);
    expect(streamed).toMatchObject({ ok: true, treeSize: 3000, checkedEntries: 3000 });
  });

  it('reads any seq range, forwards and backwards, as the loaded store does', async () => {
    await writeLog(file, 9000);
    const reader = await JsonLinesLogReader.open(file);
    const store = await FileAuditStore.open({ path: file, readOnly: true });
    try {
      for (const [from, n] of [
        [1, 3],
        [8999, 10],
        [4096, 2],
        [4097, 5],
        [2, 1],
        [8193, 1000],
        [9001, 5],
      ] as const) {
        expect(await reader.read(from, n)).toEqual(await store.read(from, n));
      }
      expect(await reader.head()).toEqual(await store.head());
    } finally {
      await reader.close();
      await store.close();
    }
  });

  it('reports an edited line, a deleted line and an unparsable line at the same seq as FileAuditStore', async () => {
    await writeLog(file, 50);
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    const edited = [...lines];
    edited[9] = edited[9]!.replace('patient.read', 'patient.erase');
    for (const variant of [
      edited,
      lines.filter((_, i) => i !== 20),
      [...lines.slice(0, 30), '{not json', ...lines.slice(31)],
    ]) {
      fs.writeFileSync(file, variant.join('\n') + '\n');
      const { streamed, loaded } = await both(file);
      expect(streamed.ok).toBe(false);
      expect(streamed).toEqual(loaded);
    }
  });

  it('reports a torn tail (offset and length) and verifies the entries before it', async () => {
    await writeLog(file, 7);
    const offset = fs.statSync(file).size;
    fs.appendFileSync(file, '{"seq":8,"ti');
    const reader = await JsonLinesLogReader.open(file);
    try {
      expect(reader.tornTail).toEqual({ offset, length: 12 });
      const report = await verifyAuditLog(reader);
      expect(report).toMatchObject({ ok: false, treeSize: 7, firstBad: { seq: 8, reason: 'torn-tail' } });
      expect(await reader.head()).toMatchObject({ seq: 7 });
    } finally {
      await reader.close();
    }
  });

  it('reads an empty log as empty, refuses writes, and a missing file is a config error', async () => {
    fs.writeFileSync(file, '');
    const reader = await JsonLinesLogReader.open(file);
    expect(await reader.head()).toEqual({ seq: 0, leafHash: '0'.repeat(64) });
    expect(await verifyAuditLog(reader)).toMatchObject({ ok: true, treeSize: 0 });
    await expect(reader.append()).rejects.toMatchObject({ code: ErrorCodes.AUDIT_READ_ONLY });
    await reader.close();
    await expect(JsonLinesLogReader.open(path.join(path.dirname(file), 'nope.jsonl'))).rejects.toBeInstanceOf(
      BulwarkConfigError,
    );
  });
});
