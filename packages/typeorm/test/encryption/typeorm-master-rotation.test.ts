import { ErrorCodes, KeyRing, generateMasterKey, type KeyStore } from '@bulwark/core';
import type { WrappedKeyTarget } from '@bulwark/core/store';
import { describeWithService } from '../../../../test/support/services';
import {
  BulwarkKeyTables1735689700000,
  TypeOrmKeyStore,
  bulwarkEntities,
  bulwarkKeyEntities,
  bulwarkMigrations,
} from '../../src';
import { postgres, providerFor, sqlite, type Backend, type EncryptionDb } from './support';

/** replaceWrappedKey fails after `ok` successful writes: the database went away mid-rotation. */
function crashingAfter(store: KeyStore, ok: number): KeyStore {
  let writes = 0;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'replaceWrappedKey') {
        return async (t: WrappedKeyTarget, expected: string, next: string) => {
          if (writes >= ok) throw new Error('connection terminated');
          writes++;
          return target.replaceWrappedKey!(t, expected, next);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

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

  it('rotates the master key over the SQL store: crash midway, resume, old master retired', async () => {
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const store = new TypeOrmKeyStore(db.dataSource);
    const ring = await KeyRing.open({ provider: providerFor(oldKey), store, refreshIntervalMs: 0 });
    await ring.createKey('default');
    const v1 = ring.encrypt('default', 'hello', { aad: 't.c' });
    await ring.rotate('default');
    const v2 = ring.encrypt('default', 'world', { aad: 't.c' });
    const index = ring.blindIndex('default', 'x@y.z');
    const subjects = [];
    for (let i = 0; i < 7; i++) subjects.push(await ring.encryptForSubject(`s-${i}`, `data ${i}`));
    await ring.shred('s-6');
    await ring.close();

    const crashing = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(oldKey),
      store: crashingAfter(store, 5),
      refreshIntervalMs: 0,
    });
    await expect(crashing.rotateMaster({ pageSize: 3 })).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_KEY_STORE,
    });
    await crashing.close();
    const newId = await providerFor(newKey).masterKeyId();
    const rows = await db.raw(
      `SELECT "wrapped_key" FROM ${db.t('bulwark_subject_key')} WHERE "wrapped_key" IS NOT NULL`,
    );
    const tagged = rows.filter((r) => String(r.wrapped_key).startsWith(`mk1.${newId}.`));
    expect(tagged).toHaveLength(2); // ring secret + 2 versions + 2 subjects = 5 writes
    expect(rows).toHaveLength(6);

    const resumed = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(oldKey),
      store,
      refreshIntervalMs: 0,
    });
    expect(await resumed.decryptStringAsync(subjects[5]!, { subject: 's-5' })).toBe('data 5');
    const report = await resumed.rotateMaster({ pageSize: 3 });
    expect(report).toMatchObject({ rewrapped: 4, alreadyCurrent: 5, tombstones: 1, complete: true });
    await resumed.close();

    const done = await KeyRing.open({ provider: providerFor(newKey), store, refreshIntervalMs: 0 });
    expect(done.decryptString(v1, { aad: 't.c' })).toBe('hello');
    expect(done.decryptString(v2, { aad: 't.c' })).toBe('world');
    expect(done.blindIndex('default', 'x@y.z')).toBe(index);
    for (let i = 0; i < 6; i++) {
      expect(await done.decryptStringAsync(subjects[i]!, { subject: `s-${i}` })).toBe(`data ${i}`);
    }
    await expect(done.decryptAsync(subjects[6]!)).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    });
    await done.close();
    await expect(
      KeyRing.open({ provider: providerFor(oldKey), store, refreshIntervalMs: 0 }),
    ).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED });
    // The tombstone stayed a tombstone.
    const tomb = await db.raw(
      `SELECT "wrapped_key" FROM ${db.t('bulwark_subject_key')} WHERE "shredded_at" IS NOT NULL`,
    );
    expect(tomb).toEqual([{ wrapped_key: null }]);
  });

  it('replaceWrappedKey is a compare-and-swap', async () => {
    const store = new TypeOrmKeyStore(db.dataSource);
    const [version] = (await store.loadKeys())[0]!.versions;
    const target = { kind: 'version', keyId: 'default', version: version!.version } as const;
    expect(await store.replaceWrappedKey(target, 'stale', 'x')).toBe(false);
    expect(await store.replaceWrappedKey(target, version!.wrappedKey, 'x')).toBe(true);
    expect(await store.replaceWrappedKey(target, version!.wrappedKey, 'y')).toBe(false);
    const secret = (await store.getRingSecret())!;
    expect(await store.replaceWrappedKey({ kind: 'ring' }, 'stale', 'x')).toBe(false);
    expect(await store.replaceWrappedKey({ kind: 'ring' }, secret.wrappedKey, 'r')).toBe(true);
    const tomb = (await store.listSubjects(undefined, 100)).find((s) => s.shreddedAt !== null)!;
    expect(await store.replaceWrappedKey({ kind: 'subject', subjectRef: tomb.subjectRef }, '', 'k')).toBe(
      false,
    );
    const page = await store.listSubjects(undefined, 3);
    const next = await store.listSubjects(page[2]!.subjectRef, 100);
    expect(page.length + next.length).toBe(7);
    expect([...page, ...next].map((s) => s.subjectRef)).toEqual(
      [...page, ...next].map((s) => s.subjectRef).sort(),
    );
  });
}

describe('master-key rotation over TypeOrmKeyStore on SQLite', () => suite(sqlite));
describeWithService('postgres', 'master-key rotation over TypeOrmKeyStore on PostgreSQL', () =>
  suite(postgres),
);
