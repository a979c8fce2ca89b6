import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { event, steppingClock, tempDir } from './audit-helpers';

// The module object itself (not the TypeScript import wrapper), so spies see the store's calls.
const nodeFs = require('node:fs') as typeof fs;

describe('FileAuditStore', () => {
  let file: string;
  beforeEach(() => {
    file = path.join(tempDir(), 'logs', 'audit.jsonl');
  });
  afterEach(() => jest.restoreAllMocks());

  async function writeLog(n: number, hmacKey?: Uint8Array): Promise<void> {
    const log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file }),
      clock: steppingClock(),
      hmacKey,
    });
    await Promise.all(Array.from({ length: n }, (_, i) => log.append(event({ requestId: `r-${i}` }))));
    await log.close();
  }

  it('writes one JSON line per entry and keeps the chain across reopen', async () => {
    await writeLog(5);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[5]).toBe('');
    expect(JSON.parse(lines[0]!)).toMatchObject({ seq: 1, action: 'patient.read', prevHash: '0'.repeat(64) });

    const log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file }),
      clock: steppingClock('2025-02-01T00:00:00.000Z'),
    });
    expect(log.size).toBe(5);
    const rootBefore = log.root();
    const e6 = await log.append(event());
    expect(e6.seq).toBe(6);
    expect(e6.prevHash).toBe(JSON.parse(lines[4]!).leafHash);
    expect(log.root(5)).toBe(rootBefore);
    expect(await log.verify()).toMatchObject({ ok: true, checkedEntries: 6 });
    await log.close();
  });

  it('reports a torn last line, refuses appends until repair(), and earlier entries still verify', async () => {
    await writeLog(4);
    // A crash in the middle of writing entry 5: part of a JSON line, no newline.
    const full = fs.readFileSync(file, 'utf8');
    const partial = '{"seq":5,"time":"2025-01-01T00:00:09.000Z","actor":{"id":"al';
    fs.appendFileSync(file, partial);

    const store = await FileAuditStore.open({ path: file });
    expect(store.tornTail).toEqual({ offset: Buffer.byteLength(full), length: partial.length });
    const report = await verifyAuditLog(store);
    expect(report).toMatchObject({
      ok: false,
      checkedEntries: 4,
      treeSize: 4,
      firstBad: { seq: 5, reason: 'torn-tail' },
    });

    const log = await AuditLog.open({ store });
    await expect(log.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_TORN_TAIL });

    const repaired = await store.repair();
    expect(repaired.bytes).toBe(partial.length);
    expect(fs.readFileSync(repaired.movedTo!, 'utf8')).toBe(partial); // kept as evidence
    expect(fs.readFileSync(file, 'utf8')).toBe(full);
    expect(store.tornTail).toBeUndefined();
    expect((await log.append(event())).seq).toBe(5);
    expect(await log.verify()).toMatchObject({ ok: true, checkedEntries: 5 });
    await log.close();
  });

  it('a complete line that is not JSON is damage: reported by position and appends are refused', async () => {
    await writeLog(3);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = '{"seq":2, this is not json';
    fs.writeFileSync(file, lines.join('\n'));
    const store = await FileAuditStore.open({ path: file });
    expect((await verifyAuditLog(store)).firstBad).toMatchObject({ seq: 2, reason: 'hash-mismatch' });
    await expect(AuditLog.open({ store })).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CHAIN_BROKEN });
    await expect(store.append(() => [])).rejects.toMatchObject({ code: ErrorCodes.AUDIT_STORE });
    await store.close();
  });

  it('detects an edited line in the raw file', async () => {
    await writeLog(6);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.replace('"id":"p-1"', '"id":"p-2"')); // first occurrence: entry 1
    const store = await FileAuditStore.open({ path: file });
    expect((await verifyAuditLog(store)).firstBad).toMatchObject({ seq: 1, reason: 'hash-mismatch' });
    await store.close();
  });

  it("fsync 'every-append' syncs before each append resolves; 'none' never does", async () => {
    const spy = jest.spyOn(nodeFs, 'fsync');
    const log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file, fsync: 'every-append' }),
    });
    await log.append(event());
    expect(spy).toHaveBeenCalledTimes(1);
    await Promise.all([log.append(event()), log.append(event()), log.append(event())]);
    expect(spy).toHaveBeenCalledTimes(2); // one group commit, one fsync
    await log.close();

    spy.mockClear();
    const other = path.join(path.dirname(file), 'none.jsonl');
    const none = await AuditLog.open({ store: await FileAuditStore.open({ path: other, fsync: 'none' }) });
    for (let i = 0; i < 3; i++) await none.append(event());
    expect(spy).not.toHaveBeenCalled();
    await none.close();
  });

  it('fsync interval policy syncs on a timer, not per append', async () => {
    const spy = jest.spyOn(nodeFs, 'fsync');
    const log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file, fsync: { intervalMs: 20 } }),
    });
    await log.append(event());
    expect(spy).not.toHaveBeenCalled();
    await new Promise((r) => setTimeout(r, 80));
    expect(spy).toHaveBeenCalled();
    await log.close();
  });

  it('rejects bad fsync options at open', async () => {
    await expect(FileAuditStore.open({ path: file, fsync: 'sometimes' as never })).rejects.toBeInstanceOf(
      BulwarkConfigError,
    );
    await expect(FileAuditStore.open({ path: file, fsync: { intervalMs: 0 } })).rejects.toBeInstanceOf(
      BulwarkConfigError,
    );
  });

  it('holds an exclusive writer lock; a lock left by a dead process is taken over', async () => {
    const a = await FileAuditStore.open({ path: file });
    await expect(FileAuditStore.open({ path: file })).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_STORE_LOCKED,
    });
    await a.close();
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    fs.writeFileSync(`${file}.lock`, '999999999'); // no such pid
    const b = await FileAuditStore.open({ path: file });
    await b.close();
  });

  it('rejects entries that do not continue the head (store-side contract check)', async () => {
    const store = await FileAuditStore.open({ path: file });
    await expect(
      store.append(() => [
        {
          seq: 2,
          time: '2025-01-01T00:00:00.000Z',
          category: 'default',
          prevHash: '0'.repeat(64),
          leafHash: '1'.repeat(64),
        },
      ]),
    ).rejects.toMatchObject({ code: ErrorCodes.AUDIT_STORE });
    expect(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '').toBe('');
    await store.close();
  });
});
