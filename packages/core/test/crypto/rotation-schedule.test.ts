import * as path from 'node:path';
import { FileKeyStore } from '../../src/crypto/file-key-store';
import { KeyRing, ROTATION_PRESETS, type KeyRingOptions } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkConfigError, ErrorCodes } from '../../src/errors';
import { codeOf, memoryRing, providerFor, tempDir } from './helpers';

const DAY = 86_400_000;

/** A settable clock starting at 2025-01-01. */
function clock(): { now: () => Date; advance(days: number): void } {
  let t = Date.parse('2025-01-01T00:00:00.000Z');
  return { now: () => new Date(t), advance: (days) => (t += days * DAY) };
}

describe('rotation on a schedule', () => {
  it('rotationDue lists keys past their period (default 90 days), most overdue first, per-key periods apply', async () => {
    const c = clock();
    const ring = await memoryRing({ clock: c.now, rotation: { keys: { pan: ROTATION_PRESETS.strict } } });
    await ring.createKey('pii');
    await ring.createKey('pan');
    expect(ring.rotationDue()).toEqual([]);
    expect(ring.info('pii')).toMatchObject({ rotateEvery: 90, rotationDueAt: '2025-04-01T00:00:00.000Z' });
    c.advance(30);
    expect(ring.rotationDue().map((d) => d.keyId)).toEqual(['pan']);
    c.advance(70); // day 100
    const due = ring.rotationDue();
    expect(due.map((d) => [d.keyId, d.overdueDays])).toEqual([
      ['pan', 70],
      ['pii', 10],
    ]);
    expect(due[0]).toMatchObject({ rotateEvery: 30, expired: true, expiresAt: '2025-04-01T00:00:00.000Z' });
    expect(due[1]).toMatchObject({ primaryVersion: 1, dueAt: '2025-04-01T00:00:00.000Z', expired: false });
    await ring.close();
  });

  it('an expired primary decrypts but no longer encrypts (fail closed) until the key is rotated', async () => {
    const c = clock();
    const ring = await memoryRing({ clock: c.now, rotation: { rotateEvery: 30, expireAfter: 60 } });
    await ring.createKey('pii');
    const before = ring.encrypt('pii', 'ada');
    expect(ring.info('pii').versions[0].expiresAt).toBe('2025-03-02T00:00:00.000Z');
    c.advance(60);
    expect(codeOf(() => ring.encrypt('pii', 'bob'))).toBe(ErrorCodes.CRYPTO_KEY_EXPIRED);
    expect(ring.decryptString(before)).toBe('ada');
    expect(await ring.rotateDue()).toHaveLength(1);
    expect(ring.decryptString(ring.encrypt('pii', 'bob'))).toBe('bob');
    await ring.close();
  });

  it('reencrypt refuses to write under an expired primary too (same check as encrypt)', async () => {
    const c = clock();
    const ring = await memoryRing({ clock: c.now, rotation: { rotateEvery: 30, expireAfter: 60 } });
    await ring.createKey('pii');
    const v1 = ring.encrypt('pii', 'ada', { aad: 'a' });
    await ring.rotate('pii');
    c.advance(60);
    // v1 would move to the (now expired) primary v2: refused, not silently written.
    expect(codeOf(() => ring.reencrypt(v1, { aad: 'a' }))).toBe(ErrorCodes.CRYPTO_KEY_EXPIRED);
    expect(ring.decryptString(v1, { aad: 'a' })).toBe('ada');
    await ring.rotate('pii');
    expect(ring.reencrypt(v1, { aad: 'a' })).toMatch(/^bw2\.pii\.3\./);
    await ring.close();
  });

  it('rejects bad rotation settings with config errors naming the option', async () => {
    for (const rotation of [
      { rotateEvery: 0 },
      { rotateEvery: 90, expireAfter: 30 },
      { rotateEvery: '90d' },
      { keys: { 'bad id!': { rotateEvery: 1 } } },
      { keys: { pii: { every: 1 } } },
    ]) {
      await expect(memoryRing({ rotation } as unknown as Partial<KeyRingOptions>)).rejects.toBeInstanceOf(
        BulwarkConfigError,
      );
    }
    await expect(memoryRing({ autoRotate: { checkEveryMs: 10 } })).rejects.toThrow(/autoRotate.checkEveryMs/);
  });

  it('two processes rotating due keys at once on one file store add ONE version', async () => {
    const c = clock();
    const file = path.join(tempDir(), 'keys.json');
    const masterKey = generateMasterKey();
    const open = () =>
      KeyRing.open({
        provider: providerFor(masterKey),
        store: new FileKeyStore({ path: file }),
        clock: c.now,
        refreshIntervalMs: 0,
      });
    const a = await open();
    await a.createKey('pii');
    await a.createKey('pan');
    const b = await open();
    c.advance(91);
    const [ra, rb] = await Promise.all([a.rotateDue(), b.rotateDue()]);
    // Each due key was rotated by exactly one of the two (the other lost the insert, or saw it).
    expect([...ra, ...rb].map((d) => d.keyId).sort()).toEqual(['pan', 'pii']);
    for (const ring of [a, b]) {
      await ring.refresh();
      expect(ring.info('pii').versions.map((v) => v.version)).toEqual([1, 2]);
      expect(ring.info('pan').versions.map((v) => v.version)).toEqual([1, 2]);
      expect(ring.rotationDue()).toEqual([]);
    }
    // Later, sequential: the second sees a fresh primary and does nothing.
    c.advance(91);
    expect(await a.rotateDue()).toHaveLength(2);
    expect(await b.rotateDue()).toHaveLength(0);
    expect(b.info('pii').primaryVersion).toBe(3);
    await a.close();
    await b.close();
  });

  it('autoRotate: the scheduler rotates due keys right after open and on its timer; close() stops it', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const c = clock();
      const store = new MemoryKeyStore(); // promise-only: no real I/O under fake timers
      const masterKey = generateMasterKey();
      const seed = await KeyRing.open({
        provider: providerFor(masterKey),
        store,
        clock: c.now,
        refreshIntervalMs: 0,
      });
      await seed.createKey('old');
      c.advance(100); // 'old' is overdue when the app (re)starts
      const rotated: string[][] = [];
      const ring = await KeyRing.open({
        provider: providerFor(masterKey),
        store,
        clock: c.now,
        refreshIntervalMs: 0,
        autoRotate: { checkEveryMs: 60_000, onRotated: (keys) => rotated.push(keys.map((k) => k.keyId)) },
      });
      await jest.advanceTimersByTimeAsync(0);
      expect(rotated).toEqual([['old']]);
      await ring.createKey('pii');
      await jest.advanceTimersByTimeAsync(60_000);
      expect(rotated).toHaveLength(1);
      c.advance(90);
      await jest.advanceTimersByTimeAsync(60_000);
      expect(rotated[1]?.sort()).toEqual(['old', 'pii']);
      expect(ring.info('pii').primaryVersion).toBe(2);
      await ring.close();
      await seed.close();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
