import 'reflect-metadata';
import { KeyRing, MemoryKeyStore, generateMasterKey } from '@bulwark/core';
import { Column, Entity, In, Not, PrimaryGeneratedColumn, type DataSource, type Repository } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import {
  BlindIndex,
  EncryptedField,
  blindIndex,
  blindIndexes,
  encryptedValues,
  findByBlindIndex,
  migrateBlindIndexes,
  registerBulwarkEncryption,
  rewrapEntities,
  type BulwarkEncryption,
} from '../../src';
import { postgres, providerFor, sqlite, type Backend, type EncryptionDb } from './support';

/** A customer looked up by a deterministic national id and by a rotating blind index on e-mail. */
@Entity('rot_customer')
class Customer {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 20 })
  label!: string;

  @EncryptedField({ nullable: true })
  email!: string | null;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'], followKeyRotation: true })
  emailIndex!: string | null;

  @EncryptedField({ deterministic: true, nullable: true })
  nationalId!: string | null;
}

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  let repo: Repository<Customer>;
  const masterKey = generateMasterKey();
  const store = new MemoryKeyStore();
  const written: Array<{ label: string; email: string; nationalId: string }> = [];

  beforeAll(async () => {
    db = await backend.create([Customer]);
    ds = db.dataSource;
    ring = await KeyRing.open({ provider: providerFor(masterKey), store, refreshIntervalMs: 0 });
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    repo = ds.getRepository(Customer);
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  async function write(label: string): Promise<void> {
    const row = { label, email: ` ${label}@Example.com`, nationalId: `NI-${label}` };
    await repo.save(Object.assign(new Customer(), row));
    written.push(row);
  }

  /** Every row ever written is found by each lookup path: no blind spot at this moment. */
  async function expectEveryRowFound(moment: string): Promise<void> {
    for (const { label, email, nationalId } of written) {
      const where = `${moment}: ${label}`;
      const byNid = await repo.findBy({ nationalId });
      expect([where, byNid.map((c) => c.label)]).toEqual([where, [label]]);
      const byIn = await repo.find({ where: { nationalId: In([nationalId, 'NI-none']) } });
      expect([where, byIn.map((c) => c.label)]).toEqual([where, [label]]);
      const viaQb = await repo
        .createQueryBuilder('c')
        .where('c.nationalId IN (:...nid)', { nid: encryptedValues(Customer, 'nationalId', nationalId) })
        .getMany();
      expect([where, viaQb.map((c) => c.label)]).toEqual([where, [label]]);
      const others = await repo.findBy({ nationalId: Not(nationalId) });
      expect([where, others.length]).toEqual([where, written.length - 1]);
      const byIndex = await findByBlindIndex(repo, 'emailIndex', email.trim().toUpperCase());
      expect([where, byIndex.map((c) => c.label)]).toEqual([where, [label]]);
      const byIndexes = await repo.findBy({ emailIndex: In(blindIndexes(Customer, 'emailIndex', email)) });
      expect([where, byIndexes.map((c) => c.label)]).toEqual([where, expect.arrayContaining([label])]);
    }
  }

  it('finds every row by deterministic value and by blind index before, during and after rotation, rewrap and index migration', async () => {
    for (const label of ['a', 'b', 'c', 'd', 'e']) await write(label);
    // A value written before key commitment (format 1) by an older release sharing the store.
    const legacy = await KeyRing.open({ provider: providerFor(masterKey), store, envelopeFormat: 1 });
    await db.raw(`UPDATE ${db.t('rot_customer')} SET "nationalId" = $1 WHERE "label" = $2`, [
      legacy.encrypt('default', 'NI-a', { aad: 'rot_customer.nationalId', deterministic: true }),
      'a',
    ]);
    await legacy.close();
    await expectEveryRowFound('before rotation');

    await ring.rotate('default');
    // Without the version-spanning lookups, old rows would vanish from equality queries now:
    expect(await repo.findBy({ emailIndex: blindIndex(Customer, 'emailIndex', 'a@example.com')! })).toEqual(
      [],
    );
    await write('f'); // written under version 2
    await expectEveryRowFound('rotated, nothing rewrapped');

    // Rewrap half, then migrate half of the indexes: a mix of v1 and v2 envelopes and indexes.
    const stop = new AbortController();
    await rewrapEntities(ds, ring, {
      entities: [Customer],
      batchSize: 2,
      signal: stop.signal,
      onProgress: () => stop.abort(),
    });
    const halfway = new AbortController();
    const partial = await migrateBlindIndexes(ds, ring, {
      batchSize: 2,
      signal: halfway.signal,
      onProgress: () => halfway.abort(),
    });
    expect(partial).toMatchObject({ complete: false, processed: 2 });
    const nids = await db.raw(`SELECT "nationalId" FROM ${db.t('rot_customer')}`);
    expect(new Set(nids.map((r) => String(r.nationalId).split('.')[2]))).toEqual(new Set(['1', '2']));
    await write('g');
    await expectEveryRowFound('halfway through rewrap and index migration');

    const rewrapped = await rewrapEntities(ds, ring, { entities: [Customer] });
    expect(rewrapped.failed).toEqual([]);
    const migrated = await migrateBlindIndexes(ds, ring, { entities: [Customer] });
    expect(migrated.complete).toBe(true);
    await expectEveryRowFound('after rewrap and index migration');
    // Nothing left on version 1: every stored index is the primary's.
    for (const { email } of written) {
      expect(await repo.findBy({ emailIndex: blindIndex(Customer, 'emailIndex', email)! })).toHaveLength(1);
    }
    expect((await migrateBlindIndexes(ds, ring)).migrated).toBe(0);

    // Finish: retire version 1. Lookups now use one envelope / one index, and still find everyone.
    await ring.retire('default', 2);
    expect(blindIndexes(Customer, 'emailIndex', 'x@example.com')).toHaveLength(1);
    expect(encryptedValues(Customer, 'nationalId', 'NI-a')).toHaveLength(2); // v2 in both formats
    await write('h');
    await expectEveryRowFound('after retiring version 1');
  });
}

describe('lookups across a key rotation (SQLite)', () => suite(sqlite));
describeWithService('postgres', 'lookups across a key rotation (PostgreSQL)', () => suite(postgres));
