import { EnvKeyProvider } from '../../src/crypto/env-key-provider';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkMfaError, ErrorCodes } from '../../src/errors';
import { base32Decode } from '../../src/mfa/base32';
import { MemoryMfaStore } from '../../src/mfa/memory-mfa-store';
import type { MfaStore } from '../../src/mfa/mfa-store';
import { totpCode, totpStep } from '../../src/mfa/totp-code';
import { TotpFactor } from '../../src/mfa/totp-factor';

const T0 = Date.parse('2025-06-02T10:00:00.000Z');
let now = T0;
const clock = (): Date => new Date(now);
const codeAt = (secret: string, ms: number) => totpCode(base32Decode(secret)!, totpStep(ms, 30), 'sha1', 6);

async function setup(store: MfaStore = new MemoryMfaStore()) {
  const ring = await KeyRing.open({
    provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
    store: new MemoryKeyStore(),
    refreshIntervalMs: 0,
  });
  const totp = new TotpFactor({ store, issuer: 'ACME', keyRing: ring, clock });
  const secrets: Record<string, string> = {};
  for (const user of ['u1', 'u2', 'u3']) {
    secrets[user] = (await totp.enroll(user, { label: `${user}@example.com` })).secret;
    await totp.confirm(user, codeAt(secrets[user]!, now));
  }
  return { ring, totp, store, secrets };
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

beforeEach(() => {
  now = T0;
});

describe('TotpFactor.rewrapSecrets', () => {
  it('enrol, rotate the key, rewrap, retire the old version: TOTP still verifies', async () => {
    const { ring, totp, store, secrets } = await setup();
    await ring.rotate('mfa');
    const report = await totp.rewrapSecrets({ batchSize: 2 });
    expect(report).toEqual({ processed: 3, rewrapped: 3, skipped: 0, failed: [] });
    for (const user of ['u1', 'u2', 'u3']) {
      expect((await store.getTotp(user))!.secret).toMatch(/^bw2\.mfa\.2\./);
    }
    await ring.retire('mfa', 2);
    // The replay step recorded before the rewrap still holds: the confirming code is refused.
    expect(await mfaCode(totp.verify('u1', codeAt(secrets.u1!, now)))).toBe(ErrorCodes.MFA_REPLAY);
    now += 60_000;
    for (const user of ['u1', 'u2', 'u3']) {
      await expect(totp.verify(user, codeAt(secrets[user]!, now))).resolves.toMatchObject({
        method: 'totp',
      });
    }
    // Running again finds nothing to do.
    expect(await totp.rewrapSecrets()).toEqual({ processed: 3, rewrapped: 0, skipped: 3, failed: [] });
    await ring.close();
  });

  it('without the rewrap, retiring the old version breaks MFA (what rewrapSecrets prevents)', async () => {
    const { ring, totp, secrets } = await setup();
    await ring.rotate('mfa');
    await ring.retire('mfa', 2);
    now += 60_000;
    expect(await mfaCode(totp.verify('u1', codeAt(secrets.u1!, now)))).toBe(ErrorCodes.MFA_STORE);
    // ...and a rewrap afterwards cannot help: the old version no longer decrypts.
    const report = await totp.rewrapSecrets();
    expect(report.rewrapped).toBe(0);
    expect(report.failed.map((f) => f.code)).toEqual(Array(3).fill(ErrorCodes.CRYPTO_KEY_RETIRED));
    await ring.close();
  });

  it('reports a tampered or moved secret and one changed meanwhile, leaving them as they were', async () => {
    const store = new MemoryMfaStore();
    const { ring, totp } = await setup(store);
    await ring.rotate('mfa');
    // u2's envelope copied onto u1 (aad binds it to u2): must not re-encrypt under u1's aad.
    const u1 = (await store.getTotp('u1'))!;
    const u2 = (await store.getTotp('u2'))!;
    await store.putTotp('u1', { ...u1, secret: u2.secret });
    // u3 re-enrols while the rewrap runs: the compare-and-swap refuses the stale write.
    const real = store.replaceTotpSecret.bind(store);
    store.replaceTotpSecret = async (userId, expected, next) => {
      if (userId === 'u3') await totp.enroll('u3', { label: 'u3', replace: true });
      return real(userId, expected, next);
    };
    const report = await totp.rewrapSecrets();
    expect(report.rewrapped).toBe(1);
    expect(report.failed).toEqual([
      { id: 'u1', code: ErrorCodes.CRYPTO_DECRYPTION_FAILED },
      { id: 'u3', code: ErrorCodes.CRYPTO_REWRAP_WRITE_FAILED },
    ]);
    expect((await store.getTotp('u1'))!.secret).toBe(u2.secret);
    await ring.close();
  });

  it('is refused without a key ring or with a store that cannot list secrets', async () => {
    const plain = new TotpFactor({
      store: new MemoryMfaStore(),
      issuer: 'ACME',
      allowPlaintextSecrets: true,
    });
    expect(await mfaCode(plain.rewrapSecrets())).toBe(ErrorCodes.MFA_STORE);
    const { ring } = await setup();
    const base = new MemoryMfaStore();
    const minimal: MfaStore = {
      getTotp: (u) => base.getTotp(u),
      putTotp: (u, r) => base.putTotp(u, r),
      deleteTotp: (u) => base.deleteTotp(u),
      advanceTotpStep: (u, s) => base.advanceTotpStep(u, s),
      confirmTotp: (u, a, s) => base.confirmTotp(u, a, s),
      getRecoveryCodes: (u) => base.getRecoveryCodes(u),
      putRecoveryCodes: (u, c) => base.putRecoveryCodes(u, c),
      consumeRecoveryCode: (u, i, a) => base.consumeRecoveryCode(u, i, a),
      deleteRecoveryCodes: (u) => base.deleteRecoveryCodes(u),
    };
    const totp = new TotpFactor({ store: minimal, issuer: 'ACME', keyRing: ring });
    expect(await mfaCode(totp.rewrapSecrets())).toBe(ErrorCodes.MFA_STORE);
    await ring.close();
  });
});
