import { KeyRing, type AeadAlgorithm } from '../../src/crypto/key-ring';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { ErrorCodes } from '../../src/errors';
import { codeOf, formatOneRing, providerFor } from './helpers';

const ALGORITHMS: AeadAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

describe('KeyRing encryption', () => {
  describe.each(ALGORITHMS)('%s', (algorithm) => {
    let ring: KeyRing;
    beforeEach(async () => {
      ring = await formatOneRing();
      await ring.createKey('pii', { algorithm });
    });
    afterEach(() => ring.close());

    it.each([
      ['ascii', 'alice@example.com'],
      ['empty', ''],
      ['unicode', 'Zoë 🚀 日本語 \u0000 \uD83D\uDE00'],
      ['long', 'x'.repeat(100_000)],
    ])('round-trips %s strings', (_name, text) => {
      const envelope = ring.encrypt('pii', text, { aad: 'users.email' });
      expect(envelope).toMatch(/^bw1\.pii\.1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}$/);
      expect(ring.decryptString(envelope, { aad: 'users.email' })).toBe(text);
    });

    it('round-trips binary values and Uint8Array aad', () => {
      const bytes = new Uint8Array(256).map((_v, i) => i);
      const aad = new Uint8Array([0, 1, 2, 255]);
      const envelope = ring.encrypt('pii', bytes, { aad });
      expect(Buffer.compare(ring.decrypt(envelope, { aad }), Buffer.from(bytes))).toBe(0);
    });

    it('does not leak the plaintext into the envelope and uses a fresh IV every time', () => {
      const a = ring.encrypt('pii', 'secret-value');
      const b = ring.encrypt('pii', 'secret-value');
      expect(a).not.toBe(b);
      expect(a.split('.')[3]).not.toBe(b.split('.')[3]);
      expect(a).not.toContain('secret');
      expect(Buffer.from(a.split('.')[4], 'base64url').toString('latin1')).not.toContain('secret');
    });

    it('requires the same associated data: a value copied to another column or row does not decrypt', () => {
      const envelope = ring.encrypt('pii', '4111111111111111', { aad: 'cards.number|row=1' });
      expect(codeOf(() => ring.decrypt(envelope, { aad: 'cards.number|row=2' }))).toBe(
        ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      );
      expect(codeOf(() => ring.decrypt(envelope, { aad: 'users.email|row=1' }))).toBe(
        ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      );
      expect(codeOf(() => ring.decrypt(envelope))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
      const noAad = ring.encrypt('pii', 'x');
      expect(codeOf(() => ring.decrypt(noAad, { aad: 'users.email' }))).toBe(
        ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      );
    });

    it('rejects swapped associated data between two envelopes', () => {
      const email = ring.encrypt('pii', 'a@b.c', { aad: 'users.email|7' });
      const phone = ring.encrypt('pii', '+3312345678', { aad: 'users.phone|7' });
      expect(codeOf(() => ring.decrypt(email, { aad: 'users.phone|7' }))).toBe(
        ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      );
      expect(codeOf(() => ring.decrypt(phone, { aad: 'users.email|7' }))).toBe(
        ErrorCodes.CRYPTO_DECRYPTION_FAILED,
      );
    });

    // The ring caches `header || aad` per aad string (several at once, bounded): interleaved
    // columns, more aads than the cache holds, and both modes must each bind their own aad.
    it('binds each aad across interleaved, many and deterministic uses (aad cache)', () => {
      const aads = Array.from({ length: 150 }, (_, i) => `t.c${i % 3 === 0 ? 0 : i}`);
      const sealed = aads.map((aad, i) => ({
        aad,
        random: ring.encrypt('pii', `v${i}`, { aad }),
        det: ring.encrypt('pii', `v${i}`, { aad, deterministic: true }),
      }));
      sealed.forEach(({ aad, random, det }, i) => {
        expect(ring.decryptString(random, { aad })).toBe(`v${i}`);
        expect(ring.decryptString(det, { aad })).toBe(`v${i}`);
        // The same aad as bytes is the same associated data.
        expect(ring.decryptString(random, { aad: Buffer.from(aad) })).toBe(`v${i}`);
        const other =
          sealed[(i + 1) % sealed.length].aad === aad ? 't.other' : sealed[(i + 1) % sealed.length].aad;
        expect(codeOf(() => ring.decrypt(random, { aad: other }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
        expect(codeOf(() => ring.decrypt(det, { aad: other }))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
      });
    });
  });

  it('authenticates the header: an envelope re-labelled with another key id or version does not decrypt', async () => {
    const ring = await formatOneRing();
    await ring.createKey('a');
    await ring.createKey('b');
    await ring.rotate('a');
    const env = ring.encrypt('a', 'hello');
    const [, , , iv, payload] = env.split('.');
    expect(codeOf(() => ring.decrypt(`bw1.b.1.${iv}.${payload}`))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    expect(codeOf(() => ring.decrypt(`bw1.a.1.${iv}.${payload}`))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    // Turning on the deterministic flag is a header change too.
    expect(codeOf(() => ring.decrypt(`bw1d.a.2.${iv}.${payload}`))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    await ring.close();
  });

  it('two rings with different data keys cannot read each other', async () => {
    const one = await formatOneRing();
    const two = await formatOneRing();
    await one.createKey('pii');
    await two.createKey('pii');
    expect(codeOf(() => two.decrypt(one.encrypt('pii', 'x')))).toBe(ErrorCodes.CRYPTO_DECRYPTION_FAILED);
    await Promise.all([one.close(), two.close()]);
  });

  it('rejects unknown keys, invalid key ids and bad arguments with typed errors', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    expect(codeOf(() => ring.encrypt('nope', 'x'))).toBe(ErrorCodes.CRYPTO_UNKNOWN_KEY);
    const env = ring.encrypt('pii', 'x');
    expect(codeOf(() => ring.decrypt(env.replace('bw1.pii.', 'bw1.other.')))).toBe(
      ErrorCodes.CRYPTO_UNKNOWN_KEY,
    );
    expect(codeOf(() => ring.decrypt(env.replace('bw1.pii.1.', 'bw1.pii.9.')))).toBe(
      ErrorCodes.CRYPTO_UNKNOWN_KEY,
    );
    for (const bad of ['', 'a.b', 'x'.repeat(65), 'sp ace', 'é', '../etc']) {
      await expect(ring.createKey(bad)).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_INVALID_ARGUMENT });
    }
    await expect(ring.createKey('pii')).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_KEY_EXISTS });
    await expect(ring.createKey('k2', { algorithm: 'aes-128-cbc' as AeadAlgorithm })).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_UNSUPPORTED_ALGORITHM,
    });
    expect(codeOf(() => ring.encrypt('pii', 42 as unknown as string))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    expect(codeOf(() => ring.encrypt('pii', 'x', { aad: 5 as unknown as string }))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
    expect(codeOf(() => ring.decrypt(Buffer.from('bw1') as unknown as string))).toBe(
      ErrorCodes.CRYPTO_MALFORMED,
    );
    expect(codeOf(() => ring.decrypt('bw3.pii.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA'))).toBe(
      ErrorCodes.CRYPTO_UNSUPPORTED_VERSION,
    );
    await ring.close();
  });

  it('decryptString refuses binary plaintext instead of returning mojibake', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    const env = ring.encrypt('pii', Buffer.from([0xff, 0xfe, 0x00]));
    expect(codeOf(() => ring.decryptString(env))).toBe(ErrorCodes.CRYPTO_MALFORMED);
    await ring.close();
  });

  it('ensureKey creates once and returns the existing key afterwards', async () => {
    const ring = await formatOneRing({ clock: () => new Date('2025-01-02T03:04:05Z') });
    const a = await ring.ensureKey('pii', { algorithm: 'chacha20-poly1305' });
    const b = await ring.ensureKey('pii');
    expect(b).toEqual(a);
    expect(a).toEqual({
      keyId: 'pii',
      primaryVersion: 1,
      minDecryptVersion: 1,
      createdAt: '2025-01-02T03:04:05.000Z',
      rotateEvery: 90,
      rotatedAt: '2025-01-02T03:04:05.000Z',
      rotationDueAt: '2025-04-02T03:04:05.000Z',
      versions: [
        {
          version: 1,
          algorithm: 'chacha20-poly1305',
          createdAt: '2025-01-02T03:04:05.000Z',
          state: 'primary',
        },
      ],
    });
    expect(ring.has('pii')).toBe(true);
    expect(ring.has('other')).toBe(false);
    expect(ring.list().map((k) => k.keyId)).toEqual(['pii']);
    await ring.close();
  });

  it('serialises concurrent rotations so no version is lost', async () => {
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ envelopeFormat: 1, provider: providerFor(), store });
    await ring.createKey('pii');
    await Promise.all([ring.rotate('pii'), ring.rotate('pii'), ring.rotate('pii')]);
    expect(ring.info('pii').primaryVersion).toBe(4);
    expect((await store.loadKeys())[0].versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    await ring.close();
  });
});

describe('KeyRing rotation and retirement', () => {
  it('old versions decrypt after rotation, new encryptions use the primary, retired versions are rejected', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    const v1 = ring.encrypt('pii', 'one', { aad: 'c' });
    const rotated = await ring.rotate('pii');
    expect(rotated.primaryVersion).toBe(2);
    expect(rotated.versions.map((v) => v.state)).toEqual(['active', 'primary']);
    const v2 = ring.encrypt('pii', 'two', { aad: 'c' });
    expect(v2.startsWith('bw1.pii.2.')).toBe(true);
    expect(ring.decryptString(v1, { aad: 'c' })).toBe('one');
    expect(ring.decryptString(v2, { aad: 'c' })).toBe('two');
    expect(ring.needsRewrap(v1)).toBe(true);
    expect(ring.needsRewrap(v2)).toBe(false);

    const moved = ring.reencrypt(v1, { aad: 'c' });
    expect(moved.startsWith('bw1.pii.2.')).toBe(true);
    expect(ring.decryptString(moved, { aad: 'c' })).toBe('one');
    expect(ring.reencrypt(v2, { aad: 'c' })).toBe(v2);

    const retired = await ring.retire('pii', 2);
    expect(retired.minDecryptVersion).toBe(2);
    expect(retired.versions.map((v) => v.state)).toEqual(['retired', 'primary']);
    expect(codeOf(() => ring.decrypt(v1, { aad: 'c' }))).toBe(ErrorCodes.CRYPTO_KEY_RETIRED);
    expect(ring.decryptString(moved, { aad: 'c' })).toBe('one');
    await ring.close();
  });

  it('cannot retire the primary version, lower the minimum or use a non-integer', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    await ring.rotate('pii');
    await expect(ring.retire('pii', 3)).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_INVALID_ARGUMENT });
    await ring.retire('pii', 2);
    await expect(ring.retire('pii', 1)).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_INVALID_ARGUMENT });
    await expect(ring.retire('pii', 1.5)).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_INVALID_ARGUMENT });
    await expect(ring.retire('nope', 1)).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_UNKNOWN_KEY });
    await expect(ring.rotate('nope')).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_UNKNOWN_KEY });
    await ring.close();
  });

  it('rotation can switch algorithm while old versions keep their own', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    const old = ring.encrypt('pii', 'gcm');
    const info = await ring.rotate('pii', { algorithm: 'chacha20-poly1305' });
    expect(info.versions.map((v) => v.algorithm)).toEqual(['aes-256-gcm', 'chacha20-poly1305']);
    expect(ring.decryptString(ring.encrypt('pii', 'chacha'))).toBe('chacha');
    expect(ring.decryptString(old)).toBe('gcm');
    await ring.close();
  });

  it('decryptAsync picks up a rotation made by another process sharing the store', async () => {
    const store = new MemoryKeyStore();
    const provider = providerFor();
    const app = await KeyRing.open({ envelopeFormat: 1, provider, store });
    await app.createKey('pii');
    const cli = await KeyRing.open({ envelopeFormat: 1, provider, store });
    await cli.rotate('pii');
    const fresh = cli.encrypt('pii', 'from the cli');
    expect(codeOf(() => app.decrypt(fresh))).toBe(ErrorCodes.CRYPTO_UNKNOWN_KEY);
    expect((await app.decryptAsync(fresh)).toString()).toBe('from the cli');
    expect(app.decryptString(fresh)).toBe('from the cli');
    expect(app.info('pii').primaryVersion).toBe(2);
    await app.close();
  });
});

describe('KeyRing deterministic mode', () => {
  it('gives equal envelopes for equal plaintext + aad + version, and different ones otherwise', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    const a = ring.encrypt('pii', 'alice@example.com', { aad: 'users.email', deterministic: true });
    const b = ring.encrypt('pii', 'alice@example.com', { aad: 'users.email', deterministic: true });
    expect(a).toBe(b);
    expect(a.startsWith('bw1d.pii.1.')).toBe(true);
    expect(ring.decryptString(a, { aad: 'users.email' })).toBe('alice@example.com');
    expect(ring.encrypt('pii', 'alice@example.com', { aad: 'admins.email', deterministic: true })).not.toBe(
      a,
    );
    expect(ring.encrypt('pii', 'bob@example.com', { aad: 'users.email', deterministic: true })).not.toBe(a);
    // Binary and string spellings of the same bytes are the same plaintext.
    expect(
      ring.encrypt('pii', Buffer.from('alice@example.com'), { aad: 'users.email', deterministic: true }),
    ).toBe(a);
    // (aad, plaintext) boundaries are unambiguous.
    expect(ring.encrypt('pii', 'bc', { aad: 'a', deterministic: true }).split('.')[3]).not.toBe(
      ring.encrypt('pii', 'c', { aad: 'ab', deterministic: true }).split('.')[3],
    );
    await ring.close();
  });

  it('is not deterministic by default, and changes after rotation but keeps decrypting', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    expect(ring.encrypt('pii', 'same')).not.toBe(ring.encrypt('pii', 'same'));
    const before = ring.encrypt('pii', 'same', { deterministic: true });
    await ring.rotate('pii');
    const after = ring.encrypt('pii', 'same', { deterministic: true });
    expect(after).not.toBe(before);
    expect(ring.decryptString(before)).toBe('same');
    // reencrypt keeps a deterministic value deterministic, so equality lookups survive rewrap.
    expect(ring.reencrypt(before)).toBe(after);
    await ring.close();
  });

  it('is deterministic with ChaCha20-Poly1305 too', async () => {
    const ring = await formatOneRing({ defaultAlgorithm: 'chacha20-poly1305' });
    await ring.createKey('pii');
    const a = ring.encrypt('pii', 'v', { deterministic: true });
    expect(ring.encrypt('pii', 'v', { deterministic: true })).toBe(a);
    expect(ring.decryptString(a)).toBe('v');
    await ring.close();
  });
});

describe('KeyRing.close', () => {
  it('zero-fills cached key material and rejects further use', async () => {
    const ring = await formatOneRing();
    await ring.createKey('pii');
    const env = ring.encrypt('pii', 'x');
    // Reach into the internals to prove the bytes are wiped, not just dereferenced.
    const internals = ring as unknown as {
      named: {
        keys: Map<string, { versions: Map<number, { raw: Buffer; detRaw: Buffer }>; indexRaw: Buffer }>;
      };
    };
    const loaded = internals.named.keys.get('pii')!;
    const entry = loaded.versions.get(1)!;
    const buffers = [entry.raw, entry.detRaw, loaded.indexRaw];
    expect(buffers.every((b) => b.some((x) => x !== 0))).toBe(true);
    await ring.close();
    expect(buffers.every((b) => b.every((x) => x === 0))).toBe(true);
    expect(codeOf(() => ring.encrypt('pii', 'x'))).toBe(ErrorCodes.CRYPTO_CLOSED);
    expect(codeOf(() => ring.decrypt(env))).toBe(ErrorCodes.CRYPTO_CLOSED);
    expect(codeOf(() => ring.list())).toBe(ErrorCodes.CRYPTO_CLOSED);
    await expect(ring.rotate('pii')).rejects.toMatchObject({ code: ErrorCodes.CRYPTO_CLOSED });
    await ring.close(); // idempotent
  });
});
