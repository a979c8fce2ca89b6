/**
 * Denials explain themselves: explain() names the nearest allow rule on a default deny and the
 * condition that failed; explainDenial() keeps the ids, condition text and type names of that,
 * never an attribute value.
 */
import type { AuthzResource, AuthzSubject } from '../../src/authz/authorizer';
import { explainDenial } from '../../src/authz/denial-explanation';
import { PolicyEngine } from '../../src/authz/policy-engine';
import type { ConditionDefinition } from '../../src/authz/policy-document';

const engine = new PolicyEngine({
  policy: {
    version: 1,
    roles: { staff: {}, manager: { inherits: ['staff'] } },
    policies: [
      {
        id: 'hr',
        rules: [
          {
            id: 'list-any',
            effect: 'allow',
            roles: ['manager'],
            actions: 'employee:list',
            resources: 'employees',
          },
          {
            id: 'read-own',
            effect: 'allow',
            roles: ['staff'],
            actions: 'employee:read',
            resources: 'employees/*',
            when: [
              { attr: 'resource.tenantId', eq: { ref: 'subject.tenantId' } },
              { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
            ],
            reasonId: 'own_record',
          },
          {
            id: 'read-team',
            effect: 'allow',
            roles: ['manager'],
            actions: 'employee:read',
            resources: 'employees/*',
          },
          {
            id: 'no-terminated',
            effect: 'deny',
            roles: ['*'],
            actions: 'employee:*',
            resources: 'employees/*',
            when: { attr: 'resource.status', eq: 'terminated' },
            reasonId: 'terminated',
          },
        ],
      },
    ],
  },
  onWarning: () => undefined,
});

const staff: AuthzSubject = { id: 'u7', roles: ['staff'], tenantId: 't1', email: 'pat@example.test' };
const record = (attrs: Record<string, unknown>): AuthzResource => ({ type: 'employees', id: '5', ...attrs });

describe('explain() on a default deny', () => {
  it('names the nearest allow rule and the condition that failed', () => {
    const x = engine.explain(
      staff,
      'employee:read',
      record({ tenantId: 't1', ownerId: 'u8', salary: 91000 }),
    );
    expect(x.decision.reasonId).toBe('default_deny');
    expect(x.nearest).toEqual({
      policyId: 'hr',
      ruleId: 'read-own',
      path: 'policies[0].rules[1]',
      failed: 'condition',
      condition: {
        path: 'policies[0].rules[1].when.all[1]',
        summary: 'resource.ownerId eq subject.id',
        why: 'false',
        actualType: 'string',
        expectedType: 'string',
      },
    });
    expect(x.summary).toBe(
      'deny by default: no allow rule matched; nearest hr/read-own failed at its condition (resource.ownerId eq subject.id: false)',
    );
  });

  it('says when an attribute the condition reads is missing (the loader did not provide it)', () => {
    const x = engine.explain(staff, 'employee:read', record({ ownerId: 'u7' }));
    expect(x.nearest?.condition).toMatchObject({
      summary: 'resource.tenantId eq subject.tenantId',
      why: 'missing',
    });
    expect(x.nearest?.condition?.actualType).toBe('undefined');
  });

  it('says when the two sides have types that never compare equal', () => {
    const x = engine.explain(staff, 'employee:read', record({ tenantId: 1, ownerId: 'u7' }));
    expect(x.nearest?.condition).toMatchObject({
      why: 'type_mismatch',
      actualType: 'number',
      expectedType: 'string',
    });
  });

  it('prefers a rule that failed later (condition over role over resource)', () => {
    // read-own fails at its condition for staff; read-team at its role: read-own is nearer.
    expect(engine.explain(staff, 'employee:read', record({})).nearest?.ruleId).toBe('read-own');
    // For employee:list only list-any names the action, and staff fails its role.
    expect(engine.explain(staff, 'employee:list', { type: 'employees' }).nearest).toMatchObject({
      ruleId: 'list-any',
      failed: 'role',
    });
    // No allow rule names the action at all: no nearest.
    expect(engine.explain(staff, 'employee:delete', record({})).nearest).toBeUndefined();
  });
});

describe('explainDenial()', () => {
  it('is undefined for an allow', () => {
    const x = engine.explain(staff, 'employee:read', record({ tenantId: 't1', ownerId: 'u7' }));
    expect(x.decision.allowed).toBe(true);
    expect(explainDenial(x)).toBeUndefined();
  });

  it('names the deny rule and its deciding condition', () => {
    const x = engine.explain(
      staff,
      'employee:read',
      record({ status: 'terminated', tenantId: 't1', ownerId: 'u7' }),
    );
    expect(explainDenial(x)).toEqual({
      reasonId: 'terminated',
      deniedBy: { policyId: 'hr', ruleId: 'no-terminated', condition: 'policies[0].rules[3].when' },
      summary: 'deny by hr/no-terminated',
    });
  });

  it('carries default_deny with the nearest rule, and no attribute value', () => {
    const denial = explainDenial(
      engine.explain(
        staff,
        'employee:read',
        record({ tenantId: 't1', ownerId: 'secret-owner-9', salary: 91000 }),
      ),
    );
    expect(denial?.reasonId).toBe('default_deny');
    expect(denial?.nearest?.ruleId).toBe('read-own');
    const text = JSON.stringify(denial);
    for (const value of ['secret-owner-9', '91000', 'pat@example.test', 't1', 'u7'])
      expect(text).not.toContain(value);
  });

  it('explains invalid_request without rules', () => {
    const denial = explainDenial(engine.explain({ id: 7, roles: [] } as never, 'employee:read', record({})));
    expect(denial).toMatchObject({ reasonId: 'invalid_request' });
    expect(denial?.nearest).toBeUndefined();
  });
});

describe("explainDenial(): why, classified with the engine's own id rule (review L2)", () => {
  const one = (when: ConditionDefinition) =>
    new PolicyEngine({
      policy: {
        version: 1,
        roles: { u: {} },
        policies: [
          {
            id: 'p',
            rules: [{ id: 'r', effect: 'allow', roles: ['u'], actions: 'read', resources: 'x/*', when }],
          },
        ],
      },
      onWarning: () => undefined,
    });
  const why = (
    when: ConditionDefinition,
    attrs: Record<string, unknown>,
    subject: AuthzSubject = { id: '42', roles: ['u'] },
  ) =>
    explainDenial(one(when).explain(subject, 'read', { type: 'x', id: '1', ...attrs } as AuthzResource))
      ?.nearest?.condition?.why;

  it.each([
    ['"042" never equals 42', { attr: 'resource.v', eq: 42 }, { v: '042' }, 'type_mismatch'],
    ['"-0" never equals 0', { attr: 'resource.v', eq: 0 }, { v: '-0' }, 'type_mismatch'],
    [
      'an unsafe integer string never equals a number',
      { attr: 'resource.v', eq: 1 },
      { v: '12345678901234567' },
      'type_mismatch',
    ],
    [
      '43 against "42": comparable ids that differ',
      { attr: 'resource.v', eq: { ref: 'subject.id' } },
      { v: 43 },
      'false',
    ],
    [
      'a string against a list of numbers',
      { attr: 'resource.status', in: [1, 2] },
      { status: 'active' },
      'type_mismatch',
    ],
    [
      '"3" against a list of numbers: comparable',
      { attr: 'resource.status', in: [1, 2] },
      { status: '3' },
      'false',
    ],
    [
      'a string against a list of strings',
      { attr: 'resource.status', in: ['a', 'b'] },
      { status: 'c' },
      'false',
    ],
    [
      'contains on a string that is not a list',
      { attr: 'resource.tags', contains: 'a' },
      { tags: 'a,b' },
      'type_mismatch',
    ],
    [
      'contains: numbers never hold a word',
      { attr: 'resource.tags', contains: 'a' },
      { tags: [1, 2] },
      'type_mismatch',
    ],
    [
      'a Date never equals a string',
      { attr: 'resource.at', eq: '2026-01-01T00:00:00Z' },
      { at: new Date(0) },
      'type_mismatch',
    ],
  ] as [string, ConditionDefinition, Record<string, unknown>, string][])(
    '%s: %s',
    (_name, when, attrs, expected) => {
      expect(why(when, attrs)).toBe(expected);
    },
  );
});
