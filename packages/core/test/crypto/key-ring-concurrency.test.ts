import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FileKeyStore } from '../../src/crypto/file-key-store';
import { KeyRing, type KeyRingOptions } from '../../src/crypto/key-ring';
import type { KeyStore, StoredKey, StoredRingSecret, StoredSubjectKey } from '../../src/crypto/key-store';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { ErrorCodes } from '../../src/errors';
import { providerFor, tempDir } from './helpers';
import { expectAllDecrypt, raceTwoRings } from './key-ring-races';

/** Opens rings over one store with one master key, each with its own provider. */
function opener(store: () => KeyStore, options: Partial<KeyRingOptions> = {}) {
  const masterKey = generateMasterKey();
  return () =>
    KeyRing.open({ provider: providerFor(masterKey), store: store(), refreshIntervalMs: 0, ...options });
}

/** A MemoryKeyStore whose `aspect` writes overwrite, as the old upsert-based saves did. */
function lastWriterWins(aspect: 'ringSecret' | 'keyVersion' | 'subject'): MemoryKeyStore {
  const store = new MemoryKeyStore();
  const inside = store as unknown as {
    keys: Map<string, StoredKey>;
    subjects: Map<string, StoredSubjectKey>;
    ringSecret: StoredRingSecret | undefined;
  };
  if (aspect === 'ringSecret') {
    store.insertRingSecret = async (secret) => (inside.ringSecret = secret);
  } else if (aspect === 'subject') {
    store.insertSubject = async (subject) => {
      inside.subjects.set(subject.subjectRef, subject);
      return subject;
    };
  } else {
    store.insertKeyVersion = async (keyId, version) => {
      const key = inside.keys.get(keyId);
      inside.keys.set(keyId, {
        keyId,
        primaryVersion: version.version,
        minDecryptVersion: key?.minDecryptVersion ?? 1,
        createdAt: key?.createdAt ?? version.createdAt,
        rotatedAt: version.createdAt,
        versions: [...(key?.versions ?? []).filter((v) => v.version !== version.version), version],
      });
      return true;
    };
  }
  return store;
}

/** Polls (without timing assertions) until `check` stops throwing. */
async function eventually(check: () => void): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      check();
      return;
    } catch (error) {
      if (i >= 200) throw error;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

describe('several KeyRings over one store: racing first writes lose no key', () => {
  it('MemoryKeyStore shared by two rings', async () => {
    for (let round = 0; round < 3; round++) {
      const shared = new MemoryKeyStore();
      await raceTwoRings(opener(() => shared));
    }
  });

  it.each(['ringSecret', 'keyVersion', 'subject'] as const)(
    'the scenario fails with the old last-writer-wins writes (%s), so it proves the fix',
    async (aspect) => {
      const failures = await Promise.allSettled(
        [0, 1, 2].map(() => {
          const shared = lastWriterWins(aspect);
          return raceTwoRings(opener(() => shared));
        }),
      );
      expect(failures.some((f) => f.status === 'rejected')).toBe(true);
    },
  );

  it('FileKeyStore: two store instances on one file (only the lock file serialises them)', async () => {
    const file = path.join(tempDir(), 'keys.json');
    await raceTwoRings(opener(() => new FileKeyStore({ path: file })));
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('FileKeyStore: four OS processes racing open, ensureKey, rotate and the first subject value', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'keys.json');
    const go = path.join(dir, 'go');
    const masterKey = generateMasterKey();
    const worker = path.join(__dirname, 'workers', 'key-race-worker.js');
    const runs = [1, 2, 3, 4].map((n) => {
      const child = spawn(process.execPath, [worker, JSON.stringify({ file, masterKey, go, worker: n })], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        child.on('exit', (code) => resolve({ code, stdout, stderr })),
      );
    });
    // Let the workers load (transpiling the sources) before they start together.
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(go, '');
    const results = await Promise.all(runs);
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const outputs = results.map(
      (r) =>
        JSON.parse(r.stdout) as Array<{
          envelope?: string;
          text?: string;
          subject?: boolean;
          ref?: string;
          primary?: number;
        }>,
    );
    const summaries = outputs.map((o) => o.find((x) => x.ref !== undefined)!);
    expect(new Set(summaries.map((s) => s.ref)).size).toBe(1);
    const made = outputs.flat().filter((x) => x.envelope !== undefined) as Array<{
      envelope: string;
      text: string;
      subject?: boolean;
    }>;
    expect(made).toHaveLength(12);
    const ring = await KeyRing.open({
      provider: providerFor(masterKey),
      store: new FileKeyStore({ path: file }),
      refreshIntervalMs: 0,
    });
    try {
      expect(ring.subjectRef('alice')).toBe(summaries[0].ref);
      await expectAllDecrypt(ring, made);
      // Every rotation either made a version or adopted one: no version number was written twice.
      expect(ring.info('pii').versions.length).toBeGreaterThanOrEqual(2);
    } finally {
      await ring.close();
    }
    expect(existsSync(`${file}.lock`)).toBe(false);
  }, 60_000);

  it('FileKeyStore takes over a lock left by a dead process', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(`${file}.lock`, String(dead));
    const ring = await opener(() => new FileKeyStore({ path: file }))();
    await ring.createKey('pii');
    expect(ring.has('pii')).toBe(true);
    expect(existsSync(`${file}.lock`)).toBe(false);
    await ring.close();
  });

  it('FileKeyStore waits for a live lock and fails with ERR_CRYPTO_KEY_STORE when it is not released', async () => {
    const file = path.join(tempDir(), 'keys.json');
    writeFileSync(`${file}.lock`, String(process.pid)); // a live holder
    const store = new FileKeyStore({ path: file, lockTimeoutMs: 50 });
    await expect(
      store.insertRingSecret({ wrappedKey: 'x', createdAt: new Date().toISOString() }),
    ).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_KEY_STORE });
    expect(existsSync(`${file}.lock`)).toBe(true); // someone else's lock is left alone
  });

  it('FileKeyStore rejects a bad lockTimeoutMs', () => {
    expect(() => new FileKeyStore({ path: 'x', lockTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: ErrorCodes.CRYPTO_INVALID_ARGUMENT }),
    );
  });
});

describe('KeyStore contract: insert-if-absent and monotonic metadata', () => {
  const stores: Array<[string, () => KeyStore]> = [
    ['memory', () => new MemoryKeyStore()],
    ['file', () => new FileKeyStore({ path: path.join(tempDir(), 'k.json') })],
  ];
  it.each(stores)(
    '%s: a version, the ring secret and a subject are written once; shred only tombstones',
    async (_n, make) => {
      const store = make();
      const at = '2030-01-01T00:00:00.000Z';
      const v = (version: number, wrappedKey: string) => ({
        version,
        algorithm: 'aes-256-gcm' as const,
        wrappedKey,
        createdAt: at,
      });
      expect(await store.insertKeyVersion('k', v(1, 'first'))).toBe(true);
      expect(await store.insertKeyVersion('k', v(1, 'second'))).toBe(false);
      expect(await store.insertKeyVersion('k', v(3, 'three'))).toBe(true);
      expect(await store.insertKeyVersion('k', v(2, 'two'))).toBe(true); // late: primary stays 3
      await store.raiseMinDecryptVersion('k', 2);
      await store.raiseMinDecryptVersion('k', 1); // never lowered
      await store.raiseMinDecryptVersion('k', 9); // never above primary
      const [key] = await store.loadKeys();
      expect(key).toMatchObject({ primaryVersion: 3, minDecryptVersion: 2 });
      expect(key.versions.find((x) => x.version === 1)?.wrappedKey).toBe('first');

      const secret = await store.insertRingSecret({ wrappedKey: 's1', createdAt: at });
      expect(secret.wrappedKey).toBe('s1');
      expect((await store.insertRingSecret({ wrappedKey: 's2', createdAt: at })).wrappedKey).toBe('s1');

      const subject = {
        subjectRef: 'A'.repeat(22),
        algorithm: 'aes-256-gcm' as const,
        createdAt: at,
        shreddedAt: null,
      };
      expect((await store.insertSubject({ ...subject, wrappedKey: 'w1' })).wrappedKey).toBe('w1');
      expect((await store.insertSubject({ ...subject, wrappedKey: 'w2' })).wrappedKey).toBe('w1');
      await store.shredSubject({ ...subject, wrappedKey: null, shreddedAt: at });
      const again = await store.insertSubject({ ...subject, wrappedKey: 'w3' });
      expect(again).toMatchObject({ wrappedKey: null, shreddedAt: at });
      await store.shredSubject({ ...subject, wrappedKey: null, shreddedAt: '2031-01-01T00:00:00.000Z' });
      expect(await store.getSubject(subject.subjectRef)).toMatchObject({ wrappedKey: null, shreddedAt: at });
    },
  );
});

describe('shredding reaches other rings within subjectCacheTtlMs', () => {
  function setup(ttl: number) {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const store = new MemoryKeyStore();
    const open = opener(() => store, { clock: () => new Date(now), subjectCacheTtlMs: ttl });
    return { open, advance: (ms: number) => (now += ms) };
  }

  it('ring B refuses to encrypt for a subject shredded by ring A once the TTL has passed', async () => {
    const { open, advance } = setup(60_000);
    const a = await open();
    const b = await open();
    const before = await b.encryptForSubject('bob', 'hello'); // B caches bob's key
    await a.shred('bob');
    advance(59_999);
    // The documented window: B has not re-checked yet.
    await expect(b.encryptForSubject('bob', 'inside the window')).resolves.toMatch(/^bw2s\./);
    advance(1);
    await expect(b.encryptForSubject('bob', 'after')).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    });
    await expect(b.decryptAsync(before)).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_SUBJECT_SHREDDED });
    expect(() => b.decrypt(before)).toThrow(
      expect.objectContaining({ code: ErrorCodes.CRYPTO_SUBJECT_SHREDDED }),
    );
    await Promise.all([a.close(), b.close()]);
  });

  it('decryptAsync re-validates after the TTL', async () => {
    const { open, advance } = setup(1_000);
    const a = await open();
    const b = await open();
    const envelope = await a.encryptForSubject('carol', 'x');
    expect(await b.decryptStringAsync(envelope)).toBe('x');
    await a.shred('carol');
    advance(1_000);
    await expect(b.decryptStringAsync(envelope)).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_SUBJECT_SHREDDED,
    });
    await Promise.all([a.close(), b.close()]);
  });

  it('a sync decrypt past the TTL starts the check; later sync decrypts refuse the shredded subject', async () => {
    const { open, advance } = setup(1_000);
    const a = await open();
    const b = await open();
    const envelope = await a.encryptForSubject('dave', 'x');
    await b.loadSubject('dave');
    await a.shred('dave');
    advance(1_000);
    expect(b.decryptString(envelope)).toBe('x'); // served, check started in the background
    await eventually(() =>
      expect(() => b.decrypt(envelope)).toThrow(
        expect.objectContaining({ code: ErrorCodes.CRYPTO_SUBJECT_SHREDDED }),
      ),
    );
    await Promise.all([a.close(), b.close()]);
  });

  it('within the TTL a cached key costs no store read', async () => {
    const store = new MemoryKeyStore();
    const reads = jest.spyOn(store, 'getSubject');
    const ring = await opener(() => store)();
    await ring.encryptForSubject('erin', 'one');
    const after = reads.mock.calls.length;
    for (let i = 0; i < 10; i++) await ring.encryptForSubject('erin', 'more');
    expect(reads.mock.calls.length).toBe(after);
    await ring.close();
  });

  it('rejects a bad subjectCacheTtlMs or refreshIntervalMs as a config error naming the option', async () => {
    for (const [bad, option] of [
      [{ subjectCacheTtlMs: -1 }, 'subjectCacheTtlMs'],
      [{ refreshIntervalMs: Number.NaN }, 'refreshIntervalMs'],
      [{ refreshIntervalMs: 2 ** 40 }, 'refreshIntervalMs'],
    ] as const) {
      await expect(
        opener(() => new MemoryKeyStore(), bad as Partial<KeyRingOptions>)(),
      ).rejects.toMatchObject({
        code: ErrorCodes.CONFIG_INVALID,
        details: { path: `keyRing.${option}` },
      });
    }
  });
});

describe('keys rotated by another ring reach sync decrypt', () => {
  it('an unknown version throws ERR_CRYPTO_UNKNOWN_KEY saying a refresh is scheduled, and a retry succeeds', async () => {
    const store = new MemoryKeyStore();
    const open = opener(() => store);
    const a = await open();
    await a.createKey('pii');
    const b = await open();
    await a.rotate('pii');
    const v2 = a.encrypt('pii', 'rotated elsewhere');
    let thrown: unknown;
    try {
      b.decrypt(v2);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      code: ErrorCodes.CRYPTO_UNKNOWN_KEY,
      details: { keyId: 'pii', version: 2, refreshScheduled: true },
    });
    await eventually(() => expect(b.decryptString(v2)).toBe('rotated elsewhere'));
    expect(b.info('pii').primaryVersion).toBe(2);
    await Promise.all([a.close(), b.close()]);
  });

  it('a key created by another ring becomes usable the same way', async () => {
    const store = new MemoryKeyStore();
    const open = opener(() => store);
    const a = await open();
    const b = await open();
    await a.createKey('late');
    const envelope = a.encrypt('late', 'v');
    expect(() => b.decrypt(envelope)).toThrow(
      expect.objectContaining({ code: ErrorCodes.CRYPTO_UNKNOWN_KEY }),
    );
    await eventually(() => expect(b.decryptString(envelope)).toBe('v'));
    await Promise.all([a.close(), b.close()]);
  });

  it('refreshIntervalMs refreshes in the background; close() stops the timer', async () => {
    const masterKey = generateMasterKey();
    const shared = new MemoryKeyStore();
    const x = await KeyRing.open({ provider: providerFor(masterKey), store: shared, refreshIntervalMs: 0 });
    await x.createKey('pii');
    const y = await KeyRing.open({ provider: providerFor(masterKey), store: shared, refreshIntervalMs: 10 });
    const loads = jest.spyOn(shared, 'loadKeys');
    await x.rotate('pii');
    await eventually(() => expect(y.info('pii').primaryVersion).toBe(2)); // no decrypt needed
    await y.close();
    const count = loads.mock.calls.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(loads.mock.calls.length).toBe(count);
    await x.close();
  });
});
