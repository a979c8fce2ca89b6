import { PasswordHasher } from '../../src/crypto/password-hasher';
import { BulwarkConfigError, BulwarkMfaError, ErrorCodes } from '../../src/errors';
import { MemoryMfaStore } from '../../src/mfa/memory-mfa-store';
import { RecoveryCodes, type RecoveryCodesOptions } from '../../src/mfa/recovery-codes';

const hasher = new PasswordHasher({ allowWeakParameters: true, memoryCost: 64, timeCost: 1, parallelism: 1 });

function codes(options: Partial<RecoveryCodesOptions> = {}) {
  const store = new MemoryMfaStore();
  const clock = () => new Date('2025-06-02T10:00:00.000Z');
  return { store, recovery: new RecoveryCodes({ store, hasher, clock, ...options }) };
}

async function mfaCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BulwarkMfaError) return error.code;
    throw error;
  }
  throw new Error('expected a BulwarkMfaError');
}

describe('RecoveryCodes', () => {
  it('generates 10 distinct grouped base32 codes and stores only argon2id hashes', async () => {
    const { recovery, store } = codes();
    const plain = await recovery.generate('u1');
    expect(plain).toHaveLength(10);
    expect(new Set(plain).size).toBe(10);
    for (const c of plain) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    const stored = await store.getRecoveryCodes('u1');
    expect(stored).toHaveLength(10);
    const dump = JSON.stringify(stored);
    for (const c of plain) {
      expect(dump).not.toContain(c);
      expect(dump).not.toContain(c.replace('-', ''));
    }
    for (const s of stored) expect(s.hash.startsWith('$argon2id$')).toBe(true);
    expect(await recovery.remaining('u1')).toBe(10);
    expect(recovery.describe()).toEqual({
      method: 'recovery',
      count: 10,
      entropyBits: 50,
      hashing: 'argon2id',
      singleUse: true,
      throttled: false,
    });
  });

  it('accepts each code exactly once, in any case and with or without the separator', async () => {
    const { recovery } = codes({ count: 3 });
    const [a, b] = await recovery.generate('u1');
    await expect(recovery.verify('u1', a!)).resolves.toMatchObject({
      userId: 'u1',
      method: 'recovery',
      remaining: 2,
      at: '2025-06-02T10:00:00.000Z',
    });
    expect(await mfaCode(recovery.verify('u1', a!))).toBe(ErrorCodes.MFA_RECOVERY_CODE_USED);
    await expect(recovery.verify('u1', ` ${b!.replace('-', '').toLowerCase()} `)).resolves.toMatchObject({
      remaining: 1,
    });
    expect(await recovery.remaining('u1')).toBe(1);
  });

  it('maps Crockford look-alikes (O -> 0, I/L -> 1) when the code is typed back', async () => {
    const { recovery, store } = codes({ count: 1 });
    await store.putRecoveryCodes('u1', [{ id: 'x', hash: await hasher.hash('0101010101') }]);
    await expect(recovery.verify('u1', 'OIOLO-1O1O1')).resolves.toMatchObject({ remaining: 0 });
  });

  it('rejects wrong, malformed and foreign codes with typed errors', async () => {
    const { recovery } = codes({ count: 2 });
    const [mine] = await recovery.generate('u1');
    const [theirs] = await recovery.generate('u2');
    expect(await mfaCode(recovery.verify('u1', theirs!))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await mfaCode(recovery.verify('u1', 'ZZZZZ-ZZZZZ'))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await mfaCode(recovery.verify('u1', 'short'))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await mfaCode(recovery.verify('u1', 'UUUUU-UUUUU'))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await mfaCode(recovery.verify('u1', 'x'.repeat(100_000)))).toBe(ErrorCodes.MFA_INVALID_CODE);
    expect(await mfaCode(recovery.verify('u1', null as unknown as string))).toBe(
      ErrorCodes.MFA_INVALID_ARGUMENT,
    );
    expect(await mfaCode(recovery.verify('nobody', mine!))).toBe(ErrorCodes.MFA_NOT_ENROLLED);
    await expect(recovery.verify('u1', mine!)).resolves.toBeDefined();
  });

  it('invalidates the previous set when regenerated, and revoke removes all', async () => {
    const { recovery } = codes({ count: 2 });
    const [old] = await recovery.generate('u1');
    const [fresh] = await recovery.generate('u1');
    expect(await mfaCode(recovery.verify('u1', old!))).toBe(ErrorCodes.MFA_INVALID_CODE);
    await recovery.revoke('u1');
    expect(await mfaCode(recovery.verify('u1', fresh!))).toBe(ErrorCodes.MFA_NOT_ENROLLED);
  });

  it('spends a code once even when two requests race with it', async () => {
    const { recovery } = codes({ count: 2 });
    const [code] = await recovery.generate('u1');
    const results = await Promise.allSettled([recovery.verify('u1', code!), recovery.verify('u1', code!)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((failed.reason as BulwarkMfaError).code).toBe(ErrorCodes.MFA_RECOVERY_CODE_USED);
  });

  it('fails closed with MFA_STORE on a corrupt stored hash', async () => {
    const { recovery, store } = codes();
    await store.putRecoveryCodes('u1', [{ id: 'a', hash: 'not-a-hash' }]);
    expect(await mfaCode(recovery.verify('u1', 'ABCDE-FGHJK'))).toBe(ErrorCodes.MFA_STORE);
  });

  it.each([
    [{ count: 0 }, 'mfa.recoveryCodes.count'],
    [{ length: 4 }, 'mfa.recoveryCodes.length'],
    [{ hasher: {} as PasswordHasher }, 'mfa.recoveryCodes.hasher'],
    [{ store: undefined as unknown as MemoryMfaStore }, 'mfa.recoveryCodes.store'],
  ])('rejects bad options eagerly (%p)', (override, path) => {
    let error: unknown;
    try {
      codes(override);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BulwarkConfigError);
    expect((error as BulwarkConfigError).details?.path).toBe(path);
  });
});
