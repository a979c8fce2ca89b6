import fc from 'fast-check';
import type { AuthzContext, AuthzResource, AuthzSubject } from '../../src/authz/authorizer';
import type { ConditionDefinition, PolicyDocument, RuleDefinition } from '../../src/authz/policy-document';
import { PolicyEngine } from '../../src/authz/policy-engine';

const ROLES = { a: {}, b: { inherits: ['a'] }, c: {}, d: { inherits: ['b', 'c'] } };
const ROLE_NAMES = Object.keys(ROLES);

const conditionArb: fc.Arbitrary<ConditionDefinition> = fc.constantFrom<ConditionDefinition>(
  { attr: 'resource.level', lte: { ref: 'subject.level' } },
  { attr: 'resource.owner', eq: { ref: 'subject.id' } },
  { attr: 'resource.level', in: [0, 2] },
  { mfaVerified: true },
  { not: { attr: 'resource.level', gt: 2 } },
  { ip: ['10.0.0.0/8', '2001:db8::/32'] },
  { any: [{ attr: 'resource.owner', exists: false }, { mfaVerified: false }] },
);

const ruleArb = (effect: fc.Arbitrary<'allow' | 'deny'>): fc.Arbitrary<Omit<RuleDefinition, 'id'>> =>
  fc.record(
    {
      effect,
      roles: fc.oneof(fc.constant(['*']), fc.subarray(ROLE_NAMES, { minLength: 1 })),
      actions: fc.subarray(['read', 'write', 'x:*', '*', 'x:read'], { minLength: 1 }),
      resources: fc.subarray(['docs', 'docs/*', 'docs/1', 'img', '*'], { minLength: 1 }),
      when: conditionArb,
    },
    { requiredKeys: ['effect', 'roles', 'actions', 'resources'] },
  );

const docArb: fc.Arbitrary<PolicyDocument> = fc
  .array(fc.array(ruleArb(fc.constantFrom('allow', 'deny')), { maxLength: 6 }), {
    minLength: 1,
    maxLength: 3,
  })
  .chain((policies) =>
    fc.array(fc.boolean(), { minLength: policies.length, maxLength: policies.length }).map((proof) => ({
      version: 1 as const,
      roles: ROLES,
      policies: policies.map((rules, p) => ({
        id: `p${p}`,
        breakGlassProof: proof[p],
        rules: rules.map((r, i) => ({ ...r, id: `r${i}` })),
      })),
    })),
  );

type Request = [AuthzSubject, string, AuthzResource, AuthzContext];
const requestArb: fc.Arbitrary<Request> = fc.tuple(
  fc.record({
    id: fc.constantFrom('u1', 'u2'),
    roles: fc.subarray([...ROLE_NAMES, 'unknown']),
    level: fc.integer({ min: 0, max: 3 }),
  }),
  fc.constantFrom('read', 'write', 'x:read', 'x:y', 'other'),
  fc.record(
    {
      type: fc.constantFrom('docs', 'img'),
      id: fc.constantFrom('1', '2'),
      owner: fc.constantFrom('u1', 'u2'),
      level: fc.integer({ min: 0, max: 3 }),
    },
    { requiredKeys: ['type'] },
  ),
  fc.record(
    { mfaVerified: fc.boolean(), ip: fc.constantFrom('10.1.2.3', '192.0.2.1', '2001:db8::1') },
    { requiredKeys: [] },
  ),
);

const RUNS = { numRuns: 200 };

describe('PolicyEngine properties', () => {
  it('adding a deny rule never turns a deny into an allow (and never adds an allow)', () => {
    fc.assert(
      fc.property(
        docArb,
        ruleArb(fc.constant('deny')),
        fc.nat(),
        fc.array(requestArb, { minLength: 1, maxLength: 20 }),
        (doc, deny, at, requests) => {
          const policies = doc.policies.map((p) => ({ ...p, rules: [...p.rules] }));
          const target = policies[at % policies.length];
          target.rules.splice(at % (target.rules.length + 1), 0, { ...deny, id: 'added-deny' });
          const before = new PolicyEngine({ policy: doc });
          const after = new PolicyEngine({ policy: { ...doc, policies } });
          for (const q of requests) {
            if (after.check(...q).allowed) expect(before.check(...q).allowed).toBe(true);
          }
        },
      ),
      RUNS,
    );
  });

  it('without allow rules everything is denied by default', () => {
    fc.assert(
      fc.property(docArb, fc.array(requestArb, { minLength: 1, maxLength: 20 }), (doc, requests) => {
        const denyOnly = new PolicyEngine({
          policy: {
            ...doc,
            policies: doc.policies.map((p) => ({ ...p, rules: p.rules.filter((r) => r.effect === 'deny') })),
          },
        });
        for (const q of requests) {
          const d = denyOnly.check(...q);
          expect(d.allowed).toBe(false);
          expect(d.effect).toBe('deny');
        }
      }),
      RUNS,
    );
  });

  it('explain() reaches exactly the decision check() returns', () => {
    fc.assert(
      fc.property(docArb, fc.array(requestArb, { minLength: 1, maxLength: 20 }), (doc, requests) => {
        const engine = new PolicyEngine({ policy: doc });
        for (const q of requests) {
          const d = engine.check(...q);
          const x = engine.explain(...q);
          expect(x.decision).toEqual(d);
          if (d.ruleId !== undefined)
            expect(x.decidedBy).toMatchObject({ policyId: d.policyId, ruleId: d.ruleId });
        }
      }),
      RUNS,
    );
  });

  it('the cached index gives the same decisions as an engine without an index cache', () => {
    fc.assert(
      fc.property(docArb, fc.array(requestArb, { minLength: 1, maxLength: 30 }), (doc, requests) => {
        const cached = new PolicyEngine({ policy: doc });
        const uncached = new PolicyEngine({ policy: doc, indexSize: 1, roleCacheSize: 1 });
        for (const q of [...requests, ...requests]) expect(cached.check(...q)).toEqual(uncached.check(...q));
      }),
      RUNS,
    );
  });
});
