import type { AuditEvent } from '../../src/audit/audit-event';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import type { BreakGlassRequest } from '../../src/authz/break-glass-registry';
import { type PolicyEngineOptions, PolicyEngine } from '../../src/authz/policy-engine';
import type { PolicyDocument } from '../../src/authz/policy-document';
import { BulwarkError, ErrorCodes } from '../../src/errors';
import { clinicPolicy, manualClock, records, users } from './authz-helpers';

const HOUR = 60 * 60 * 1000;

/** The clinic policy plus a hard-deny policy that break-glass must not override. */
const policy: PolicyDocument = {
  ...clinicPolicy,
  policies: [
    ...clinicPolicy.policies,
    {
      id: 'psychotherapy-notes',
      breakGlassProof: true,
      rules: [
        { id: 'treating-team-only', effect: 'deny', roles: ['*'], actions: ['*'], resources: ['notes'] },
      ],
    },
  ],
};

function setup(options: Partial<PolicyEngineOptions> = {}) {
  const time = manualClock('2025-03-01T10:00:00Z');
  const events: AuditEvent[] = [];
  const engine = new PolicyEngine({
    policy,
    clock: time.clock,
    onAudit: (e) => {
      events.push(e);
    },
    ...options,
  });
  return { time, events, engine };
}

const request = (over: Partial<BreakGlassRequest> = {}): BreakGlassRequest => ({
  actor: { id: 'carol' },
  reason: 'cardiac arrest in ER bay 3, patient from cardio',
  actions: ['patient:read', 'patient:update'],
  resources: ['records/*'],
  durationMs: HOUR,
  ...over,
});

async function rejection(p: Promise<unknown>): Promise<BulwarkError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkError);
    return err as BulwarkError;
  }
  throw new Error('expected a rejection');
}

describe('break-glass: a grant demands reason, actor, scope and a bounded expiry', () => {
  it.each([
    ['no reason', { reason: undefined as never }, 'reason'],
    ['empty reason', { reason: '' }, 'reason'],
    ['whitespace reason', { reason: '   \n ' }, 'reason'],
    ['overlong reason', { reason: 'x'.repeat(1025) }, 'reason'],
    ['no actor', { actor: undefined as never }, 'actor.id'],
    ['empty actor id', { actor: { id: '' } }, 'actor.id'],
    ['bad actor ip', { actor: { id: 'carol', ip: 'localhost' } }, 'actor.ip'],
    ['no actions', { actions: [] }, 'actions'],
    ['a regex as action', { actions: ['patient:.*'] }, 'actions[0]'],
    ['no resources', { resources: undefined as never }, 'resources'],
    ['everything on everything', { actions: '*', resources: '*' }, 'scope'],
    ['no expiry', { durationMs: undefined }, 'expiry'],
    ['both expiry forms', { expiresAt: '2025-03-01T11:00:00Z' }, 'expiry'],
    ['longer than 4 h', { durationMs: 4 * HOUR + 1 }, 'expiry'],
    ['expiry in the past', { durationMs: undefined, expiresAt: '2025-03-01T09:00:00Z' }, 'expiresAt'],
    ['expiry not a time', { durationMs: undefined, expiresAt: 'tomorrow' }, 'expiresAt'],
    ['negative duration', { durationMs: -5 }, 'durationMs'],
  ])('refuses %s', async (_name, over, field) => {
    const { engine, events } = setup();
    const err = await rejection(engine.grantBreakGlass(request(over)));
    expect(err.code).toBe(ErrorCodes.POLICY_BREAK_GLASS_INVALID);
    expect(err.details).toEqual({ path: field });
    expect(events).toEqual([]);
    expect(await engine.listBreakGlass()).toEqual([]);
    expect(engine.check(users.carol, 'patient:read', records.r1).allowed).toBe(false);
  });

  it('refuses to grant at all without an audit hook (emergency access is always audited)', async () => {
    const engine = new PolicyEngine({ policy });
    const err = await rejection(engine.grantBreakGlass(request()));
    expect(err.code).toBe(ErrorCodes.POLICY_BREAK_GLASS_INVALID);
    expect(err.message).toMatch(/audit/);
  });

  it('refuses the grant when its audit event cannot be written', async () => {
    const { engine } = setup({
      onAudit: async () => {
        throw new Error('disk full');
      },
    });
    const err = await rejection(engine.grantBreakGlass(request()));
    expect(err.code).toBe(ErrorCodes.POLICY_AUDIT_FAILED);
    expect(await engine.listBreakGlass()).toEqual([]);
    expect(engine.check(users.carol, 'patient:read', records.r1).allowed).toBe(false);
  });

  it('accepts an absolute expiry up to the configured maximum', async () => {
    const { engine } = setup({ breakGlass: { maxDurationMs: 30 * 60 * 1000 } });
    await expect(engine.grantBreakGlass(request({ durationMs: HOUR }))).rejects.toThrow(/at most 30 minutes/);
    const g = await engine.grantBreakGlass(
      request({ durationMs: undefined, expiresAt: new Date('2025-03-01T10:30:00Z') }),
    );
    expect(g.expiresAt).toBe('2025-03-01T10:30:00.000Z');
  });

  it('rejects a maximum above 24 h at construction', () => {
    expect(() => setup({ breakGlass: { maxDurationMs: 25 * HOUR } })).toThrow(/24 h/);
  });
});

describe('break-glass: use, audit, expiry, report', () => {
  it('allows in scope only, audits grant and every use', async () => {
    const { engine, events } = setup();
    // Carol is a doctor of another department: denied by default.
    expect(engine.check(users.carol, 'patient:read', records.r1).reasonId).toBe('default_deny');

    const grant = await engine.grantBreakGlass(request({ requestId: 'req-9' }));
    expect(grant).toMatchObject({
      actor: { id: 'carol', type: 'user' },
      reason: 'cardiac arrest in ER bay 3, patient from cardio',
      grantedAt: '2025-03-01T10:00:00.000Z',
      expiresAt: '2025-03-01T11:00:00.000Z',
      active: true,
      uses: 0,
    });
    expect(events).toEqual([
      {
        actor: { id: 'carol', type: 'user' },
        action: 'authz.break_glass.granted',
        outcome: 'success',
        reason: grant.reason,
        requestId: 'req-9',
        time: new Date('2025-03-01T10:00:00Z'),
        details: {
          grantId: grant.id,
          actions: ['patient:read', 'patient:update'],
          resources: ['records/*'],
          expiresAt: '2025-03-01T11:00:00.000Z',
        },
      },
    ]);

    const d = engine.check(users.carol, 'patient:read', records.r1, { ip: '10.0.0.5' });
    expect(d).toEqual({ allowed: true, effect: 'allow', reasonId: 'break_glass', breakGlassId: grant.id });
    expect(events[1]).toEqual({
      actor: { id: 'carol', type: 'user', ip: '10.0.0.5' },
      action: 'authz.break_glass.used',
      resource: { type: 'records', id: 'r1' },
      outcome: 'success',
      reason: grant.reason,
      time: new Date('2025-03-01T10:00:00Z'),
      details: { grantId: grant.id, action: 'patient:read', use: 1 },
    });

    // Out of scope: other action, other resource type, other subject.
    expect(engine.check(users.carol, 'patient:delete', records.r1).allowed).toBe(false);
    expect(engine.check(users.carol, 'read', records.logs).allowed).toBe(false);
    expect(engine.check(users.alice, 'patient:update', records.r1).allowed).toBe(false);
    // An ordinary allow is not a break-glass use (nothing to audit).
    expect(engine.check(users.carol, 'patient:read', records.r2).reasonId).toBe('rule_allow');
    expect(events).toHaveLength(2);
    expect((await engine.listBreakGlass({ active: true }))[0].uses).toBe(1);
  });

  it('overrides an ordinary deny (audited with the overridden rule) but never a breakGlassProof deny', async () => {
    const { engine, events } = setup();
    await engine.grantBreakGlass(
      request({
        actor: { id: 'bob' },
        actions: ['patient:update', 'read'],
        resources: ['records/*', 'notes'],
      }),
    );
    const d = engine.check(users.bob, 'patient:update', records.signed);
    expect(d.reasonId).toBe('break_glass');
    expect(events[1].details).toMatchObject({
      overriddenPolicyId: 'guards',
      overriddenRuleId: 'signed-records-immutable',
    });
    const hard = engine.check(users.bob, 'read', { type: 'notes', id: 'n1' });
    expect(hard).toMatchObject({
      allowed: false,
      policyId: 'psychotherapy-notes',
      ruleId: 'treating-team-only',
    });
    const x = engine.explain(users.bob, 'read', { type: 'notes', id: 'n1' });
    expect(x.summary).toMatch(/hard deny/);
    expect(events).toHaveLength(2); // explain() records no use
  });

  it('expires: stops working, audits the expiry exactly once, reports it as inactive', async () => {
    const { engine, events, time } = setup();
    const grant = await engine.grantBreakGlass(request({ durationMs: 30 * 60 * 1000 }));
    time.advance(29 * 60 * 1000);
    expect(engine.check(users.carol, 'patient:read', records.r1).allowed).toBe(true);
    time.advance(60 * 1000); // exactly at expiry: no longer valid
    expect(engine.check(users.carol, 'patient:read', records.r1)).toMatchObject({
      allowed: false,
      reasonId: 'default_deny',
    });
    expect(engine.check(users.carol, 'patient:read', records.r1).allowed).toBe(false);
    expect(await engine.listBreakGlass({ active: true })).toEqual([]);
    expect(await engine.listBreakGlass({ active: false })).toMatchObject([
      { id: grant.id, active: false, uses: 1 },
    ]);
    expect(await engine.sweepBreakGlass()).toBe(0);
    expect(events.map((e) => e.action)).toEqual([
      'authz.break_glass.granted',
      'authz.break_glass.used',
      'authz.break_glass.expired',
    ]);
    expect(events[2]).toMatchObject({
      actor: { id: 'carol' },
      details: { grantId: grant.id, expiresAt: '2025-03-01T10:30:00.000Z', uses: 1 },
    });
  });

  it('sweepBreakGlass() audits expiry without waiting for a check', async () => {
    const { engine, events, time } = setup();
    await engine.grantBreakGlass(request());
    await engine.grantBreakGlass(request({ actor: { id: 'alice' }, durationMs: 2 * HOUR }));
    time.advance(HOUR + 1);
    expect(await engine.sweepBreakGlass()).toBe(1);
    expect(events.filter((e) => e.action === 'authz.break_glass.expired')).toHaveLength(1);
    expect((await engine.listBreakGlass({ active: true })).map((g) => g.actor.id)).toEqual(['alice']);
  });

  it('can be revoked early (audited), after which it no longer works', async () => {
    const { engine, events } = setup();
    const grant = await engine.grantBreakGlass(request());
    const revoked = await engine.revokeBreakGlass(grant.id, {
      actor: { id: 'ciso' },
      reason: 'patient stabilised',
    });
    expect(revoked).toMatchObject({ active: false, revokedAt: '2025-03-01T10:00:00.000Z' });
    expect(engine.check(users.carol, 'patient:read', records.r1).allowed).toBe(false);
    expect(events[1]).toMatchObject({
      actor: { id: 'ciso' },
      action: 'authz.break_glass.revoked',
      reason: 'patient stabilised',
    });
    await expect(
      engine.revokeBreakGlass('bg_nope', { actor: { id: 'ciso' }, reason: 'x' }),
    ).rejects.toMatchObject({
      code: ErrorCodes.POLICY_BREAK_GLASS_NOT_FOUND,
    });
  });

  it('denies the use when the audit hook throws synchronously, and reports the failure', async () => {
    const failures: string[] = [];
    let fail = false;
    const { engine } = setup({
      onAudit: () => {
        if (fail) throw new Error('sink down');
      },
      onAuditError: (_err, event) => failures.push(event.action),
    });
    await engine.grantBreakGlass(request());
    fail = true;
    expect(engine.check(users.carol, 'patient:read', records.r1)).toMatchObject({
      allowed: false,
      reasonId: 'break_glass_audit_failed',
    });
    expect(failures).toEqual(['authz.break_glass.used']);
  });

  it('writes grant / use / expiry into a real AuditLog (events pass its validation)', async () => {
    const time = manualClock('2025-03-01T10:00:00Z');
    const log = await AuditLog.open({ store: new MemoryAuditStore(), clock: time.clock });
    const errors: unknown[] = [];
    const engine = new PolicyEngine({
      policy,
      clock: time.clock,
      auditLog: log,
      onAuditError: (e) => errors.push(e),
    });
    const grant = await engine.grantBreakGlass(
      request({ actor: { id: 'carol', ip: '203.0.113.7', sessionId: 's1' } }),
    );
    engine.check(users.carol, 'patient:update', records.r1, { ip: 'not-an-ip' });
    time.advance(2 * HOUR);
    await engine.sweepBreakGlass();
    await log.flush();
    expect(errors).toEqual([]);
    const { entries } = await log.query({ action: 'authz.break_glass.*' });
    expect(entries.map((e) => [e.action, e.actor?.id, e.details?.grantId])).toEqual([
      ['authz.break_glass.granted', 'carol', grant.id],
      ['authz.break_glass.used', 'carol', grant.id],
      ['authz.break_glass.expired', 'carol', grant.id],
    ]);
    expect(entries[0].actor).toMatchObject({ ip: '203.0.113.7', sessionId: 's1' });
    expect(entries[1].resource).toEqual({ type: 'records', id: 'r1' });
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });
});
