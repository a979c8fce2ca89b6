import * as path from 'node:path';
import { createBulwark } from '../../src/bulwark';
import { FileKeyStore } from '../../src/crypto/file-key-store';
import { KeyRing } from '../../src/crypto/key-ring';
import type { KeyProvider } from '../../src/crypto/key-provider';
import type { KeyStore, WrappedKeyTarget } from '../../src/crypto/key-store';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkCryptoError, ErrorCodes } from '../../src/errors';
import { providerFor, tempDir } from './helpers';

async function codeOfAsync(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BulwarkCryptoError) return error.code;
    throw error;
  }
  throw new Error('expected a BulwarkCryptoError');
}

/** Every wrapped key of a store, as stored. */
async function wrappings(store: KeyStore): Promise<string[]> {
  const out = [(await store.getRingSecret())!.wrappedKey];
  for (const key of await store.loadKeys()) for (const v of key.versions) out.push(v.wrappedKey);
  for (const s of await store.listSubjects!(undefined, 1000)) if (s.wrappedKey) out.push(s.wrappedKey);
  return out;
}

/** A store whose replaceWrappedKey fails after `okWrites` successful replacements (a crash midway). */
function crashingAfter(store: KeyStore, okWrites: number): KeyStore {
  let writes = 0;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'replaceWrappedKey') {
        return async (t: WrappedKeyTarget, expected: string, next: string) => {
          if (writes >= okWrites) throw new Error('disk gone');
          writes++;
          return target.replaceWrappedKey!(t, expected, next);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

interface Fixture {
  store: () => KeyStore;
  oldKey: string;
  values: string[];
  plain: string[];
  subjects: Array<{ id: string; envelope: string; plain: string }>;
}

const stores: Array<[string, () => () => KeyStore]> = [
  [
    'memory',
    () => {
      const store = new MemoryKeyStore();
      return () => store;
    },
  ],
  [
    'file',
    () => {
      const file = path.join(tempDir(), 'keys.json');
      return () => new FileKeyStore({ path: file });
    },
  ],
];

describe.each(stores)('master-key rotation (%s store)', (_name, makeStore) => {
  async function fixture(): Promise<Fixture> {
    const store = makeStore();
    const oldKey = generateMasterKey();
    const ring = await KeyRing.open({ provider: providerFor(oldKey), store: store(), refreshIntervalMs: 0 });
    await ring.createKey('users');
    const plain = ['alice@example.com', 'bob@example.com'];
    const values = [ring.encrypt('users', plain[0]!, { aad: 'u.1' })];
    await ring.rotate('users');
    values.push(ring.encrypt('users', plain[1]!, { aad: 'u.2' }));
    await ring.createKey('notes', { algorithm: 'chacha20-poly1305' });
    values.push(ring.encrypt('notes', 'a note'));
    plain.push('a note');
    const subjects: Fixture['subjects'] = [];
    for (let i = 0; i < 5; i++) {
      const id = `subject-${i}`;
      subjects.push({
        id,
        plain: `data of ${id}`,
        envelope: await ring.encryptForSubject(id, `data of ${id}`),
      });
    }
    await ring.shred('subject-4');
    await ring.close();
    return { store, oldKey, values, plain, subjects };
  }

  async function expectReadable(ring: KeyRing, f: Fixture): Promise<void> {
    const aads = ['u.1', 'u.2', undefined];
    f.values.forEach((v, i) => expect(ring.decryptString(v, { aad: aads[i] })).toBe(f.plain[i]));
    for (const s of f.subjects.slice(0, 4)) {
      expect((await ring.decryptAsync(s.envelope, { subject: s.id })).toString()).toBe(s.plain);
    }
    expect(await codeOfAsync(ring.decryptAsync(f.subjects[4]!.envelope))).toBe(
      ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    );
  }

  it('records the master key id with every wrapped key', async () => {
    const f = await fixture();
    const id = await providerFor(f.oldKey).masterKeyId();
    expect(id).toMatch(/^k1-[A-Za-z0-9_-]{16}$/);
    const all = await wrappings(f.store());
    expect(all).toHaveLength(1 + 3 + 4);
    for (const w of all) expect(w.startsWith(`mk1.${id}.kw1.`)).toBe(true);
    // The id names the key without revealing it.
    expect(JSON.stringify(all)).not.toContain(f.oldKey);
  });

  it('re-wraps every data, subject and ring key; the old master is retired afterwards', async () => {
    const f = await fixture();
    const newKey = generateMasterKey();
    const newId = await providerFor(newKey).masterKeyId();
    const before = await wrappings(f.store());
    const ring = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(f.oldKey),
      store: f.store(),
      refreshIntervalMs: 0,
    });
    const progress: number[] = [];
    const report = await ring.rotateMaster({ pageSize: 2, onProgress: (p) => progress.push(p.rewrapped) });
    expect(report).toMatchObject({
      masterKeyId: newId,
      previousMasterKeyId: await providerFor(f.oldKey).masterKeyId(),
      rewrapped: 8,
      alreadyCurrent: 0,
      tombstones: 1,
      conflicts: 0,
      failed: [],
      complete: true,
      finished: true,
    });
    expect(progress.length).toBeGreaterThanOrEqual(3);
    await expectReadable(ring, f);
    await ring.close();

    const after = await wrappings(f.store());
    expect(after).toHaveLength(before.length);
    for (const w of after) expect(w.startsWith(`mk1.${newId}.`)).toBe(true);

    // Only the new master key from now on: everything decrypts.
    const fresh = await KeyRing.open({
      provider: providerFor(newKey),
      store: f.store(),
      refreshIntervalMs: 0,
    });
    await expectReadable(fresh, f);
    // New keys are wrapped by the new master only.
    await fresh.createKey('later');
    await fresh.close();
    // The old master alone opens nothing any more.
    expect(
      await codeOfAsync(
        KeyRing.open({ provider: providerFor(f.oldKey), store: f.store(), refreshIntervalMs: 0 }),
      ),
    ).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);

    // Running again is a no-op.
    const again = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(f.oldKey),
      store: f.store(),
      refreshIntervalMs: 0,
    });
    expect(await again.rotateMaster()).toMatchObject({ rewrapped: 0, alreadyCurrent: 9, complete: true });
    await again.close();
  });

  it('a run that crashes midway leaves a mix both masters read, and a re-run finishes it', async () => {
    const f = await fixture();
    const newKey = generateMasterKey();
    const newId = await providerFor(newKey).masterKeyId();
    const crashing = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(f.oldKey),
      store: crashingAfter(f.store(), 4),
      refreshIntervalMs: 0,
    });
    expect(await codeOfAsync(crashing.rotateMaster())).toBe(ErrorCodes.CRYPTO_KEY_STORE);
    await crashing.close();

    const mixed = await wrappings(f.store());
    expect(mixed.filter((w) => w.startsWith(`mk1.${newId}.`))).toHaveLength(4);
    expect(mixed.filter((w) => !w.startsWith(`mk1.${newId}.`))).toHaveLength(4);

    // Neither master alone reads the mix: the ring secret and named keys are new, subjects old.
    expect(
      await codeOfAsync(
        KeyRing.open({ provider: providerFor(f.oldKey), store: f.store(), refreshIntervalMs: 0 }),
      ),
    ).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
    const newOnly = await KeyRing.open({
      provider: providerFor(newKey),
      store: f.store(),
      refreshIntervalMs: 0,
    });
    const s0 = f.subjects[0]!;
    expect(await codeOfAsync(newOnly.decryptAsync(s0.envelope, { subject: s0.id }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
    await newOnly.close();
    // ...both together read everything (old master usable until done), and a re-run finishes.
    const resumed = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(f.oldKey),
      store: f.store(),
      refreshIntervalMs: 0,
    });
    await expectReadable(resumed, f);
    const report = await resumed.rotateMaster();
    expect(report).toMatchObject({ rewrapped: 4, alreadyCurrent: 4, complete: true });
    await resumed.close();
    const done = await KeyRing.open({
      provider: providerFor(newKey),
      store: f.store(),
      refreshIntervalMs: 0,
    });
    await expectReadable(done, f);
    await done.close();
  });

  it('refuses wrong new key material before writing anything', async () => {
    const f = await fixture();
    const before = await wrappings(f.store());
    // The "new" master key is the old one.
    expect(
      await codeOfAsync(
        KeyRing.open({
          provider: providerFor(f.oldKey),
          previousProvider: providerFor(f.oldKey),
          store: f.store(),
        }),
      ),
    ).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    // Not 32 bytes.
    expect(
      await codeOfAsync(
        KeyRing.open({
          provider: providerFor('too-short'),
          previousProvider: providerFor(f.oldKey),
          store: f.store(),
        }),
      ),
    ).toBe(ErrorCodes.CRYPTO_KEY_PROVIDER);
    // The old master given as "previous" is wrong: nothing unwraps, the ring does not open.
    expect(
      await codeOfAsync(
        KeyRing.open({
          provider: providerFor(),
          previousProvider: providerFor(),
          store: f.store(),
        }),
      ),
    ).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
    expect(await wrappings(f.store())).toEqual(before);
  });

  it('a resumed run with a different new master key is refused (the first new key is needed)', async () => {
    const f = await fixture();
    const first = generateMasterKey();
    const ring = await KeyRing.open({
      provider: providerFor(first),
      previousProvider: providerFor(f.oldKey),
      store: crashingAfter(f.store(), 2),
      refreshIntervalMs: 0,
    });
    await expect(ring.rotateMaster()).rejects.toThrow();
    await ring.close();
    const err = await KeyRing.open({
      provider: providerFor(),
      previousProvider: providerFor(f.oldKey),
      store: f.store(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkCryptoError);
    expect((err as BulwarkCryptoError).code).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
    expect((err as Error).message).toContain(await providerFor(first).masterKeyId());
    expect((err as Error).message).not.toContain(first);
  });
});

describe('master-key rotation: providers and stores that cannot take part', () => {
  /** A provider as written before masterKeyId existed. */
  function anonymous(key = generateMasterKey()): KeyProvider {
    const inner = providerFor(key);
    return {
      name: 'legacy',
      wrapKey: (k, c) => inner.wrapKey(k, c),
      unwrapKey: (w, c) => inner.unwrapKey(w, c),
    };
  }

  it('untagged keys written by a provider without an id are rotated too', async () => {
    const store = new MemoryKeyStore();
    const oldKey = generateMasterKey();
    const ring = await KeyRing.open({ provider: anonymous(oldKey), store, refreshIntervalMs: 0 });
    await ring.createKey('k');
    const value = ring.encrypt('k', 'secret');
    const subject = await ring.encryptForSubject('s', 'subject data');
    await ring.close();
    expect((await store.loadKeys())[0]!.versions[0]!.wrappedKey.startsWith('kw1.')).toBe(true);

    const newKey = generateMasterKey();
    const rotating = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: anonymous(oldKey),
      store,
      refreshIntervalMs: 0,
    });
    expect(await rotating.rotateMaster()).toMatchObject({ rewrapped: 3, complete: true });
    await rotating.close();
    const done = await KeyRing.open({ provider: providerFor(newKey), store, refreshIntervalMs: 0 });
    expect(done.decryptString(value)).toBe('secret');
    expect((await done.decryptAsync(subject, { subject: 's' })).toString()).toBe('subject data');
    await done.close();
  });

  it('a key labelled as done but still wrapped by the old master is reported, not trusted', async () => {
    const store = new MemoryKeyStore();
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const ring = await KeyRing.open({ provider: providerFor(oldKey), store, refreshIntervalMs: 0 });
    await ring.createKey('k');
    await ring.close();
    const oldId = await providerFor(oldKey).masterKeyId();
    const newId = await providerFor(newKey).masterKeyId();
    const version = (await store.loadKeys())[0]!.versions[0]!;
    const relabelled = version.wrappedKey.replace(`mk1.${oldId}.`, `mk1.${newId}.`);
    await store.replaceWrappedKey(
      { kind: 'version', keyId: 'k', version: 1 },
      version.wrappedKey,
      relabelled,
    );

    const rotating = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(oldKey),
      store,
      refreshIntervalMs: 0,
    }).catch((e: unknown) => e);
    // The ring itself refuses it at open: the label picks the new master key, which does not unwrap it.
    expect((rotating as BulwarkCryptoError).code).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
    // A subject key relabelled the same way is only met by the rotation: reported, not complete.
    await store.replaceWrappedKey(
      { kind: 'version', keyId: 'k', version: 1 },
      relabelled,
      version.wrappedKey,
    );
    const second = await KeyRing.open({ provider: providerFor(oldKey), store, refreshIntervalMs: 0 });
    await second.encryptForSubject('s', 'x');
    await second.close();
    const [subject] = await store.listSubjects(undefined, 10);
    await store.replaceWrappedKey(
      { kind: 'subject', subjectRef: subject!.subjectRef },
      subject!.wrappedKey!,
      subject!.wrappedKey!.replace(`mk1.${oldId}.`, `mk1.${newId}.`),
    );
    const third = await KeyRing.open({
      provider: providerFor(newKey),
      previousProvider: providerFor(oldKey),
      store,
      refreshIntervalMs: 0,
    });
    const report = await third.rotateMaster();
    expect(report.complete).toBe(false);
    expect(report.failed).toEqual([
      { record: `subject:${subject!.subjectRef}`, code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED },
    ]);
    await third.close();
  });

  it('is refused when the new provider does not name its master key', async () => {
    const ring = await KeyRing.open({
      provider: anonymous(),
      store: new MemoryKeyStore(),
      refreshIntervalMs: 0,
    });
    expect(await codeOfAsync(ring.rotateMaster())).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    await ring.close();
  });

  it('is refused when the new provider does not bind the key id to the wrapping', async () => {
    const inner = providerFor();
    const careless: KeyProvider = {
      name: 'careless',
      masterKeyId: async () => 'careless-1',
      wrapKey: (k) => inner.wrapKey(k, { keyId: 'x', version: 1 }),
      unwrapKey: (w) => inner.unwrapKey(w, { keyId: 'x', version: 1 }),
    };
    const ring = await KeyRing.open({
      provider: careless,
      store: new MemoryKeyStore(),
      refreshIntervalMs: 0,
    });
    expect(await codeOfAsync(ring.rotateMaster())).toBe(ErrorCodes.CRYPTO_KEY_PROVIDER);
    await ring.close();
  });

  it('is refused by a store without listSubjects / replaceWrappedKey', async () => {
    const base = new MemoryKeyStore();
    const store: KeyStore = {
      name: 'minimal',
      loadKeys: () => base.loadKeys(),
      insertKeyVersion: (k, v) => base.insertKeyVersion(k, v),
      raiseMinDecryptVersion: (k, v) => base.raiseMinDecryptVersion(k, v),
      getRingSecret: () => base.getRingSecret(),
      insertRingSecret: (s) => base.insertRingSecret(s),
      getSubject: (r) => base.getSubject(r),
      insertSubject: (s) => base.insertSubject(s),
      shredSubject: (t) => base.shredSubject(t),
    };
    const ring = await KeyRing.open({ provider: providerFor(), store, refreshIntervalMs: 0 });
    expect(await codeOfAsync(ring.rotateMaster())).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    await ring.close();
  });

  it.each([
    ['memory', () => new MemoryKeyStore()],
    ['file', () => new FileKeyStore({ path: path.join(tempDir(), 'k.json') })],
  ])('%s store: replaceWrappedKey is a compare-and-swap and never revives a tombstone', async (_n, make) => {
    const store = make();
    const ring = await KeyRing.open({ provider: providerFor(), store, refreshIntervalMs: 0 });
    await ring.createKey('k');
    await ring.encryptForSubject('a', 'x');
    await ring.encryptForSubject('b', 'y');
    await ring.shred('b');
    await ring.close();
    const [a, b] = await store.listSubjects!(undefined, 10);
    const subjectA = [a, b].find((s) => s!.wrappedKey !== null)!;
    const subjectB = [a, b].find((s) => s!.wrappedKey === null)!;
    const version = (await store.loadKeys())[0]!.versions[0]!;
    const t = { kind: 'version', keyId: 'k', version: 1 } as const;
    expect(await store.replaceWrappedKey!(t, 'not-the-stored-one', 'next')).toBe(false);
    expect(
      await store.replaceWrappedKey!({ kind: 'version', keyId: 'k', version: 9 }, version.wrappedKey, 'n'),
    ).toBe(false);
    expect(await store.replaceWrappedKey!(t, version.wrappedKey, 'next')).toBe(true);
    expect((await store.loadKeys())[0]!.versions[0]!.wrappedKey).toBe('next');
    expect(await store.replaceWrappedKey!(t, version.wrappedKey, 'again')).toBe(false);
    expect(
      await store.replaceWrappedKey!({ kind: 'subject', subjectRef: subjectB.subjectRef }, '', 'revived'),
    ).toBe(false);
    expect((await store.getSubject(subjectB.subjectRef))!.wrappedKey).toBeNull();
    expect(
      await store.replaceWrappedKey!(
        { kind: 'subject', subjectRef: subjectA.subjectRef },
        subjectA.wrappedKey!,
        's2',
      ),
    ).toBe(true);
    const secret = (await store.getRingSecret())!;
    expect(await store.replaceWrappedKey!({ kind: 'ring' }, 'nope', 'r2')).toBe(false);
    expect(await store.replaceWrappedKey!({ kind: 'ring' }, secret.wrappedKey, 'r2')).toBe(true);
    // Paging in subjectRef order.
    const first = await store.listSubjects!(undefined, 1);
    const rest = await store.listSubjects!(first[0]!.subjectRef, 10);
    expect([...first, ...rest].map((s) => s.subjectRef)).toEqual([a!.subjectRef, b!.subjectRef].sort());
  });
});

describe('createBulwark keys.previousMasterKey', () => {
  it('opens the ring with both master keys during a rotation, and names a bad one', async () => {
    const store = new MemoryKeyStore();
    const oldKey = generateMasterKey();
    const first = await KeyRing.open({ provider: providerFor(oldKey), store, refreshIntervalMs: 0 });
    await first.createKey('pii');
    const value = first.encrypt('pii', 'ada@example.com');
    await first.close();

    const newKey = generateMasterKey();
    const kit = await createBulwark({
      keys: { masterKey: providerFor(newKey), previousMasterKey: providerFor(oldKey), store },
    });
    try {
      expect(kit.keyRing!.decryptString(value)).toBe('ada@example.com');
      expect(await kit.keyRing!.rotateMaster()).toMatchObject({ complete: true, rewrapped: 2 });
    } finally {
      await kit.close();
    }
    const after = await KeyRing.open({ provider: providerFor(newKey), store, refreshIntervalMs: 0 });
    expect(after.decryptString(value)).toBe('ada@example.com');
    await after.close();

    const bad = await createBulwark({
      keys: { masterKey: providerFor(newKey), previousMasterKey: { env: '' }, store },
    }).catch((e: unknown) => e);
    expect((bad as { details?: unknown }).details).toEqual({ path: 'keys.previousMasterKey.env' });
  });
});
