import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { FileAuditStore } from '../../src/audit/file-audit-store';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { event, steppingClock, tempDir } from './audit-helpers';

// Issue 15 item 5: a full disk mid-line, and recovery without code. The disk is filled by an
// injected fs.write (no tmpfs here): the first call writes part of the buffer for real, as a
// kernel does when the disk fills mid-write, and the next fails with ENOSPC.

// The module object itself (not the TypeScript import wrapper), so spies see the store's calls.
const nodeFs = require('node:fs') as typeof fs;

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
}

/** From now on the disk is full: one short write, then ENOSPC on every write. */
function fillDisk(): jest.SpyInstance {
  const real = nodeFs.write.bind(nodeFs) as (...args: unknown[]) => void;
  let first = true;
  return jest.spyOn(nodeFs, 'write').mockImplementation(((...args: unknown[]) => {
    const cb = args[args.length - 1] as (err: NodeJS.ErrnoException | null, n?: number) => void;
    if (first && Buffer.isBuffer(args[1])) {
      first = false;
      const [fd, buf, off] = args as [number, Buffer, number];
      // Half of the batch reaches the file: it now ends in a partial line.
      return real(fd, buf, off, Math.max(1, Math.floor((buf.length - off) / 2)), null, cb);
    }
    process.nextTick(cb, enospc());
    return undefined;
  }) as never);
}

describe('FileAuditStore on a full disk', () => {
  let file: string;
  beforeEach(() => {
    file = path.join(tempDir(), 'audit.jsonl');
  });
  afterEach(() => jest.restoreAllMocks());

  it('fails the append with ERR_AUDIT_NO_SPACE, then repair() in the same process resumes appends', async () => {
    const store = await FileAuditStore.open({ path: file, fsync: 'none' });
    const log = await AuditLog.open({ store, clock: steppingClock(), onWriteFailure: () => undefined });
    for (let i = 0; i < 3; i++) await log.append(event());
    const full = fillDisk();
    await expect(log.append(event())).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_NO_SPACE,
      details: { operation: 'append', errno: 'ENOSPC' },
    });
    expect(log.writes).toMatchObject({ failing: true, lastFailureCode: 'ERR_AUDIT_NO_SPACE' });
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(false);

    // Still full: repair keeps the log as it is and says why, with a code (not a raw errno).
    const err = await store.repair().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkAuditError);
    expect(err).toMatchObject({ code: ErrorCodes.AUDIT_NO_SPACE });
    expect((err as Error).message).toMatch(/free space/);
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(false);
    // The failed repair found the partial line: appends name it until it is repaired.
    await expect(log.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_TORN_TAIL });

    full.mockRestore(); // space freed
    const repaired = await store.repair();
    expect(repaired.bytes).toBeGreaterThan(0);
    expect(fs.existsSync(repaired.movedTo!)).toBe(true);
    const next = await log.append(event());
    expect(next.seq).toBe(4);
    expect(await log.verify()).toMatchObject({ ok: true, treeSize: 4 });
    await log.close();
  });

  it('repairTornTail: true repairs on open; without it appends are refused with ERR_AUDIT_TORN_TAIL', async () => {
    const store = await FileAuditStore.open({ path: file, fsync: 'none' });
    const log = await AuditLog.open({ store, clock: steppingClock(), onWriteFailure: () => undefined });
    for (let i = 0; i < 2; i++) await log.append(event());
    fillDisk();
    await expect(log.append(event())).rejects.toThrow();
    jest.restoreAllMocks();
    await log.close();
    const tornAt = fs.statSync(file).size;

    const plain = await FileAuditStore.open({ path: file });
    expect(plain.tornTail).toBeDefined();
    const plainLog = await AuditLog.open({ store: plain, onWriteFailure: () => undefined });
    await expect(plainLog.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_TORN_TAIL });
    await plainLog.close();

    const fixed = await FileAuditStore.open({ path: file, repairTornTail: true });
    expect(fixed.tornTail).toBeUndefined();
    expect(fixed.repairedOnOpen).toMatchObject({ bytes: tornAt - fixed.repairedOnOpen!.offset! });
    const fixedLog = await AuditLog.open({ store: fixed });
    expect((await fixedLog.append(event())).seq).toBe(3);
    expect(await fixedLog.verify()).toMatchObject({ ok: true });
    await fixedLog.close();
  });

  it('rejects a non-boolean repairTornTail', async () => {
    await expect(FileAuditStore.open({ path: file, repairTornTail: 'yes' as never })).rejects.toBeInstanceOf(
      BulwarkConfigError,
    );
    expect(fs.existsSync(file)).toBe(false);
  });
});
