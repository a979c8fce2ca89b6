import { randomBytes } from 'node:crypto';
import * as argon2 from 'argon2';
import { BulwarkConfigError, BulwarkCryptoError, ErrorCodes } from '../../src/errors';
import {
  OWASP_ARGON2ID_DEFAULTS,
  PasswordHasher,
  parseArgon2Hash,
  type PasswordHasherOptions,
} from '../../src/crypto/password-hasher';

// Weak parameters keep the suite fast; they are only accepted through the explicit option.
const FAST: PasswordHasherOptions = {
  memoryCost: 1024,
  timeCost: 1,
  parallelism: 1,
  allowWeakParameters: true,
};

async function expectCode(
  promise: Promise<unknown> | (() => unknown),
  cls: abstract new (...args: never[]) => Error,
  code: string,
) {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(cls);
  expect((error as { code: string }).code).toBe(code);
  return error as BulwarkCryptoError;
}

describe('PasswordHasher', () => {
  it('hashes and verifies a password; a wrong password is false', async () => {
    const hasher = new PasswordHasher(FAST);
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash.startsWith('$argon2id$v=19$m=1024,p=1,t=1$')).toBe(true);
    await expect(hasher.verify(hash, 'correct horse battery staple')).resolves.toBe(true);
    await expect(hasher.verify(hash, 'correct horse battery stapler')).resolves.toBe(false);
    // Random salt: the same password never produces the same hash.
    expect(await hasher.hash('correct horse battery staple')).not.toBe(hash);
  });

  it('uses the OWASP argon2id parameters by default (m=19456, t=2, p=1)', async () => {
    const hasher = new PasswordHasher();
    expect(hasher.params).toMatchObject({
      algorithm: 'argon2id',
      version: 19,
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
      hashLength: 32,
      peppered: false,
      meetsOwaspMinimum: true,
    });
    expect(OWASP_ARGON2ID_DEFAULTS).toMatchObject({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const hash = await hasher.hash('a default-parameter password');
    // The argon2 package writes the PHC parameters as m=,p=,t= (16-byte salt, 32-byte digest).
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(parseArgon2Hash(hash)).toMatchObject({
      id: 'argon2id',
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    });
    await expect(hasher.verify(hash, 'a default-parameter password')).resolves.toBe(true);
    expect(hasher.needsRehash(hash)).toBe(false);
  });

  it('params are frozen and never reveal the pepper', () => {
    const pepper = randomBytes(32);
    const hasher = new PasswordHasher({ ...FAST, pepper });
    expect(Object.isFrozen(hasher.params)).toBe(true);
    expect(hasher.params.peppered).toBe(true);
    expect(hasher.params.meetsOwaspMinimum).toBe(false);
    expect(JSON.stringify(hasher.params)).not.toContain(pepper.toString('base64'));
    expect(JSON.stringify(hasher.params)).not.toContain(pepper.toString('hex'));
  });

  it('needsRehash is true after a parameter increase and false for the same or stronger params', async () => {
    const old = new PasswordHasher(FAST);
    const hash = await old.hash('pw-to-upgrade');
    expect(old.needsRehash(hash)).toBe(false);
    expect(new PasswordHasher({ ...FAST, memoryCost: 2048 }).needsRehash(hash)).toBe(true);
    expect(new PasswordHasher({ ...FAST, timeCost: 2 }).needsRehash(hash)).toBe(true);
    expect(new PasswordHasher({ ...FAST, memoryCost: 2048, parallelism: 2 }).needsRehash(hash)).toBe(true);
    expect(new PasswordHasher({ ...FAST, hashLength: 64 }).needsRehash(hash)).toBe(true);
    // A hash stronger than the current config is never "upgraded" to a weaker one.
    expect(new PasswordHasher({ ...FAST, memoryCost: 512 }).needsRehash(hash)).toBe(false);

    const upgraded = new PasswordHasher({ ...FAST, memoryCost: 2048 });
    await expect(upgraded.verifyAndCheckRehash(hash, 'pw-to-upgrade')).resolves.toEqual({
      valid: true,
      needsRehash: true,
    });
    const rehashed = await upgraded.hash('pw-to-upgrade');
    expect(upgraded.needsRehash(rehashed)).toBe(false);
  });

  it('needsRehash is true for another argon2 variant or version', async () => {
    const hasher = new PasswordHasher(FAST);
    const argon2i = await argon2.hash('pw', {
      type: argon2.argon2i,
      memoryCost: 1024,
      timeCost: 1,
      parallelism: 1,
    });
    expect(hasher.needsRehash(argon2i)).toBe(true);
    await expect(hasher.verify(argon2i, 'pw')).resolves.toBe(true); // still verifiable during migration
    const v16 = await argon2.hash('pw', { version: 0x10, memoryCost: 1024, timeCost: 1, parallelism: 1 });
    expect(hasher.needsRehash(v16)).toBe(true);
  });

  it('a peppered hash does not verify without the pepper, nor with another pepper', async () => {
    const pepper = randomBytes(32);
    const peppered = new PasswordHasher({ ...FAST, pepper });
    const hash = await peppered.hash('s3cret-password');
    await expect(peppered.verify(hash, 's3cret-password')).resolves.toBe(true);
    await expect(new PasswordHasher(FAST).verify(hash, 's3cret-password')).resolves.toBe(false);
    await expect(
      new PasswordHasher({ ...FAST, pepper: randomBytes(32) }).verify(hash, 's3cret-password'),
    ).resolves.toBe(false);
    // And an unpeppered hash does not verify under a pepper either.
    const plain = await new PasswordHasher(FAST).hash('s3cret-password');
    await expect(peppered.verify(plain, 's3cret-password')).resolves.toBe(false);
  });

  it('pepper rotation: previous peppers still verify and flag the hash for rehash', async () => {
    const oldPepper = randomBytes(32);
    const newPepper = randomBytes(32);
    const before = new PasswordHasher({ ...FAST, pepper: oldPepper });
    const hash = await before.hash('rotating-pepper');
    const after = new PasswordHasher({ ...FAST, pepper: newPepper, previousPeppers: [oldPepper] });
    expect(after.params.previousPepperCount).toBe(1);
    await expect(after.verify(hash, 'rotating-pepper')).resolves.toBe(true);
    await expect(after.verifyAndCheckRehash(hash, 'rotating-pepper')).resolves.toEqual({
      valid: true,
      needsRehash: true,
    });
    await expect(after.verifyAndCheckRehash(hash, 'wrong')).resolves.toEqual({
      valid: false,
      needsRehash: false,
    });
    const fresh = await after.hash('rotating-pepper');
    await expect(after.verifyAndCheckRehash(fresh, 'rotating-pepper')).resolves.toEqual({
      valid: true,
      needsRehash: false,
    });
    // Without the old pepper listed, the old hash is dead.
    await expect(
      new PasswordHasher({ ...FAST, pepper: newPepper }).verify(hash, 'rotating-pepper'),
    ).resolves.toBe(false);
  });

  it('copies the pepper so later mutation by the caller does not change hashing', async () => {
    const pepper = randomBytes(32);
    const hasher = new PasswordHasher({ ...FAST, pepper });
    const hash = await hasher.hash('pw');
    pepper.fill(0);
    await expect(hasher.verify(hash, 'pw')).resolves.toBe(true);
  });

  it.each([
    ['empty string', ''],
    ['not a PHC string', 'hunter2'],
    ['bcrypt hash', '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'],
    ['truncated argon2 hash', '$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ'],
    ['unknown version', '$argon2id$v=99$m=1024,t=1,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['absurd memory (DoS)', '$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['zero passes', '$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
    ['bad base64', '$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzYWx0$***'],
  ])('a malformed hash (%s) is a typed error, not a crash or false', async (_name, bad) => {
    const hasher = new PasswordHasher(FAST);
    const err = await expectCode(
      hasher.verify(bad, 'pw'),
      BulwarkCryptoError,
      ErrorCodes.PASSWORD_INVALID_HASH,
    );
    expect(err.message).not.toContain('pw');
    await expectCode(() => hasher.needsRehash(bad), BulwarkCryptoError, ErrorCodes.PASSWORD_INVALID_HASH);
  });

  it('non-string hashes are a typed error', async () => {
    const hasher = new PasswordHasher(FAST);
    for (const bad of [undefined, null, 42, {}, Buffer.from('x')]) {
      await expectCode(
        hasher.verify(bad as unknown as string, 'pw'),
        BulwarkCryptoError,
        ErrorCodes.PASSWORD_INVALID_HASH,
      );
    }
  });

  it('parseArgon2Hash reads the reference m=,t=,p= order as well', () => {
    expect(
      parseArgon2Hash('$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'),
    ).toMatchObject({
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    });
    expect(parseArgon2Hash('$argon2id$v=19$m=1,m=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA')).toEqual({
      reason: 'unexpected parameter',
    });
  });

  it('parseArgon2Hash reads the parameters of a real hash', async () => {
    const hash = await new PasswordHasher({ ...FAST, hashLength: 48 }).hash('pw');
    expect(parseArgon2Hash(hash)).toEqual({
      id: 'argon2id',
      version: 19,
      memoryCost: 1024,
      timeCost: 1,
      parallelism: 1,
      hashLength: 48,
    });
  });

  it('rejects empty, non-string and over-long passwords before hashing, without echoing them', async () => {
    const hasher = new PasswordHasher(FAST);
    const hash = await hasher.hash('pw');
    for (const bad of ['', undefined, null, 123, Buffer.from('pw'), ['pw']]) {
      await expectCode(hasher.hash(bad as string), BulwarkCryptoError, ErrorCodes.CRYPTO_INVALID_ARGUMENT);
      await expectCode(
        hasher.verify(hash, bad as string),
        BulwarkCryptoError,
        ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      );
    }
    const long = 'A'.repeat(1025);
    const err = await expectCode(hasher.hash(long), BulwarkCryptoError, ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    expect(err.message).not.toContain('AAAA');
    await expectCode(hasher.verify(hash, long), BulwarkCryptoError, ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    // The limit is in UTF-8 bytes: 342 three-byte characters = 1026 bytes.
    await expectCode(hasher.hash('€'.repeat(342)), BulwarkCryptoError, ErrorCodes.CRYPTO_INVALID_ARGUMENT);
    await expect(hasher.hash('A'.repeat(1024))).resolves.toMatch(/^\$argon2id\$/);
    await expectCode(
      new PasswordHasher({ ...FAST, maxPasswordBytes: 16 }).hash('x'.repeat(17)),
      BulwarkCryptoError,
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
    );
  });

  it('normalises Unicode (NFKC by default) so equivalent spellings verify', async () => {
    const hasher = new PasswordHasher(FAST);
    const composed = 'caf\u00e9'; // é as one code point
    const decomposed = 'cafe\u0301'; // e + combining acute
    const hash = await hasher.hash(composed);
    await expect(hasher.verify(hash, decomposed)).resolves.toBe(true);
    const raw = new PasswordHasher({ ...FAST, unicodeNormalization: 'none' });
    await expect(raw.verify(await raw.hash(composed), decomposed)).resolves.toBe(false);
  });

  describe('configuration', () => {
    it('refuses parameters below the OWASP minimum without allowWeakParameters, naming the field', () => {
      let error: unknown;
      try {
        new PasswordHasher({ memoryCost: 1024 });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BulwarkConfigError);
      expect((error as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_INVALID);
      expect((error as BulwarkConfigError).details).toEqual({ path: 'passwords.memoryCost' });
      expect((error as Error).message).toMatch(
        /^passwords\.memoryCost must be an integer >= 19456 .*got 1024$/,
      );

      // t=1 needs 46 MiB per OWASP; 19 MiB is not enough with a single pass.
      expect(() => new PasswordHasher({ timeCost: 1 })).toThrow(
        /passwords\.memoryCost must be an integer >= 47104/,
      );
      // The OWASP-equivalent trade-offs are accepted.
      expect(new PasswordHasher({ memoryCost: 47104, timeCost: 1 }).params.meetsOwaspMinimum).toBe(true);
      expect(new PasswordHasher({ memoryCost: 12288, timeCost: 3 }).params.meetsOwaspMinimum).toBe(true);
      expect(new PasswordHasher({ memoryCost: 7168, timeCost: 5 }).params.meetsOwaspMinimum).toBe(true);
      // Explicit opt-in lets tests run fast.
      expect(new PasswordHasher(FAST).params.meetsOwaspMinimum).toBe(false);
    });

    it.each<[PasswordHasherOptions, string]>([
      [{ memoryCost: 19456.5 }, 'passwords.memoryCost'],
      [{ memoryCost: '19456' as unknown as number }, 'passwords.memoryCost'],
      [{ timeCost: 0 }, 'passwords.timeCost'],
      [{ parallelism: 0 }, 'passwords.parallelism'],
      [{ hashLength: 8 }, 'passwords.hashLength'],
      [{ maxPasswordBytes: 1e9 }, 'passwords.maxPasswordBytes'],
      [{ pepper: randomBytes(16) }, 'passwords.pepper'],
      [{ pepper: 'a string pepper' as unknown as Uint8Array }, 'passwords.pepper'],
      [{ pepper: randomBytes(32), previousPeppers: [randomBytes(4)] }, 'passwords.previousPeppers[0]'],
      [{ previousPeppers: [randomBytes(32)] }, 'passwords.previousPeppers'],
      [{ unicodeNormalization: 'NFD' as 'NFC' }, 'passwords.unicodeNormalization'],
      [{ allowWeakParameters: 'yes' as unknown as boolean }, 'passwords.allowWeakParameters'],
      [{ ...FAST, memoryCost: 4 }, 'passwords.memoryCost'],
    ])('rejects invalid option %p at construction', (options, path) => {
      let error: unknown;
      try {
        new PasswordHasher(options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BulwarkConfigError);
      expect((error as BulwarkConfigError).details?.path).toBe(path);
      expect((error as Error).message.startsWith(path + ' ')).toBe(true);
    });

    it('uses configPath in messages', () => {
      expect(() => new PasswordHasher({ configPath: 'auth.passwords', timeCost: -1 })).toThrow(
        /^auth\.passwords\.timeCost must be/,
      );
    });

    it('never echoes pepper bytes in config errors', () => {
      const short = Buffer.from('short-secret-pepper');
      expect(() => new PasswordHasher({ pepper: short })).toThrow(/got 19 bytes$/);
      expect(() => new PasswordHasher({ pepper: short })).not.toThrow(/short-secret/);
    });
  });
});
