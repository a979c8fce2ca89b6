import 'reflect-metadata';
import type { KeyRing } from '@bulwark/core';
import { Column, Entity, PrimaryGeneratedColumn, type DataSource, type Repository } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import {
  BlindIndex,
  blindIndex,
  EncryptedField,
  findOneByBlindIndex,
  migrateBlindIndexes,
  registerBulwarkEncryption,
  rewrapEntities,
  type BulwarkEncryption,
} from '../../src';
import { memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

/**
 * Review of issue 20 item 3, finding 2: Bulwark's own compare-and-set maintenance queries compare a
 * guarded column with whatever it stores. The string-condition guard must not abort them when the
 * stored index is not a current-width lower-case index value (another width, upper case, written
 * around the ORM): migrateBlindIndexes repairs such rows.
 */
@Entity('mg_user')
class MgUser {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 20 })
  label!: string;

  @EncryptedField({ nullable: true })
  email!: string | null;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'], followKeyRotation: true })
  emailIndex!: string | null;
}

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  let users: Repository<MgUser>;

  beforeAll(async () => {
    db = await backend.create([MgUser]);
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    users = ds.getRepository(MgUser);
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  it('migrateBlindIndexes repairs stale indexes of another width, upper case or set around the ORM', async () => {
    const saved = await users.save(
      ['wide', 'upper', 'junk'].map((label) =>
        Object.assign(new MgUser(), { label, email: `${label}@example.com` }),
      ),
    );
    const stale: Record<string, string> = {
      wide: '0123456789', // a 40-bit index left from before `bits` changed
      upper: blindIndex(MgUser, 'emailIndex', 'upper@example.com')!.toUpperCase(),
      junk: 'not an index',
    };
    for (const row of saved) {
      await db.raw(`UPDATE ${db.t('mg_user')} SET "emailIndex" = $1 WHERE "id" = $2`, [
        stale[row.label],
        row.id,
      ]);
    }
    expect(await findOneByBlindIndex(users, 'emailIndex', 'wide@example.com')).toBeNull();

    const report = await migrateBlindIndexes(ds, ring, { entities: [MgUser] });
    expect(report.failed).toEqual([]);
    expect(report.complete).toBe(true);
    expect(report.migrated).toBe(3);
    for (const row of saved) {
      expect((await findOneByBlindIndex(users, 'emailIndex', ` ${row.label}@EXAMPLE.com`))?.id).toBe(row.id);
    }
    expect((await migrateBlindIndexes(ds, ring, { entities: [MgUser] })).migrated).toBe(0);
  });

  it('rewrapEntities rewraps after a rotation and the rows stay readable', async () => {
    await ring.rotate('default');
    const report = await rewrapEntities(ds, ring, { entities: [MgUser] });
    expect(report.failed).toEqual([]);
    expect(report.rewrapped).toBeGreaterThan(0);
    const rows = await db.raw(`SELECT "email" AS e FROM ${db.t('mg_user')}`);
    for (const row of rows) expect(String(row.e)).toMatch(/^bw\d\.default\.2\./);
    expect((await users.findOneBy({ label: 'junk' }))?.email).toBe('junk@example.com');
  });
}

describe('maintenance queries and the string-condition guard (SQLite)', () => suite(sqlite));
describeWithService('postgres', 'maintenance queries and the string-condition guard (PostgreSQL)', () =>
  suite(postgres),
);
