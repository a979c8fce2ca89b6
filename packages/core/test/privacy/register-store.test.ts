import { ErrorCodes } from '../../src/errors';
import { BreachRegister, type BreachIncident } from '../../src/privacy/breach-register';
import { DataRetention, type RetentionHold } from '../../src/privacy/data-retention';
import { DataSubjectRequests } from '../../src/privacy/data-subject-requests';
import { MemoryDsrStore } from '../../src/privacy/memory-dsr-store';
import { ProcessingRegister } from '../../src/privacy/processing-register';
import { ProcessorRegister, type Processor } from '../../src/privacy/processor-register';
import { MemoryRegisterStore } from '../../src/privacy/register-store';

const incident = {
  id: 'inc-1',
  title: 'Lost laptop',
  detectedAt: '2025-03-10T08:00:00.000Z',
  severity: 'high' as const,
  affectedSubjects: 3,
  dataCategories: ['personal'],
};

describe('MemoryRegisterStore', () => {
  it('inserts once and writes only over the version read', async () => {
    const s = new MemoryRegisterStore<{ id: string; n: number }>();
    expect(await s.insert('a', { id: 'a', n: 1 })).toBe(true);
    expect(await s.insert('a', { id: 'a', n: 2 })).toBe(false);
    expect(await s.update('a', 2, { id: 'a', n: 3 })).toBe(false);
    expect(await s.update('a', 1, { id: 'a', n: 3 })).toBe(true);
    expect(await s.get('a')).toEqual({ value: { id: 'a', n: 3 }, version: 2 });
    expect(await s.delete('a', 1)).toBe(false);
    expect(await s.delete('a', 2)).toBe(true);
    const v = { id: 'b', n: 1 };
    await s.insert('b', v);
    v.n = 99; // the store kept a copy
    expect((await s.get('b'))!.value.n).toBe(1);
  });
});

describe('registers sharing one store behave as two instances on one database', () => {
  it('breaches: a stale instance gets ERR_PRIVACY_CONFLICT, never overwrites', async () => {
    const store = new MemoryRegisterStore<BreachIncident>();
    const a = new BreachRegister({ store });
    const b = new BreachRegister({ store });
    await a.record(incident);
    await expect(b.record(incident)).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_DUPLICATE_ID });
    // interleave: both read, one writes, the other's write is refused
    const original = store.update.bind(store);
    let once = true;
    store.update = async (id, version, value) => {
      if (once) {
        once = false;
        await b.notify('inc-1', { to: 'subjects', at: '2025-03-11T00:00:00Z' });
      }
      return original(id, version, value);
    };
    await expect(a.notify('inc-1', { to: 'authority', at: '2025-03-11T00:00:00Z' })).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_CONFLICT,
    });
    const stored = (await a.get('inc-1'))!;
    expect(stored.notifications.map((n) => n.notifiedAt !== undefined)).toEqual([false, true]);
  });

  it('an incident whose audit event cannot be written is taken back', async () => {
    const store = new MemoryRegisterStore<BreachIncident>();
    const failing = {
      append: async () => {
        throw new Error('audit down');
      },
    };
    const r = new BreachRegister({ store, auditLog: failing });
    await expect(r.record(incident)).rejects.toThrow('audit down');
    expect(await store.list()).toEqual([]);
  });

  it('config registrations are idempotent across instances (ensure), plain registration is not', async () => {
    const store = new MemoryRegisterStore<Processor>();
    const input = {
      id: 'mailer',
      name: 'Mailer',
      role: 'processor' as const,
      scope: { dataCategories: ['personal'], purposes: ['newsletter'] },
    };
    const a = new ProcessorRegister({ store });
    const b = new ProcessorRegister({ store });
    await a.ensure(input);
    await b.ensure(input);
    expect((await store.get('mailer'))!.version).toBe(1); // equal: untouched
    await b.ensure({ ...input, name: 'Mailer GmbH' });
    expect((await a.get('mailer'))!.name).toBe('Mailer GmbH');
    await expect(a.register(input)).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_DUPLICATE_ID });
    const ropa = new ProcessingRegister({ controller: { name: 'C' }, processors: b });
    await expect(
      ropa.register({
        id: 'x',
        name: 'X',
        purposes: ['p'],
        subjectCategories: ['s'],
        recipients: ['ghost'],
        retention: { description: 'r' },
        securityMeasures: ['m'],
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_INVALID_ARGUMENT });
  });

  it('a malformed stored record is refused with ERR_PRIVACY_STORE, not used', async () => {
    const processors = new MemoryRegisterStore<Processor>();
    await processors.insert('bad', { id: 'bad', name: 'x' } as Processor);
    await expect(new ProcessorRegister({ store: processors }).list()).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_STORE,
    });
    const holds = new MemoryRegisterStore<RetentionHold>();
    await holds.insert('h', { id: 'h', reason: 'r', placedAt: '2025-01-01T00:00:00Z' } as RetentionHold);
    // a hold that names nothing cannot be enforced: purges fail rather than ignore it
    await expect(new DataRetention({ holdStore: holds }).holds()).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_STORE,
    });
    const breaches = new MemoryRegisterStore<BreachIncident>();
    await breaches.insert('b', { id: 'b', title: 't' } as BreachIncident);
    await expect(new BreachRegister({ store: breaches }).overdue()).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_STORE,
    });
  });

  it('a failing store gives ERR_PRIVACY_STORE without the driver message', async () => {
    const store = new MemoryRegisterStore<BreachIncident>();
    store.list = async () => {
      throw new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2');
    };
    const err = await new BreachRegister({ store }).list().catch((e: Error) => e);
    expect(err).toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('refuses a store that is not a RegisterStore', () => {
    expect(() => new BreachRegister({ store: {} as never })).toThrow(
      expect.objectContaining({ code: ErrorCodes.PRIVACY_INVALID_ARGUMENT }),
    );
  });

  it('DSR: two instances moving one request on at once, one wins', async () => {
    const store = new MemoryDsrStore();
    const a = new DataSubjectRequests({ verifyIdentity: () => true, store });
    const b = new DataSubjectRequests({ verifyIdentity: () => true, store });
    const r = await a.receive({ type: 'access', subjectId: 'alice' });
    await a.verifyIdentity(r.id);
    const results = await Promise.allSettled([a.start(r.id), b.start(r.id)]);
    expect(results.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toMatchObject({ code: ErrorCodes.PRIVACY_CONFLICT });
    expect((await b.get(r.id))!.history.filter((h) => h.status === 'in-progress')).toHaveLength(1);
  });
});

describe('DSR idempotency keys', () => {
  it('a resubmission returns the logged request; a key reused for another subject is refused', async () => {
    const store = new MemoryDsrStore();
    const a = new DataSubjectRequests({ verifyIdentity: () => true, store });
    const b = new DataSubjectRequests({ verifyIdentity: () => true, store });
    const input = { type: 'erasure' as const, subjectId: 'alice', idempotencyKey: 'msg-1.example.org' };
    const [r1, r2] = await Promise.all([a.receive(input), b.receive(input)]);
    expect(r2.id).toBe(r1.id);
    expect(await store.list()).toHaveLength(1);
    await expect(a.receive({ ...input, subjectId: 'mallory' })).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_DUPLICATE_ID,
    });
    await expect(a.receive({ ...input, type: 'access' })).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_DUPLICATE_ID,
    });
    await expect(a.receive({ ...input, idempotencyKey: 'has spaces' })).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    });
    const legacy = new DataSubjectRequests({
      verifyIdentity: () => true,
      store: { save: store.save.bind(store), get: store.get.bind(store), list: store.list.bind(store) },
    });
    await expect(legacy.receive(input)).rejects.toMatchObject({ code: ErrorCodes.DSR_UNSUPPORTED });
  });
});
