import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { ErrorCodes } from '../../src/errors';
import { event, steppingClock, tempDir } from './audit-helpers';

describe('FileAuditStore read-only mode', () => {
  let file: string;
  beforeEach(() => {
    file = path.join(tempDir(), 'audit.jsonl');
  });

  async function writer(n: number) {
    const log = await AuditLog.open({
      store: await FileAuditStore.open({ path: file, fsync: 'none' }),
      clock: steppingClock(),
    });
    for (let i = 0; i < n; i++) await log.append(event({ requestId: `r-${i}` }));
    return log;
  }

  it('reads a log whose writer holds the lock, and leaves the lock alone', async () => {
    const log = await writer(4);
    await expect(FileAuditStore.open({ path: file })).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_STORE_LOCKED,
    });
    const reader = await FileAuditStore.open({ path: file, readOnly: true });
    expect(reader.readOnly).toBe(true);
    expect(await reader.head()).toMatchObject({ seq: 4 });
    expect(await verifyAuditLog(reader)).toMatchObject({ ok: true, treeSize: 4 });
    await reader.close();
    // Closing the reader must not delete the writer's lock, and the writer keeps appending.
    expect(fs.existsSync(`${file}.lock`)).toBe(true);
    expect((await log.append(event())).seq).toBe(5);
    await log.close();
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('refuses every write with ERR_AUDIT_READ_ONLY and leaves the file untouched', async () => {
    await (await writer(2)).close();
    const before = fs.readFileSync(file);
    const reader = await FileAuditStore.open({ path: file, readOnly: true });
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    await expect(reader.append(async () => [])).rejects.toMatchObject({ code: ErrorCodes.AUDIT_READ_ONLY });
    await expect(reader.redact([1], { at: '2025-01-01T00:00:00.000Z', reason: 'x' })).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_READ_ONLY,
    });
    await expect(reader.repair()).rejects.toMatchObject({ code: ErrorCodes.AUDIT_READ_ONLY });
    // Through AuditLog too: the append fails, nothing is written.
    const log = await AuditLog.open({ store: reader });
    await expect(log.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_READ_ONLY });
    await log.close().catch(() => undefined);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('does not create a missing log (a mistyped path must not verify as empty)', async () => {
    await expect(FileAuditStore.open({ path: file, readOnly: true })).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
    });
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(path.dirname(file))).toBe(true);
    await expect(FileAuditStore.open({ path: file, readOnly: 'yes' as never })).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
    });
  });

  it('a partial last line while a live writer holds the lock is in progress, not damage', async () => {
    await (await writer(3)).close();
    const full = fs.readFileSync(file);
    const cut = full.length - 40; // inside the last line
    fs.writeFileSync(file, full.subarray(0, cut));
    // A writer holding the lock (it sees the torn tail itself and would refuse appends: fine here,
    // it stands for the application in the middle of writing that line).
    const held = await FileAuditStore.open({ path: file });
    const reader = await FileAuditStore.open({ path: file, readOnly: true });
    expect(reader.tornTail).toBeUndefined();
    expect(reader.inProgressTail).toEqual({
      offset: full.lastIndexOf(0x0a, full.length - 2) + 1,
      length: cut - (full.lastIndexOf(0x0a, full.length - 2) + 1),
      writerPid: process.pid,
    });
    expect(await verifyAuditLog(reader)).toMatchObject({ ok: true, treeSize: 2 });
    // The writer finishes the line: refresh picks up the whole entry.
    fs.appendFileSync(file, full.subarray(cut));
    expect(await reader.refresh()).toBe(3);
    expect(reader.inProgressTail).toBeUndefined();
    expect(await verifyAuditLog(reader)).toMatchObject({ ok: true, treeSize: 3 });
    await reader.close();
    await held.close();
  });

  it('a partial last line with no live writer is a torn tail, reported by verification', async () => {
    await (await writer(3)).close();
    const full = fs.readFileSync(file);
    fs.writeFileSync(file, full.subarray(0, full.length - 40));
    fs.writeFileSync(`${file}.lock`, '999999999'); // a crashed writer's lock: no such pid
    const reader = await FileAuditStore.open({ path: file, readOnly: true });
    expect(reader.inProgressTail).toBeUndefined();
    expect(reader.tornTail).toBeDefined();
    expect((await verifyAuditLog(reader)).firstBad).toMatchObject({ seq: 3, reason: 'torn-tail' });
    await reader.close();
    expect(fs.readFileSync(`${file}.lock`, 'utf8')).toBe('999999999'); // not the reader's to remove
  });

  it('refresh loads new appends, and reloads after the writer rewrites the file (redaction)', async () => {
    const log = await writer(2);
    const reader = await FileAuditStore.open({ path: file, readOnly: true });
    expect((await reader.head()).seq).toBe(2);
    await log.append(event({ actor: { id: 'zoe', type: 'user' } }));
    await log.append(event());
    expect(await reader.refresh()).toBe(4);
    expect((await reader.read(3, 1))[0]).toMatchObject({ seq: 3, actor: { id: 'zoe' } });
    await log.redact({ actorId: 'zoe' }, 'erasure'); // rename-replaces the file, and appends a record
    expect(await reader.refresh()).toBe(5);
    expect((await reader.read(3, 1))[0]!.redacted).toBeDefined();
    expect(await verifyAuditLog(reader)).toMatchObject({ ok: true, treeSize: 5 });
    await reader.close();
    await log.close();
  });
});
