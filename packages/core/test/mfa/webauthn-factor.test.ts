import fc from 'fast-check';
import { BulwarkConfigError, BulwarkMfaError, ErrorCodes } from '../../src/errors';
import type { AuditEvent } from '../../src/audit/audit-event';
import { MemoryWebAuthnStore, WebAuthnFactor, type WebAuthnFactorOptions } from '../../src/mfa/webauthn';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';
import { SoftAuthenticator } from './soft-authenticator';

const ORIGIN = 'https://clinic.example';
let now = Date.parse('2025-06-02T10:00:00.000Z');
const clock = (): Date => new Date(now);

function setup(options: Partial<WebAuthnFactorOptions> = {}) {
  const store = new MemoryWebAuthnStore();
  const factor = new WebAuthnFactor({
    store,
    rpId: 'clinic.example',
    rpName: 'Clinic',
    origins: [ORIGIN],
    clock,
    ...options,
  });
  return { store, factor, device: new SoftAuthenticator(ORIGIN) };
}

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BulwarkMfaError) return error.code;
    throw error;
  }
  throw new Error('expected a BulwarkMfaError');
}

async function registered(options: Partial<WebAuthnFactorOptions> = {}, device?: SoftAuthenticator) {
  const s = setup(options);
  const authenticator = device ?? s.device;
  const creation = await s.factor.registrationOptions({ id: 'u1', name: 'alice' });
  const registration = await s.factor.verifyRegistration('u1', authenticator.create(creation) as never);
  return { ...s, device: authenticator, registration };
}

describe('WebAuthnFactor', () => {
  it('registers a credential and signs in with it, discoverable (no user name) and as a second factor', async () => {
    const { factor, device, registration } = await registered();
    expect(registration).toMatchObject({ userId: 'u1', userVerified: true, deviceType: 'singleDevice' });
    const discoverable = await factor.authenticationOptions();
    expect(discoverable.allowCredentials).toEqual([]);
    expect(discoverable.userVerification).toBe('required');
    const first = await factor.verifyAuthentication(device.get(discoverable) as never);
    expect(first).toMatchObject({ userId: 'u1', method: 'webauthn', userVerified: true });
    const second = await factor.authenticationOptions({ userId: 'u1' });
    expect(second.allowCredentials?.map((c) => c.id)).toEqual([registration.credentialId]);
    await expect(factor.verifyAuthentication(device.get(second) as never)).resolves.toMatchObject({
      userId: 'u1',
    });
    expect(await factor.isEnrolled('u1')).toBe(true);
    expect((await factor.listCredentials('u1'))[0]).not.toHaveProperty('publicKey');
  });

  it('refuses a replayed assertion: the challenge is single use', async () => {
    const { factor, device } = await registered();
    const assertion = device.get(await factor.authenticationOptions());
    await factor.verifyAuthentication(assertion as never);
    expect(await errorCode(factor.verifyAuthentication(assertion as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_INVALID,
    );
  });

  it('refuses a challenge past its TTL', async () => {
    const { factor, device } = await registered({ challengeTtlSec: 60 });
    const options = await factor.authenticationOptions();
    now += 61_000;
    expect(await errorCode(factor.verifyAuthentication(device.get(options) as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_INVALID,
    );
  });

  it('refuses a response made for another origin or RP id (phishing site)', async () => {
    const { factor, device } = await registered();
    const evil = device.get(await factor.authenticationOptions(), {
      origin: 'https://clinic.example.evil.test',
    });
    expect(await errorCode(factor.verifyAuthentication(evil as never))).toBe(ErrorCodes.MFA_WEBAUTHN_INVALID);
    const otherRp = device.get(await factor.authenticationOptions(), { rpId: 'evil.test' });
    expect(await errorCode(factor.verifyAuthentication(otherRp as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_INVALID,
    );
    const wrongType = device.get(await factor.authenticationOptions(), { type: 'webauthn.create' });
    expect(await errorCode(factor.verifyAuthentication(wrongType as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_INVALID,
    );
  });

  it('refuses a registration answering an authentication challenge, or for another user', async () => {
    const { factor, device } = setup();
    const request = await factor.authenticationOptions();
    const creation = await factor.registrationOptions({ id: 'u1', name: 'alice' });
    const swapped = device.create({ ...creation, challenge: request.challenge });
    expect(await errorCode(factor.verifyRegistration('u1', swapped as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_INVALID,
    );
    const other = await factor.registrationOptions({ id: 'u1', name: 'alice' });
    expect(await errorCode(factor.verifyRegistration('u2', device.create(other) as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_INVALID,
    );
  });

  it('detects a cloned authenticator: a counter that does not increase is refused', async () => {
    const { factor, device, store, registration } = await registered();
    await factor.verifyAuthentication(device.get(await factor.authenticationOptions()) as never);
    await factor.verifyAuthentication(device.get(await factor.authenticationOptions()) as never);
    const stored = (await store.getCredential(registration.credentialId))!.counter;
    expect(stored).toBe(2);
    const clone = device.get(await factor.authenticationOptions(), { counter: 2 });
    expect(await errorCode(factor.verifyAuthentication(clone as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_COUNTER,
    );
    expect((await store.getCredential(registration.credentialId))!.counter).toBe(2);
  });

  it('accepts authenticators that keep no counter (always 0)', async () => {
    const { factor, device } = await registered({}, new SoftAuthenticator(ORIGIN, { counter: false }));
    for (let i = 0; i < 2; i++) {
      await factor.verifyAuthentication(device.get(await factor.authenticationOptions()) as never);
    }
  });

  it('requires user verification by default, and accepts user presence only when configured', async () => {
    const strict = await registered();
    const presenceOnly = strict.device.get(await strict.factor.authenticationOptions(), {
      userVerified: false,
    });
    expect(await errorCode(strict.factor.verifyAuthentication(presenceOnly as never))).toBe(
      ErrorCodes.MFA_WEBAUTHN_INVALID,
    );
    const s = setup();
    const creation = await s.factor.registrationOptions({ id: 'u1', name: 'alice' });
    expect(
      await errorCode(
        s.factor.verifyRegistration('u1', s.device.create(creation, { userVerified: false }) as never),
      ),
    ).toBe(ErrorCodes.MFA_WEBAUTHN_INVALID);
    const lax = await registered({ userVerification: 'preferred' });
    const ok = await lax.factor.verifyAuthentication(
      lax.device.get(await lax.factor.authenticationOptions(), { userVerified: false }) as never,
    );
    expect(ok.userVerified).toBe(false);
  });

  it('locks a user out after repeated failed assertions when a guard is set', async () => {
    const guard = new BruteForceGuard({ account: { maxFailures: 2, windowSec: 60, lockoutSec: 60 } });
    const { factor, device } = await registered({ guard });
    for (let i = 0; i < 2; i++) {
      const bad = device.get(await factor.authenticationOptions(), { userVerified: false });
      expect(await errorCode(factor.verifyAuthentication(bad as never))).toBe(
        ErrorCodes.MFA_WEBAUTHN_INVALID,
      );
    }
    const good = device.get(await factor.authenticationOptions());
    expect(await errorCode(factor.verifyAuthentication(good as never))).toBe(ErrorCodes.MFA_LOCKED);
  });

  it('appends auth.mfa events with the method and outcome', async () => {
    const events: AuditEvent[] = [];
    const audit = { append: async (e: AuditEvent) => events.push(e) };
    const { factor, device } = await registered({ audit });
    await factor.verifyAuthentication(device.get(await factor.authenticationOptions()) as never, {
      ip: '192.0.2.1',
    });
    const replay = device.get(await factor.authenticationOptions(), { counter: 1 });
    await errorCode(factor.verifyAuthentication(replay as never));
    expect(events.map((e) => [e.action, e.outcome, e.details?.method, e.details?.step, e.reason])).toEqual([
      ['auth.mfa', 'success', 'webauthn', 'register', undefined],
      ['auth.mfa', 'success', 'webauthn', 'verify', undefined],
      ['auth.mfa', 'failure', 'webauthn', 'verify', ErrorCodes.MFA_WEBAUTHN_COUNTER],
    ]);
    expect(events[1].actor).toMatchObject({ id: 'u1', ip: '192.0.2.1' });
  });

  it('refuses malformed responses with a typed error, never a crash', async () => {
    const { factor } = setup();
    for (const bad of [
      null,
      {},
      { id: 'x', type: 'public-key', response: {} },
      { id: 'a'.repeat(20), type: 'public-key', response: { clientDataJSON: '!!' } },
    ]) {
      expect(await errorCode(factor.verifyAuthentication(bad as never))).toBe(
        ErrorCodes.MFA_WEBAUTHN_INVALID,
      );
    }
  });

  it('answers any tampered or arbitrary response with ERR_MFA_WEBAUTHN_INVALID, never another error', async () => {
    const { factor, device } = await registered();
    const b64 = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url'));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          field: fc.constantFrom('clientDataJSON', 'authenticatorData', 'signature', 'userHandle'),
          value: fc.oneof(b64, fc.anything()),
        }),
        async ({ field, value }) => {
          const genuine = device.get(await factor.authenticationOptions());
          const forged = { ...genuine, response: { ...genuine.response, [field]: value } };
          const code = await errorCode(factor.verifyAuthentication(forged as never)).catch(
            () => 'not a BulwarkMfaError',
          );
          // a field left valid by chance (the same value) would verify, and userHandle is optional
          // (the credential id names the user): only a changed, present field must fail
          if (field === 'userHandle' && value === undefined) return true;
          return (
            JSON.stringify(value) === JSON.stringify(genuine.response[field]) ||
            code === ErrorCodes.MFA_WEBAUTHN_INVALID
          );
        },
      ),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (value) => {
        const code = await errorCode(factor.verifyAuthentication(value as never)).catch(
          () => 'not a BulwarkMfaError',
        );
        return code === ErrorCodes.MFA_WEBAUTHN_INVALID;
      }),
      { numRuns: 100 },
    );
  });

  it('the memory store keeps at most maxChallenges pending ceremonies, evicting the oldest', async () => {
    const store = new MemoryWebAuthnStore({ maxChallenges: 3, now: () => now });
    const live = { purpose: 'authentication' as const, expiresAt: now + 60_000 };
    for (const c of ['c1', 'c2', 'c3', 'c4', 'c5']) await store.putChallenge(c, live);
    expect(await store.takeChallenge('c1')).toBeUndefined();
    expect(await store.takeChallenge('c2')).toBeUndefined();
    for (const c of ['c3', 'c4', 'c5']) expect(await store.takeChallenge(c)).toMatchObject(live);
    // Expired ones go first, before any live challenge is evicted.
    await store.putChallenge('old', { ...live, expiresAt: now - 1 });
    await store.putChallenge('a', live);
    await store.putChallenge('b', live);
    await store.putChallenge('c', live);
    expect(await store.takeChallenge('old')).toBeUndefined();
    expect(await store.takeChallenge('a')).toMatchObject(live);
    expect(() => new MemoryWebAuthnStore({ maxChallenges: 0 })).toThrow(BulwarkConfigError);
  });

  it('validates its options at construction', () => {
    const store = new MemoryWebAuthnStore();
    const base = { store, rpId: 'clinic.example', rpName: 'Clinic', origins: [ORIGIN] };
    expect(() => new WebAuthnFactor({ ...base, origins: ['http://clinic.example'] })).toThrow(
      BulwarkConfigError,
    );
    expect(() => new WebAuthnFactor({ ...base, origins: ['https://other.example'] })).toThrow(
      /not on the RP id/,
    );
    expect(() => new WebAuthnFactor({ ...base, rpId: 'https://clinic.example' })).toThrow(/rpId/);
    expect(() => new WebAuthnFactor({ ...base, algorithms: [-999] })).toThrow(/algorithms/);
    expect(() => new WebAuthnFactor({ ...base, challengeTtlSec: 3600 })).toThrow(/challengeTtlSec/);
    expect(new WebAuthnFactor(base).describe()).toMatchObject({
      userVerification: 'required',
      counterCheck: true,
    });
  });
});
