import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditSpool, type AuditSpoolOptions } from '../../src/audit/audit-spool';
import { BulwarkAuditError, ErrorCodes } from '../../src/errors';

const rec = (seq: number, size = 10) => ({
  seq,
  subject: 'a.b',
  data: JSON.stringify({ seq, pad: 'x'.repeat(size) }),
});

describe('AuditSpool', () => {
  let dir: string;
  let now = 1_000;
  const open = (o: Partial<AuditSpoolOptions> = {}) =>
    AuditSpool.open({ dir, maxBytes: 64 * 1024, onFull: 'refuse', fsync: 'always', now: () => now, ...o });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bulwark-spool-'));
    now = 1_000;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hands records back in order and forgets them once acknowledged', async () => {
    const spool = await open();
    await spool.append([rec(1), rec(2)]);
    now = 2_000;
    await spool.append([rec(3)]);
    expect(spool.stats()).toMatchObject({ pending: 3, spooled: 3, oldestSpooledAt: 1_000 });
    const first = await spool.peek(2);
    expect(first.map((r) => r.seq)).toEqual([1, 2]);
    expect(first[0]).toMatchObject({ ...rec(1), spooledAt: 1_000 });
    await spool.ack(first);
    expect(spool.stats()).toMatchObject({ pending: 1, oldestSpooledAt: 2_000 });
    const rest = await spool.peek(10);
    expect(rest.map((r) => r.seq)).toEqual([3]);
    await spool.ack(rest);
    expect(spool.stats().pending).toBe(0);
    expect(spool.stats().oldestSpooledAt).toBeUndefined();
    expect(await spool.peek(10)).toEqual([]);
    // the delivered segment is gone: only the cursor is left
    expect(readdirSync(dir).filter((f) => f.endsWith('.spool'))).toEqual([]);
  });

  it('survives a restart: a reopened spool resumes after the last acknowledged record', async () => {
    const spool = await open();
    await spool.append([rec(1), rec(2), rec(3), rec(4)]);
    await spool.ack((await spool.peek(2)).slice(0, 2));
    await spool.close();
    const again = await open();
    expect(again.stats().pending).toBe(2);
    expect((await again.peek(10)).map((r) => r.seq)).toEqual([3, 4]);
    await again.append([rec(5)]);
    expect((await again.peek(10)).map((r) => r.seq)).toEqual([3, 4, 5]);
  });

  it('cuts a torn last line (a crash mid-append) on open and counts it', async () => {
    const spool = await open();
    await spool.append([rec(1)]);
    await spool.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.spool'));
    appendFileSync(join(dir, segment!), '1000 2 a.b {"seq":2,"pa');
    const again = await open();
    expect(again.stats()).toMatchObject({ pending: 1, tornDiscarded: 1 });
    await again.append([rec(3)]);
    expect((await again.peek(10)).map((r) => r.seq)).toEqual([1, 3]);
  });

  it("refuses a batch that does not fit with onFull 'refuse', keeping the oldest and counting the refusal", async () => {
    const spool = await open({ maxBytes: 64 * 1024 });
    const big = (seq: number) => rec(seq, 20 * 1024);
    await spool.append([big(1)]);
    await spool.append([big(2)]);
    await spool.append([big(3)]);
    const err = await spool.append([big(4)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkAuditError);
    expect(err).toMatchObject({ code: ErrorCodes.AUDIT_SINK, details: { refused: 1, firstSeq: 4 } });
    expect(spool.stats()).toMatchObject({ pending: 3, refused: 1, dropped: 0 });
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024);
    expect((await spool.peek(10)).map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it("drops the oldest records with onFull 'drop-oldest', stays within maxBytes and counts the loss", async () => {
    const spool = await open({ maxBytes: 64 * 1024, onFull: 'drop-oldest' });
    for (let seq = 1; seq <= 10; seq++) await spool.append([rec(seq, 12 * 1024)]);
    const stats = spool.stats();
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.pending + stats.dropped).toBe(10);
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024);
    const total = readdirSync(dir)
      .filter((f) => f.endsWith('.spool'))
      .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    expect(total).toBe(spool.bytes);
    const left = (await spool.peek(100)).map((r) => r.seq);
    expect(left.at(-1)).toBe(10);
    expect(left).toEqual(Array.from({ length: left.length }, (_, i) => 11 - left.length + i));
  });

  it('ignores an acknowledgement for records that drop-oldest removed meanwhile', async () => {
    const spool = await open({ maxBytes: 64 * 1024, onFull: 'drop-oldest' });
    await spool.append([rec(1, 20 * 1024)]);
    await spool.append([rec(2, 20 * 1024)]);
    const peeked = await spool.peek(1);
    for (let seq = 3; seq <= 6; seq++) await spool.append([rec(seq, 20 * 1024)]);
    await spool.ack(peeked);
    const left = (await spool.peek(100)).map((r) => r.seq);
    expect(left.at(-1)).toBe(6);
    expect(left).not.toContain(1);
    expect(spool.stats().pending).toBe(left.length);
  });

  it('reads a record larger than its read window whole', async () => {
    const spool = await open({ maxBytes: 1024 * 1024 });
    // segments of 64 KiB here (maxBytes / 4 capped at 1 MiB... and the window is two of them)
    await spool.append([rec(1, 300 * 1024), rec(2)]);
    const [big, small] = await spool.peek(10);
    expect(big).toMatchObject({ seq: 1 });
    expect((JSON.parse(big!.data) as { pad: string }).pad).toHaveLength(300 * 1024);
    expect(small).toMatchObject({ seq: 2 });
    await spool.ack([big!, small!]);
    expect(spool.stats().pending).toBe(0);
  });

  it('hands back an unreadable line as corrupt instead of stalling behind it', async () => {
    const spool = await open();
    await spool.append([rec(1)]);
    await spool.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.spool'));
    appendFileSync(join(dir, segment!), 'garbage without fields\n');
    const again = await open();
    await again.append([rec(3)]);
    const records = await again.peek(10);
    expect(records.map((r) => [r.seq, r.corrupt ?? false])).toEqual([
      [1, false],
      [0, true],
      [3, false],
    ]);
    await again.ack(records);
    expect(again.stats().pending).toBe(0);
  });

  it('admits one spool per directory, and takes over the lock of a dead process', async () => {
    const spool = await open();
    await expect(open()).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_SINK,
      details: { pid: process.pid },
    });
    await spool.close();
    const again = await open();
    await again.close();
    // a lock left by a process that no longer exists (pid far above pid_max)
    writeFileSync(join(dir, 'spool.lock'), '2147483646');
    const taken = await open();
    await taken.append([rec(1)]);
    expect(taken.stats().pending).toBe(1);
  });

  it('refuses a batch larger than the whole spool under either policy', async () => {
    const spool = await open({ maxBytes: 64 * 1024, onFull: 'drop-oldest' });
    await expect(spool.append([rec(1, 70 * 1024)])).rejects.toMatchObject({ code: ErrorCodes.AUDIT_SINK });
    expect(spool.stats()).toMatchObject({ refused: 1, pending: 0 });
  });
});
