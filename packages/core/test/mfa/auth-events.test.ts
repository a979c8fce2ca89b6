/**
 * ASVS 5.0 V16.3.1: every authentication attempt (TOTP, recovery code), lockout and unlock
 * appends an `auth.*` audit event with the method and the outcome, through createBulwark's wiring.
 */
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { createBulwark } from '../../src/composition/create-bulwark';
import type { Bulwark } from '../../src/composition/bulwark-config';
import { ErrorCodes } from '../../src/errors';
import { base32Decode } from '../../src/mfa/base32';
import { totpCode, totpStep } from '../../src/mfa/totp-code';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';
import type { AuditEvent } from '../../src/audit/audit-event';

const fastPasswords = { memoryCost: 1024, timeCost: 1, parallelism: 1, allowWeakParameters: true };

async function kit(): Promise<Bulwark> {
  return createBulwark({
    passwords: fastPasswords as never,
    audit: { store: new MemoryAuditStore() },
    mfa: {
      policy: { requiredFor: ['admin'] },
      store: 'memory',
      totp: { issuer: 'Clinic', allowPlaintextSecrets: true },
      recoveryCodes: { count: 2 },
    },
    threat: {
      bruteForce: { ip: false, ipAccount: false, account: { maxFailures: 2, windowSec: 60, lockoutSec: 60 } },
    },
  });
}

const summary = (
  events: readonly {
    action?: string;
    outcome?: string;
    reason?: string;
    details?: Record<string, unknown>;
  }[],
) =>
  events.map((e) => [e.action, e.details?.method, e.details?.step ?? e.details?.scope, e.outcome, e.reason]);

describe('auth.* audit events of the second factors and the brute-force guard', () => {
  let b: Bulwark;
  beforeEach(async () => {
    b = await kit();
  });
  afterEach(async () => {
    await b.close();
  });

  async function events() {
    await b.auditLog!.flush();
    return (await b.auditLog!.query({ limit: 100 })).entries.filter((e) => e.action?.startsWith('auth.'));
  }

  it('records TOTP confirm / verify, a recovery code, then the lockout they cause and the unlock', async () => {
    const { secret } = await b.totp!.enroll('u1', { label: 'alice' });
    const code = totpCode(base32Decode(secret)!, totpStep(Date.now(), 30), 'sha1', 6);
    await b.totp!.confirm('u1', code, { ip: '192.0.2.1', requestId: 'req-1' });
    const [recovery] = await b.recoveryCodes!.generate('u1');
    await b.recoveryCodes!.verify('u1', recovery!);
    await expect(b.recoveryCodes!.verify('u1', recovery!)).rejects.toMatchObject({
      code: ErrorCodes.MFA_RECOVERY_CODE_USED,
    });
    // second failure on the account counter: it locks
    await expect(b.totp!.verify('u1', '000000')).rejects.toMatchObject({ code: ErrorCodes.MFA_INVALID_CODE });
    await expect(b.totp!.verify('u1', code)).rejects.toMatchObject({ code: ErrorCodes.MFA_LOCKED });
    await b.bruteForce!.reset(
      { account: 'mfa:u1' },
      { by: { id: 'admin-7', type: 'user' }, reason: 'ticket 42' },
    );

    const list = await events();
    expect(summary(list)).toEqual([
      ['auth.mfa', 'totp', 'confirm', 'success', undefined],
      ['auth.mfa', 'recovery-code', 'verify', 'success', undefined],
      ['auth.mfa', 'recovery-code', 'verify', 'failure', ErrorCodes.MFA_RECOVERY_CODE_USED],
      ['auth.lockout', 'mfa', 'account', 'success', undefined],
      ['auth.mfa', 'totp', 'verify', 'failure', ErrorCodes.MFA_INVALID_CODE],
      ['auth.mfa', 'totp', 'verify', 'failure', ErrorCodes.MFA_LOCKED],
      ['auth.unlock', undefined, undefined, 'success', 'ticket 42'],
    ]);
    expect(list[0]).toMatchObject({ actor: { id: 'u1', ip: '192.0.2.1' }, requestId: 'req-1' });
    expect(list[3]).toMatchObject({
      resource: { type: 'account', id: 'mfa:u1' },
      details: { lockoutSec: 60 },
    });
    expect(list[6]).toMatchObject({ actor: { id: 'admin-7' }, resource: { id: 'mfa:u1' } });
    // No code or secret in any event.
    expect(JSON.stringify(list)).not.toContain(recovery!.replace(/-/g, ''));
    expect(JSON.stringify(list)).not.toContain(secret);
  });

  it('records a password lockout by the guard used on its own', async () => {
    const sink: AuditEvent[] = [];
    const guard = new BruteForceGuard({
      ip: false,
      ipAccount: false,
      account: { maxFailures: 1, windowSec: 60, lockoutSec: 30 },
      audit: { append: async (e) => sink.push(e) },
    });
    const r = await guard.reserve({ account: 'alice@clinic.example', ip: '192.0.2.9' });
    if (!r.allowed) throw new Error('expected a reservation');
    await r.reservation.fail();
    expect(summary(sink)).toEqual([['auth.lockout', 'login', 'account', 'success', undefined]]);
    expect(sink[0]).toMatchObject({ actor: { type: 'anonymous', ip: '192.0.2.9' } });
  });
});
