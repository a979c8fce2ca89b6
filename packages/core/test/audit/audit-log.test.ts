import { PassThrough } from 'node:stream';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditEntry } from '../../src/audit/audit-event';
import type { AuditSink } from '../../src/audit/audit-sink';
import { EntryHasher } from '../../src/audit/entry-hasher';
import { JsonLinesSink } from '../../src/audit/json-lines-sink';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { BulwarkAuditError, ErrorCodes } from '../../src/errors';
import { copyEntries, event, steppingClock } from './audit-helpers';

const HMAC_KEY = Buffer.alloc(32, 0x42);

describe('AuditLog', () => {
  it('stores the event fields, a UTC ms time from the clock and the default category', async () => {
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      clock: () => new Date('2025-03-04T05:06:07.089Z'),
    });
    const e = await log.append(event({ reason: 'chart review', details: { fields: ['allergies'] } }));
    expect(e).toEqual({
      seq: 1,
      time: '2025-03-04T05:06:07.089Z',
      actor: { id: 'alice', type: 'user', ip: '203.0.113.7', userAgent: 'jest', sessionId: 's-1' },
      action: 'patient.read',
      resource: { type: 'patient', id: 'p-1' },
      outcome: 'success',
      reason: 'chart review',
      requestId: 'req-1',
      category: 'default',
      details: { fields: ['allergies'] },
      prevHash: '0'.repeat(64),
      leafHash: new EntryHasher().hash(e).toString('hex'),
    });
    expect(Object.isFrozen(e) && Object.isFrozen(e.actor) && Object.isFrozen(e.details)).toBe(true);
    // An explicit time with an offset is normalised to UTC.
    expect((await log.append(event({ time: '2025-03-04T07:00:00+02:00' }))).time).toBe(
      '2025-03-04T05:00:00.000Z',
    );
  });

  it.each([
    [{ actor: undefined }, 'actor'],
    [{ actor: { id: '', type: 'user' } }, 'actor.id'],
    [{ actor: { id: 'a', type: 'robot' } }, 'actor.type'],
    [{ actor: { id: 'a', type: 'user', ip: 'not-an-ip' } }, 'actor.ip'],
    [{ actor: { id: 'x'.repeat(257), type: 'user' } }, 'actor.id'],
    [{ action: '' }, 'action'],
    [{ action: 'patient read; DROP' }, 'action'],
    [{ outcome: 'maybe' }, 'outcome'],
    [{ resource: { id: 'p' } }, 'resource.type'],
    [{ time: 'last tuesday' }, 'time'],
    [{ time: '2025-01-01T00:00:00' }, 'time'],
    // Already in toISOString form (the fast path), but beyond the four-digit years audit times allow.
    [{ time: '+010000-01-01T00:00:00.000Z' }, 'time'],
    [{ time: '-000001-01-01T00:00:00.000Z' }, 'time'],
    [{ category: '../etc' }, 'category'],
    [{ reason: 'r'.repeat(1025) }, 'reason'],
    [{ details: [1, 2] }, 'details'],
    [{ details: { n: NaN } }, 'details.n'],
    [{ details: { f: () => 1 } }, 'details.f'],
    [{ details: { big: 10n } }, 'details.big'],
    [{ details: { m: new Map() } }, 'details.m'],
    [{ details: { blob: 'x'.repeat(70_000) } }, 'details'],
    [{ action: 'audit.redacted' }, 'action'],
  ])('rejects invalid input %# with ERR_AUDIT_INVALID_EVENT naming %s', async (patch, field) => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const bad = { ...event(), ...(patch as object) };
    const err = await log.append(bad as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkAuditError);
    expect(err).toMatchObject({ code: ErrorCodes.AUDIT_INVALID_EVENT, details: { field } });
    expect(log.size).toBe(0);
  });

  it('rejects cyclic details and truncates (never rejects) an over-long user agent', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(log.append(event({ details: cyclic }))).rejects.toMatchObject({
      code: ErrorCodes.AUDIT_INVALID_EVENT,
    });
    const e = await log.append(event({ actor: { id: 'a', type: 'anonymous', userAgent: 'U'.repeat(5000) } }));
    expect(e.actor!.userAgent).toHaveLength(512);
  });

  it('copies the event: mutating the caller object afterwards changes nothing stored', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store });
    const input = event({ details: { items: [1, 2] } });
    const pending = log.append(input);
    (input.details!.items as number[]).push(3);
    input.actor.id = 'mallory';
    const e = await pending;
    expect(e.actor!.id).toBe('alice');
    expect(e.details).toEqual({ items: [1, 2] });
    expect((await log.verify()).ok).toBe(true);
  });

  it('1,000 concurrent appends get seq 1..1000 gap-free, in few store calls, and verify', async () => {
    const store = new MemoryAuditStore();
    const spy = jest.spyOn(store, 'append');
    const log = await AuditLog.open({ store, maxBatchSize: 256 });
    const entries = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => log.append(event({ requestId: `r-${i}` }))),
    );
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // Each caller gets its own event back.
    entries.forEach((e, i) => expect(e.requestId).toBe(`r-${i}`));
    expect(spy).toHaveBeenCalledTimes(4); // ceil(1000 / 256): group commit
    expect(await log.verify()).toMatchObject({ ok: true, checkedEntries: 1000, treeSize: 1000 });
  });

  it('two writers sharing one store (the multi-process SQL case) keep one linear chain', async () => {
    const store = new MemoryAuditStore();
    const a = await AuditLog.open({ store, closeStore: false });
    const b = await AuditLog.open({ store, closeStore: false });
    const writes: Promise<AuditEntry>[] = [];
    for (let i = 0; i < 50; i++) writes.push((i % 2 === 0 ? a : b).append(event({ requestId: `r-${i}` })));
    const entries = await Promise.all(writes);
    expect(entries.map((e) => e.seq).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    // The writer that appended last has caught up with the other's entries; the other catches up on refresh().
    expect([a.size, b.size].sort()).toEqual([25, 50]);
    expect(await a.refresh()).toBe(50);
    expect(await b.refresh()).toBe(50);
    expect(b.root()).toBe(a.root());
    expect(AuditLog.verifyInclusion(a.proveInclusion(2), { root: b.root() })).toBe(true);
    expect(await a.verify()).toMatchObject({ ok: true, checkedEntries: 50 });
  });

  it('appends made while a write is in flight are committed together in the next batch', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store });
    // The first write stays in flight until `release`: the store's append waits on a gate.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inFlight!: () => void;
    const started = new Promise<void>((resolve) => (inFlight = resolve));
    const original = store.append.bind(store);
    const spy = jest.spyOn(store, 'append').mockImplementation(async (prepare) => {
      if (spy.mock.calls.length === 1) {
        inFlight();
        await gate;
      }
      return original(prepare);
    });
    const first = log.append(event());
    await started;
    const later = [log.append(event()), log.append(event()), log.append(event())];
    release();
    await Promise.all([first, ...later]);
    expect(spy).toHaveBeenCalledTimes(2);
    expect((await Promise.all(later)).map((e) => e.seq)).toEqual([2, 3, 4]);
  });

  it('commitWindowMs: appends made in separate turns within the window share one store write', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, commitWindowMs: 50 });
    const spy = jest.spyOn(store, 'append');
    const first = log.append(event());
    // Three later turns, each well inside the window (setImmediate: no timing assumption beyond
    // a few event-loop turns taking less than 50 ms).
    const later: Promise<AuditEntry>[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      later.push(log.append(event()));
    }
    const entries = await Promise.all([first, ...later]);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect((await log.verify()).ok).toBe(true);
    // Without a window the same pattern writes each turn's event on its own.
    const store2 = new MemoryAuditStore();
    const log2 = await AuditLog.open({ store: store2 });
    const spy2 = jest.spyOn(store2, 'append');
    const all: Promise<AuditEntry>[] = [log2.append(event())];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      all.push(log2.append(event()));
    }
    await Promise.all(all);
    expect(spy2.mock.calls.length).toBeGreaterThan(1);
  });

  it.each([-1, 1.5, 1001, '10'])('commitWindowMs %p is refused with ERR_CONFIG_INVALID', async (bad) => {
    await expect(
      AuditLog.open({ store: new MemoryAuditStore(), commitWindowMs: bad as unknown as number }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });

  it('appends made in one event-loop turn share one store write (group commit for synchronous stores)', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store });
    const spy = jest.spyOn(store, 'append');
    // Like requests whose I/O completes in one turn: each appends from its own callback.
    const appended = await new Promise<Promise<AuditEntry>[]>((resolve) => {
      const out: Promise<AuditEntry>[] = [];
      for (let i = 0; i < 5; i++) {
        setImmediate(() => {
          out.push(log.append(event()));
          if (out.length === 5) resolve(out);
        });
      }
    });
    const entries = await Promise.all(appended);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect((await log.verify()).ok).toBe(true);
  });

  it('a store failure rejects that batch with a typed error and later appends continue the chain', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store });
    await log.append(event());
    jest.spyOn(store, 'append').mockRejectedValueOnce(new Error('disk full'));
    const failed = await log.append(event()).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: ErrorCodes.AUDIT_STORE });
    expect((await log.append(event())).seq).toBe(2);
    expect((await log.verify()).ok).toBe(true);
  });

  it('refuses to append onto a store that was truncated behind its back', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store });
    for (let i = 0; i < 3; i++) await log.append(event());
    store.rawEntries.length = 1;
    await expect(log.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CHAIN_BROKEN });
    // And verify() holds the store to the root the log already knows.
    expect((await log.verify()).firstBad).toMatchObject({ seq: 2, reason: 'truncated' });
  });

  it('close() flushes pending appends, then appends and queries fail with ERR_AUDIT_CLOSED', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store });
    const pending = Array.from({ length: 10 }, () => log.append(event()));
    await log.close();
    expect((await Promise.all(pending)).map((e) => e.seq)).toHaveLength(10);
    expect(store.rawEntries).toHaveLength(10);
    await expect(log.append(event())).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CLOSED });
    await expect(log.query({})).rejects.toMatchObject({ code: ErrorCodes.AUDIT_CLOSED });
    await log.close(); // idempotent
  });

  it('proves inclusion of any entry in any tree size, tied to content', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore(), hmacKey: HMAC_KEY });
    const entries: AuditEntry[] = [];
    for (let i = 0; i < 13; i++) entries.push(await log.append(event({ requestId: `r-${i}` })));
    for (const size of [1, 7, 13]) {
      for (let seq = 1; seq <= size; seq++) {
        const proof = log.proveInclusion(seq, size);
        expect(proof.root).toBe(log.root(size));
        expect(
          AuditLog.verifyInclusion(proof, {
            root: log.root(size),
            entry: entries[seq - 1],
            hmacKey: HMAC_KEY,
          }),
        ).toBe(true);
      }
    }
    const p = log.proveInclusion(5);
    expect(AuditLog.verifyInclusion({ ...p, seq: 6 })).toBe(false);
    expect(AuditLog.verifyInclusion(p, { root: log.root(12) })).toBe(false);
    expect(
      AuditLog.verifyInclusion(p, { entry: { ...entries[4]!, outcome: 'denied' }, hmacKey: HMAC_KEY }),
    ).toBe(false);
    expect(AuditLog.verifyInclusion({ ...p, proof: [...p.proof, 'zz'] })).toBe(false);
    expect(() => log.proveInclusion(14)).toThrow(
      expect.objectContaining({ code: ErrorCodes.AUDIT_INVALID_ARGUMENT }),
    );
    expect(() => log.proveConsistency(0)).toThrow(
      expect.objectContaining({ code: ErrorCodes.AUDIT_INVALID_ARGUMENT }),
    );
  });

  it('names its config path when checkpoint() is called without a signer', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore(), configPath: 'tenants.a.audit' });
    await expect(log.checkpoint()).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
      message: 'tenants.a.audit.signer is required to create checkpoints',
      details: { path: 'tenants.a.audit.signer' },
    });
    await log.close();
  });

  it('names its retention options under its own config path', async () => {
    await expect(
      AuditLog.open({
        store: new MemoryAuditStore(),
        configPath: 'tenants.a.audit',
        retention: { periods: { auth: 0 } },
      }),
    ).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
      details: { path: 'tenants.a.audit.retention.periods.auth' },
    });
  });

  describe('HMAC mode', () => {
    async function hmacLog(n: number) {
      const store = new MemoryAuditStore();
      const log = await AuditLog.open({ store, hmacKey: HMAC_KEY, clock: steppingClock() });
      for (let i = 0; i < n; i++) await log.append(event({ requestId: `r-${i}` }));
      return { log, store };
    }

    /** Edit entry k and rebuild the whole chain from there with plain SHA-256 leaf hashes. */
    function forge(entries: AuditEntry[], k: number): AuditEntry[] {
      const t = copyEntries(entries);
      t[k]!.outcome = 'success';
      t[k]!.actor!.id = 'someone-else';
      const plain = new EntryHasher();
      for (let i = k; i < t.length; i++) {
        if (i > 0) t[i]!.prevHash = t[i - 1]!.leafHash;
        t[i]!.leafHash = plain.hash(t[i]!).toString('hex');
      }
      return t;
    }

    it('an attacker recomputing plain SHA-256 leaf hashes after an edit is still detected', async () => {
      const { store } = await hmacLog(8);
      const forged = forge(store.rawEntries, 3);
      expect((await verifyAuditLog(forged, { hmacKey: HMAC_KEY })).firstBad).toMatchObject({
        seq: 4,
        reason: 'hash-mismatch',
      });
      // Control: on a log without an HMAC key the same rewrite is internally consistent, which is
      // exactly why the key (or a checkpoint) is needed.
      const plainStore = new MemoryAuditStore();
      const plain = await AuditLog.open({ store: plainStore, clock: steppingClock() });
      for (let i = 0; i < 8; i++) await plain.append(event({ requestId: `r-${i}` }));
      expect((await verifyAuditLog(forge(plainStore.rawEntries, 3))).ok).toBe(true);
    });

    it('a wrong or missing key fails at seq 1', async () => {
      const { store } = await hmacLog(3);
      expect((await verifyAuditLog(store, { hmacKey: Buffer.alloc(32, 0x43) })).firstBad).toMatchObject({
        seq: 1,
        reason: 'hash-mismatch',
      });
      expect((await verifyAuditLog(store)).firstBad).toMatchObject({ seq: 1, reason: 'hash-mismatch' });
      expect((await verifyAuditLog(store, { hmacKey: HMAC_KEY })).ok).toBe(true);
    });

    it('rejects a short HMAC key at open', async () => {
      await expect(
        AuditLog.open({ store: new MemoryAuditStore(), hmacKey: Buffer.alloc(16) }),
      ).rejects.toMatchObject({
        code: ErrorCodes.CONFIG_INVALID,
      });
    });
  });

  describe('sinks', () => {
    it('JsonLinesSink writes pino-compatible lines after the entries are durable', async () => {
      const stream = new PassThrough();
      const chunks: string[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c.toString()));
      const store = new MemoryAuditStore();
      const seenInStore: number[] = [];
      const probe: AuditSink = {
        write: (entries) => void seenInStore.push(...entries.map(() => store.rawEntries.length)),
      };
      const log = await AuditLog.open({
        store,
        sinks: [new JsonLinesSink(stream), probe],
        clock: () => new Date('2025-01-01T00:00:00.000Z'),
      });
      await Promise.all([log.append(event()), log.append(event({ outcome: 'denied' }))]);
      await log.flush();
      const lines = chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({
        level: 30,
        time: Date.parse('2025-01-01T00:00:00.000Z'),
        msg: 'audit patient.read',
        audit: { seq: 1 },
      });
      expect(lines[1]).toMatchObject({ level: 40, audit: { seq: 2, outcome: 'denied' } });
      expect(seenInStore.every((n) => n === 2)).toBe(true); // notified after the store held them
    });

    it('a failing sink does not fail the append; the error is reported', async () => {
      const errors: unknown[] = [];
      const bad: AuditSink = {
        write: () => {
          throw new Error('bus down');
        },
      };
      const log = await AuditLog.open({
        store: new MemoryAuditStore(),
        sinks: [bad],
        onSinkError: (e) => errors.push(e),
      });
      expect((await log.append(event())).seq).toBe(1);
      await log.flush();
      expect(errors).toHaveLength(1);
    });
  });
});
