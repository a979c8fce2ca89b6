import { deepStrictEqual } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { BulwarkError, ErrorCodes, type KeyRing } from '@bulwark/core';
import type { DataSource, Repository } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import { registerBulwarkEncryption, TypeOrmErrorCodes, type BulwarkEncryption } from '../../src';
import { Account, Contact, LazyNote, querySafetyEntities } from './query-safety-entities';
import { caught, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

/**
 * Issue 20 item 8: @EncryptedField({ lazy: true }) decrypts on first access. A list that never
 * reads the field decrypts nothing; reading, serialising or spreading decrypts; saving with the
 * field untouched leaves its stored envelope byte for byte.
 */
function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  let accounts: Repository<Account>;
  let ids: number[];

  beforeAll(async () => {
    db = await backend.create(querySafetyEntities);
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    accounts = ds.getRepository(Account);
    const saved = await accounts.save(
      Array.from({ length: 5 }, (_, i) =>
        Object.assign(new Account(), {
          name: `lazy${i}`,
          email: `lazy${i}@example.com`,
          nationalId: null,
          bio: `bio of ${i}`,
          settings: { theme: `theme${i}` },
        }),
      ),
    );
    ids = saved.map((a) => a.id);
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  const raw = async (id: number) =>
    (
      await db.raw(`SELECT "bio", "settings", "name" FROM ${db.t('qs_account')} WHERE "id" = $1`, [id])
    )[0] as {
      bio: string;
      settings: string;
      name: string;
    };
  const load = (id: number) => accounts.findOneByOrFail({ id });

  /** Counts key-ring decryptions during `fn` (a spy on the real ring: every call still runs). */
  async function decryptions<T>(fn: () => Promise<T>): Promise<[T, number]> {
    const spy = jest.spyOn(ring, 'decrypt');
    try {
      const result = await fn();
      return [result, spy.mock.calls.length];
    } finally {
      spy.mockRestore();
    }
  }

  it('stores envelopes like any encrypted field', async () => {
    const row = await raw(ids[0]);
    expect(row.bio).toMatch(/^bw2\./);
    expect(row.bio).not.toContain('bio of');
    expect(row.settings).toMatch(/^bw2\./);
  });

  it('a list that does not read the lazy fields decrypts only the eager ones', async () => {
    const [list, count] = await decryptions(() => accounts.find({ where: ids.map((id) => ({ id })) }));
    expect(list).toHaveLength(5);
    expect(count).toBe(5); // email only (nationalId is null); bio and settings untouched
    const descriptor = Object.getOwnPropertyDescriptor(list[0], 'bio');
    expect(typeof descriptor?.get).toBe('function');
    const [bio, more] = await decryptions(async () => list[2].bio);
    expect(bio).toBe('bio of 2');
    expect(more).toBe(1);
    // decrypted once: afterwards a plain data property
    expect(Object.getOwnPropertyDescriptor(list[2], 'bio')).toEqual(
      expect.objectContaining({ value: 'bio of 2', writable: true, enumerable: true }),
    );
    const [again, none] = await decryptions(async () => list[2].bio);
    expect([again, none]).toEqual(['bio of 2', 0]);
  });

  it('JSON serialisation, spreading and Object.entries decrypt on access', async () => {
    const account = await load(ids[1]);
    expect(JSON.parse(JSON.stringify(account))).toEqual(
      expect.objectContaining({ bio: 'bio of 1', settings: { theme: 'theme1' }, email: 'lazy1@example.com' }),
    );
    const other = await load(ids[3]);
    expect({ ...other }).toEqual(expect.objectContaining({ bio: 'bio of 3', settings: { theme: 'theme3' } }));
    const third = await load(ids[4]);
    expect(Object.fromEntries(Object.entries(third)).settings).toEqual({ theme: 'theme4' });
  });

  it('QueryBuilder getMany and a joined relation are lazy too', async () => {
    const contact = await ds
      .getRepository(Contact)
      .save(Object.assign(new Contact(), { email: 'c@example.com', account: { id: ids[0] } as Account }));
    const [loaded, count] = await decryptions(() =>
      ds
        .getRepository(Contact)
        .createQueryBuilder('c')
        .leftJoinAndSelect('c.account', 'a')
        .where('c.id = :id', { id: contact.id })
        .getOneOrFail(),
    );
    expect(count).toBe(1); // the account's email
    expect(loaded.account?.bio).toBe('bio of 0');
    const qbList = await accounts.createQueryBuilder('a').whereInIds(ids).getMany();
    expect(qbList.map((a) => a.settings?.theme).sort()).toEqual(ids.map((_, i) => `theme${i}`));
  });

  it('saving with the lazy fields untouched leaves their stored envelopes as they were', async () => {
    const before = await raw(ids[0]);
    const account = await load(ids[0]);
    account.name = 'renamed';
    await accounts.save(account);
    const after = await raw(ids[0]);
    expect(after.name).toBe('renamed');
    expect(after.bio).toBe(before.bio);
    expect(after.settings).toBe(before.settings);
    expect(account.bio).toBe('bio of 0'); // the caller's entity still reads plaintext
    // nothing changed at all: still the same envelopes
    await accounts.save(await load(ids[0]));
    expect((await raw(ids[0])).bio).toBe(before.bio);
    // a lazy field read and saved unchanged is not rewritten either
    const read = await load(ids[0]);
    expect(read.bio).toBe('bio of 0');
    read.name = 'renamed again';
    await accounts.save(read);
    expect((await raw(ids[0])).bio).toBe(before.bio);
  });

  it('assigning a lazy field before reading it writes the new value', async () => {
    const before = await raw(ids[1]);
    const account = await load(ids[1]);
    account.bio = 'a new bio';
    expect(account.bio).toBe('a new bio');
    await accounts.save(account);
    const stored = await raw(ids[1]);
    expect(stored.bio).not.toBe(before.bio);
    expect(stored.bio).toMatch(/^bw2\./);
    expect(stored.bio).not.toContain('a new bio');
    expect(stored.settings).toBe(before.settings);
    expect((await load(ids[1])).bio).toBe('a new bio');
    account.bio = null;
    await accounts.save(account);
    expect((await raw(ids[1])).bio).toBeNull();
    expect((await load(ids[1])).bio).toBeNull();
  });

  it('a tampered or moved envelope loads, and fails with a typed error on access (never plaintext or garbage)', async () => {
    const victim = ids[2];
    await db.raw(`UPDATE ${db.t('qs_account')} SET "bio" = "email_address" WHERE "id" = $1`, [victim]);
    const account = await load(victim);
    expect(account.email).toBe('lazy2@example.com');
    const error = await caught(() => account.bio);
    expect(error).toBeInstanceOf(BulwarkError);
    expect(error.code).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    expect(error.details).toEqual(expect.objectContaining({ entity: 'Account', column: 'bio' }));
    expect(() => JSON.stringify(account)).toThrow(BulwarkError);
  });

  it('loaded with listeners off, a lazy value is still decrypted on access (the accessor is set at hydration)', async () => {
    const [account, count] = await decryptions(() =>
      accounts
        .createQueryBuilder('a')
        .callListeners(false)
        .where('a.id = :id', { id: ids[3] })
        .getOneOrFail(),
    );
    expect(count).toBe(1); // the eager email, in the transformer
    expect(typeof Object.getOwnPropertyDescriptor(account, 'bio')?.get).toBe('function');
    expect(JSON.parse(JSON.stringify(account))).toEqual(
      expect.objectContaining({ email: 'lazy3@example.com', bio: 'bio of 3', settings: { theme: 'theme3' } }),
    );
  });

  it("deep equality, spread copies and console.log see only the entity's own fields (no envelope slot)", async () => {
    const { id } = await accounts.save(
      Object.assign(new Account(), { name: 'eq', email: 'eq@example.com', bio: 'bio of eq', settings: null }),
    );
    const loaded = await load(id);
    const expected = new Account();
    for (const key of Object.keys(loaded)) {
      (expected as unknown as Record<string, unknown>)[key] = (loaded as unknown as Record<string, unknown>)[
        key
      ];
    }
    const fresh = await load(id); // not read yet: the accessors decrypt during the comparison
    expect(fresh).toEqual(expected);
    expect(fresh).toStrictEqual(expected);
    deepStrictEqual(await load(id), expected);
    expect(expected.bio).toBe('bio of eq');
    const copy = { ...(await load(id)) };
    expect(Object.getOwnPropertySymbols(copy)).toEqual([]);
    expect(Object.getOwnPropertySymbols(Object.assign({}, await load(id)))).toEqual([]);
    const printed = inspect(await load(id), { depth: 5 });
    expect(printed).not.toMatch(/bw2\./);
    expect(printed).not.toMatch(/lazyEnvelopes/);
  });

  it('the accessor copied onto an object that was not loaded refuses with a typed error', async () => {
    const account = await load(ids[4]);
    const descriptor = Object.getOwnPropertyDescriptor(account, 'bio')!;
    const stray = Object.defineProperty({}, 'bio', descriptor) as { bio: unknown };
    expect(() => stray.bio).toThrow(expect.objectContaining({ code: TypeOrmErrorCodes.NOT_DECRYPTED }));
    expect(account.bio).toBe('bio of 4');
  });

  it('the envelopes are kept per row and out of sight: no own key, and not inherited by Object.create', async () => {
    const [a, b] = await accounts.find({ where: [{ id: ids[3] }, { id: ids[4] }], order: { id: 'ASC' } });
    const own = Reflect.ownKeys(a);
    expect(own.filter((key) => typeof key === 'symbol')).toEqual([]);
    expect(own).toEqual(Reflect.ownKeys(b));
    // An object made from a loaded entity has no row of its own: its read is refused, never served
    // from the parent's envelope.
    const child = Object.create(a) as Account;
    expect(() => child.bio).toThrow(expect.objectContaining({ code: TypeOrmErrorCodes.NOT_DECRYPTED }));
    expect([a.bio, b.bio]).toEqual(['bio of 3', 'bio of 4']);
    expect(b.settings).toEqual({ theme: 'theme4' });
  });

  it('a lazy row-bound field decrypts with its row key, and a copy in another row fails on access', async () => {
    const notes = ds.getRepository(LazyNote);
    const [one, two] = await notes.save([
      Object.assign(new LazyNote(), { title: 'one', body: 'first body' }),
      Object.assign(new LazyNote(), { title: 'two', body: 'second body' }),
    ]);
    const [list, count] = await decryptions(() => notes.find({ where: [{ id: one.id }, { id: two.id }] }));
    expect(count).toBe(0);
    expect(list.map((n) => n.body).sort()).toEqual(['first body', 'second body']);
    const t = db.t('qs_lazy_note');
    await db.raw(`UPDATE ${t} SET "body" = (SELECT "body" FROM ${t} WHERE "id" = $1) WHERE "id" = $2`, [
      one.id,
      two.id,
    ]);
    const moved = await notes.findOneByOrFail({ id: two.id });
    expect(moved.title).toBe('two');
    expect(() => moved.body).toThrow(BulwarkError);
  });

  it('a lazy row-bound field decrypts against the row it was loaded from, so the clone pattern works as eagerly', async () => {
    const notes = ds.getRepository(LazyNote);
    const original = await notes.save(Object.assign(new LazyNote(), { title: 'orig', body: 'cloned body' }));
    // A new key before the first read: the copy is inserted as a new row, re-sealed under its key.
    const renamed = await notes.findOneByOrFail({ id: original.id });
    const newId = randomUUID();
    renamed.id = newId;
    renamed.title = 'copy1';
    await notes.save(renamed);
    expect((await notes.findOneByOrFail({ id: newId })).body).toBe('cloned body');
    // No key before the first read: one is generated on insert.
    const keyless = await notes.findOneByOrFail({ id: original.id });
    delete (keyless as Partial<LazyNote>).id;
    keyless.title = 'copy2';
    const saved = await notes.save(keyless);
    expect(saved.id).not.toBe(original.id);
    expect((await notes.findOneByOrFail({ title: 'copy2' })).body).toBe('cloned body');
    expect((await notes.findOneByOrFail({ id: original.id })).body).toBe('cloned body');
    // Each copy is bound to its own row: moving one copy's envelope into another row still fails.
    const t = db.t('qs_lazy_note');
    await db.raw(`UPDATE ${t} SET "body" = (SELECT "body" FROM ${t} WHERE "id" = $1) WHERE "id" = $2`, [
      newId,
      original.id,
    ]);
    const moved = await notes.findOneByOrFail({ id: original.id });
    expect(() => moved.body).toThrow(BulwarkError);
  });
}

describe('lazy decryption on SQLite', () => suite(sqlite));
describeWithService('postgres', 'lazy decryption on PostgreSQL', () => suite(postgres));
