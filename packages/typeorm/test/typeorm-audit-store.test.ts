import fc from 'fast-check';
import { AuditLog, ErrorCodes, verifyAuditLog, type AuditEntry, type AuditEvent } from '@bulwark/core';
import { GENESIS_HASH, normalizeAuditQuery, redactedEntry } from '@bulwark/core/store';
import { describeWithService } from '../../../test/support/services';
import { STORAGE_FAULT_FIELD, TypeOrmAuditStore, type TypeOrmAuditStoreOptions } from '../src';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from './support/backends';

function steppingClock(start = '2025-01-01T00:00:00.000Z'): () => Date {
  let t = Date.parse(start);
  return () => {
    const d = new Date(t);
    t += 1000;
    return d;
  };
}

function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    actor: { id: 'alice', type: 'user', ip: '203.0.113.7' },
    action: 'patient.read',
    resource: { type: 'patient', id: 'p-1' },
    outcome: 'success',
    ...overrides,
  };
}

/** What a reader must get back: the appended entry as JSON sees it (drops `undefined`, keeps lone surrogates). */
const asJson = (value: unknown) => JSON.parse(JSON.stringify(value));
const seqs = (entries: AuditEntry[]) => entries.map((e) => e.seq);

function storeBehaviour(backend: Backend, options?: TypeOrmAuditStoreOptions): void {
  let db: TestDatabase;
  let store: TypeOrmAuditStore;
  let log: AuditLog;

  beforeEach(async () => {
    db = await backend.create();
    store = await TypeOrmAuditStore.open(db.dataSource, options);
    log = await AuditLog.open({ store, clock: steppingClock(), closeStore: false });
  });
  afterEach(async () => {
    await log.close();
    await store.close();
    await db.drop();
  });

  async function appendFixture(): Promise<void> {
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
  }

  it('starts empty at the genesis head (the migration inserted the lock row)', async () => {
    expect(await store.head()).toEqual({ seq: 0, leafHash: GENESIS_HASH });
    expect(await store.read(1, 10)).toEqual([]);
    expect((await log.verify()).ok).toBe(true);
  });

  it('appends a linked chain that verifies and reads back in seq order', async () => {
    await appendFixture();
    const all = await store.read(1, 1000);
    expect(seqs(all)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(all[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.leafHash);
    expect(await store.head()).toEqual({ seq: 12, leafHash: all[11]!.leafHash });
    expect(seqs(await store.read(5, 3))).toEqual([5, 6, 7]);
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, checkedEntries: 12, treeSize: 12 });
    // A second log over the same tables (another process, say) sees the same chain.
    const other = await AuditLog.open({ store: new TypeOrmAuditStore(db.dataSource), closeStore: false });
    expect(other.root()).toBe(log.root());
    await other.close();
  });

  it.each([
    [{ actorId: 'bob' }, [1, 4, 7, 10]],
    [{ actorType: 'service' as const }, [12]],
    [{ action: 'patient.update' }, [2, 4, 6, 8, 10, 12]],
    [{ action: 'patient.*' }, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]],
    [{ action: 'patient.r*' }, [1, 3, 5, 7, 9, 11]],
    [{ action: 'Patient.*' }, []],
    [{ action: 'patient' }, []],
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
    await appendFixture();
    expect(seqs((await log.query({ ...filter, limit: 1000 })).entries)).toEqual(expected);
  });

  it('treats LIKE / GLOB wildcards in an action prefix literally', async () => {
    // AuditLog only admits [A-Za-z0-9_.:/-] in actions; the store must still be exact for any text,
    // so these entries go to the store directly (their hashes are fake: only the query is tested).
    const actions = ['a_b.read', 'axb.read', 'a%b.read', 'a[b.read', 'a*b.x', 'a?b', 'a\\b', 'A_b.read'];
    await store.append((head) =>
      actions.map((action, i) => ({
        seq: head.seq + i + 1,
        time: '2025-01-01T00:00:00.000Z',
        actor: { id: 'x', type: 'user' },
        action,
        outcome: 'success',
        category: 'default',
        prevHash: i === 0 ? head.leafHash : String(i).padStart(64, '0'),
        leafHash: String(i + 1).padStart(64, '0'),
      })),
    );
    const by = async (action: string) => seqs((await store.query(normalizeAuditQuery({ action }))).entries);
    expect(await by('a_b.*')).toEqual([1]);
    expect(await by('a%b.*')).toEqual([3]);
    expect(await by('a[b.*')).toEqual([4]);
    expect(await by('a*b*')).toEqual([5]);
    expect(await by('a?*')).toEqual([6]);
    expect(await by('a\\*')).toEqual([7]);
    expect(await by('a*')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await by('*')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('pages with a cursor in both orders, ending without a cursor', async () => {
    await appendFixture();
    for (const order of ['asc', 'desc'] as const) {
      const got: number[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await log.query({ actorId: 'alice', limit: 3, cursor, order });
        got.push(...seqs(page.entries));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined);
      const alice = [2, 3, 5, 6, 8, 9, 11, 12];
      expect(got).toEqual(order === 'asc' ? alice : alice.reverse());
      expect(pages).toBe(3);
    }
    // An exact fit ends without a cursor (the store looks one row ahead).
    expect((await log.query({ actorId: 'bob', limit: 4 })).nextCursor).toBeUndefined();
    expect((await log.query({ actorId: 'bob', limit: 3 })).nextCursor).toBeDefined();
  });

  it('redacts: the chain still verifies, the stub is exactly redactedEntry, and the content is gone from the row', async () => {
    await appendFixture();
    const before = await store.read(1, 100);
    const report = await log.redact({ actorId: 'bob' }, 'GDPR Art. 17 request 42');
    expect(report.removed).toBe(4);
    expect((await log.verify()).ok).toBe(true);
    const after = await store.read(1, 100);
    const stub = after[3]!;
    expect(stub).toEqual(redactedEntry(before[3]!, stub.redacted!));
    expect(stub.redacted?.reason).toBe('GDPR Art. 17 request 42');
    const [row] = await db.raw(`SELECT * FROM ${db.table('bulwark_audit_entry')} WHERE seq = $1`, [4]);
    expect(JSON.stringify(row)).not.toMatch(/bob|patient|req-3|203\.0\.113/);
    expect(row).toMatchObject({
      actor_id: null,
      action: null,
      details: null,
      resource_id: null,
      request_id: null,
    });
    // Stubs match time filters only, and can be left out.
    expect(seqs((await log.query({ actorId: 'bob' })).entries)).toEqual([]);
    expect(seqs((await log.query({ to: '2025-01-01T00:00:04.000Z' })).entries)).toEqual([1, 2, 3, 4]);
    expect(
      seqs((await log.query({ to: '2025-01-01T00:00:04.000Z', includeRedacted: false })).entries),
    ).toEqual([2, 3]);
    // Already-redacted entries are left alone.
    expect(await store.redact([1, 4], { at: '2030-01-01T00:00:00.000Z', reason: 'again' })).toBe(0);
    expect((await store.read(4, 1))[0]!.redacted?.reason).toBe('GDPR Art. 17 request 42');
  });

  it('gives back exactly what was hashed: unicode, NUL, lone surrogates, backslashes, nulls vs absent fields', async () => {
    const odd = 'naïve ☃ 𝄞 \u0000 \\0 \\u0041 \ud800 tail\udc00 "q" \n\t';
    const appended = [
      await log.append(
        event({
          actor: { id: odd, type: 'user', userAgent: `UA ${odd}`, sessionId: '\\' },
          resource: { type: 'patient', id: `id-${odd}` },
          reason: odd,
          requestId: '\u0000',
          details: {
            a: null,
            nested: { list: [1, -2.5e-7, 'x', null, { deep: '\ud83d' }], empty: {} },
            s: odd,
          },
        }),
      ),
      await log.append(event({ resource: { type: 'system' }, details: {} })),
      await log.append(event({ actor: { id: 'x', type: 'anonymous' }, resource: undefined })),
    ];
    const stored = await store.read(1, 10);
    expect(stored).toEqual(asJson(appended));
    expect(stored[0]!.actor!.id).toBe(odd);
    expect('details' in stored[2]!).toBe(false);
    expect(stored[1]!.details).toEqual({});
    expect('id' in stored[1]!.resource!).toBe(false);
    expect('resource' in stored[2]!).toBe(false);
    expect('ip' in stored[2]!.actor!).toBe(false);
    expect((await log.verify()).ok).toBe(true);
    // Equality filters see the exact value too.
    expect(seqs((await log.query({ actorId: odd })).entries)).toEqual([1]);
    expect(seqs((await log.query({ requestId: '\u0000' })).entries)).toEqual([1]);
    expect(seqs((await log.query({ resourceId: `id-${odd}` })).entries)).toEqual([1]);
  });

  it('round-trips random events exactly (property)', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.string({
        unit: fc.constantFrom('\\', '\u0000', '\ud800', '\udfff', 'a', 'é', '𝄞', '0', 'u'),
        maxLength: 8,
      }),
    );
    const nonEmpty = text.filter((s) => s.length > 0);
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        text,
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(
          text.filter((k) => k !== '__proto__'),
          tie('value'),
          { maxKeys: 3 },
        ),
      ),
    })).value;
    const arbEvent = fc.record(
      {
        actor: fc.record(
          {
            id: nonEmpty,
            type: fc.constantFrom('user' as const, 'service' as const),
            userAgent: text,
            sessionId: text,
          },
          { requiredKeys: ['id', 'type'] },
        ),
        action: fc.stringMatching(/^[a-z][a-z0-9_.:/-]{0,10}$/),
        resource: fc.record({ type: nonEmpty, id: text }, { requiredKeys: ['type'] }),
        outcome: fc.constantFrom('success' as const, 'failure' as const, 'denied' as const),
        reason: text,
        requestId: text,
        details: fc.dictionary(
          text.filter((k) => k !== '__proto__'),
          json,
          { maxKeys: 4 },
        ),
      },
      { requiredKeys: ['actor', 'action', 'outcome'] },
    );
    const appended: AuditEntry[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(arbEvent, { minLength: 1, maxLength: 4 }), async (events) => {
        const entries = await Promise.all(events.map((e) => log.append(e)));
        appended.push(...entries);
        const back = await store.read(entries[0]!.seq, entries.length);
        expect(back).toEqual(asJson(entries));
      }),
      { numRuns: 60 },
    );
    expect(seqs(await store.read(1, 10_000))).toEqual(appended.map((_, i) => i + 1));
    const report = await verifyAuditLog(store);
    expect(report).toMatchObject({ ok: true, checkedEntries: appended.length });
  });

  it('stores a 1234-entry group commit (one store call) across INSERT chunk boundaries', async () => {
    const head = await store.head();
    const writes = Array.from({ length: 1234 }, (_, i) => log.append(event({ requestId: `bulk-${i}` })));
    // All appends of one tick are one prepare call, i.e. one transaction.
    const spy = jest.spyOn(store, 'append');
    await Promise.all(writes);
    const calls = spy.mock.calls.length;
    spy.mockRestore();
    expect(calls).toBe(1);
    expect((await store.head()).seq).toBe(head.seq + 1234);
    expect((await verifyAuditLog(store)).ok).toBe(true);
  });

  it('refuses entries that do not continue the head, and writes nothing', async () => {
    await appendFixture();
    const head = await store.head();
    const [last] = await store.read(12, 1);
    const wrongSeq = { ...last!, seq: 14, prevHash: head.leafHash };
    await expect(store.append(() => [wrongSeq])).rejects.toMatchObject({ code: ErrorCodes.AUDIT_STORE });
    const fork = { ...last!, seq: 13, prevHash: last!.prevHash };
    await expect(store.append(() => [fork])).rejects.toMatchObject({ code: ErrorCodes.AUDIT_STORE });
    expect(await store.head()).toEqual(head);
    expect(await store.append(() => [])).toEqual([]);
  });

  it('refuses (all or nothing) a batch holding an entry a row cannot give back exactly', async () => {
    await appendFixture();
    const head = await store.head();
    const next = (extra: Record<string, unknown>) => (h: typeof head) => {
      const ok = {
        ...event(),
        time: '2025-01-01T00:00:00.000Z',
        category: 'default',
        seq: h.seq + 1,
        prevHash: h.leafHash,
        leafHash: 'a'.repeat(64),
      };
      return [ok, { ...ok, ...extra, seq: h.seq + 2, prevHash: ok.leafHash }] as unknown as AuditEntry[];
    };
    for (const extra of [
      { reason: null },
      { extra: 1 },
      { actor: { id: 'a', type: 'user', role: 'x' } },
      { details: [1] },
    ]) {
      await expect(store.append(next(extra))).rejects.toMatchObject({ code: ErrorCodes.AUDIT_STORE });
    }
    expect(await store.head()).toEqual(head);
    expect(seqs(await store.read(1, 100))).toHaveLength(12);
  });

  describe('tampering with plain SQL', () => {
    beforeEach(appendFixture);

    it.each([
      ['details', `details = '{"x":1}'`],
      ['action', `action = 'patient.delete'`],
      ['actor', `actor_id = 'mallory'`],
      ['time', `time = '2025-01-01T00:00:59.000Z'`],
      ['an invalid escape (value this store never writes)', `resource_id = 'r-\\q'`],
      ['a raw NUL-free non-canonical escape', `resource_id = 'r\\u0041'`],
    ])('an edit of %s at seq 5 is reported at seq 5', async (_what, set) => {
      await db.raw(`UPDATE ${db.table('bulwark_audit_entry')} SET ${set} WHERE seq = 5`);
      const report = await verifyAuditLog(store);
      expect(report.ok).toBe(false);
      expect(report.firstBad).toMatchObject({ seq: 5, reason: 'hash-mismatch' });
    });

    it('flags a row holding a value this store never writes with an extra field', async () => {
      await db.raw(`UPDATE ${db.table('bulwark_audit_entry')} SET resource_id = 'r-\\q' WHERE seq = 2`);
      const [entry] = await store.read(2, 1);
      expect(entry).toHaveProperty(STORAGE_FAULT_FIELD);
    });

    it('a deleted row is reported as a gap at its seq', async () => {
      await db.raw(`DELETE FROM ${db.table('bulwark_audit_entry')} WHERE seq = 7`);
      expect((await verifyAuditLog(store)).firstBad).toMatchObject({ seq: 7, reason: 'gap' });
      expect((await log.verify()).firstBad).toMatchObject({ seq: 7 });
    });

    it('a deleted last row makes appends fail closed (head row disagrees)', async () => {
      await db.raw(`DELETE FROM ${db.table('bulwark_audit_entry')} WHERE seq = 12`);
      const fresh = await AuditLog.open({ store, closeStore: false });
      await expect(fresh.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CHAIN_BROKEN });
      await fresh.close();
    });

    it('a row slipped in below seq 1 is seen by the verifier, not skipped', async () => {
      const t = db.table('bulwark_audit_entry');
      await db.raw(`ALTER TABLE ${t} DROP CONSTRAINT "CHK_bulwark_audit_entry_seq"`).catch(() => undefined);
      const inserted = await db
        .raw(
          `INSERT INTO ${t} (seq, time, category, prev_hash, leaf_hash) VALUES (0, '2025-01-01T00:00:00.000Z', 'default', $1, $1)`,
          ['0'.repeat(64)],
        )
        .then(
          () => true,
          () => false, // SQLite cannot drop a CHECK: the constraint holds, which is the point
        );
      if (inserted) expect((await verifyAuditLog(store)).ok).toBe(false);
      else expect((await verifyAuditLog(store)).ok).toBe(true);
    });
  });

  it('rejects use after close, and bad arguments, with typed errors', async () => {
    await expect(store.read(1.5, 1)).rejects.toMatchObject({ code: ErrorCodes.AUDIT_INVALID_ARGUMENT });
    await expect(store.redact([0], { at: 'x', reason: 'y' })).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_ARGUMENT,
    });
    await store.close();
    await store.close();
    await expect(store.head()).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CLOSED });
    await expect(store.append(() => [])).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CLOSED });
    await expect(store.query(normalizeAuditQuery({}))).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_CLOSED,
    });
  });
}

describe('TypeOrmAuditStore on SQLite (file database, appends committed by the writer thread)', () =>
  storeBehaviour(sqliteBackend));
describe('TypeOrmAuditStore on SQLite (file database, appends on the DataSource connection)', () =>
  storeBehaviour(sqliteBackend, { writerThread: false }));
describeWithService('postgres', 'TypeOrmAuditStore on PostgreSQL', () => storeBehaviour(postgresBackend));
