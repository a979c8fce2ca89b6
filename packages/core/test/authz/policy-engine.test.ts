import type { Authorizer, AuthzContext, AuthzResource, AuthzSubject } from '../../src/authz/authorizer';
import type { ConditionDefinition, PolicyDocument } from '../../src/authz/policy-document';
import { DEFAULT_DENY, PolicyEngine } from '../../src/authz/policy-engine';
import { BulwarkPolicyError, ErrorCodes } from '../../src/errors';
import { clinicPolicy, manualClock, records, users } from './authz-helpers';

const engine = new PolicyEngine({ policy: clinicPolicy });

describe('PolicyEngine: RBAC, inheritance, deny overrides allow, default deny', () => {
  it.each([
    // [who, action, resource, allowed, reasonId, ruleId]
    [
      'nurse reads a record of her department',
      users.alice,
      'patient:read',
      records.r1,
      true,
      'rule_allow',
      'nurse-read-department',
    ],
    [
      'nurse cannot update (no rule)',
      users.alice,
      'patient:update',
      records.r1,
      false,
      'default_deny',
      undefined,
    ],
    [
      'nurse cannot read another department',
      users.alice,
      'patient:read',
      records.r2,
      false,
      'default_deny',
      undefined,
    ],
    [
      'doctor inherits the nurse read rule (first allow wins)',
      users.bob,
      'patient:read',
      records.r1,
      true,
      'rule_allow',
      'nurse-read-department',
    ],
    [
      'doctor updates via patient:*',
      users.bob,
      'patient:update',
      records.r1,
      true,
      'rule_allow',
      'doctor-all-department',
    ],
    [
      'doctor of another department is denied',
      users.carol,
      'patient:update',
      records.r1,
      false,
      'default_deny',
      undefined,
    ],
    [
      'admin inherits doctor (two levels) ',
      users.root,
      'patient:update',
      records.r1,
      true,
      'rule_allow',
      'doctor-all-department',
    ],
    ['admin inherits auditor', users.root, 'read', records.logs, true, 'rule_allow', 'auditor-read-logs'],
    [
      'auditor does not inherit doctor',
      users.dana,
      'patient:read',
      records.r1,
      false,
      'default_deny',
      undefined,
    ],
    [
      'multi-role subject gets the union (patient part)',
      users.multi,
      'read',
      records.logs,
      true,
      'rule_allow',
      'auditor-read-logs',
    ],
    [
      'unknown role grants nothing',
      users.ghost,
      'patient:read',
      records.r1,
      false,
      'default_deny',
      undefined,
    ],
    [
      'deny overrides a matching allow (signed record)',
      users.bob,
      'patient:update',
      records.signed,
      false,
      'record_signed',
      'signed-records-immutable',
    ],
    [
      'deny rule only where its condition holds',
      users.bob,
      'patient:delete',
      records.r1,
      true,
      'rule_allow',
      'doctor-all-department',
    ],
    [
      'deny on a specific resource id overrides admin',
      users.root,
      'patient:read',
      records.vip,
      false,
      'rule_deny',
      'vip-locked',
    ],
    [
      'deny by role overrides the inherited allow of another role',
      users.eve,
      'patient:read',
      records.r1,
      false,
      'rule_deny',
      'no-contractors',
    ],
    [
      'type-level pattern matches a resource without id',
      users.bob,
      'patient:create',
      records.typeOnly,
      true,
      'rule_allow',
      'create-record',
    ],
    ['records/* needs an id', users.bob, 'patient:read', records.typeOnly, false, 'default_deny', undefined],
    [
      '"*" action on settings for admin',
      users.root,
      'smtp:rotate',
      records.settings,
      true,
      'rule_allow',
      'admin-anything',
    ],
    [
      'patient:* does not match the bare prefix',
      users.bob,
      'patient:',
      records.r1,
      false,
      'default_deny',
      undefined,
    ],
    [
      'patient:* does not match patientx:read',
      users.bob,
      'patientx:read',
      records.r1,
      false,
      'default_deny',
      undefined,
    ],
  ] as const)('%s', (_name, subject, action, resource, allowed, reasonId, ruleId) => {
    const d = engine.check(subject, action, resource);
    expect(d.allowed).toBe(allowed);
    expect(d.effect).toBe(allowed ? 'allow' : 'deny');
    expect(d.reasonId).toBe(reasonId);
    expect(d.ruleId).toBe(ruleId);
    // explain() must reach the same decision.
    expect(engine.explain(subject, action, resource).decision).toEqual(d);
  });

  it('returns the same frozen decision object for the same rule (no per-check allocation)', () => {
    const a = engine.check(users.alice, 'patient:read', records.r1);
    const b = engine.check(users.bob, 'patient:read', records.r1);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(engine.check(users.alice, 'x', records.r1)).toBe(DEFAULT_DENY);
  });

  it.each([
    ['null subject', null, 'read', records.logs],
    ['subject without roles', { id: 'x' }, 'read', records.logs],
    ['roles not an array', { id: 'x', roles: 'auditor' }, 'read', records.logs],
    ['subject without id', { roles: ['auditor'] }, 'read', records.logs],
    ['empty action', users.dana, '', records.logs],
    ['non-string action', users.dana, 42, records.logs],
    ['overlong action', users.dana, 'r'.repeat(257), records.logs],
    ['no resource', users.dana, 'read', undefined],
    ['resource without type', users.dana, 'read', { id: '1' }],
  ])('fails closed on bad input: %s', (_name, subject, action, resource) => {
    const d = engine.check(subject as never, action as never, resource as never);
    expect(d).toEqual({ allowed: false, effect: 'deny', reasonId: 'invalid_request' });
    expect(engine.explain(subject as never, action as never, resource as never).decision.reasonId).toBe(
      'invalid_request',
    );
  });

  it('a role list with unknown and hostile names neither crashes nor grants, and is not cached', () => {
    const hostile = {
      id: 'h',
      roles: ['nurse\ndoctor', 'x', '__proto__', 'constructor'],
      department: 'cardio',
    };
    expect(engine.check(hostile, 'patient:update', records.r1).allowed).toBe(false);
    // Two sets whose "\n"-joined keys would collide must still get their own masks.
    const a = { id: 'a', roles: ['auditor\nnurse', 'x'] };
    const b = { id: 'b', roles: ['auditor', 'nurse\nx'] };
    expect(engine.check(a, 'read', records.logs).allowed).toBe(false);
    expect(engine.check(b, 'read', records.logs).allowed).toBe(true);
    expect(engine.check(a, 'read', records.logs).allowed).toBe(false);
  });

  it('multi-role masks are independent of role order', () => {
    const one = { id: 'm', roles: ['auditor', 'nurse'], department: 'cardio' };
    const two = { id: 'm', roles: ['nurse', 'auditor'], department: 'cardio' };
    const three = { id: 'm', roles: ['patient', 'nurse', 'auditor'], department: 'cardio' };
    for (const s of [one, two, three]) {
      expect(engine.check(s, 'read', records.logs).allowed).toBe(true);
      expect(engine.check(s, 'patient:read', records.r1).allowed).toBe(true);
      expect(engine.check(s, 'patient:update', records.r1).allowed).toBe(false);
    }
  });

  it('enforce() throws ERR_POLICY_DENIED with only the safe reasonId', () => {
    expect(engine.enforce(users.alice, 'patient:read', records.r1).allowed).toBe(true);
    let err: unknown;
    try {
      engine.enforce(users.bob, 'patient:update', records.signed);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BulwarkPolicyError);
    expect((err as BulwarkPolicyError).code).toBe(ErrorCodes.POLICY_DENIED);
    expect((err as BulwarkPolicyError).details).toEqual({ reasonId: 'record_signed' });
    expect((err as Error).message).not.toMatch(/signed-records-immutable|guards/);
  });

  it('load() swaps the policy atomically and keeps the old one when the new one is invalid', () => {
    const e = new PolicyEngine({ policy: clinicPolicy });
    expect(e.check(users.dana, 'read', records.logs).allowed).toBe(true);
    expect(() => e.load({ version: 1, policies: [{ id: 'p', rules: [{ id: 'r' }] }] } as never)).toThrow(
      BulwarkPolicyError,
    );
    expect(e.check(users.dana, 'read', records.logs).allowed).toBe(true);
    e.load({ version: 1, roles: { auditor: {} }, policies: [] });
    expect(e.check(users.dana, 'read', records.logs)).toBe(DEFAULT_DENY);
  });

  it('implements the Authorizer interface, so an adapter can take any implementation', async () => {
    const authorizers: Authorizer[] = [
      engine,
      {
        check: async (_s, action) => ({
          allowed: action === 'read',
          effect: action === 'read' ? 'allow' : 'deny',
          reasonId: 'x',
        }),
      },
    ];
    for (const a of authorizers) {
      expect((await a.check(users.dana, 'read', records.logs)).allowed).toBe(true);
    }
  });

  it('a policy mutated after load does not change decisions (the loaded copy is frozen)', () => {
    const doc = JSON.parse(JSON.stringify(clinicPolicy)) as PolicyDocument & {
      policies: { rules: { when?: unknown }[] }[];
    };
    const e = new PolicyEngine({ policy: doc });
    delete doc.policies[0].rules[0].when; // would make the nurse rule unconditional
    expect(e.check(users.alice, 'patient:read', records.r2).allowed).toBe(false);
    expect(Object.isFrozen(e.policy.policies[0].rules[0])).toBe(true);
  });
});

/** One allow rule with the given condition, so the decision is exactly the condition's value. */
function conditionEngine(when: ConditionDefinition, clock?: () => Date): PolicyEngine {
  return new PolicyEngine({
    clock,
    policy: {
      version: 1,
      roles: { user: {} },
      policies: [
        {
          id: 'p',
          rules: [
            { id: 'r', effect: 'allow', roles: ['user'], actions: ['go'], resources: ['things'], when },
          ],
        },
      ],
    },
  });
}

describe('PolicyEngine: condition operators', () => {
  type Row = [
    string,
    ConditionDefinition,
    Record<string, unknown>,
    Record<string, unknown>,
    AuthzContext,
    boolean,
  ];
  const rows: Row[] = [
    ['eq literal: equal', { attr: 'resource.status', eq: 'open' }, {}, { status: 'open' }, {}, true],
    ['eq literal: different', { attr: 'resource.status', eq: 'open' }, {}, { status: 'closed' }, {}, false],
    ['eq literal: missing attribute', { attr: 'resource.status', eq: 'open' }, {}, {}, {}, false],
    // Ids: a safe integer and its canonical decimal string are one value (docs/policies.md).
    ['eq treats 1 and "1" as one id', { attr: 'resource.level', eq: 1 }, {}, { level: '1' }, {}, true],
    ['eq: "01" is not 1', { attr: 'resource.level', eq: 1 }, {}, { level: '01' }, {}, false],
    ['eq: "1.0" is not 1', { attr: 'resource.level', eq: 1 }, {}, { level: '1.0' }, {}, false],
    ['eq: true is not "true"', { attr: 'resource.flag', eq: true }, {}, { flag: 'true' }, {}, false],
    ['eq boolean', { attr: 'context.internal', eq: true }, {}, {}, { internal: true }, true],
    ['eq nested path', { attr: 'subject.org.id', eq: 'acme' }, { org: { id: 'acme' } }, {}, {}, true],
    [
      'eq nested path through a primitive',
      { attr: 'subject.org.id', eq: 'acme' },
      { org: 'acme' },
      {},
      {},
      false,
    ],
    [
      'eq ref: ownership holds',
      { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
      {},
      { ownerId: 'u1' },
      {},
      true,
    ],
    [
      'eq ref: other owner',
      { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
      {},
      { ownerId: 'u2' },
      {},
      false,
    ],
    [
      'eq ref: both sides missing never match',
      { attr: 'resource.ownerId', eq: { ref: 'subject.ownerRef' } },
      {},
      {},
      {},
      false,
    ],
    [
      'eq ref: both null never match',
      { attr: 'resource.a', eq: { ref: 'subject.a' } },
      { a: null },
      { a: null },
      {},
      false,
    ],
    [
      'eq ref: objects never match',
      { attr: 'resource.a', eq: { ref: 'subject.a' } },
      { a: [1] },
      { a: [1] },
      {},
      false,
    ],
    ['ne literal', { attr: 'resource.status', ne: 'closed' }, {}, { status: 'open' }, {}, true],
    ['ne literal: equal', { attr: 'resource.status', ne: 'closed' }, {}, { status: 'closed' }, {}, false],
    ['ne literal: missing is not "different"', { attr: 'resource.status', ne: 'closed' }, {}, {}, {}, false],
    ['ne ref', { attr: 'resource.ownerId', ne: { ref: 'subject.id' } }, {}, { ownerId: 'u2' }, {}, true],
    [
      'in literal list',
      { attr: 'resource.status', in: ['open', 'pending'] },
      {},
      { status: 'pending' },
      {},
      true,
    ],
    [
      'in literal list: absent',
      { attr: 'resource.status', in: ['open', 'pending'] },
      {},
      { status: 'closed' },
      {},
      false,
    ],
    [
      'in long list (set)',
      { attr: 'resource.n', in: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
      {},
      { n: 10 },
      {},
      true,
    ],
    [
      'in long list: absent',
      { attr: 'resource.n', in: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
      {},
      { n: 11 },
      {},
      false,
    ],
    [
      'in ref (subject departments)',
      { attr: 'resource.dept', in: { ref: 'subject.depts' } },
      { depts: ['a', 'b'] },
      { dept: 'b' },
      {},
      true,
    ],
    [
      'in ref: not an array',
      { attr: 'resource.dept', in: { ref: 'subject.depts' } },
      { depts: 'ab' },
      { dept: 'a' },
      {},
      false,
    ],
    ['notIn literal', { attr: 'resource.status', notIn: ['deleted'] }, {}, { status: 'open' }, {}, true],
    [
      'notIn literal: listed',
      { attr: 'resource.status', notIn: ['deleted'] },
      {},
      { status: 'deleted' },
      {},
      false,
    ],
    ['notIn: missing attribute is false', { attr: 'resource.status', notIn: ['deleted'] }, {}, {}, {}, false],
    [
      'contains literal',
      { attr: 'subject.groups', contains: 'oncall' },
      { groups: ['a', 'oncall'] },
      {},
      {},
      true,
    ],
    [
      'contains literal: absent',
      { attr: 'subject.groups', contains: 'oncall' },
      { groups: ['a'] },
      {},
      {},
      false,
    ],
    [
      'contains on a string is false (arrays only)',
      { attr: 'subject.groups', contains: 'on' },
      { groups: 'oncall' },
      {},
      {},
      false,
    ],
    [
      'contains ref',
      { attr: 'resource.members', contains: { ref: 'subject.id' } },
      {},
      { members: ['u1'] },
      {},
      true,
    ],
    ['lt number', { attr: 'resource.amount', lt: 100 }, {}, { amount: 99 }, {}, true],
    ['lt number: equal', { attr: 'resource.amount', lt: 100 }, {}, { amount: 100 }, {}, false],
    ['lte number: equal', { attr: 'resource.amount', lte: 100 }, {}, { amount: 100 }, {}, true],
    ['gt number', { attr: 'resource.amount', gt: 100 }, {}, { amount: 101 }, {}, true],
    ['gt number: smaller', { attr: 'resource.amount', gt: 100 }, {}, { amount: 7 }, {}, false],
    ['gte number', { attr: 'resource.amount', gte: 100 }, {}, { amount: 100 }, {}, true],
    [
      'lt: numeric string is not a number',
      { attr: 'resource.amount', lt: 100 },
      {},
      { amount: '5' },
      {},
      false,
    ],
    ['lt: NaN is false', { attr: 'resource.amount', lt: 100 }, {}, { amount: NaN }, {}, false],
    [
      'lte ref: clearance',
      { attr: 'resource.sensitivity', lte: { ref: 'subject.clearance' } },
      { clearance: 3 },
      { sensitivity: 3 },
      {},
      true,
    ],
    [
      'lte ref: above clearance',
      { attr: 'resource.sensitivity', lte: { ref: 'subject.clearance' } },
      { clearance: 3 },
      { sensitivity: 4 },
      {},
      false,
    ],
    [
      'lt ISO time literal (Date attr)',
      { attr: 'resource.created', lt: '2025-01-01T00:00:00Z' },
      {},
      { created: new Date('2024-12-31T23:59:59Z') },
      {},
      true,
    ],
    [
      'lt ISO time literal (string attr, other offset)',
      { attr: 'resource.created', lt: '2025-01-01T00:00:00Z' },
      {},
      { created: '2025-01-01T00:30:00+01:00' },
      {},
      true,
    ],
    [
      'gte ISO time literal: earlier',
      { attr: 'resource.created', gte: '2025-01-01T00:00:00Z' },
      {},
      { created: '2024-06-01T00:00:00Z' },
      {},
      false,
    ],
    [
      'ISO time without offset is not a time',
      { attr: 'resource.created', lt: '2025-01-01T00:00:00Z' },
      {},
      { created: '2024-01-01T00:00:00' },
      {},
      false,
    ],
    [
      'gt ref between times',
      { attr: 'resource.expires', gt: { ref: 'context.now' } },
      {},
      { expires: '2030-01-01T00:00:00Z' },
      { now: new Date('2029-01-01T00:00:00Z') },
      true,
    ],
    [
      'number vs time never compares',
      { attr: 'resource.expires', gt: { ref: 'context.now' } },
      {},
      { expires: 5 },
      { now: new Date() },
      false,
    ],
    ['exists true', { attr: 'resource.ownerId', exists: true }, {}, { ownerId: 'x' }, {}, true],
    ['exists true: null', { attr: 'resource.ownerId', exists: true }, {}, { ownerId: null }, {}, false],
    ['exists false', { attr: 'resource.ownerId', exists: false }, {}, {}, {}, true],
    [
      'all: every child true',
      {
        all: [
          { attr: 'resource.a', eq: 1 },
          { attr: 'resource.b', eq: 2 },
        ],
      },
      {},
      { a: 1, b: 2 },
      {},
      true,
    ],
    [
      'all: one child false',
      {
        all: [
          { attr: 'resource.a', eq: 1 },
          { attr: 'resource.b', eq: 2 },
        ],
      },
      {},
      { a: 1, b: 3 },
      {},
      false,
    ],
    [
      'any: one child true',
      {
        any: [
          { attr: 'resource.a', eq: 1 },
          { attr: 'resource.b', eq: 2 },
        ],
      },
      {},
      { a: 0, b: 2 },
      {},
      true,
    ],
    [
      'any: none true',
      {
        any: [
          { attr: 'resource.a', eq: 1 },
          { attr: 'resource.b', eq: 2 },
        ],
      },
      {},
      { a: 0, b: 0 },
      {},
      false,
    ],
    ['not', { not: { attr: 'resource.status', eq: 'locked' } }, {}, { status: 'open' }, {}, true],
    [
      'not: inner true',
      { not: { attr: 'resource.status', eq: 'locked' } },
      {},
      { status: 'locked' },
      {},
      false,
    ],
    [
      'a bare list means all',
      [
        { attr: 'resource.a', eq: 1 },
        { attr: 'resource.b', eq: 2 },
      ] as never,
      {},
      { a: 1, b: 2 },
      {},
      true,
    ],
    ['mfaVerified true', { mfaVerified: true }, {}, {}, { mfaVerified: true }, true],
    ['mfaVerified: missing context', { mfaVerified: true }, {}, {}, {}, false],
    [
      'mfaVerified: truthy non-boolean is not verified',
      { mfaVerified: true },
      {},
      {},
      { mfaVerified: 'yes' as never },
      false,
    ],
    ['mfaVerified false', { mfaVerified: false }, {}, {}, {}, true],
    ['ipv4 in range', { ip: '10.0.0.0/8' }, {}, {}, { ip: '10.20.30.40' }, true],
    ['ipv4 out of range', { ip: '10.0.0.0/8' }, {}, {}, { ip: '11.0.0.1' }, false],
    [
      'ipv4 list second range',
      { ip: ['10.0.0.0/8', '192.168.1.0/24'] },
      {},
      {},
      { ip: '192.168.1.77' },
      true,
    ],
    ['ipv4 /24 boundary', { ip: '192.168.1.0/24' }, {}, {}, { ip: '192.168.2.0' }, false],
    ['ipv4 single host (bare address)', { ip: '203.0.113.9' }, {}, {}, { ip: '203.0.113.9' }, true],
    [
      'ipv4-mapped ipv6 matches the ipv4 range',
      { ip: '10.0.0.0/8' },
      {},
      {},
      { ip: '::ffff:10.1.2.3' },
      true,
    ],
    ['ipv6 in range', { ip: '2001:db8::/32' }, {}, {}, { ip: '2001:db8:abcd::1' }, true],
    ['ipv6 out of range', { ip: '2001:db8::/32' }, {}, {}, { ip: '2001:db9::1' }, false],
    ['ipv6 /128', { ip: '2001:db8::1/128' }, {}, {}, { ip: '2001:db8::1' }, true],
    ['ipv6 address vs ipv4 range', { ip: '10.0.0.0/8' }, {}, {}, { ip: '2001:db8::1' }, false],
    ['ip: garbage address', { ip: '10.0.0.0/8' }, {}, {}, { ip: '10.0.0.1; DROP' }, false],
    ['ip: missing', { ip: '10.0.0.0/8' }, {}, {}, {}, false],
  ];

  it.each(rows)('%s', (_name, when, subjectAttrs, resourceAttrs, context, expected) => {
    const e = conditionEngine(when);
    const subject: AuthzSubject = { id: 'u1', roles: ['user'], ...subjectAttrs };
    const resource: AuthzResource = { type: 'things', id: 't1', ...resourceAttrs };
    expect(e.check(subject, 'go', resource, context).allowed).toBe(expected);
    expect(e.explain(subject, 'go', resource, context).decision.allowed).toBe(expected);
  });

  it('reads only own data paths: prototype names are rejected at load', () => {
    expect(() => conditionEngine({ attr: 'subject.constructor', exists: true })).toThrow(/attribute path/);
  });
});

describe('PolicyEngine: time windows across time zones (injected clock)', () => {
  const clock = manualClock('2025-01-06T12:00:00Z');
  const berlin = conditionEngine(
    {
      timeWindow: {
        days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        start: '08:00',
        end: '18:00',
        timeZone: 'Europe/Berlin',
      },
    },
    clock.clock,
  );
  const newYork = conditionEngine(
    { timeWindow: { start: '09:00', end: '17:00', timeZone: 'America/New_York' } },
    clock.clock,
  );
  const tokyo = conditionEngine(
    { timeWindow: { start: '09:00', end: '17:00', timeZone: 'Asia/Tokyo' } },
    clock.clock,
  );
  const overnightKolkata = conditionEngine(
    { timeWindow: { days: ['fri'], start: '22:00', end: '06:00', timeZone: 'Asia/Kolkata' } },
    clock.clock,
  );
  const s = { id: 'u', roles: ['user'] };
  const r = { type: 'things', id: '1' };

  it.each([
    ['Mon 08:30 CET (UTC+1)', berlin, '2025-01-06T07:30:00Z', true],
    ['Mon 07:59 CET', berlin, '2025-01-06T06:59:00Z', false],
    ['Mon 17:59 CET', berlin, '2025-01-06T16:59:00Z', true],
    ['Mon 18:00 CET (end is exclusive)', berlin, '2025-01-06T17:00:00Z', false],
    ['Sat 10:00 CET (not a listed day)', berlin, '2025-01-11T09:00:00Z', false],
    ['Mon 08:00 CEST (UTC+2, summer time)', berlin, '2025-07-07T06:00:00Z', true],
    ['Mon 07:59 CEST', berlin, '2025-07-07T05:59:00Z', false],
    ['Mon 00:30 CET is still Sunday 23:30 UTC', berlin, '2025-01-05T23:30:00Z', false],
    ['09:00 EST', newYork, '2025-01-06T14:00:00Z', true],
    ['the same instant is 23:00 in Tokyo', tokyo, '2025-01-06T14:00:00Z', false],
    ['08:59 EST', newYork, '2025-01-06T13:59:00Z', false],
    ['09:00 EDT (UTC-4)', newYork, '2025-07-07T13:00:00Z', true],
    ['Fri 23:00 IST (UTC+5:30)', overnightKolkata, '2025-01-10T17:30:00Z', true],
    ['Sat 05:00 IST belongs to Friday night', overnightKolkata, '2025-01-10T23:30:00Z', true],
    ['Sat 06:00 IST (window over)', overnightKolkata, '2025-01-11T00:30:00Z', false],
    ['Sat 22:30 IST (Saturday not listed)', overnightKolkata, '2025-01-11T17:00:00Z', false],
    ['Fri 05:00 IST belongs to Thursday night', overnightKolkata, '2025-01-09T23:30:00Z', false],
  ] as const)('%s', (_name, e, at, expected) => {
    clock.set(at);
    expect(e.check(s, 'go', r).allowed).toBe(expected);
  });

  it('explain() shows the local time it evaluated', () => {
    clock.set('2025-01-06T07:30:00Z');
    const x = berlin.explain(s, 'go', r);
    expect(x.rules[0].condition).toMatchObject({
      kind: 'timeWindow',
      result: true,
      actual: 'mon 08:30 Europe/Berlin',
    });
  });
});

describe('PolicyEngine.explain()', () => {
  it('names the deciding rule and the deciding condition of a deny', () => {
    const x = engine.explain(users.bob, 'patient:update', records.signed);
    expect(x.decision).toEqual(engine.check(users.bob, 'patient:update', records.signed));
    expect(x.decidedBy).toEqual({
      policyId: 'guards',
      ruleId: 'signed-records-immutable',
      path: 'policies[1].rules[0]',
      condition: 'policies[1].rules[0].when',
    });
    expect(x.summary).toBe('deny by guards/signed-records-immutable');
    // The allow that lost is reported as matched, too.
    expect(x.rules.find((t) => t.ruleId === 'doctor-all-department')).toMatchObject({ matched: true });
  });

  it('says why each rule did not apply', () => {
    const x = engine.explain(users.alice, 'patient:read', records.r2);
    const byId = Object.fromEntries(x.rules.map((t) => [t.ruleId, t]));
    expect(x.decision).toBe(DEFAULT_DENY);
    expect(x.summary).toMatch(/deny by default/);
    expect(byId['nurse-read-department']).toMatchObject({
      matched: false,
      failed: 'condition',
      condition: {
        result: false,
        actual: 'onco',
        expected: 'cardio',
        summary: 'resource.department eq subject.department',
      },
    });
    expect(byId['doctor-all-department']).toMatchObject({ matched: false, failed: 'role' });
    expect(byId['create-record']).toMatchObject({ matched: false, failed: 'action' });
    expect(byId['auditor-read-logs']).toMatchObject({ matched: false, failed: 'action' });
    expect(byId['vip-locked']).toMatchObject({ matched: false, failed: 'resource' });
    expect(x.subject.effectiveRoles).toEqual(['nurse']);
  });

  it('points into nested all/any to the leaf that decided', () => {
    const e = conditionEngine({
      all: [{ attr: 'resource.a', eq: 1 }, { any: [{ attr: 'resource.b', eq: 1 }, { mfaVerified: true }] }],
    });
    const s = { id: 'u', roles: ['user'] };
    const deny = e.explain(s, 'go', { type: 'things', id: '1', a: 1, b: 0 }, { mfaVerified: false });
    expect(deny.decision.allowed).toBe(false);
    expect(deny.rules[0].condition?.decidedBy).toBe('policies[0].rules[0].when.all[1].any[1]');
    const allow = e.explain(s, 'go', { type: 'things', id: '1', a: 1, b: 0 }, { mfaVerified: true });
    expect(allow.decision.allowed).toBe(true);
    expect(allow.decidedBy?.condition).toBe('policies[0].rules[0].when.all[1].any[1]');
    const first = e.explain(s, 'go', { type: 'things', id: '1', a: 2, b: 1 });
    expect(first.rules[0].condition?.decidedBy).toBe('policies[0].rules[0].when.all[0]');
  });

  it('lists effective roles through inheritance', () => {
    expect([...engine.explain(users.root, 'read', records.logs).subject.effectiveRoles].sort()).toEqual([
      'admin',
      'auditor',
      'doctor',
      'nurse',
    ]);
  });
});

describe('PolicyEngine options', () => {
  it.each([
    ['clock not a function', { clock: 'now' }, 'clock'],
    ['onAudit not a function', { onAudit: {} }, 'onAudit'],
    ['auditLog without append', { auditLog: {} }, 'auditLog'],
    ['roleCacheSize not a positive integer', { roleCacheSize: 0 }, 'roleCacheSize'],
    ['indexSize not a positive integer', { indexSize: 1.5 }, 'indexSize'],
  ])('rejects %s at construction with ERR_CONFIG_INVALID', (_name, options, path) => {
    let err: unknown;
    try {
      new PolicyEngine({ policy: clinicPolicy, ...(options as object) });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ErrorCodes.CONFIG_INVALID, details: { path } });
  });

  it('keeps deciding correctly when the index and role caches are full', () => {
    const tiny = new PolicyEngine({ policy: clinicPolicy, indexSize: 1, roleCacheSize: 1 });
    for (let i = 0; i < 3; i++) {
      expect(tiny.check(users.multi, 'read', records.logs).allowed).toBe(true);
      expect(
        tiny.check({ ...users.alice, roles: ['nurse', 'patient'] }, 'patient:read', records.r1).allowed,
      ).toBe(true);
      expect(tiny.check(users.alice, `unknown:${i}`, { type: `t${i}` }).allowed).toBe(false);
    }
  });
});
