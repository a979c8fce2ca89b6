import type { AuditEvent } from '../../src/audit/audit-event';
import { MemoryBreakGlassStore, type BreakGlassStore } from '../../src/authz/break-glass-store';
import { PolicyEngine } from '../../src/authz/policy-engine';
import { ErrorCodes } from '../../src/errors';
import { clinicPolicy, manualClock, records, users } from './authz-helpers';

const HOUR = 60 * 60 * 1000;

/** Two engines (two instances) over one grant store, on one clock. */
function instances(store: BreakGlassStore = new MemoryBreakGlassStore()) {
  const time = manualClock('2025-03-01T10:00:00Z');
  const events: AuditEvent[] = [];
  const errors: unknown[] = [];
  const engine = () =>
    new PolicyEngine({
      policy: clinicPolicy,
      clock: time.clock,
      onAudit: (e) => {
        events.push(e);
      },
      onAuditError: (e) => errors.push(e),
      breakGlassStore: store,
    });
  return { a: engine(), b: engine(), time, events, errors, store };
}

const grantRequest = {
  actor: { id: 'carol' },
  reason: 'cardiac arrest in ER bay 3',
  actions: ['patient:read'],
  resources: ['records/*'],
  durationMs: HOUR,
};

describe('break-glass with a shared store (two instances)', () => {
  it('a grant given on one instance is honoured on the other at once, and its uses add up', async () => {
    const { a, b, events } = instances();
    expect((await b.authorize(users.carol, 'patient:read', records.r1)).allowed).toBe(false);
    const grant = await a.grantBreakGlass(grantRequest);
    const d = await b.authorize(users.carol, 'patient:read', records.r1);
    expect(d).toEqual({ allowed: true, effect: 'allow', reasonId: 'break_glass', breakGlassId: grant.id });
    await a.authorize(users.carol, 'patient:read', records.r1);
    expect((await b.listBreakGlass({ active: true })).map((g) => [g.id, g.uses])).toEqual([[grant.id, 2]]);
    expect(events.filter((e) => e.action === 'authz.break_glass.used').map((e) => e.details?.use)).toEqual([
      1, 2,
    ]);
    // Out of scope stays denied.
    expect((await b.authorize(users.carol, 'patient:delete', records.r1)).allowed).toBe(false);
    expect(b.check(users.dana, 'patient:read', records.r1).allowed).toBe(false); // policy denies dana
    expect((await b.authorize(users.dana, 'patient:read', records.r1)).allowed).toBe(false);
  });

  it('a revocation on one instance stops the grant on the other (no stale copy)', async () => {
    const { a, b } = instances();
    const grant = await a.grantBreakGlass(grantRequest);
    expect((await b.authorize(users.carol, 'patient:read', records.r1)).allowed).toBe(true);
    await b.revokeBreakGlass(grant.id, { actor: { id: 'ciso' }, reason: 'patient stable' });
    expect((await a.authorize(users.carol, 'patient:read', records.r1)).allowed).toBe(false);
    expect((await a.listBreakGlass())[0]).toMatchObject({ id: grant.id, active: false });
    expect((await a.listBreakGlass())[0]!.revokedAt).toBeDefined();
  });

  it('the synchronous check() never allows by a shared grant (it cannot read the store)', async () => {
    const { a } = instances();
    await a.grantBreakGlass(grantRequest);
    expect(a.check(users.carol, 'patient:read', records.r1).allowed).toBe(false);
    expect((await a.authorize(users.carol, 'patient:read', records.r1)).allowed).toBe(true);
  });

  it('an expiry is audited once across instances', async () => {
    const { a, b, time, events } = instances();
    await a.grantBreakGlass(grantRequest);
    time.advance(HOUR + 1);
    expect((await b.authorize(users.carol, 'patient:read', records.r1)).allowed).toBe(false);
    expect(await a.sweepBreakGlass()).toBe(1);
    expect(await b.sweepBreakGlass()).toBe(0);
    expect(events.filter((e) => e.action === 'authz.break_glass.expired')).toHaveLength(1);
  });

  it('a store that fails denies (fail closed) and reports the failure', async () => {
    const store = new MemoryBreakGlassStore();
    const { a, errors } = instances(store);
    await a.grantBreakGlass(grantRequest);
    store.active = async () => {
      throw new Error('connection refused to 10.0.0.9:5432');
    };
    const d = await a.authorize(users.carol, 'patient:read', records.r1);
    expect(d).toMatchObject({ allowed: false, reasonId: 'break_glass_unavailable' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: ErrorCodes.POLICY_BREAK_GLASS_STORE });
    store.revoke = async () => {
      throw new Error('down');
    };
    const [g] = await a.listBreakGlass();
    await expect(a.revokeBreakGlass(g!.id, { actor: { id: 'ciso' }, reason: 'r' })).rejects.toMatchObject({
      code: ErrorCodes.POLICY_BREAK_GLASS_STORE,
    });
  });

  it('a malformed stored grant grants nothing', async () => {
    const store = new MemoryBreakGlassStore();
    const { a, time } = instances(store);
    await store.insert({
      id: 'bg_forged',
      actor: { id: 'carol', type: 'user' },
      reason: 'forged row',
      actions: ['patient:.*'],
      resources: ['records/*'],
      grantedAtMs: time.clock().getTime(),
      expiresAtMs: time.clock().getTime() + HOUR,
      expiredAudited: false,
      uses: 0,
    });
    expect((await a.authorize(users.carol, 'patient:read', records.r1)).allowed).toBe(false);
  });

  it('refuses a store that is not a BreakGlassStore', () => {
    expect(
      () => new PolicyEngine({ policy: clinicPolicy, breakGlassStore: { get: () => undefined } as never }),
    ).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }));
  });
});
