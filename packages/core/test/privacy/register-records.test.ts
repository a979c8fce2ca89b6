import { BulwarkPrivacyError, ErrorCodes } from '../../src/errors';
import { duplicateId, notFound, RegisterRecords } from '../../src/privacy/register-records';
import { MemoryRegisterStore, type RegisterStore, type StoredRecord } from '../../src/privacy/register-store';

interface Item {
  id: string;
  n: number;
}

const checkItem = (v: unknown): Item => {
  const o = v as Item;
  if (typeof o?.id !== 'string' || typeof o.n !== 'number') throw new Error('bad item');
  return { id: o.id, n: o.n };
};

/** A store that loses every conditional write (another instance always got there first). */
class AlwaysRacedStore extends MemoryRegisterStore<Item> {
  updates = 0;
  override async update(): Promise<boolean> {
    this.updates++;
    return false;
  }
}

describe('RegisterRecords (the registers’ shared store plumbing)', () => {
  it('uses process memory by default and refuses something that is not a store, naming the path', () => {
    expect(() => new RegisterRecords('test register', undefined, 'x.store', checkItem)).not.toThrow();
    const err = (() => {
      try {
        new RegisterRecords('test register', { get: () => undefined }, 'x.options.store', checkItem);
      } catch (e) {
        return e as BulwarkPrivacyError;
      }
      throw new Error('expected a refusal');
    })();
    expect(err).toMatchObject({
      code: ErrorCodes.PRIVACY_INVALID_ARGUMENT,
      details: { path: 'x.options.store' },
    });
  });

  it('insertNew throws the given duplicate error when the id is taken', async () => {
    const r = new RegisterRecords<Item>('test register', undefined, 'x.store', checkItem);
    await r.insertNew('a', { id: 'a', n: 1 }, () => duplicateId('item a exists', 'a'));
    await expect(
      r.insertNew('a', { id: 'a', n: 2 }, () => duplicateId('item a exists', 'a')),
    ).rejects.toMatchObject({
      code: ErrorCodes.PRIVACY_DUPLICATE_ID,
      message: 'item a exists',
      details: { id: 'a' },
    });
    expect((await r.read('a'))?.value).toEqual({ id: 'a', n: 1 });
  });

  it('read validates a stored record (ERR_PRIVACY_STORE naming only the register); raw does not', async () => {
    const store = new MemoryRegisterStore<Item>();
    await store.insert('bad', { id: 'bad' } as unknown as Item);
    const r = new RegisterRecords<Item>('test register', store, 'x.store', checkItem);
    const err = await r.read('bad').catch((e: BulwarkPrivacyError) => e);
    expect(err).toMatchObject({
      code: ErrorCodes.PRIVACY_STORE,
      message: 'test register store holds a malformed record',
    });
    await expect(r.values()).rejects.toMatchObject({ code: ErrorCodes.PRIVACY_STORE });
    expect((await r.raw('bad'))?.version).toBe(1);
    expect(await r.read('')).toBeUndefined();
    expect(await r.read(42 as unknown as string)).toBeUndefined();
  });

  it('turns a failing store into ERR_PRIVACY_STORE without its message (it may hold a connection string)', async () => {
    const failing: RegisterStore<Item> = {
      get: () => Promise.reject(new Error('postgres://admin:hunter2@db/x refused')),
      list: () => Promise.reject(new Error('postgres://admin:hunter2@db/x refused')),
      insert: () => Promise.reject(new Error('postgres://admin:hunter2@db/x refused')),
      update: () => Promise.reject(new Error('postgres://admin:hunter2@db/x refused')),
      delete: () => Promise.reject(new Error('postgres://admin:hunter2@db/x refused')),
    };
    const r = new RegisterRecords<Item>('test register', failing, 'x.store', checkItem);
    for (const call of [
      () => r.read('a'),
      () => r.values(),
      () => r.insert('a', { id: 'a', n: 1 }),
      () => r.update('a', 1, { id: 'a', n: 1 }),
      () => r.delete('a', 1),
      () => r.ensure('a', { id: 'a', n: 1 }, 'item'),
    ]) {
      const err = (await call().catch((e: unknown) => e)) as BulwarkPrivacyError;
      expect(err).toMatchObject({ code: ErrorCodes.PRIVACY_STORE, message: 'test register store failed' });
      expect(err.message).not.toContain('hunter2');
    }
  });

  it('ensure inserts when absent, leaves an equal record alone and replaces a different one', async () => {
    const store = new MemoryRegisterStore<Item>();
    const r = new RegisterRecords<Item>('test register', store, 'x.store', checkItem);
    await r.ensure('a', { id: 'a', n: 1 }, 'item');
    expect(await store.get('a')).toEqual({ value: { id: 'a', n: 1 }, version: 1 });
    await r.ensure('a', { id: 'a', n: 1 }, 'item');
    expect((await store.get('a'))!.version).toBe(1);
    await r.ensure('a', { id: 'a', n: 2 }, 'item');
    expect(await store.get('a')).toEqual({ value: { id: 'a', n: 2 }, version: 2 });
  });

  it('ensure runs beforeEach on every attempt and gives up with ERR_PRIVACY_CONFLICT after three lost races', async () => {
    const store = new AlwaysRacedStore();
    await store.insert('a', { id: 'a', n: 1 });
    const r = new RegisterRecords<Item>('test register', store, 'x.store', checkItem);
    let checks = 0;
    const err = await r
      .ensure('a', { id: 'a', n: 2 }, 'item', async () => {
        checks++;
      })
      .catch((e: BulwarkPrivacyError) => e);
    expect(err).toMatchObject({ code: ErrorCodes.PRIVACY_CONFLICT, details: { id: 'a' } });
    expect((err as Error).message).toMatch(/^item changed concurrently/);
    expect(store.updates).toBe(3);
    expect(checks).toBe(3);
    expect((await store.get('a')) as StoredRecord<Item>).toEqual({ value: { id: 'a', n: 1 }, version: 1 });
  });

  it('ensure stops at the first failing beforeEach (a configuration check), writing nothing', async () => {
    const store = new MemoryRegisterStore<Item>();
    const r = new RegisterRecords<Item>('test register', store, 'x.store', checkItem);
    await expect(
      r.ensure('a', { id: 'a', n: 1 }, 'item', async () => {
        throw duplicateId('clash', 'a');
      }),
    ).rejects.toMatchObject({ message: 'clash' });
    expect(await store.get('a')).toBeUndefined();
  });

  it('notFound truncates the id it echoes', () => {
    const err = notFound('breach incident', 'x'.repeat(500));
    expect(err).toMatchObject({ code: ErrorCodes.PRIVACY_NOT_FOUND, message: 'breach incident not found' });
    expect((err.details as { id: string }).id).toHaveLength(128);
  });
});
