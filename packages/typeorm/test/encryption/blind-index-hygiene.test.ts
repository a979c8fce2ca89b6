import 'reflect-metadata';
import { instanceToPlain } from 'class-transformer';
import type { KeyRing } from '@bulwark/core';
import { Column, Entity, Index, PrimaryGeneratedColumn, Unique, type DataSource } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import {
  BlindIndex,
  EncryptedField,
  encryptExistingRows,
  findByBlindIndex,
  registerBulwarkEncryption,
  type BulwarkEncryption,
} from '../../src';
import { caught, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

@Entity('hy_person')
class Person {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40, default: '' })
  name!: string;

  @EncryptedField({ nullable: true })
  email!: string | null;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })
  emailIndex!: string | null;

  @EncryptedField({ nullable: true, deterministic: true })
  code!: string | null;

  @BlindIndex({ source: 'code', index: 'IDX_hy_person_code_index', serialise: true })
  codeIndex!: string | null;

  @EncryptedField()
  motto!: string;
}

/** An entity with its own toJSON keeps it, minus the index. */
@Entity('hy_member')
class Member {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40, default: '' })
  name!: string;

  @EncryptedField({ nullable: true })
  email!: string | null;

  @EncryptedField()
  motto!: string;

  @EncryptedField({ nullable: true })
  phone!: string | null;

  @BlindIndex({ source: 'phone', column: { unique: true } })
  phoneIndex!: string | null;

  toJSON() {
    return { ...this, kind: 'member' };
  }
}

/** An app that declared its own @Index / @Unique on blind-index columns before @BlindIndex did. */
@Entity('hy_legacy')
@Unique(['tokenIndex'])
class Legacy {
  @PrimaryGeneratedColumn()
  id!: number;

  @EncryptedField({ nullable: true })
  a!: string | null;

  @Index('IDX_hy_legacy_a_own')
  @BlindIndex({ source: 'a' })
  aIndex!: string | null;

  @EncryptedField({ nullable: true })
  b!: string | null;

  @BlindIndex({ source: 'b' })
  @Index()
  bIndex!: string | null;

  @EncryptedField({ nullable: true })
  token!: string | null;

  @BlindIndex({ source: 'token' })
  tokenIndex!: string | null;
}

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;

  beforeAll(async () => {
    db = await backend.create([Person, Member, Legacy]);
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  it('declares a database index on blind-index columns, which synchronize creates', async () => {
    const indices = ds.getMetadata(Person).indices.map((i) => [i.name, i.columns.map((c) => c.propertyName)]);
    expect(indices).toEqual(
      expect.arrayContaining([
        [expect.stringMatching(/^IDX_/), ['emailIndex']],
        ['IDX_hy_person_code_index', ['codeIndex']],
      ]),
    );
    // unique: the unique constraint is the index; no second one
    const member = ds.getMetadata(Member);
    expect(member.indices.filter((i) => i.columns.some((c) => c.propertyName === 'phoneIndex'))).toEqual([]);
    expect(member.uniques.some((u) => u.columns.some((c) => c.propertyName === 'phoneIndex'))).toBe(true);

    const inDb =
      db.kind === 'postgres'
        ? (
            await db.raw(
              `SELECT indexdef AS def FROM pg_indexes WHERE schemaname = $1 AND tablename = 'hy_person'`,
              [(db.options as { schema: string }).schema],
            )
          ).map((r) => String(r.def))
        : (
            await db.raw(
              `SELECT sql AS def FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hy_person'`,
            )
          ).map((r) => String(r.def));
    expect(inDb.some((d) => d.includes('"emailIndex"'))).toBe(true);
    expect(inDb.some((d) => d.includes('IDX_hy_person_code_index') && d.includes('"codeIndex"'))).toBe(true);
  });

  it("keeps the application's own @Index / @Unique instead of adding a second index", async () => {
    const legacy = ds.getMetadata(Legacy);
    const on = (p: string) => legacy.indices.filter((i) => i.columns.some((c) => c.propertyName === p));
    expect(on('aIndex').map((i) => i.name)).toEqual(['IDX_hy_legacy_a_own']);
    expect(on('bIndex')).toHaveLength(1);
    expect(on('tokenIndex')).toHaveLength(0);
    expect(legacy.uniques.some((u) => u.columns.some((c) => c.propertyName === 'tokenIndex'))).toBe(true);
    const repo = ds.getRepository(Legacy);
    const saved = await repo.save(repo.create({ a: 'x', b: 'y', token: 't' }));
    expect((await findByBlindIndex(repo, 'bIndex', 'y')).map((r) => r.id)).toEqual([saved.id]);
  });

  it('leaves blind indexes out of JSON.stringify and instanceToPlain unless serialise: true', async () => {
    const repo = ds.getRepository(Person);
    const saved = await repo.save(repo.create({ name: 'ann', email: 'Ann@X.test', code: 'C1', motto: 'm' }));
    const loaded = await repo.findOneByOrFail({ id: saved.id });
    expect(loaded.emailIndex).toMatch(/^[0-9a-f]{8}$/); // still there for code
    for (const plain of [
      JSON.parse(JSON.stringify(loaded)),
      instanceToPlain(loaded),
      JSON.parse(JSON.stringify(saved)),
    ]) {
      expect(plain).toMatchObject({
        id: saved.id,
        email: 'Ann@X.test',
        code: 'C1',
        codeIndex: loaded.codeIndex,
      });
      expect(plain).not.toHaveProperty('emailIndex');
    }
    // lists, nested in a response body
    expect(JSON.stringify({ data: await repo.find() })).not.toContain(loaded.emailIndex!);

    const mrepo = ds.getRepository(Member);
    const m = await mrepo.save(mrepo.create({ name: 'bo', email: 'bo@x.test', phone: '+1 555', motto: 'x' }));
    const ml = await mrepo.findOneByOrFail({ id: m.id });
    const json = JSON.parse(JSON.stringify(ml)) as Record<string, unknown>;
    expect(json).toMatchObject({ kind: 'member', phone: '+1 555', email: 'bo@x.test' }); // its own toJSON still runs
    expect(json).not.toHaveProperty('phoneIndex');
    expect(instanceToPlain(ml)).not.toHaveProperty('phoneIndex');
    // still written and queried as usual
    expect((await findByBlindIndex(mrepo, 'phoneIndex', '+1 555')).map((x) => x.id)).toEqual([m.id]);
  });

  it('round-trips empty strings unchanged (randomised and deterministic), never as null', async () => {
    const repo = ds.getRepository(Person);
    const saved = await repo.save(repo.create({ email: '', code: '', motto: '' }));
    const [stored] = await db.raw(
      `SELECT "email", "code", "motto", "emailIndex" FROM ${db.t('hy_person')} WHERE "id" = $1`,
      [saved.id],
    );
    for (const c of ['email', 'code', 'motto']) expect(String(stored![c])).toMatch(/^bw2d?\./); // encrypted, not NULL
    expect(stored!.emailIndex).not.toBeNull();
    expect(await repo.findOneByOrFail({ id: saved.id })).toMatchObject({ email: '', code: '', motto: '' });
    expect((await repo.findBy({ code: '' })).map((p) => p.id)).toEqual([saved.id]);
    expect((await findByBlindIndex(repo, 'emailIndex', '')).map((p) => p.id)).toContain(saved.id);
    await repo.update({ id: saved.id }, { email: '' });
    await repo.insert({ email: '', code: '', motto: '' });
    for (const p of await repo.createQueryBuilder('p').where({ code: '' }).getMany()) {
      expect(p).toMatchObject({ email: '', code: '', motto: '' });
    }
    // A plaintext '' left by the application before encryption is encrypted as '' too.
    await db.raw(
      `INSERT INTO ${db.t('hy_person')} ("name", "email", "code", "motto") VALUES ('old', '', '', '')`,
    );
    const refused = await caught(() => repo.findOneByOrFail({ name: 'old' }));
    expect(refused.code).toBe('ERR_TYPEORM_PLAINTEXT_IN_ENCRYPTED_COLUMN');
    const report = await encryptExistingRows(ds, { entities: [Person] });
    expect(report.ok).toBe(true);
    expect(await repo.findOneByOrFail({ name: 'old' })).toMatchObject({ email: '', code: '', motto: '' });
  });
}

describe('blind-index hygiene and empty strings on SQLite', () => suite(sqlite));
describeWithService('postgres', 'blind-index hygiene and empty strings on PostgreSQL', () => suite(postgres));
