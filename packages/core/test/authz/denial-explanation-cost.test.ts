/**
 * A denial's explanation costs what the request's own rules cost, not the policy's size (review
 * M1): only the rules of the request's (type, action) bucket are looked at, at most
 * DENIAL_TRACE_LIMIT allow rules are traced, and the HTTP kernel computes it only when a 403 body
 * or an audit entry reads it. The work is counted (attribute reads), never timed.
 */
import type { AuthzResource, AuthzSubject } from '../../src/authz/authorizer';
import { explainDenial } from '../../src/authz/denial-explanation';
import type { RuleDefinition } from '../../src/authz/policy-document';
import { DENIAL_TRACE_LIMIT, PolicyEngine } from '../../src/authz/policy-engine';
import { authorizeRequest } from '../../src/http/authorize-request';
import { BulwarkPolicyError } from '../../src/errors';

const alice: AuthzSubject = { id: '42', roles: ['user'] };

/** A resource whose `ownerId` counts its reads: one read per traced condition. */
function countingNote(ownerId: unknown): { resource: AuthzResource; reads: () => number } {
  let reads = 0;
  const resource = { type: 'notes', id: 'n1' } as AuthzResource & { ownerId: unknown };
  Object.defineProperty(resource, 'ownerId', {
    enumerable: true,
    get: () => {
      reads++;
      return ownerId;
    },
  });
  return { resource, reads: () => reads };
}

function engineOf(rules: RuleDefinition[]): PolicyEngine {
  return new PolicyEngine({
    policy: { version: 1, roles: { user: {}, admin: {} }, policies: [{ id: 'p', rules }] },
    onWarning: () => undefined,
  });
}

const own = (i: number, action: string): RuleDefinition => ({
  id: `own-${i}`,
  effect: 'allow',
  roles: ['user'],
  actions: action,
  resources: 'notes/*',
  when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
});

describe('PolicyEngine.denialExplanation()', () => {
  it('traces only the rules of the request action: 1,000 rules of other actions cost nothing', () => {
    const rules = [own(0, 'read'), ...Array.from({ length: 1000 }, (_, i) => own(i + 1, `other:${i}`))];
    const e = engineOf(rules);
    const { resource, reads } = countingNote('7');
    expect(e.check(alice, 'read', resource).allowed).toBe(false);
    const before = reads();
    const denial = e.denialExplanation(alice, 'read', resource);
    expect(denial?.nearest).toMatchObject({ ruleId: 'own-0', failed: 'condition' });
    // The one read rule: evaluated, then traced (its test and its value): 3 reads, not 1,000.
    expect(reads() - before).toBeLessThanOrEqual(3);
    // explain() still traces every rule: that is its job (and why the adapters do not call it).
    const all = countingNote('7');
    e.explain(alice, 'read', all.resource);
    expect(all.reads()).toBeGreaterThanOrEqual(2);
    expect(e.explain(alice, 'read', all.resource).rules).toHaveLength(1001);
  });

  it(`traces at most ${DENIAL_TRACE_LIMIT} allow rules of one bucket, and says so`, () => {
    const e = engineOf(Array.from({ length: 1000 }, (_, i) => own(i, 'read')));
    const { resource, reads } = countingNote('7');
    const denial = e.denialExplanation(alice, 'read', resource)!;
    const traced = reads();
    e.check(alice, 'read', resource);
    const perCheck = reads() - traced; // 1000: check() itself tries every rule once
    expect(perCheck).toBe(1000);
    // evaluation (1000 reads, as check()) + at most 3 per traced rule (test, value)
    expect(traced - perCheck).toBeLessThanOrEqual(2 * DENIAL_TRACE_LIMIT + 1);
    expect(denial.nearest).toMatchObject({ ruleId: 'own-0', failed: 'condition' });
    expect(denial.summary).toContain(`nearest among the first ${DENIAL_TRACE_LIMIT} allow rules`);
  });

  it('says what explainDenial(explain()) says on the same requests', () => {
    const e = engineOf([
      { id: 'list', effect: 'allow', roles: ['admin'], actions: 'list', resources: 'notes' },
      own(1, 'read'),
      { id: 'other-type', effect: 'allow', roles: ['user'], actions: 'edit', resources: 'files/*' },
      { id: 'one', effect: 'allow', roles: ['user'], actions: 'edit', resources: 'notes/n9' },
      {
        id: 'no-archived',
        effect: 'deny',
        roles: ['*'],
        actions: '*',
        resources: 'notes/*',
        when: { attr: 'resource.state', eq: 'archived' },
        reasonId: 'archived',
      },
      { id: 'admin-all', effect: 'allow', roles: ['admin'], actions: 'read', resources: 'notes/*' },
    ]);
    const cases: [string, AuthzResource][] = [
      ['read', { type: 'notes', id: 'n1', ownerId: '7' } as AuthzResource],
      ['read', { type: 'notes', id: 'n1', ownerId: 42 } as AuthzResource],
      ['read', { type: 'notes', id: 'n1', ownerId: '42', state: 'archived' } as AuthzResource],
      ['edit', { type: 'notes', id: 'n1' }],
      ['edit', { type: 'files' }],
      ['list', { type: 'notes' }],
      ['delete', { type: 'notes', id: 'n1' }],
      ['read', { type: 'notes', id: { bad: true } as unknown as string }],
    ];
    for (const [action, resource] of cases) {
      expect([action, e.denialExplanation(alice, action, resource)]).toEqual([
        action,
        explainDenial(e.explain(alice, action, resource)),
      ]);
    }
  });
});

describe('authorizeRequest(): the explanation is computed only when read', () => {
  it('a deny nobody explains or audits traces nothing; reading it computes it once', async () => {
    let calls = 0;
    const e = engineOf([own(1, 'read')]);
    const authorizer = {
      check: e.check.bind(e),
      denialExplanation: (...args: Parameters<PolicyEngine['denialExplanation']>) => {
        calls++;
        return e.denialExplanation(...args);
      },
    };
    const principal = { id: '42', roles: ['user'], type: 'user' as const, claims: { sub: '42' } };
    const error = await authorizeRequest(
      authorizer,
      principal,
      'read',
      { type: 'notes', id: 'n1', ownerId: '7' } as AuthzResource,
      undefined,
      { explainDenials: false },
    ).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BulwarkPolicyError);
    expect(calls).toBe(0);
    const denial = (error as BulwarkPolicyError).details!.denial as { nearest?: unknown; reasonId: string };
    expect(denial.reasonId).toBe('default_deny');
    expect(denial.nearest).toMatchObject({ ruleId: 'own-1', failed: 'condition' });
    expect(calls).toBe(1);
    expect(JSON.parse(JSON.stringify(denial))).toMatchObject({ reasonId: 'default_deny' });
    expect(calls).toBe(1);
  });
});
