import fc from 'fast-check';
import {
  BulwarkPolicyError,
  ErrorCodes,
  PolicyEngine,
  matchesScope,
  type ConditionDefinition,
  type PolicyDocument,
} from '../../src';

function engineWith(rules: PolicyDocument['policies'][number]['rules']): PolicyEngine {
  return new PolicyEngine({
    policy: { version: 1, roles: { user: {}, admin: {} }, policies: [{ id: 'p', rules }] },
  });
}

const own: ConditionDefinition = { attr: 'resource.ownerId', eq: { ref: 'subject.id' } };
const tenant: ConditionDefinition = { attr: 'resource.tenantId', eq: { ref: 'subject.tenantId' } };

describe('PolicyEngine.queryScope', () => {
  it('turns ownership and tenant conditions into a predicate with the subject resolved', () => {
    const engine = engineWith([
      { id: 'own', effect: 'allow', roles: ['user'], actions: ['read'], resources: ['notes/*'], when: own },
      {
        id: 'tenant',
        effect: 'allow',
        roles: ['admin'],
        actions: ['read'],
        resources: ['notes/*'],
        when: tenant,
      },
      {
        id: 'archived',
        effect: 'deny',
        roles: ['*'],
        actions: ['read'],
        resources: ['notes/*'],
        when: { attr: 'resource.status', eq: 'archived' },
      },
    ]);
    expect(engine.queryScope({ id: 'u1', roles: ['user'] }, 'read', 'notes')).toEqual({
      kind: 'and',
      nodes: [
        {
          kind: 'and',
          nodes: [
            { kind: 'present', attribute: 'id' },
            { kind: 'compare', attribute: 'ownerId', op: 'eq', value: 'u1' },
          ],
        },
        {
          kind: 'not',
          node: {
            kind: 'and',
            nodes: [
              { kind: 'present', attribute: 'id' },
              { kind: 'compare', attribute: 'status', op: 'eq', value: 'archived' },
            ],
          },
        },
      ],
    });
    // An admin of no tenant sees nothing (a missing attribute never matches).
    const none = engine.queryScope({ id: 'a', roles: ['admin'] }, 'read', 'notes');
    expect(matchesScope(none, { id: 1, tenantId: 't1' })).toBe(false);
    expect(engine.queryScope({ id: 'x', roles: [] }, 'read', 'notes')).toEqual({ kind: 'false' });
  });

  it('fails closed with ERR_POLICY_UNTRANSLATABLE for a condition a query cannot express', () => {
    const engine = engineWith([
      {
        id: 'tags',
        effect: 'allow',
        roles: ['user'],
        actions: ['read'],
        resources: ['notes/*'],
        when: { attr: 'resource.tags', contains: 'public' },
      },
    ]);
    let error: unknown;
    try {
      engine.queryScope({ id: 'u1', roles: ['user'] }, 'read', 'notes');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BulwarkPolicyError);
    expect(error).toMatchObject({
      code: ErrorCodes.POLICY_UNTRANSLATABLE,
      details: { path: 'policies[0].rules[0].when' },
    });
  });

  it('refuses a Date comparison rather than dropping a deny (ERR_POLICY_UNTRANSLATABLE)', () => {
    const engine = engineWith([
      { id: 'all', effect: 'allow', roles: ['user'], actions: ['read'], resources: ['notes/*'] },
      {
        id: 'embargo',
        effect: 'deny',
        roles: ['*'],
        actions: ['read'],
        resources: ['notes/*'],
        when: { attr: 'resource.publishedAt', gt: { ref: 'context.cutoff' } },
      },
    ]);
    const cutoff = new Date('2026-01-01T00:00:00Z');
    expect(() => engine.queryScope({ id: 'u1', roles: ['user'] }, 'read', 'notes', { cutoff })).toThrow(
      expect.objectContaining({ code: ErrorCodes.POLICY_UNTRANSLATABLE }),
    );
  });

  // The scope must select exactly the rows check() allows, for any policy and any row.
  const conditionArb = fc.constantFrom<ConditionDefinition>(
    own,
    tenant,
    { attr: 'resource.level', lte: { ref: 'subject.level' } },
    { attr: 'resource.level', in: [0, 2] },
    { attr: 'resource.level', notIn: [1] },
    { attr: 'resource.ownerId', ne: { ref: 'subject.id' } },
    { attr: 'subject.id', eq: { ref: 'resource.ownerId' } },
    { attr: 'subject.groups', contains: { ref: 'resource.group' } },
    { attr: 'resource.ownerId', exists: false },
    { attr: 'resource.ownerId', eq: { ref: 'resource.createdBy' } },
    { attr: 'subject.level', gt: 1 },
    { mfaVerified: true },
    { not: { attr: 'resource.status', eq: 'archived' } },
    { any: [own, { all: [tenant, { attr: 'resource.level', gt: 1 }] }] },
  );
  const ruleArb = fc.record({
    effect: fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
    roles: fc.constantFrom(['user'], ['admin'], ['*']),
    resources: fc.constantFrom(['notes'], ['notes/*'], ['notes/1', 'notes/3'], ['*']),
    when: fc.option(conditionArb, { nil: undefined }),
  });
  const value = fc.option(
    fc.constantFrom<string | number>('u1', 'u2', 't1', 't2', 'g1', 'archived', 0, 1, 2, 3),
    {
      nil: undefined,
    },
  );
  const rowArb = fc.record({
    id: fc.constantFrom('1', '2', '3'),
    ownerId: value,
    createdBy: value,
    tenantId: value,
    level: value,
    status: value,
    group: value,
  });
  const subjectArb = fc.record({
    id: fc.constantFrom('u1', 'u2'),
    roles: fc.subarray(['user', 'admin']),
    tenantId: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
    level: fc.option(fc.constantFrom(0, 1, 2, 3), { nil: undefined }),
    groups: fc.constantFrom([], ['g1'], ['g1', 'g2']),
  });

  it('selects exactly the rows check() allows (property)', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 5 }),
        subjectArb,
        fc.array(rowArb, { maxLength: 8 }),
        fc.boolean(),
        (rules, subject, rows, mfaVerified) => {
          const engine = engineWith(
            rules.map((r, i) => ({
              id: `r${i}`,
              actions: ['read'],
              ...r,
              ...(r.when ? {} : { when: undefined }),
            })),
          );
          const context = { mfaVerified };
          const scope = engine.queryScope(subject, 'read', 'notes', context);
          for (const row of rows) {
            const allowed = engine.check(subject, 'read', { type: 'notes', ...row }, context).allowed;
            expect(matchesScope(scope, row)).toBe(allowed);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('matchesScope and check() on notIn with an attribute that is not a value (review L3)', () => {
  it.each([[['a']], [Number.NaN], [{ x: 1 }]])('attribute %p: in no list and not "not in" one', (level) => {
    for (const effect of ['allow', 'deny'] as const) {
      const rules: PolicyDocument['policies'][number]['rules'][number][] = [
        {
          id: 'r',
          effect,
          roles: ['user'],
          actions: ['read'],
          resources: ['notes/*'],
          when: { attr: 'resource.level', notIn: [1] },
        },
      ];
      if (effect === 'deny')
        rules.push({
          id: 'all',
          effect: 'allow',
          roles: ['user'],
          actions: ['read'],
          resources: ['notes/*'],
        });
      const engine = new PolicyEngine({
        policy: { version: 1, roles: { user: {} }, policies: [{ id: 'p', rules }] },
        onWarning: () => undefined,
      });
      const subject = { id: 'u1', roles: ['user'] };
      const row = { id: '1', level };
      expect([effect, matchesScope(engine.queryScope(subject, 'read', 'notes'), row)]).toEqual([
        effect,
        engine.check(subject, 'read', { type: 'notes', ...row }).allowed,
      ]);
    }
  });
});
