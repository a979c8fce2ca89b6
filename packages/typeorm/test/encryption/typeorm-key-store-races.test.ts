import { generateMasterKey, KeyRing } from '@bulwark/core';
import { DataSource } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import { raceTwoRings } from '../../../core/test/crypto/key-ring-races';
import { BulwarkKeyTables1735689700000, TypeOrmKeyStore, bulwarkKeyEntities } from '../../src';
import { postgres, providerFor, sqlite, type Backend, type EncryptionDb } from './support';

/*
 * Several instances of an app over one database, each with its own DataSource (connection or
 * pool), racing the first writes of key management. Before insert-if-absent, each of these lost
 * a key that an instance had already encrypted with (reproduced on PostgreSQL and SQLite).
 */
function suite(backend: Backend) {
  let db: EncryptionDb;
  const extra: DataSource[] = [];

  beforeEach(async () => {
    db = await backend.create(bulwarkKeyEntities, {
      synchronize: false,
      migrations: [BulwarkKeyTables1735689700000],
    });
    await db.dataSource.runMigrations();
  });
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((ds) => (ds.isInitialized ? ds.destroy() : undefined)));
    await db?.drop();
  });

  function opener(clock?: () => Date) {
    const masterKey = generateMasterKey();
    return async () => {
      const ds = await new DataSource({
        ...db.options,
        entities: bulwarkKeyEntities,
        migrations: [],
      }).initialize();
      extra.push(ds);
      return KeyRing.open({
        provider: providerFor(masterKey),
        store: new TypeOrmKeyStore(ds),
        refreshIntervalMs: 0,
        ...(clock === undefined ? {} : { clock }),
      });
    };
  }

  it('two instances racing first open, ensureKey, createKey, rotate and the first subject value lose no key', async () => {
    await raceTwoRings(opener());
    const versions = await db.raw(
      `SELECT "key_id", "version" FROM ${db.t('bulwark_key_version')} ORDER BY "key_id", "version"`,
    );
    expect(versions.map((r) => `${String(r.key_id)}:${Number(r.version)}`)).toEqual([
      'cards:1',
      'pii:1',
      'pii:2',
    ]);
    expect(await db.raw(`SELECT * FROM ${db.t('bulwark_ring_secret')}`)).toHaveLength(1);
  });

  it('many instances rotating at once agree on one primary and keep every version', async () => {
    const open = opener();
    const first = await open();
    await first.createKey('pii');
    const rings = [first, ...(await Promise.all([open(), open(), open()]))];
    const infos = await Promise.all(rings.map((r) => r.rotate('pii')));
    const after = await Promise.all(
      rings.map(async (r) => (await r.refresh(), r.info('pii').primaryVersion)),
    );
    expect(new Set(after).size).toBe(1);
    for (const info of infos) expect(info.primaryVersion).toBeGreaterThanOrEqual(2);
    const made = rings.map((r, i) => ({ envelope: r.encrypt('pii', `r${i}`), text: `r${i}` }));
    const fresh = await open();
    for (const ring of [...rings, fresh]) {
      for (const { envelope, text } of made) expect(ring.decryptString(envelope)).toBe(text);
    }
    await Promise.all([...rings, fresh].map((r) => r.close()));
  });

  it('instances rotating due keys at once (scheduler / cron on every host) add ONE version per key', async () => {
    let now = Date.parse('2025-01-01T00:00:00.000Z');
    const open = opener(() => new Date(now));
    const first = await open();
    await first.createKey('pii');
    await first.createKey('pan');
    const rings = [first, ...(await Promise.all([open(), open(), open()]))];
    now += 91 * 86_400_000;
    const rotated = (await Promise.all(rings.map((r) => r.rotateDue()))).flat();
    expect(rotated.map((d) => d.keyId).sort()).toEqual(['pan', 'pii']);
    const versions = await db.raw(
      `SELECT "key_id", "version" FROM ${db.t('bulwark_key_version')} ORDER BY "key_id", "version"`,
    );
    expect(versions.map((r) => `${String(r.key_id)}:${Number(r.version)}`)).toEqual([
      'pan:1',
      'pan:2',
      'pii:1',
      'pii:2',
    ]);
    // Run again right after: nothing is due any more anywhere.
    expect((await Promise.all(rings.map((r) => r.rotateDue()))).flat()).toEqual([]);
    await Promise.all(rings.map((r) => r.close()));
  });

  it('shred overwrites only to a tombstone and a tombstone is never replaced by a key', async () => {
    const ds = db.dataSource;
    const store = new TypeOrmKeyStore(ds);
    const at = '2030-01-01T00:00:00.000Z';
    const subject = {
      subjectRef: 'B'.repeat(22),
      algorithm: 'aes-256-gcm' as const,
      createdAt: at,
      shreddedAt: null,
    };
    expect(await store.insertSubject({ ...subject, wrappedKey: 'w1' })).toMatchObject({ wrappedKey: 'w1' });
    expect(await store.insertSubject({ ...subject, wrappedKey: 'w2' })).toMatchObject({ wrappedKey: 'w1' });
    await store.shredSubject({ ...subject, wrappedKey: null, shreddedAt: at });
    expect(await store.insertSubject({ ...subject, wrappedKey: 'w3' })).toMatchObject({
      wrappedKey: null,
      shreddedAt: at,
    });
    await store.shredSubject({ ...subject, wrappedKey: null, shreddedAt: '2031-01-01T00:00:00.000Z' });
    expect(await store.getSubject(subject.subjectRef)).toMatchObject({ wrappedKey: null, shreddedAt: at });
    // never-seen subject: the tombstone is inserted
    await store.shredSubject({ ...subject, subjectRef: 'C'.repeat(22), wrappedKey: null, shreddedAt: at });
    expect(await store.getSubject('C'.repeat(22))).toMatchObject({ wrappedKey: null, shreddedAt: at });
  });

  it('key metadata is monotonic: a late lower version does not move the primary back, minDecryptVersion only rises', async () => {
    const store = new TypeOrmKeyStore(db.dataSource);
    const at = '2030-01-01T00:00:00.000Z';
    const v = (version: number, wrappedKey: string) => ({
      version,
      algorithm: 'aes-256-gcm' as const,
      wrappedKey,
      createdAt: at,
    });
    expect(await store.insertKeyVersion('k', v(1, 'one'))).toBe(true);
    expect(await store.insertKeyVersion('k', v(1, 'other'))).toBe(false);
    expect(await store.insertKeyVersion('k', v(3, 'three'))).toBe(true);
    expect(await store.insertKeyVersion('k', v(2, 'two'))).toBe(true);
    await store.raiseMinDecryptVersion('k', 2);
    await store.raiseMinDecryptVersion('k', 1);
    await store.raiseMinDecryptVersion('k', 9);
    const [key] = await store.loadKeys();
    expect(key).toMatchObject({ primaryVersion: 3, minDecryptVersion: 2 });
    expect(key.versions.find((x) => x.version === 1)?.wrappedKey).toBe('one');
    expect((await store.insertRingSecret({ wrappedKey: 's1', createdAt: at })).wrappedKey).toBe('s1');
    expect((await store.insertRingSecret({ wrappedKey: 's2', createdAt: at })).wrappedKey).toBe('s1');
  });
}

describe('TypeOrmKeyStore races on a SQLite file', () => suite(sqlite));
describeWithService('postgres', 'TypeOrmKeyStore races on PostgreSQL', () => suite(postgres));
