import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FileKeyProvider } from '../../src/crypto/file-key-provider';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkCryptoError, ErrorCodes } from '../../src/errors';
import { createBulwark } from '../../src/bulwark';
import { asyncCodeOf, codeOf, tempDir } from './helpers';

const context = { keyId: 'pii', version: 1 };

/** A real key file with exactly `mode` (chmod after writing: the umask must not decide the test). */
function keyFile(mode: number, name = 'master.key'): { file: string; key: string } {
  const file = path.join(tempDir(), name);
  const key = generateMasterKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, mode);
  return { file, key };
}

async function refusal(provider: FileKeyProvider): Promise<BulwarkCryptoError> {
  const error = await provider.wrapKey(Buffer.alloc(32), context).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BulwarkCryptoError);
  return error as BulwarkCryptoError;
}

// POSIX mode bits only: Windows is not checked (its ACLs are not mode bits), see FileKeyProvider.
const posix = process.platform === 'win32' ? describe.skip : describe;

posix('FileKeyProvider refuses a master key file others can read or write, as ssh does', () => {
  it('accepts a 0600 file and a 0400 file', async () => {
    for (const mode of [0o600, 0o400]) {
      const { file } = keyFile(mode);
      const ring = await KeyRing.open({
        provider: new FileKeyProvider({ path: file }),
        store: new MemoryKeyStore(),
      });
      await ring.createKey('pii');
      expect(ring.decryptString(ring.encrypt('pii', 'ok'))).toBe('ok');
      await ring.close();
    }
  });

  it('refuses a world-readable 0644 file with ERR_CRYPTO_KEY_FILE_INSECURE naming the file and the fix', async () => {
    const { file, key } = keyFile(0o644);
    const error = await refusal(new FileKeyProvider({ path: file }));
    expect(error.code).toBe(ErrorCodes.CRYPTO_KEY_FILE_INSECURE);
    expect(error.message).toContain(file);
    expect(error.message).toContain('0644');
    expect(error.message).toContain(`chmod 600 ${file}`);
    expect(error.details).toMatchObject({ path: file, mode: '0644' });
    expect(error.message).not.toContain(key);
  });

  it('refuses a group-readable 0640 file, and group- or world-writable ones', async () => {
    for (const mode of [0o640, 0o620, 0o602, 0o660, 0o604, 0o610]) {
      const { file } = keyFile(mode);
      expect((await refusal(new FileKeyProvider({ path: file }))).code).toBe(
        ErrorCodes.CRYPTO_KEY_FILE_INSECURE,
      );
    }
  });

  it('KeyRing.open fails on an insecure key file (nothing is unwrapped with it)', async () => {
    const { file } = keyFile(0o644);
    expect(
      await asyncCodeOf(() =>
        KeyRing.open({ provider: new FileKeyProvider({ path: file }), store: new MemoryKeyStore() }),
      ),
    ).toBe(ErrorCodes.CRYPTO_KEY_FILE_INSECURE);
  });

  it('checks the file that is read: a symlink to a 0644 file is refused, to a 0600 file accepted', async () => {
    const open = keyFile(0o644, 'open.key');
    const closed = keyFile(0o600, 'closed.key');
    const dir = tempDir();
    symlinkSync(open.file, path.join(dir, 'to-open.key'));
    symlinkSync(closed.file, path.join(dir, 'to-closed.key'));
    expect((await refusal(new FileKeyProvider({ path: path.join(dir, 'to-open.key') }))).code).toBe(
      ErrorCodes.CRYPTO_KEY_FILE_INSECURE,
    );
    const ok = new FileKeyProvider({ path: path.join(dir, 'to-closed.key') });
    const wrapped = await ok.wrapKey(Buffer.alloc(32, 7), context);
    expect(await ok.unwrapKey(wrapped, context)).toEqual(Buffer.alloc(32, 7));
  });

  it("insecureFilePermissions: 'warn' loads the key and reports the weakness to onWarning", async () => {
    const { file, key } = keyFile(0o644);
    const warnings: string[] = [];
    const provider = new FileKeyProvider({
      path: file,
      insecureFilePermissions: 'warn',
      onWarning: (message) => warnings.push(message),
    });
    const ring = await KeyRing.open({ provider, store: new MemoryKeyStore() });
    await ring.createKey('pii');
    expect(ring.decryptString(ring.encrypt('pii', 'still works'))).toBe('still works');
    await ring.close();
    expect(warnings).toHaveLength(1); // read once, warned once
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toContain('0644');
    expect(warnings[0]).toContain('weakens security');
    expect(warnings[0]).toContain(`chmod 600 ${file}`);
    expect(warnings[0]).not.toContain(key);
  });

  it("'warn' without a hook emits a process warning with code BULWARK_INSECURE_KEY_FILE", async () => {
    const { file } = keyFile(0o640);
    const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const provider = new FileKeyProvider({ path: file, insecureFilePermissions: 'warn' });
      await provider.wrapKey(Buffer.alloc(32), context);
      expect(emit).toHaveBeenCalledWith(expect.stringContaining(file), { code: 'BULWARK_INSECURE_KEY_FILE' });
    } finally {
      emit.mockRestore();
    }
  });

  it('validates its options at construction', () => {
    expect(
      codeOf(() => new FileKeyProvider({ path: 'k', insecureFilePermissions: 'ignore' as 'warn' })),
    ).toBe(ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    expect(codeOf(() => new FileKeyProvider({ path: 'k', onWarning: 'log' as unknown as () => void }))).toBe(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
  });

  it('createBulwark passes the option through and names the path of a bad value', async () => {
    const { file } = keyFile(0o644);
    const config = (masterKey: unknown) =>
      ({ keys: { masterKey, store: 'memory', ensure: ['pii'] } }) as Parameters<typeof createBulwark>[0];
    await expect(createBulwark(config({ file }))).rejects.toMatchObject({
      code: ErrorCodes.CRYPTO_KEY_FILE_INSECURE,
    });
    const warnings: string[] = [];
    const kit = await createBulwark(
      config({ file, insecureFilePermissions: 'warn', onWarning: (m: string) => warnings.push(m) }),
    );
    expect(warnings).toHaveLength(1);
    await kit.close();
    await expect(createBulwark(config({ file, insecureFilePermissions: 'off' }))).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
      details: { path: 'keys.masterKey.insecureFilePermissions' },
    });
  });
});
