import 'reflect-metadata';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Container } from 'inversify';
import { createBulwark, type BulwarkConfig } from '../src/bulwark';
import { BULWARK_TYPES, bulwarkContainerModule } from '../src/container-module';
import { generateMasterKey, KeyRing, MemoryKeyStore, EnvKeyProvider } from '../src/crypto/key-ring';
import { PasswordHasher } from '../src/crypto/password-hasher';
import { BulwarkConfigError } from '../src/errors';
import { TokenService } from '../src/tokens/token-service';
import { generateSigningKey } from '../src/tokens/generate-signing-key';

const weakPasswords = { memoryCost: 1024, timeCost: 1, allowWeakParameters: true };

async function configError(config: unknown): Promise<BulwarkConfigError> {
  try {
    await createBulwark(config as BulwarkConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkConfigError);
    return err as BulwarkConfigError;
  }
  throw new Error('expected createBulwark to reject');
}

describe('createBulwark', () => {
  const masterKey = generateMasterKey();
  const provider = new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: masterKey } });

  it('wires a key ring, password hasher and token service that work together', async () => {
    const { privateKey } = await generateSigningKey('EdDSA');
    const bulwark = await createBulwark({
      keys: { masterKey: provider, store: 'memory', ensure: ['pii'] },
      passwords: weakPasswords,
      tokens: { algorithms: ['EdDSA'], signingKey: { key: privateKey }, issuer: 'bulwark-test' },
    });
    try {
      const envelope = bulwark.keyRing!.encrypt('pii', 'ada@example.com', { aad: 'users.email' });
      expect(bulwark.keyRing!.decryptString(envelope, { aad: 'users.email' })).toBe('ada@example.com');
      const hash = await bulwark.passwords.hash('correct horse battery staple');
      expect(await bulwark.passwords.verify(hash, 'correct horse battery staple')).toBe(true);
      const token = await bulwark.tokens!.sign({}, { subject: 'user-1' });
      expect((await bulwark.tokens!.verify(token)).payload.sub).toBe('user-1');
    } finally {
      await bulwark.close();
    }
    expect(() => bulwark.keyRing!.encrypt('pii', 'x')).toThrow();
  });

  it('persists keys in a file store and reads the master key from a file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-create-'));
    try {
      const keyFile = path.join(dir, 'master.key');
      await fs.writeFile(keyFile, masterKey, { mode: 0o600 });
      const config: BulwarkConfig = {
        keys: { masterKey: { file: keyFile }, store: { file: path.join(dir, 'keys.json') }, ensure: ['pii'] },
        passwords: weakPasswords,
      };
      const first = await createBulwark(config);
      const envelope = first.keyRing!.encrypt('pii', 'secret');
      await first.close();
      const second = await createBulwark(config);
      expect(second.keyRing!.decryptString(envelope)).toBe('secret');
      await second.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('names the bad field path, without echoing secrets', async () => {
    expect((await configError({ keyz: {} })).details).toEqual({ path: 'keyz' });
    expect((await configError({ keys: { masterKey: provider } })).details).toEqual({ path: 'keys.store' });
    expect((await configError({ keys: { store: 'disk' } })).message).toContain('keys.store must be');
    expect((await configError({ keys: { store: 'memory', masterKey: { env: '' } } })).details).toEqual({
      path: 'keys.masterKey.env',
    });
    expect(
      (await configError({ keys: { store: 'memory', masterKey: provider, defaultAlgorithm: 'des' } }))
        .details,
    ).toEqual({ path: 'keys.defaultAlgorithm' });
    expect(
      (await configError({ keys: { store: 'memory', masterKey: provider, ensure: [''] } })).details,
    ).toEqual({
      path: 'keys.ensure[0]',
    });
    const weak = await configError({ passwords: { memoryCost: 1024 } });
    expect(weak.message).toMatch(/^passwords\.memoryCost/);
    const tokens = await configError({ tokens: { algorithms: ['none'] } });
    expect(tokens.message).toMatch(/^tokens\./);
    const secret = 'super-secret-value-that-must-not-leak';
    const leaked = await configError({ keys: { store: { file: 42 }, masterKey: { env: secret } } });
    expect(leaked.message).not.toContain(secret);
  });

  it('fails closed when the master key is missing', async () => {
    const saved = process.env.BULWARK_MASTER_KEY;
    delete process.env.BULWARK_MASTER_KEY;
    try {
      await expect(createBulwark({ keys: { store: 'memory' } })).rejects.toMatchObject({
        code: 'ERR_CRYPTO_KEY_PROVIDER',
      });
    } finally {
      if (saved !== undefined) process.env.BULWARK_MASTER_KEY = saved;
    }
  });
});

describe('bulwarkContainerModule', () => {
  it('binds the configured services under BULWARK_TYPES for inversify apps', async () => {
    const bulwark = await createBulwark({
      keys: {
        masterKey: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
        store: new MemoryKeyStore(),
      },
      passwords: weakPasswords,
    });
    try {
      const container = new Container();
      await container.load(bulwarkContainerModule(bulwark));
      expect(container.get(BULWARK_TYPES.KeyRing)).toBeInstanceOf(KeyRing);
      expect(container.get(BULWARK_TYPES.PasswordHasher)).toBeInstanceOf(PasswordHasher);
      expect(container.get(BULWARK_TYPES.Bulwark)).toBe(bulwark);
      // not configured -> not bound: resolution fails loudly instead of injecting undefined
      expect(container.isBound(BULWARK_TYPES.TokenService)).toBe(false);
      expect(() => container.get<TokenService>(BULWARK_TYPES.TokenService)).toThrow();
    } finally {
      await bulwark.close();
    }
  });
});
