import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { envelopeKind, type KeyRing } from '@bulwark/core';
import { Entity, PrimaryColumn, type DataSource } from 'typeorm';
// The real library, to produce the ciphertexts an application using it has in its database.
import { EncryptionTransformer } from 'typeorm-encrypted';
import { describeWithService } from '../../../../test/support/services';
import {
  BlindIndex,
  EncryptedField,
  TypeOrmErrorCodes,
  findByBlindIndex,
  migrateFromTypeormEncrypted,
  registerBulwarkEncryption,
  type BulwarkEncryption,
} from '../../src';
import { caught, mariadb, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

// The entity after the switch: the columns typeorm-encrypted encrypted are now @EncryptedField.
@Entity('te_customer')
class Customer {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @EncryptedField()
  email!: string;

  @BlindIndex({ source: 'email', normalise: ['lowercase'] })
  emailIndex!: string | null;

  @EncryptedField({ nullable: true, bindToRow: true })
  phone!: string | null;
}

const ROWS = 23;
const id = (i: number) => `c-${String(i).padStart(3, '0')}`;

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  const key = randomBytes(32).toString('hex');

  const rawRows = async () =>
    db.raw(`SELECT "id", "email", "emailIndex", "phone" FROM ${db.t('te_customer')} ORDER BY "id"`);

  /** Rows as an app using typeorm-encrypted's EncryptionTransformer wrote them. */
  async function populate(options: { algorithm: string; ivLength: number; authTagLength?: number }) {
    const legacy = new EncryptionTransformer({ key, ...options });
    await db.raw(`DELETE FROM ${db.t('te_customer')}`);
    for (let i = 1; i <= ROWS; i++) {
      await db.raw(`INSERT INTO ${db.t('te_customer')} ("id", "email", "phone") VALUES ($1, $2, $3)`, [
        id(i),
        legacy.to(`Cust${i}@Shop.test`),
        i % 3 === 0 ? null : legacy.to(i === 1 ? '' : `+44 20 7946 ${String(i).padStart(4, '0')}`),
      ]);
    }
  }

  beforeAll(async () => {
    db = await backend.create([Customer]);
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  it.each([
    { algorithm: 'aes-256-gcm' as const, ivLength: 12 },
    { algorithm: 'aes-256-gcm' as const, ivLength: 16, authTagLength: 12 },
    { algorithm: 'aes-256-cbc' as const, ivLength: 16 },
  ])('turns %o ciphertexts into Bulwark envelopes, builds the index, verifies', async (format) => {
    await populate(format);
    const report = await migrateFromTypeormEncrypted(ds, {
      entity: Customer,
      columns: ['email', 'phone'],
      key,
      ...format,
      batchSize: 7,
    });
    expect(report.ok).toBe(true);
    expect(report.columns.find((c) => c.column === 'email')).toMatchObject({ encrypted: ROWS, failed: [] });
    expect(report.verification?.ok).toBe(true);
    for (const r of await rawRows()) {
      expect(envelopeKind(r.email)).toBeDefined();
      if (r.phone !== null) expect(envelopeKind(r.phone)).toBeDefined();
    }
    const repo = ds.getRepository(Customer);
    const all = await repo.find({ order: { id: 'ASC' } });
    expect(all[1]).toMatchObject({ id: id(2), email: 'Cust2@Shop.test', phone: '+44 20 7946 0002' });
    expect(all[0]!.phone).toBe(''); // typeorm-encrypted encrypts '' too: it stays ''
    expect(all[2]!.phone).toBeNull();
    const [found] = await findByBlindIndex(repo, 'emailIndex', 'cust17@shop.test');
    expect(found?.id).toBe(id(17));
  });

  it('resumes after a stop, never touching values already migrated', async () => {
    const format = { algorithm: 'aes-256-gcm' as const, ivLength: 12 };
    await populate(format);
    const controller = new AbortController();
    const first = await migrateFromTypeormEncrypted(ds, {
      entity: 'Customer',
      columns: ['email', 'phone'],
      key,
      ...format,
      batchSize: 5,
      signal: controller.signal,
      onProgress: (p) => p.rows >= 10 && controller.abort(),
    });
    expect(first.complete).toBe(false);
    const mid = await rawRows();
    expect(mid.filter((r) => envelopeKind(r.email) !== undefined)).toHaveLength(10);
    const second = await migrateFromTypeormEncrypted(ds, {
      entity: Customer,
      columns: ['email', 'phone'],
      key,
      ...format,
    });
    expect(second.ok).toBe(true);
    expect(second.columns.find((c) => c.column === 'email')).toMatchObject({
      skipped: 10,
      encrypted: ROWS - 10,
    });
    for (const [i, r] of (await rawRows()).entries()) {
      if (i < 10) expect(r.email).toBe(mid[i]!.email); // not re-encrypted
    }
  });

  it('a wrong key or a corrupt value stops with a typed error naming the row, leaving it untouched', async () => {
    const format = { algorithm: 'aes-256-gcm' as const, ivLength: 12 };
    await populate(format);
    const before = await rawRows();
    const wrong = await caught(() =>
      migrateFromTypeormEncrypted(ds, {
        entity: Customer,
        columns: ['email'],
        key: randomBytes(32).toString('hex'),
        ...format,
      }),
    );
    expect(wrong.code).toBe(TypeOrmErrorCodes.LEGACY_DECRYPT_FAILED);
    expect(wrong.details).toMatchObject({ entity: 'Customer', column: 'email', id: `["${id(1)}"]` });
    expect(await rawRows()).toEqual(before);

    // One corrupt ciphertext (a flipped byte): the rows before it are migrated, it is named.
    const bytes = Buffer.from(String(before[5]!.email), 'base64');
    bytes[bytes.length - 1] ^= 1;
    await db.raw(`UPDATE ${db.t('te_customer')} SET "email" = $1 WHERE "id" = $2`, [
      bytes.toString('base64'),
      id(6),
    ]);
    const corrupt = await caught(() =>
      migrateFromTypeormEncrypted(ds, { entity: Customer, columns: ['email'], key, ...format }),
    );
    expect(corrupt.code).toBe(TypeOrmErrorCodes.LEGACY_DECRYPT_FAILED);
    expect(corrupt.details?.id).toBe(`["${id(6)}"]`);
    expect(corrupt.message).not.toContain('Shop.test');
    const after = await rawRows();
    expect(after.slice(0, 5).every((r) => envelopeKind(r.email) !== undefined)).toBe(true);
    expect(after[5]!.email).toBe(bytes.toString('base64'));

    // CBC with the wrong key: caught by the padding or the UTF-8 check.
    await populate({ algorithm: 'aes-256-cbc', ivLength: 16 });
    const cbc = await caught(() =>
      migrateFromTypeormEncrypted(ds, {
        entity: Customer,
        columns: ['email'],
        key: randomBytes(32).toString('hex'),
        algorithm: 'aes-256-cbc',
        ivLength: 16,
      }),
    );
    expect(cbc.code).toBe(TypeOrmErrorCodes.LEGACY_DECRYPT_FAILED);
  });

  it('refuses bad options with a config error', async () => {
    const base = {
      entity: Customer,
      columns: ['email'],
      key,
      algorithm: 'aes-256-gcm' as const,
      ivLength: 12,
    };
    for (const bad of [
      { key: 'abc' },
      { algorithm: 'aes-128-ecb' },
      { algorithm: 'aes-256-cbc', ivLength: 12 },
      { columns: [] },
      { columns: ['id'] },
      { authTagLength: 32 },
    ]) {
      const error = await caught(() => migrateFromTypeormEncrypted(ds, { ...base, ...bad } as never));
      expect(error.code).toBe('ERR_CONFIG_INVALID');
    }
  });
}

describe('migrateFromTypeormEncrypted on SQLite', () => suite(sqlite));
describeWithService('postgres', 'migrateFromTypeormEncrypted on PostgreSQL', () => suite(postgres));
describeWithService('mariadb', 'migrateFromTypeormEncrypted on MariaDB', () => suite(mariadb));
