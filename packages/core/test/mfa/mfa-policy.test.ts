import { BulwarkConfigError } from '../../src/errors';
import { mfaContext } from '../../src/mfa/mfa-context';
import { MfaPolicy } from '../../src/mfa/mfa-policy';

const NOW = Date.parse('2025-06-02T12:00:00.000Z');
const clock = () => new Date(NOW);
const at = (secondsAgo: number) => new Date(NOW - secondsAgo * 1000).toISOString();

describe('mfaContext', () => {
  it('turns a verification into frozen policy-context attributes', () => {
    const ctx = mfaContext({ userId: 'u1', method: 'totp', at: at(5), step: 1 });
    expect(ctx).toEqual({ mfaVerified: true, mfaMethod: 'totp', mfaAt: at(5) });
    expect(Object.isFrozen(ctx)).toBe(true);
  });
});

describe('MfaPolicy', () => {
  const policy = new MfaPolicy({ requiredFor: ['admin', 'billing'], maxAgeSec: 900, clock });

  it('is satisfied without MFA for roles it does not cover', () => {
    expect(policy.evaluate(['viewer'], {})).toEqual({
      satisfied: true,
      required: false,
      reason: 'not-required',
    });
  });

  it('requires a recent verification for covered roles', () => {
    const fresh = mfaContext({ userId: 'u', method: 'totp', at: at(60) });
    expect(policy.isSatisfied(['viewer', 'admin'], fresh)).toBe(true);
    expect(policy.evaluate(['admin'], {}).reason).toBe('missing');
    expect(policy.evaluate(['admin'], undefined).reason).toBe('missing');
    expect(policy.evaluate(['admin'], { mfaVerified: 'true', mfaMethod: 'totp', mfaAt: at(1) }).reason).toBe(
      'missing',
    );
    expect(policy.evaluate(['admin'], { ...fresh, mfaAt: at(901) }).reason).toBe('expired');
    expect(policy.isSatisfied(['admin'], { ...fresh, mfaAt: at(900) })).toBe(true);
    expect(policy.evaluate(['admin'], { ...fresh, mfaAt: 'yesterday' }).reason).toBe('invalid-time');
    expect(policy.evaluate(['admin'], { ...fresh, mfaAt: at(-3600) }).reason).toBe('invalid-time');
    expect(policy.evaluate(['admin'], { ...fresh, mfaMethod: 'sms' }).reason).toBe('method-not-allowed');
  });

  it("applies to every subject with '*' and can exclude recovery codes", () => {
    const strict = new MfaPolicy({ requiredFor: ['*'], methods: ['totp'], clock });
    expect(strict.isSatisfied([], {})).toBe(false);
    expect(strict.isSatisfied([], mfaContext({ userId: 'u', method: 'recovery', at: at(1) }))).toBe(false);
    expect(strict.isSatisfied([], mfaContext({ userId: 'u', method: 'totp', at: at(1) }))).toBe(true);
    expect(strict.describe()).toEqual({
      kind: 'mfa-policy',
      requiredFor: ['*'],
      allSubjects: true,
      maxAgeSec: 43_200,
      methods: ['totp'],
    });
  });

  describe('evaluatePrincipal (principal.authentication from sessions, sign-in paths or token claims)', () => {
    const principal = (factors: string[], mfaAtSecondsAgo?: number, roles = ['admin']) => ({
      roles,
      authentication: {
        method: 'password',
        at: NOW - 3_600_000,
        factors,
        ...(mfaAtSecondsAgo !== undefined ? { mfaAt: NOW - mfaAtSecondsAgo * 1000 } : {}),
      },
    });

    it('is satisfied by a recent allowed second factor', () => {
      expect(policy.evaluatePrincipal(principal(['password', 'totp'], 60)).reason).toBe('verified');
      expect(policy.evaluatePrincipal(principal(['password', 'recovery-code'], 60)).reason).toBe('verified');
      expect(policy.evaluatePrincipal(principal(['password', 'webauthn'], 60)).reason).toBe('verified');
    });

    it('refuses a password alone, a stale factor, a restricted one, and no authentication facts', () => {
      expect(policy.evaluatePrincipal(principal(['password'])).reason).toBe('missing');
      expect(policy.evaluatePrincipal(principal(['password', 'totp'], 901)).reason).toBe('expired');
      // no mfaAt: timed from the sign-in, an hour ago
      expect(policy.evaluatePrincipal(principal(['webauthn'])).reason).toBe('expired');
      expect(policy.evaluatePrincipal(principal(['password', 'sms-otp'], 60)).reason).toBe(
        'method-not-allowed',
      );
      expect(policy.evaluatePrincipal({ roles: ['admin'] }).reason).toBe('missing');
      expect(policy.evaluatePrincipal(principal(['password'], undefined, ['viewer'])).reason).toBe(
        'not-required',
      );
    });

    it('times the allowed factor by its own proof, not by a fresher disallowed one', () => {
      const mixed = (factorTimes?: Record<string, number>) => ({
        roles: ['admin'],
        authentication: {
          method: 'session',
          at: NOW - 7_200_000,
          factors: ['password', 'totp', 'sms-otp'],
          mfaAt: NOW - 60_000,
          ...(factorTimes !== undefined ? { factorTimes } : {}),
        },
      });
      // TOTP two hours ago, an SMS code (not allowed) a minute ago: the TOTP is stale.
      expect(policy.evaluatePrincipal(mixed({ totp: NOW - 7_200_000, 'sms-otp': NOW - 60_000 })).reason).toBe(
        'expired',
      );
      expect(policy.evaluatePrincipal(mixed({ totp: NOW - 60_000, 'sms-otp': NOW - 60_000 })).reason).toBe(
        'verified',
      );
      // No time of its own and two second factors: mfaAt could be either one's, so it is not used.
      expect(policy.evaluatePrincipal(mixed({ 'sms-otp': NOW - 60_000 })).reason).toBe('invalid-time');
    });

    it('accepts e-mail / SMS codes only when listed', () => {
      const lax = new MfaPolicy({ requiredFor: ['*'], methods: ['totp', 'sms-otp'], clock });
      expect(lax.evaluatePrincipal(principal(['password', 'sms-otp'], 60)).reason).toBe('verified');
      expect(lax.evaluatePrincipal(principal(['password', 'sms-otp', 'email-otp'], 60)).reason).toBe(
        'verified',
      );
    });
  });

  it('describes itself as plain evidence data', () => {
    expect(JSON.parse(JSON.stringify(policy.describe()))).toEqual({
      kind: 'mfa-policy',
      requiredFor: ['admin', 'billing'],
      allSubjects: false,
      maxAgeSec: 900,
      methods: ['totp', 'recovery', 'webauthn', 'federated-mfa'],
    });
  });

  it.each([
    [{ requiredFor: 'admin' }, 'mfa.policy.requiredFor'],
    [{ requiredFor: [''] }, 'mfa.policy.requiredFor'],
    [{ requiredFor: [], maxAgeSec: -1 }, 'mfa.policy.maxAgeSec'],
    [{ requiredFor: [], methods: ['sms'] }, 'mfa.policy.methods'],
  ])('rejects bad options (%p)', (options, path) => {
    expect(() => new MfaPolicy(options as never)).toThrow(BulwarkConfigError);
    try {
      new MfaPolicy(options as never);
    } catch (e) {
      expect((e as BulwarkConfigError).details?.path).toBe(path);
    }
  });
});
