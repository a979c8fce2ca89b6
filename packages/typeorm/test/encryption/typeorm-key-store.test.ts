import { ErrorCodes, KeyRing } from '@bulwark/core';
import { DataSource } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import {
  BulwarkKeyTables1735689700000,
  TypeOrmKeyStore,
  bulwarkKeyEntities,
  bulwarkEntities,
  bulwarkMigrations,
} from '../../src';
import { postgres, providerFor, sqlite, type Backend, type EncryptionDb } from './support';
import { generateMasterKey } from '@bulwark/core';

function suite(backend: Backend) {
  let db: EncryptionDb;

  beforeAll(async () => {
    db = await backend.create([...bulwarkEntities, ...bulwarkKeyEntities], {
      synchronize: false,
      migrations: [...bulwarkMigrations, BulwarkKeyTables1735689700000],
    });
    await db.dataSource.runMigrations();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a KeyRing over TypeOrmKeyStore survives a new DataSource (keys, rotation, subjects, shredding)', async () => {
    const masterKey = generateMasterKey();
    const ring = await KeyRing.open({
      provider: providerFor(masterKey),
      store: new TypeOrmKeyStore(db.dataSource),
    });
    await ring.createKey('default');
    const v1 = ring.encrypt('default', 'hello', { aad: 't.c' });
    await ring.rotate('default');
    const v2 = ring.encrypt('default', 'world', { aad: 't.c' });
    const index = ring.blindIndex('default', 'x@y.z');
    const subject = await ring.encryptForSubject('s-1', 'mine');
    const doomed = await ring.encryptForSubject('s-2', 'gone');
    await ring.shred('s-2');

    const raw = await db.raw(`SELECT * FROM ${db.t('bulwark_key_version')} ORDER BY "version"`);
    expect(raw.map((r) => Number(r.version))).toEqual([1, 2]);
    expect(JSON.stringify(raw)).not.toContain(masterKey);
    const tomb = await db.raw(`SELECT * FROM ${db.t('bulwark_subject_key')} WHERE "shredded_at" IS NOT NULL`);
    expect(tomb).toHaveLength(1);
    expect(tomb[0].wrapped_key).toBeNull();

    // a new DataSource on the same database, a new ring with the same master key
    const other = await new DataSource({
      ...db.options,
      entities: bulwarkKeyEntities,
      migrations: [],
    }).initialize();
    try {
      const reopened = await KeyRing.open({
        provider: providerFor(masterKey),
        store: new TypeOrmKeyStore(other),
      });
      expect(reopened.info('default')).toMatchObject({ primaryVersion: 2, minDecryptVersion: 1 });
      expect(reopened.decryptString(v1, { aad: 't.c' })).toBe('hello');
      expect(reopened.decryptString(v2, { aad: 't.c' })).toBe('world');
      expect(reopened.blindIndex('default', 'x@y.z')).toBe(index);
      expect(await reopened.decryptStringAsync(subject)).toBe('mine');
      await expect(reopened.decryptAsync(doomed)).rejects.toMatchObject({
        code: ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
      });
      await reopened.close();
      // the wrong master key does not open it
      await expect(
        KeyRing.open({ provider: providerFor(), store: new TypeOrmKeyStore(other) }),
      ).rejects.toMatchObject({
        code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
      });
    } finally {
      await other.destroy();
    }
    await ring.close();
  });

  it('a corrupt row is reported as ERR_CRYPTO_KEY_STORE', async () => {
    await db.raw(`UPDATE ${db.t('bulwark_key_version')} SET "wrapped_key" = '' WHERE "version" = 1`);
    await expect(new TypeOrmKeyStore(db.dataSource).loadKeys()).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_KEY_STORE,
    });
  });

  it('the migration enforces that a shredded subject keeps no wrapped key', async () => {
    await expect(
      db.raw(
        `INSERT INTO ${db.t('bulwark_subject_key')} ("subject_ref", "algorithm", "wrapped_key", "created_at", "shredded_at") VALUES ('r', 'aes-256-gcm', 'k', 'now', 'now')`,
      ),
    ).rejects.toThrow();
  });
}

describe('TypeOrmKeyStore on SQLite', () => suite(sqlite));
describeWithService('postgres', 'TypeOrmKeyStore on PostgreSQL', () => suite(postgres));
