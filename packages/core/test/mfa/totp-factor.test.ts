import { EnvKeyProvider } from '../../src/crypto/env-key-provider';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkConfigError, BulwarkMfaError, ErrorCodes } from '../../src/errors';
import { base32Decode } from '../../src/mfa/base32';
import { MemoryMfaStore } from '../../src/mfa/memory-mfa-store';
import type { TotpAlgorithm, TotpDigits } from '../../src/mfa/mfa-store';
import { totpCode, totpStep } from '../../src/mfa/totp-code';
import { TotpFactor, type TotpFactorOptions } from '../../src/mfa/totp-factor';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';

const T0 = Date.parse('2025-06-02T10:00:00.000Z'); // a multiple of 30 s
let now = T0;
const clock = (): Date => new Date(now);

function factor(options: Partial<TotpFactorOptions> = {}): { totp: TotpFactor; store: MemoryMfaStore } {
  const store = new MemoryMfaStore();
  const totp = new TotpFactor({ store, issuer: 'ACME', allowPlaintextSecrets: true, clock, ...options });
  return { totp, store };
}

/** Plays the authenticator app. */
async function codeAt(secret: string, ms: number, algorithm: TotpAlgorithm = 'sha1', digits: TotpDigits = 6) {
  return totpCode(base32Decode(secret)!, totpStep(ms, 30), algorithm, digits);
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

async function enrolled(options: Partial<TotpFactorOptions> = {}) {
  const f = factor(options);
  const { secret } = await f.totp.enroll('u1', { label: 'alice@example.com' });
  await f.totp.confirm('u1', await codeAt(secret, now - 30_000));
  return { ...f, secret };
}

beforeEach(() => {
  now = T0;
});

describe('TotpFactor', () => {
  // RFC 6238 Appendix B: seeds are the ASCII strings below; T = 59 s gives these 8-digit codes.
  it.each([
    ['sha1', '12345678901234567890', '94287082'],
    ['sha256', '12345678901234567890123456789012', '46119246'],
    ['sha512', '1234567890123456789012345678901234567890123456789012345678901234', '90693936'],
  ] as const)('accepts the RFC 6238 Appendix B vector for %s', async (algorithm, seed, expected) => {
    now = 59_000;
    const { totp, store } = factor({ algorithm, digits: 8 });
    await store.putTotp('rfc', {
      secret: base32(Buffer.from(seed, 'ascii')),
      encrypted: false,
      algorithm,
      digits: 8,
      period: 30,
      confirmed: true,
      createdAt: new Date(0).toISOString(),
    });
    const result = await totp.verify('rfc', expected);
    expect(result).toMatchObject({
      userId: 'rfc',
      method: 'totp',
      step: 1,
      at: new Date(59_000).toISOString(),
    });
    expect(await mfaCode(totp.verify('rfc', expected))).toBe(ErrorCodes.MFA_REPLAY);
  });

  it('enrols with a >= 160-bit secret and an otpauth URI carrying issuer, label and parameters', async () => {
    const { totp, store } = factor({ algorithm: 'sha256', digits: 8 });
    const e = await totp.enroll('u1', { label: 'alice@example.com' });
    expect(e.secret).toMatch(/^[A-Z2-7]+$/);
    expect(e.secret.length * 5).toBeGreaterThanOrEqual(256); // sha256 default: 32 bytes
    const uri = new URL(e.uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(e.uri.startsWith('otpauth://totp/ACME:alice%40example.com?')).toBe(true);
    expect(uri.searchParams.get('secret')).toBe(e.secret);
    expect(uri.searchParams.get('issuer')).toBe('ACME');
    expect(uri.searchParams.get('algorithm')).toBe('SHA256');
    expect(uri.searchParams.get('digits')).toBe('8');
    expect((await store.getTotp('u1'))?.confirmed).toBe(false);
    expect(await totp.isEnrolled('u1')).toBe(false);
    const sha1 = factor();
    expect((await sha1.totp.enroll('u2', { label: 'bob' })).secret).toHaveLength(32); // 160 bits
  });

  it('counts only after confirmation, and the confirming code cannot be replayed', async () => {
    const { totp } = factor();
    const { secret } = await totp.enroll('u1', { label: 'alice' });
    const code = await codeAt(secret, now);
    expect(await mfaCode(totp.verify('u1', code))).toBe(ErrorCodes.MFA_NOT_ENROLLED);
    expect(await mfaCode(totp.confirm('u1', code === '000000' ? '111111' : '000000'))).toBe(
      ErrorCodes.MFA_INVALID_CODE,
    );
    await expect(totp.confirm('u1', code)).resolves.toMatchObject({ method: 'totp' });
    expect(await totp.isEnrolled('u1')).toBe(true);
    expect(await mfaCode(totp.verify('u1', code))).toBe(ErrorCodes.MFA_REPLAY);
    expect(await mfaCode(totp.confirm('u1', code))).toBe(ErrorCodes.MFA_NOT_ENROLLED);
  });

  it('accepts one step of drift either way and nothing further', async () => {
    const { totp, secret } = await enrolled();
    now += 10 * 30_000;
    expect(await mfaCode(totp.verify('u1', await codeAt(secret, now - 60_000)))).toBe(
      ErrorCodes.MFA_INVALID_CODE,
    );
    expect(await mfaCode(totp.verify('u1', await codeAt(secret, now + 60_000)))).toBe(
      ErrorCodes.MFA_INVALID_CODE,
    );
    await expect(totp.verify('u1', await codeAt(secret, now - 30_000))).resolves.toBeDefined();
    await expect(totp.verify('u1', await codeAt(secret, now + 30_000))).resolves.toBeDefined();
  });

  it('rejects a replayed code and any code of an earlier step once a later one was used', async () => {
    const { totp, secret } = await enrolled();
    now += 5 * 30_000;
    const current = await codeAt(secret, now);
    const previous = await codeAt(secret, now - 30_000);
    await totp.verify('u1', current);
    expect(await mfaCode(totp.verify('u1', current))).toBe(ErrorCodes.MFA_REPLAY);
    expect(await mfaCode(totp.verify('u1', previous))).toBe(ErrorCodes.MFA_REPLAY);
    now += 30_000;
    await expect(totp.verify('u1', await codeAt(secret, now))).resolves.toMatchObject({ method: 'totp' });
  });

  it('lets exactly one of two racing requests with the same code through', async () => {
    const { totp, secret } = await enrolled();
    now += 3 * 30_000;
    const code = await codeAt(secret, now);
    const results = await Promise.allSettled([totp.verify('u1', code), totp.verify('u1', code)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as BulwarkMfaError).code).toBe(ErrorCodes.MFA_REPLAY);
  });

  it('rejects malformed codes and bad arguments with typed errors', async () => {
    const { totp } = await enrolled();
    for (const bad of ['', '12345', '1234567', 'abcdef', '12 34 5x', '9'.repeat(1000)]) {
      expect(await mfaCode(totp.verify('u1', bad))).toBe(ErrorCodes.MFA_INVALID_CODE);
    }
    expect(await mfaCode(totp.verify('u1', 123456 as unknown as string))).toBe(
      ErrorCodes.MFA_INVALID_ARGUMENT,
    );
    expect(await mfaCode(totp.verify('', '123456'))).toBe(ErrorCodes.MFA_INVALID_ARGUMENT);
    expect(await mfaCode(totp.verify('nobody', '123456'))).toBe(ErrorCodes.MFA_NOT_ENROLLED);
    expect(await mfaCode(totp.enroll('u9', { label: 'a:b' }))).toBe(ErrorCodes.MFA_INVALID_ARGUMENT);
  });

  it('accepts a code typed with a space or hyphen', async () => {
    const { totp, secret } = await enrolled();
    now += 30_000;
    const code = await codeAt(secret, now);
    await expect(totp.verify('u1', `${code.slice(0, 3)} ${code.slice(3)}`)).resolves.toBeDefined();
  });

  it('refuses to overwrite a confirmed factor unless replace is set', async () => {
    const { totp, secret } = await enrolled();
    expect(await mfaCode(totp.enroll('u1', { label: 'alice' }))).toBe(ErrorCodes.MFA_ALREADY_ENROLLED);
    const fresh = await totp.enroll('u1', { label: 'alice', replace: true });
    expect(fresh.secret).not.toBe(secret);
    expect(await totp.isEnrolled('u1')).toBe(false);
    await totp.disable('u1');
    expect(await mfaCode(totp.verify('u1', '123456'))).toBe(ErrorCodes.MFA_NOT_ENROLLED);
  });

  describe('with a KeyRing', () => {
    let ring: KeyRing;
    beforeAll(async () => {
      ring = await KeyRing.open({
        provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
        store: new MemoryKeyStore(),
      });
    });
    afterAll(() => ring.close());

    it('stores the secret encrypted and bound to the user', async () => {
      const { totp, store, secret } = await enrolled({ keyRing: ring, allowPlaintextSecrets: false });
      const record = (await store.getTotp('u1'))!;
      expect(record.encrypted).toBe(true);
      expect(record.secret.startsWith('bw2.')).toBe(true);
      expect(record.secret).not.toContain(secret);
      now += 30_000;
      await expect(totp.verify('u1', await codeAt(secret, now))).resolves.toBeDefined();

      // An attacker with store access copies their own record over the victim's: aad mismatch.
      await store.putTotp('victim', { ...record });
      expect(await mfaCode(totp.verify('victim', await codeAt(secret, now + 30_000)))).toBe(
        ErrorCodes.MFA_STORE,
      );
      // ...or plants a plaintext secret they know: refused because encryption is configured.
      await store.putTotp('victim', { ...record, secret, encrypted: false });
      expect(await mfaCode(totp.verify('victim', await codeAt(secret, now + 30_000)))).toBe(
        ErrorCodes.MFA_STORE,
      );
      expect(totp.describe()).toMatchObject({
        secretsEncrypted: true,
        algorithm: 'sha1',
        digits: 6,
        period: 30,
      });
    });
  });

  it('throttles guessing through a BruteForceGuard', async () => {
    const guard = new BruteForceGuard({
      ip: false,
      account: false,
      ipAccount: { maxFailures: 3, lockoutSec: 60 },
    });
    const { totp, secret } = await enrolled({ guard });
    now += 30_000;
    const good = await codeAt(secret, now);
    const wrong = good === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) {
      expect(await mfaCode(totp.verify('u1', wrong, { ip: '198.51.100.7' }))).toBe(
        ErrorCodes.MFA_INVALID_CODE,
      );
    }
    let locked: unknown;
    await totp.verify('u1', good, { ip: '198.51.100.7' }).catch((e: unknown) => (locked = e));
    expect(locked).toBeInstanceOf(BulwarkMfaError);
    expect((locked as BulwarkMfaError).code).toBe(ErrorCodes.MFA_LOCKED);
    expect((locked as BulwarkMfaError).details).toMatchObject({ retryAfterSec: 60, reason: 'ip+account' });
    // Another address is not locked, and a success clears its counter.
    await expect(totp.verify('u1', good, { ip: '198.51.100.8' })).resolves.toBeDefined();
    expect(totp.describe().throttled).toBe(true);
  });

  it('lets at most the limit of racing wrong codes reach the code check (reserved before it)', async () => {
    const guard = new BruteForceGuard({ ip: false, account: false, ipAccount: { maxFailures: 3 } });
    const { totp, secret } = await enrolled({ guard });
    now += 30_000;
    const good = await codeAt(secret, now);
    const wrong = good === '000000' ? '111111' : '000000';
    const codes = await Promise.all(
      Array.from({ length: 30 }, () => mfaCode(totp.verify('u1', wrong, { ip: '198.51.100.9' }))),
    );
    expect(codes.filter((c) => c === ErrorCodes.MFA_INVALID_CODE)).toHaveLength(3);
    expect(codes.filter((c) => c === ErrorCodes.MFA_LOCKED)).toHaveLength(27);
  });

  it.each([
    [{ keyRing: undefined, allowPlaintextSecrets: undefined }, 'mfa.totp.keyRing'],
    [{ issuer: '' }, 'mfa.totp.issuer'],
    [{ algorithm: 'md5' as TotpAlgorithm }, 'mfa.totp.algorithm'],
    [{ digits: 7 as TotpDigits }, 'mfa.totp.digits'],
    [{ period: 5 }, 'mfa.totp.period'],
    [{ window: 3 }, 'mfa.totp.window'],
    [{ secretBytes: 10 }, 'mfa.totp.secretBytes'],
    [{ store: {} as MemoryMfaStore }, 'mfa.totp.store'],
  ])('rejects bad options eagerly (%p)', (override, path) => {
    let error: unknown;
    try {
      factor(override);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BulwarkConfigError);
    expect((error as BulwarkConfigError).details?.path).toBe(path);
  });
});

/** RFC 4648 base32, for the RFC 6238 seeds. */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}
