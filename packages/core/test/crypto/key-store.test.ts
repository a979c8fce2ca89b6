import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EnvKeyProvider } from '../../src/crypto/env-key-provider';
import { FileKeyProvider } from '../../src/crypto/file-key-provider';
import { FileKeyStore } from '../../src/crypto/file-key-store';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkCryptoError, ErrorCodes } from '../../src/errors';
import { asyncCodeOf, providerFor, tempDir } from './helpers';

describe('FileKeyStore', () => {
  it('persists keys across reopen: old and new versions decrypt, retirement and primary survive', async () => {
    const file = path.join(tempDir(), 'nested', 'keys.json');
    const masterKey = generateMasterKey();
    const open = () =>
      KeyRing.open({ provider: providerFor(masterKey), store: new FileKeyStore({ path: file }) });
    let ring = await open();
    await ring.createKey('pii');
    await ring.createKey('cards', { algorithm: 'chacha20-poly1305' });
    const v1 = ring.encrypt('pii', 'one', { aad: 'a' });
    await ring.rotate('pii');
    const v2 = ring.encrypt('pii', 'two', { aad: 'a' });
    const card = ring.encrypt('cards', '4111', { deterministic: true });
    const info = ring.list();
    await ring.close();

    ring = await open();
    expect(ring.list()).toEqual(info);
    expect(ring.decryptString(v1, { aad: 'a' })).toBe('one');
    expect(ring.decryptString(v2, { aad: 'a' })).toBe('two');
    expect(ring.encrypt('cards', '4111', { deterministic: true })).toBe(card);
    await ring.rotate('pii');
    await ring.retire('pii', 2);
    await ring.close();

    ring = await open();
    expect(ring.info('pii')).toMatchObject({ primaryVersion: 3, minDecryptVersion: 2 });
    await expect(Promise.resolve().then(() => ring.decrypt(v1, { aad: 'a' }))).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_KEY_RETIRED,
    });
    expect(ring.decryptString(v2, { aad: 'a' })).toBe('two');
    await ring.close();
  });

  it('writes the file with mode 0600, atomically (no temp files left), holding only wrapped keys', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'keys.json');
    const ring = await KeyRing.open({ provider: providerFor(), store: new FileKeyStore({ path: file }) });
    await ring.createKey('pii');
    const internals = ring as unknown as {
      named: { keys: Map<string, { versions: Map<number, { raw: Buffer }> }> };
    };
    const raw = internals.named.keys.get('pii')!.versions.get(1)!.raw;
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(raw.toString('base64url'));
    expect(text).not.toContain(raw.toString('base64'));
    expect(text).not.toContain(raw.toString('hex'));
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['keys.json']);
    expect(JSON.parse(text)).toMatchObject({ format: 'bulwark-keystore', version: 1 });
    await ring.close();
  });

  it('fails with ERR_CRYPTO_KEY_UNWRAP_FAILED when opened with the wrong master key', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const ring = await KeyRing.open({ provider: providerFor(), store: new FileKeyStore({ path: file }) });
    await ring.createKey('pii');
    await ring.close();
    const code = await asyncCodeOf(() =>
      KeyRing.open({ provider: providerFor(generateMasterKey()), store: new FileKeyStore({ path: file }) }),
    );
    expect(code).toBe(ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED);
  });

  it('detects a wrapped key moved to another key id or version (wrapping binds the context)', async () => {
    const store = new MemoryKeyStore();
    const masterKey = generateMasterKey();
    const ring = await KeyRing.open({ provider: providerFor(masterKey), store });
    await ring.createKey('a');
    await ring.createKey('b');
    await ring.close();
    const [a] = (await store.loadKeys()).sort((x, y) => x.keyId.localeCompare(y.keyId));
    // A tampered store: key b's version 1 carries key a's wrapped key.
    const tampered = Object.assign(Object.create(store) as MemoryKeyStore, {
      loadKeys: async () =>
        (await store.loadKeys()).map((k) =>
          k.keyId === 'b'
            ? { ...k, versions: [{ ...k.versions[0], wrappedKey: a.versions[0].wrappedKey }] }
            : k,
        ),
    });
    // ring.close() closed its provider (the ring owns it), so open with a fresh one holding the same key.
    expect(await asyncCodeOf(() => KeyRing.open({ provider: providerFor(masterKey), store: tampered }))).toBe(
      ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
    );
  });

  it.each([
    ['invalid JSON', '{"format": "bulwark-keystore", '],
    [
      'wrong format',
      JSON.stringify({ format: 'other', version: 1, ringSecret: null, keys: {}, subjects: {} }),
    ],
    [
      'a primary version that does not exist',
      JSON.stringify({
        format: 'bulwark-keystore',
        version: 1,
        ringSecret: null,
        keys: {
          pii: {
            keyId: 'pii',
            primaryVersion: 2,
            minDecryptVersion: 1,
            createdAt: '2025-01-01T00:00:00.000Z',
            rotatedAt: '2025-01-01T00:00:00.000Z',
            versions: [
              {
                version: 1,
                algorithm: 'aes-256-gcm',
                wrappedKey: 'kw1.x.y',
                createdAt: '2025-01-01T00:00:00.000Z',
              },
            ],
          },
        },
        subjects: {},
      }),
    ],
    ['an empty file', ''],
    ['an array', '[]'],
  ])('fails with ERR_CRYPTO_KEY_STORE on a corrupt file (%s)', async (_name, content) => {
    const file = path.join(tempDir(), 'keys.json');
    writeFileSync(file, content);
    const code = await asyncCodeOf(() =>
      KeyRing.open({ provider: providerFor(), store: new FileKeyStore({ path: file }) }),
    );
    expect(code).toBe(ErrorCodes.CRYPTO_KEY_STORE);
  });

  it('fails with ERR_CRYPTO_KEY_STORE when the file cannot be read', async () => {
    if (process.platform === 'win32' || process.getuid?.() === 0) return; // root ignores file modes
    const file = path.join(tempDir(), 'keys.json');
    const ring = await KeyRing.open({ provider: providerFor(), store: new FileKeyStore({ path: file }) });
    await ring.close();
    chmodSync(file, 0o000);
    const code = await asyncCodeOf(() => new FileKeyStore({ path: file }).loadKeys());
    expect(code).toBe(ErrorCodes.CRYPTO_KEY_STORE);
  });

  it('keeps a key id such as __proto__ as plain data', async () => {
    const file = path.join(tempDir(), 'keys.json');
    const masterKey = generateMasterKey();
    let ring = await KeyRing.open({
      provider: providerFor(masterKey),
      store: new FileKeyStore({ path: file }),
    });
    await ring.createKey('__proto__');
    const env = ring.encrypt('__proto__', 'x');
    await ring.close();
    ring = await KeyRing.open({ provider: providerFor(masterKey), store: new FileKeyStore({ path: file }) });
    expect(ring.decryptString(env)).toBe('x');
    expect(ring.list().map((k) => k.keyId)).toEqual(['__proto__']);
    await ring.close();
  });
});

describe('EnvKeyProvider and FileKeyProvider', () => {
  const context = { keyId: 'pii', version: 1 };

  it('accept 32-byte keys as base64url, base64 and hex, and wrap / unwrap with context binding', async () => {
    const raw = Buffer.alloc(32, 0xfb); // 0xfb... -> base64 needs "+" and "/"
    for (const encoded of [
      raw.toString('base64url'),
      raw.toString('base64'),
      raw.toString('hex'),
      ` ${raw.toString('hex')}\n`,
    ]) {
      const provider = new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: encoded } });
      const dataKey = Buffer.alloc(32, 7);
      const wrapped = await provider.wrapKey(dataKey, context);
      expect(wrapped).toMatch(/^kw1\./);
      expect((await provider.unwrapKey(wrapped, context)).equals(dataKey)).toBe(true);
      await expect(provider.unwrapKey(wrapped, { keyId: 'pii', version: 2 })).rejects.toMatchObject({
        code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
      });
      await expect(provider.unwrapKey(wrapped, { keyId: 'other', version: 1 })).rejects.toMatchObject({
        code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
      });
      await expect(provider.unwrapKey(`${wrapped}x`, context)).rejects.toMatchObject({
        code: ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
      });
    }
    // Same key written two ways is the same master key.
    const a = new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: raw.toString('hex') } });
    const b = new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: raw.toString('base64') } });
    expect(
      (await b.unwrapKey(await a.wrapKey(Buffer.alloc(32, 1), context), context)).equals(Buffer.alloc(32, 1)),
    ).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['short', Buffer.alloc(16, 9).toString('base64url')],
    ['long hex', 'ab'.repeat(33)],
    ['not an encoding', 'correct horse battery staple correct horse!!'],
  ])(
    'EnvKeyProvider rejects a %s key with ERR_CRYPTO_KEY_PROVIDER without echoing it',
    async (_name, value) => {
      const provider = new EnvKeyProvider({
        variable: 'APP_KEK',
        env: value === undefined ? {} : { APP_KEK: value },
      });
      let error: unknown;
      try {
        await KeyRing.open({ provider, store: new MemoryKeyStore() });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BulwarkCryptoError);
      expect((error as BulwarkCryptoError).code).toBe(ErrorCodes.CRYPTO_KEY_PROVIDER);
      expect((error as Error).message).toContain('APP_KEK');
      if (value)
        expect(
          `${(error as Error).message} ${JSON.stringify((error as BulwarkCryptoError).details)}`,
        ).not.toContain(value);
    },
  );

  it('FileKeyProvider reads a key file and fails with ERR_CRYPTO_KEY_PROVIDER when it is missing or bad', async () => {
    const dir = tempDir();
    const keyFile = path.join(dir, 'master.key');
    const masterKey = generateMasterKey();
    writeFileSync(keyFile, `${masterKey}\n`, { mode: 0o600 });
    const store = new MemoryKeyStore();
    const ring = await KeyRing.open({ provider: new FileKeyProvider({ path: keyFile }), store });
    await ring.createKey('pii');
    const env = ring.encrypt('pii', 'hello');
    await ring.close();
    // The same key from the environment opens the same store.
    const again = await KeyRing.open({ provider: providerFor(masterKey), store });
    expect(again.decryptString(env)).toBe('hello');
    await again.close();

    const missing = new FileKeyProvider({ path: path.join(dir, 'nope.key') });
    expect(await asyncCodeOf(() => missing.wrapKey(Buffer.alloc(32), context))).toBe(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
    );
    writeFileSync(path.join(dir, 'bad.key'), 'short', { mode: 0o600 });
    const bad = new FileKeyProvider({ path: path.join(dir, 'bad.key') });
    expect(await asyncCodeOf(() => bad.wrapKey(Buffer.alloc(32), context))).toBe(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
    );
  });

  it('providers refuse use after close', async () => {
    const provider = providerFor();
    await provider.wrapKey(Buffer.alloc(32), context);
    await provider.close();
    expect(await asyncCodeOf(() => provider.wrapKey(Buffer.alloc(32), context))).toBe(
      ErrorCodes.CRYPTO_CLOSED,
    );
  });

  it('generateMasterKey returns 32 random bytes as base64url', () => {
    const a = generateMasterKey();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(generateMasterKey()).not.toBe(a);
  });

  it('wraps provider failures that are not Bulwark errors as ERR_CRYPTO_KEY_PROVIDER', async () => {
    const broken = {
      name: 'broken',
      wrapKey: async () => {
        throw new Error('network down');
      },
      unwrapKey: async () => {
        throw new Error('network down');
      },
    };
    expect(await asyncCodeOf(() => KeyRing.open({ provider: broken, store: new MemoryKeyStore() }))).toBe(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
    );
  });
});
