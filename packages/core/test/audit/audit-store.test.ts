import { AuditLog } from '../../src/audit/audit-log';
import type { AuditEntry } from '../../src/audit/audit-event';
import { ErrorCodes } from '../../src/errors';
import { event, steppingClock, storeFactories } from './audit-helpers';

describe.each(storeFactories)('%s: append and query', (_name, makeStore) => {
  let log: AuditLog;
  const seqs = (entries: AuditEntry[]) => entries.map((e) => e.seq);

  beforeEach(async () => {
    log = await AuditLog.open({ store: await makeStore(), clock: steppingClock() });
    // 12 events, times 00:00:00 .. 00:00:11
    for (let i = 0; i < 12; i++) {
      await log.append(
        event({
          actor: { id: i % 3 === 0 ? 'bob' : 'alice', type: i === 11 ? 'service' : 'user' },
          action: i % 2 === 0 ? 'patient.read' : 'patient.update',
          resource: { type: i < 6 ? 'patient' : 'invoice', id: `r-${i % 4}` },
          outcome: i === 5 ? 'denied' : i === 7 ? 'failure' : 'success',
          category: i === 10 ? 'security' : undefined,
          requestId: `req-${i}`,
        }),
      );
    }
  });
  afterEach(() => log.close());

  it('assigns gap-free 1-based seqs and links each entry to the previous leaf hash', async () => {
    const all = (await log.query({ limit: 1000 })).entries;
    expect(seqs(all)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(all[0]!.prevHash).toBe('0'.repeat(64));
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.leafHash);
    expect(log.size).toBe(12);
    expect((await log.get(6))?.outcome).toBe('denied');
    expect(await log.get(99)).toBeUndefined();
  });

  it.each([
    [{ actorId: 'bob' }, [1, 4, 7, 10]],
    [{ actorType: 'service' as const }, [12]],
    [{ action: 'patient.update' }, [2, 4, 6, 8, 10, 12]],
    [{ action: 'patient.*' }, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]],
    [{ resourceType: 'invoice' }, [7, 8, 9, 10, 11, 12]],
    [{ resourceType: 'patient', resourceId: 'r-1' }, [2, 6]],
    [{ outcome: 'denied' as const }, [6]],
    [{ outcome: 'failure' as const }, [8]],
    [{ category: 'security' }, [11]],
    [{ requestId: 'req-3' }, [4]],
    [{ from: '2025-01-01T00:00:03.000Z', to: '2025-01-01T00:00:06.000Z' }, [4, 5, 6]],
    [{ from: new Date('2025-01-01T00:00:10.000Z') }, [11, 12]],
    [{ actorId: 'alice', outcome: 'success' as const, resourceType: 'patient' }, [2, 3, 5]],
  ])('filters %j', async (filter, expected) => {
    expect(seqs((await log.query({ ...filter, limit: 1000 })).entries)).toEqual(expected);
  });

  it('pages with a cursor in both orders and ends without a cursor', async () => {
    const got: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await log.query({ actorId: 'alice', limit: 3, cursor });
      expect(page.entries.length).toBeLessThanOrEqual(3);
      got.push(...seqs(page.entries));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(got).toEqual([2, 3, 5, 6, 8, 9, 11, 12]);

    const p1 = await log.query({ order: 'desc', limit: 5 });
    expect(seqs(p1.entries)).toEqual([12, 11, 10, 9, 8]);
    const p2 = await log.query({ order: 'desc', limit: 5, cursor: p1.nextCursor });
    expect(seqs(p2.entries)).toEqual([7, 6, 5, 4, 3]);
    const p3 = await log.query({ order: 'desc', limit: 5, cursor: p2.nextCursor });
    expect(seqs(p3.entries)).toEqual([2, 1]);
    expect(p3.nextCursor).toBeUndefined();
  });

  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: 1001 }, 'limit'],
    [{ cursor: 'not-a-cursor' }, 'cursor'],
    [{ from: 'yesterday' }, 'from'],
    [{ from: '2025-01-01T00:00:00' }, 'from'],
    [{ outcome: '' as never }, 'outcome'],
    [{ order: 'sideways' as never }, 'order'],
  ])('rejects a bad query %j naming the field', async (filter, field) => {
    await expect(log.query(filter)).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_QUERY,
      details: { field },
    });
  });

  it('verifies after the appends', async () => {
    const root = log.root();
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, checkedEntries: 12, treeSize: 12, root });
    // The run is recorded after the entries it checked.
    expect((await log.get(13))?.action).toBe('audit.verified');
  });
});
