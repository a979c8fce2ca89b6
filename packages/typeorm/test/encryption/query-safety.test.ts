import { BulwarkConfigError, BulwarkError, type KeyRing } from '@bulwark/core';
import { Brackets, In, NotBrackets, Raw, type DataSource, type Repository } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import {
  BlindIndex,
  blindIndex,
  blindIndexBits,
  blindIndexes,
  EncryptedField,
  encryptedValue,
  encryptedValues,
  findByBlindIndex,
  findOneByBlindIndex,
  registerBulwarkEncryption,
  TypeOrmErrorCodes,
  type BulwarkEncryption,
} from '../../src';
import { runWithoutStringGuards } from '../../src/query-guards';
import { isProducedIndexValue } from '../../src/index-values';
import { Account, Contact, querySafetyEntities, Tiny } from './query-safety-entities';
import { caught, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

/**
 * Issue 20 item 3: no silent query. String conditions that reference an encrypted or blind-index
 * column are refused with ERR_TYPEORM_UNSUPPORTED_QUERY unless they can match (IS NULL, equality
 * with a parameter holding the index value / deterministic envelope); lookups by a truncated
 * blind index always confirm on the decrypted value.
 */
function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  let accounts: Repository<Account>;
  let ann: Account;
  let bob: Account;

  beforeAll(async () => {
    db = await backend.create(querySafetyEntities);
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    accounts = ds.getRepository(Account);
    [ann, bob] = await accounts.save([
      Object.assign(new Account(), { name: 'ann', email: 'Ann@Example.com', nationalId: 'NI-1' }),
      Object.assign(new Account(), { name: 'bob', email: 'bob@example.com', nationalId: 'NI-2' }),
      Object.assign(new Account(), { name: 'a.email', email: null, nationalId: null }),
    ]);
    await ds
      .getRepository(Contact)
      .save([
        Object.assign(new Contact(), { email: 'Ann@Example.com', account: ann }),
        Object.assign(new Contact(), { email: 'x@example.com', account: bob }),
      ]);
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  const qb = () => accounts.createQueryBuilder('a');

  async function refused(run: () => Promise<unknown>, column: string): Promise<Error & { code?: string }> {
    const error = await caught(run);
    expect(error).toBeInstanceOf(BulwarkError);
    expect(error.code).toBe(TypeOrmErrorCodes.UNSUPPORTED_QUERY);
    expect(error.details).toEqual(expect.objectContaining({ entity: 'Account', column }));
    return error;
  }

  describe('string conditions on a random-IV column are refused (they can never match)', () => {
    const e = { e: 'Ann@Example.com' };
    it.each([
      ['where', () => qb().where('a.email = :e', e).getMany()],
      ['andWhere', () => qb().where('a.id > 0').andWhere('a.email = :e', e).getMany()],
      ['orWhere', () => qb().where('a.id < 0').orWhere('a.email = :e', e).getMany()],
      [
        'Brackets',
        () =>
          qb()
            .where('a.id > 0')
            .andWhere(new Brackets((b) => b.where('a.name = :n', { n: 'x' }).orWhere('a.email = :e', e)))
            .getMany(),
      ],
      [
        'NotBrackets',
        () =>
          qb()
            .where(new NotBrackets((b) => b.where('a.email = :e', e)))
            .getMany(),
      ],
      ['having', () => qb().select('a.id').groupBy('a.id').having('a.email = :e', e).getRawMany()],
      [
        'COUNT(DISTINCT) of a random-IV column',
        () => qb().select('a.name').groupBy('a.name').having('COUNT(DISTINCT a.email) > 1').getRawMany(),
      ],
      [
        'a string join ON condition',
        () =>
          ds
            .getRepository(Contact)
            .createQueryBuilder('c')
            .innerJoin(Account, 'a', 'a.email = c.email')
            .getMany(),
      ],
      ['a double-quoted reference', () => qb().where('"a"."email" = :e', e).getMany()],
      ['a backtick-quoted reference', () => qb().where('`a`.`email` = :e', e).getMany()],
      ['the database column name', () => qb().where('a.email_address = :e', e).getMany()],
      ['an unaliased column name', () => qb().where('email = :e', e).getMany()],
      ['an upper-case unquoted reference', () => qb().where('A.EMAIL = :e', e).getMany()],
      ['a parameter on the left', () => qb().where(':e = a.email', e).getMany()],
      [
        'IN',
        () =>
          qb()
            .where('a.email IN (:...e)', { e: ['x'] })
            .getMany(),
      ],
      ['a literal', () => qb().where("a.email = 'Ann@Example.com'").getMany()],
      ['a function of the column', () => qb().where('lower(a.email) = :e', e).getMany()],
      [
        'FROM inside a function call',
        () => qb().where('substr(a.name, 1) = :e OR trim(BOTH FROM a.email) = :e', e).getMany(),
      ],
      ['LIKE', () => qb().where('a.email LIKE :e', { e: '%example%' }).getMany()],
      ['getCount', () => qb().where('a.email = :e', e).getCount()],
      [
        'update().where()',
        () => accounts.createQueryBuilder().update().set({ name: 'z' }).where('email = :e', e).execute(),
      ],
      ['delete().where()', () => accounts.createQueryBuilder().delete().where('email = :e', e).execute()],
      [
        'a Raw() SQL fragment on another column (find)',
        () =>
          accounts.find({
            where: { name: Raw((alias) => `${alias} = :n OR "Account"."email" = :n`, { n: 'x' }) },
          }),
      ],
    ])('%s', async (_name, run) => {
      const error = await refused(run, 'email');
      // The remedy names the helper to use, and the message never carries a compared value.
      expect(error.message).toContain("findByBlindIndex(repository, 'emailIndex', value)");
      expect(error.message).not.toMatch(/Ann@Example|example%/);
    });

    it('Raw() on the encrypted column itself is refused as before', async () => {
      await refused(() => accounts.find({ where: { email: Raw((alias) => `${alias} = 'x'`) } }), 'email');
    });
  });

  describe('string conditions that can match are allowed', () => {
    it('IS NULL / IS NOT NULL on any guarded column', async () => {
      expect((await qb().where('a.email IS NULL').getMany()).map((a) => a.name)).toEqual(['a.email']);
      expect((await qb().where('a.email IS NOT NULL').orderBy('a.id').getMany()).map((a) => a.name)).toEqual([
        'ann',
        'bob',
      ]);
      expect(await qb().where('NOT(a.emailIndex IS NULL) AND a.nationalId IS NOT NULL').getCount()).toBe(2);
    });

    it('a blind index compared with blindIndex() / blindIndexes() values', async () => {
      const one = await qb()
        .where('a.emailIndex = :h', { h: blindIndex(Account, 'emailIndex', ' ann@example.COM') })
        .getOne();
      expect(one?.id).toBe(ann.id);
      const both = await qb()
        .where('"a"."emailIndex" IN (:...h)', {
          h: ['ann@example.com', 'bob@example.com'].flatMap((v) => blindIndexes(Account, 'emailIndex', v)),
        })
        .getMany();
      expect(both.map((a) => a.id).sort()).toEqual([ann.id, bob.id].sort());
      // parameters set after the condition are checked too (at build time)
      const later = await qb()
        .where('a.emailIndex = :h')
        .setParameter('h', blindIndex(Account, 'emailIndex', 'bob@example.com'))
        .getOne();
      expect(later?.id).toBe(bob.id);
    });

    it('a deterministic column compared with encryptedValue() / encryptedValues()', async () => {
      const one = await qb()
        .where('a.nationalId = :n', { n: encryptedValue(Account, 'nationalId', 'NI-2') })
        .getOne();
      expect(one?.id).toBe(bob.id);
      const many = await qb()
        .where('a.nationalId IN (:...n)', { n: encryptedValues(Account, 'nationalId', 'NI-1') })
        .getMany();
      expect(many.map((a) => a.id)).toEqual([ann.id]);
    });

    it('a random-IV column compared with its exact stored envelope (compare-and-set)', async () => {
      const [stored] = await db.raw(
        `SELECT "email_address" AS e FROM ${db.t('qs_account')} WHERE "id" = $1`,
        [ann.id],
      );
      const found = await qb().where('a.email = :prev', { prev: stored.e }).getMany();
      expect(found.map((a) => a.id)).toEqual([ann.id]);
      // one plaintext among envelopes is refused
      await refused(
        () =>
          qb()
            .where('a.email IN (:...prev)', { prev: [stored.e, 'Ann@Example.com'] })
            .getMany(),
        'email',
      );
    });

    it('runWithoutStringGuards (internal, for maintenance queries) turns the check off inside its callback only', async () => {
      const rows = await runWithoutStringGuards(() =>
        qb().where('a.email = :e', { e: 'Ann@Example.com' }).getMany(),
      );
      expect(rows).toEqual([]);
      await refused(() => qb().where('a.email = :e', { e: 'Ann@Example.com' }).getMany(), 'email');
    });

    it('COUNT() of any guarded column and COUNT(DISTINCT) of a blind index in having', async () => {
      const withEmail = await qb()
        .select('a.emailVerified', 'v')
        .groupBy('a.emailVerified')
        .having('COUNT(a.email) > :n', { n: 1 })
        .getRawMany();
      expect(withEmail).toHaveLength(1);
      const distinct = await qb()
        .select('a.emailVerified', 'v')
        .addSelect('COUNT(a.id)', 'c')
        .groupBy('a.emailVerified')
        .having('COUNT(DISTINCT a.emailIndex) = :n', { n: 2 })
        .getRawMany();
      expect(distinct).toHaveLength(1);
    });

    it('a self-join on the same blind-index column (duplicate check)', async () => {
      const dup = Object.assign(new Account(), { name: 'ann2', email: 'ANN@example.com ' });
      await accounts.save(dup);
      try {
        const pairs = await qb()
          .innerJoin(Account, 'b', 'b.emailIndex = a.emailIndex AND b.id <> a.id')
          .where('a.id = :id', { id: ann.id })
          .getCount();
        expect(pairs).toBe(1);
      } finally {
        await accounts.delete(dup.id);
      }
    });

    it('no false positives: string literals, comments, similar names, other entities, object wheres', async () => {
      expect((await qb().where("a.name = 'a.email'").getMany()).map((a) => a.name)).toEqual(['a.email']);
      expect(await qb().where("a.name = 'a.email = :e' -- a.email = :e").getCount()).toBe(0);
      expect(await qb().where('a.emailVerified = :v /* a.email LIKE x */', { v: false }).getCount()).toBe(3);
      const contacts = ds.getRepository(Contact);
      // Contact.email is a plaintext column: its string conditions are untouched.
      expect(
        (await contacts.createQueryBuilder('c').where('c.email = :e', { e: 'x@example.com' }).getMany())
          .length,
      ).toBe(1);
      expect(
        await contacts
          .createQueryBuilder('c')
          .leftJoin('c.account', 'a')
          .where('lower(c.email) LIKE :p AND a.name = :n', { p: '%example%', n: 'ann' })
          .getCount(),
      ).toBe(1);
      // find() with a deterministic value, blind index and IsNull keep working through the guard
      expect((await accounts.findBy({ nationalId: 'NI-1' })).map((a) => a.id)).toEqual([ann.id]);
      expect(
        (
          await accounts.findBy({ emailIndex: In(blindIndexes(Account, 'emailIndex', 'bob@example.com')) })
        ).map((a) => a.id),
      ).toEqual([bob.id]);
    });
  });

  describe('references through table names, FROM / JOIN aliases, subqueries and derived tables', () => {
    const e = { e: 'Ann@Example.com' };
    const TA = () => db.t('qs_account');
    const TC = () => db.t('qs_contact');
    const contacts = () => ds.getRepository(Contact).createQueryBuilder('c');
    it.each([
      [
        'an IN subquery with its own alias',
        () => qb().where(`a.id IN (SELECT x.id FROM ${TA()} x WHERE x.email_address = :e)`, e).getMany(),
      ],
      [
        'an IN subquery with AS alias',
        () => qb().where(`a.id IN (SELECT x.id FROM ${TA()} AS x WHERE x."email_address" = :e)`, e).getMany(),
      ],
      [
        'EXISTS on an alias-less table, from a query on a plain entity (the duplicate-e-mail check)',
        () =>
          contacts().where(`EXISTS (SELECT 1 FROM ${TA()} WHERE qs_account.email_address = :e)`, e).getMany(),
      ],
      [
        'EXISTS with a bare column name',
        () => contacts().where(`EXISTS (SELECT 1 FROM ${TA()} x WHERE email_address = :e)`, e).getMany(),
      ],
      [
        'a JOIN inside a subquery',
        () =>
          contacts()
            .where(
              `c.id IN (SELECT k.id FROM ${TC()} k JOIN ${TA()} y ON y.id = k."accountId" WHERE y.email_address = :e)`,
              e,
            )
            .getMany(),
      ],
      [
        'a table-qualified update',
        () =>
          accounts
            .createQueryBuilder()
            .update()
            .set({ name: 'z' })
            .where('qs_account.email_address = :e', e)
            .execute(),
      ],
      [
        'a table-qualified delete',
        () => accounts.createQueryBuilder().delete().where('qs_account.email_address = :e', e).execute(),
      ],
      [
        'a join on a subquery selecting the column (derived table)',
        () =>
          contacts()
            .innerJoin(
              (q) => q.from(Account, 'x').select('x.email', 'em').addSelect('x.id', 'xid'),
              'sub',
              'sub.em = c.email',
            )
            .getMany(),
      ],
      [
        'a bare output column of a derived main table',
        () =>
          ds
            .createQueryBuilder()
            .select('sub.xid', 'xid')
            .from((q) => q.from(Account, 'x').select('x.email', 'em').addSelect('x.id', 'xid'), 'sub')
            .where('em = :e', e)
            .getRawMany(),
      ],
      [
        'a qualifier that resolves to nothing Bulwark can see (fail closed)',
        () =>
          qb()
            .where(`a.id IN (SELECT x.id FROM (SELECT * FROM ${TA()}) x WHERE x.email_address = :e)`, e)
            .getMany(),
      ],
    ])('%s is refused', async (_name, run) => {
      const error = await refused(run, 'email');
      expect(error.message).not.toContain('Ann@Example');
    });

    it('quoted identifiers compare case-insensitively on SQLite (as SQLite does)', async () => {
      if (backend.name !== 'SQLite') return; // PostgreSQL: a quoted upper-case name is another column
      await refused(() => qb().where('"a"."EMAIL_ADDRESS" = :e', e).getMany(), 'email');
      await refused(() => qb().where('"A"."Email" = :e', e).getMany(), 'email');
    });

    it('no false positives: plaintext columns of other tables in subqueries, bare names included', async () => {
      const viaContact = await qb()
        .where(
          `a.name IN (SELECT name FROM ${TA()} WHERE id IN (SELECT "accountId" FROM ${TC()} WHERE email = :e))`,
          e,
        )
        .getMany();
      expect(viaContact.map((a) => a.id)).toEqual([ann.id]);
      const exists = await qb()
        .where(`EXISTS (SELECT 1 FROM ${TC()} k WHERE k.email = :e AND k."accountId" = a.id)`, e)
        .getMany();
      expect(exists.map((a) => a.id)).toEqual([ann.id]);
      const joined = await contacts()
        .innerJoin(
          (q) => q.from(Account, 'x').select('x.name', 'nm').addSelect('x.id', 'xid'),
          'sub',
          'sub.xid = c."accountId"',
        )
        .where('sub.nm = :n', { n: 'ann' })
        .getMany();
      expect(joined).toHaveLength(1);
    });

    it('allowed forms keep working through table names and subquery aliases', async () => {
      const h = { h: blindIndex(Account, 'emailIndex', 'ann@example.com') };
      const found = await contacts()
        .where(`EXISTS (SELECT 1 FROM ${TA()} x WHERE x."emailIndex" = :h AND x.id = c."accountId")`, h)
        .getMany();
      expect(found).toHaveLength(1);
      const updated = await accounts
        .createQueryBuilder()
        .update()
        .set({ name: 'ann' })
        .where('qs_account."emailIndex" = :h', h)
        .execute();
      expect(updated.affected).toBe(1);
      const none = await accounts
        .createQueryBuilder()
        .delete()
        .where('qs_account.email_address IS NULL AND qs_account.name = :n', { n: 'nobody' })
        .execute();
      expect(none.affected).toBe(0);
    });
  });

  describe('refused although the column could be compared', () => {
    it.each([
      [
        'plaintext for a blind index',
        () => qb().where('a.emailIndex = :h', { h: 'ann@example.com' }).getMany(),
        'emailIndex',
      ],
      ['a literal for a blind index', () => qb().where("a.emailIndex = 'abcd1234'").getMany(), 'emailIndex'],
      [
        'plaintext for a deterministic column',
        () => qb().where('a.nationalId = :n', { n: 'NI-1' }).getMany(),
        'nationalId',
      ],
      [
        'a random envelope for a deterministic column',
        () =>
          qb()
            .where('a.nationalId IN (:...n)', { n: ['NI-1', 'bw2.default.1.x.y.z'] })
            .getMany(),
        'nationalId',
      ],
      [
        'LIKE on a blind index',
        () => qb().where('a.emailIndex LIKE :p', { p: 'ab%' }).getMany(),
        'emailIndex',
      ],
      ['a cast', () => qb().where('a.nationalId::text = :n', { n: 'x' }).getMany(), 'nationalId'],
      ['two different columns', () => qb().where('a.nationalId = a.emailIndex').getMany(), 'nationalId'],
    ])('%s', async (_name, run, column) => {
      const error = await refused(run, column);
      expect(error.message).toMatch(/blindIndex\(|encryptedValue\(|same column/);
      expect(error.message).not.toContain('NI-1');
    });
  });

  describe('only values the lookup helpers returned pass as blind-index values', () => {
    const expectRefused = async (run: () => Promise<unknown>, entity: string, column: string) => {
      const error = await caught(run);
      expect(error).toBeInstanceOf(BulwarkError);
      expect(error.code).toBe(TypeOrmErrorCodes.UNSUPPORTED_QUERY);
      expect(error.details).toEqual(expect.objectContaining({ entity, column }));
      expect(error.message).not.toMatch(/12345678|20240131/);
    };

    it('digit-only plaintext shaped like an index value is refused (string condition and find)', async () => {
      // 8 digits: the shape of a 32-bit index value (a PIN, a YYYYMMDD date, an account number)
      await expectRefused(
        () => qb().where('a.emailIndex = :p', { p: '12345678' }).getMany(),
        'Account',
        'emailIndex',
      );
      await expectRefused(
        () =>
          qb()
            .where('a.emailIndex IN (:...p)', { p: ['20240131', blindIndex(Account, 'emailIndex', 'x')] })
            .getMany(),
        'Account',
        'emailIndex',
      );
      await expectRefused(() => accounts.findBy({ emailIndex: '12345678' }), 'Account', 'emailIndex');
      await expectRefused(() => accounts.findBy({ emailIndex: In(['20240131']) }), 'Account', 'emailIndex');
      // 2 hex characters for an 8-bit index: one no lookup of this process has returned for
      // Tiny.codeIndex (another dialect's run of this suite may have looked up many of the 256)
      const digits = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
      const unused = digits.find((c) => !isProducedIndexValue('Tiny.codeIndex', c))!;
      expect(unused).toBeDefined();
      const tiny = ds.getRepository(Tiny);
      await expectRefused(
        () => tiny.createQueryBuilder('t').where('t.codeIndex = :c', { c: unused }).getMany(),
        'Tiny',
        'codeIndex',
      );
      await expectRefused(() => tiny.findBy({ codeIndex: unused }), 'Tiny', 'codeIndex');
    });

    it('values from blindIndex(), blindIndexes() and the find helpers keep working', async () => {
      const h = blindIndex(Account, 'emailIndex', 'bob@example.com')!;
      expect((await accounts.findBy({ emailIndex: h })).map((a) => a.id)).toEqual([bob.id]);
      expect((await qb().where('a.emailIndex = :h', { h }).getMany()).map((a) => a.id)).toEqual([bob.id]);
      expect((await findOneByBlindIndex(accounts, 'emailIndex', 'bob@example.com'))?.id).toBe(bob.id);
      // a stored index read back from a row is not one of them: re-derive it from the value
      const [{ i }] = await db.raw(`SELECT "emailIndex" AS i FROM ${db.t('qs_account')} WHERE "id" = $1`, [
        bob.id,
      ]);
      expect(i).toBe(h);
    });
  });

  describe('blind-index lookups always confirm', () => {
    it('an 8-bit index has collisions; findByBlindIndex / findOneByBlindIndex return only the real match', async () => {
      const tiny = ds.getRepository(Tiny);
      const codes = Array.from({ length: 300 }, (_, i) => `code-${i}`);
      const saved = await tiny.save(codes.map((code) => Object.assign(new Tiny(), { code })));
      // 300 values over 256 index values: some index is shared (pigeonhole).
      const byIndex = new Map<string, number>();
      for (const row of saved) byIndex.set(row.codeIndex!, (byIndex.get(row.codeIndex!) ?? 0) + 1);
      const collided = saved.find((row) => byIndex.get(row.codeIndex!)! > 1)!;
      const unconfirmed = await tiny.findBy({ codeIndex: blindIndex(Tiny, 'codeIndex', collided.code)! });
      expect(unconfirmed.length).toBeGreaterThan(1);
      const confirmed = await findByBlindIndex(tiny, 'codeIndex', collided.code);
      expect(confirmed.map((r) => r.id)).toEqual([collided.id]);
      expect((await findOneByBlindIndex(tiny, 'codeIndex', collided.code))?.id).toBe(collided.id);
      expect(await findOneByBlindIndex(tiny, 'codeIndex', 'not-a-code')).toBeNull();
      expect(await findOneByBlindIndex(tiny, 'codeIndex', collided.code, { id: -1 })).toBeNull();
      for (const row of saved.slice(0, 50)) {
        expect((await findByBlindIndex(tiny, 'codeIndex', row.code)).map((r) => r.id)).toEqual([row.id]);
      }
    });

    it('findOneByBlindIndex normalises like writes and confirms', async () => {
      expect((await findOneByBlindIndex(accounts, 'emailIndex', 'BOB@example.com'))?.name).toBe('bob');
    });
  });
}

describe('blindIndexBits', () => {
  it('chooses ceil(log2(rows / false positives)) bits', () => {
    expect(blindIndexBits(1_000_000, 0.01)).toBe(27);
    expect(blindIndexBits(1_000_000, 1)).toBe(20);
    expect(blindIndexBits(4096, 1)).toBe(12);
    // the table in ENCRYPTION.md
    expect(blindIndexBits(10_000, 0.01)).toBe(20);
    expect(blindIndexBits(100_000_000, 0.001)).toBe(37);
    expect(blindIndexBits(40_000_000, 0.01)).toBe(32);
    expect(blindIndexBits(4097, 1)).toBe(13);
    expect(blindIndexBits(1, 1)).toBe(1);
    expect(blindIndexBits(10, 1e-80)).toBe(256);
    // the expected false candidates per lookup, rows / 2^bits, stays within the rate
    for (const [rows, rate] of [
      [50_000, 0.001],
      [3_000_000, 0.5],
      [123, 0.0001],
    ]) {
      const bits = blindIndexBits(rows, rate);
      expect(rows / 2 ** bits).toBeLessThanOrEqual(rate);
      expect(rows / 2 ** (bits - 1)).toBeGreaterThan(rate);
    }
  });

  it.each([
    [0, 0.01],
    [Number.NaN, 0.01],
    [1000, 0],
    [1000, -1],
    [1000, Number.POSITIVE_INFINITY],
    ['1000' as unknown as number, 0.1],
  ])('refuses (%p, %p) with a typed error', (rows, rate) => {
    expect(() => blindIndexBits(rows, rate)).toThrow(BulwarkConfigError);
  });

  it('@EncryptedField refuses lazy with subject, and a non-boolean lazy', () => {
    class Bad {}
    expect(() => EncryptedField({ lazy: true, subject: 'id' })(Bad.prototype, 'x')).toThrow(
      BulwarkConfigError,
    );
    expect(() => EncryptedField({ lazy: 'yes' as unknown as boolean })(Bad.prototype, 'y')).toThrow(
      BulwarkConfigError,
    );
    expect(() =>
      BlindIndex({ source: 'x', bits: blindIndexBits(1e6, 0.01) })(Bad.prototype, 'z'),
    ).not.toThrow();
  });
});

describe('query safety on SQLite', () => suite(sqlite));
describeWithService('postgres', 'query safety on PostgreSQL', () => suite(postgres));
