import type { ConditionDefinition } from '../../src/authz/policy-document';
import { PolicyEngine } from '../../src/authz/policy-engine';
import { parsePolicyText } from '../../src/authz/parse-policy-text';
import { BulwarkPolicyError } from '../../src/errors';
import { manualClock } from './authz-helpers';

const time = manualClock('2025-06-02T12:00:00.000Z');
const NOW = time.clock().getTime();

function engine(when: ConditionDefinition): PolicyEngine {
  return new PolicyEngine({
    clock: time.clock,
    policy: {
      version: 1,
      roles: { doctor: {} },
      policies: [
        {
          id: 'p',
          rules: [
            {
              id: 'sign',
              effect: 'allow',
              roles: ['doctor'],
              actions: ['sign'],
              resources: ['prescriptions'],
              when,
            },
          ],
        },
      ],
    },
  });
}

/** A principal as sessions / sign-in paths / bearer tokens set it. */
const doctor = (factors: string[], atSecondsAgo = 3600, mfaSecondsAgo?: number) => ({
  id: 'd1',
  roles: ['doctor'],
  authentication: {
    method: 'session',
    at: NOW - atSecondsAgo * 1000,
    factors,
    ...(mfaSecondsAgo !== undefined ? { mfaAt: NOW - mfaSecondsAgo * 1000 } : {}),
  },
});
const rx = { type: 'prescriptions', id: '7' };

describe('step-up policy conditions', () => {
  it('factor: allows only a subject that proved one of the factors', async () => {
    const e = engine({ factor: 'webauthn' });
    expect((await e.check(doctor(['password', 'webauthn']), 'sign', rx)).allowed).toBe(true);
    expect((await e.check(doctor(['password', 'totp']), 'sign', rx)).allowed).toBe(false);
    expect((await e.check({ id: 'd1', roles: ['doctor'] }, 'sign', rx)).allowed).toBe(false);
    // a forged shape fails closed
    expect(
      (await e.check({ id: 'd1', roles: ['doctor'], authentication: { factors: 'webauthn' } }, 'sign', rx))
        .allowed,
    ).toBe(false);
    const either = engine({ factor: ['webauthn', 'totp'] });
    expect((await either.check(doctor(['password', 'totp']), 'sign', rx)).allowed).toBe(true);
  });

  it('factor: also reads an mfaContext() in the request context', async () => {
    const e = engine({ factor: 'recovery-code' });
    const ctx = { mfaVerified: true, mfaMethod: 'recovery', mfaAt: new Date(NOW).toISOString() };
    expect((await e.check({ id: 'd1', roles: ['doctor'] }, 'sign', rx, ctx)).allowed).toBe(true);
  });

  it('recentAuth: allows a sign-in or a second factor within maxAgeSec, and nothing stale, unknown or future', async () => {
    const e = engine({ recentAuth: { maxAgeSec: 300 } });
    expect((await e.check(doctor(['password'], 120), 'sign', rx)).allowed).toBe(true);
    expect((await e.check(doctor(['password', 'totp'], 3600, 299), 'sign', rx)).allowed).toBe(true);
    expect((await e.check(doctor(['password'], 301), 'sign', rx)).allowed).toBe(false);
    expect((await e.check({ id: 'd1', roles: ['doctor'] }, 'sign', rx)).allowed).toBe(false);
    expect((await e.check(doctor(['password'], -3600), 'sign', rx)).allowed).toBe(false);
  });

  it('combines with all and explains which step-up condition failed', () => {
    const e = engine({ all: [{ factor: 'webauthn' }, { recentAuth: { maxAgeSec: 300 } }] });
    const stale = e.explain(doctor(['password', 'webauthn'], 900), 'sign', rx);
    expect(stale.decision.allowed).toBe(false);
    const trace = stale.rules[0].condition!;
    expect(trace.decidedBy).toBe('policies[0].rules[0].when.all[1]');
    expect(trace.children?.map((c) => [c.kind, c.result, c.actual])).toEqual([
      ['factor', true, ['password', 'webauthn']],
      ['recentAuth', false, 900],
    ]);
  });

  it('is validated strictly at load, from objects and YAML', () => {
    for (const bad of [
      { factor: '' },
      { factor: 'Web Authn' },
      { factor: [] },
      { recentAuth: {} },
      { recentAuth: { maxAgeSec: 0 } },
      { recentAuth: { maxAgeSec: 1.5 } },
      { recentAuth: { maxAgeSec: 300, factor: 'totp' } },
    ]) {
      expect(() => engine(bad as never)).toThrow(BulwarkPolicyError);
    }
    const doc = parsePolicyText(`
version: 1
roles: { doctor: {} }
policies:
  - id: p
    rules:
      - { id: r, effect: allow, roles: [doctor], actions: [sign], resources: [prescriptions], when: { all: [ { factor: webauthn }, { recentAuth: { maxAgeSec: 300 } } ] } }
`);
    expect(doc.policies[0].rules[0].when).toEqual({
      all: [{ factor: ['webauthn'] }, { recentAuth: { maxAgeSec: 300 } }],
    });
  });
});
