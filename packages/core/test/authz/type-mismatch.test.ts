/**
 * Values of different types in conditions: ids compare equal across a safe integer and its decimal
 * string (equality only), anything else never matches, and every such comparison is reported once
 * per condition through `onWarning`, naming types, never values.
 */
import { BulwarkConfigError } from '../../src/errors';
import type { AuthzResource, AuthzSubject } from '../../src/authz/authorizer';
import type { ConditionDefinition } from '../../src/authz/policy-document';
import { PolicyEngine, type PolicyWarning } from '../../src/authz/policy-engine';
import { matchesScope } from '../../src/authz/query-scope';
import { createBulwark } from '../../src/composition/create-bulwark';

function engineWith(when: ConditionDefinition, warnings: PolicyWarning[] = []): PolicyEngine {
  return new PolicyEngine({
    policy: {
      version: 1,
      roles: { user: {} },
      policies: [
        {
          id: 'notes',
          rules: [
            { id: 'own', effect: 'allow', roles: ['user'], actions: 'read', resources: 'notes/*', when },
          ],
        },
      ],
    },
    onWarning: (w) => warnings.push(w),
  });
}

const alice: AuthzSubject = { id: '42', roles: ['user'], teams: ['7', '9'], email: 'alice@example.test' };
const note = (attrs: Record<string, unknown>): AuthzResource => ({ type: 'notes', id: 'n1', ...attrs });
const OWNER: ConditionDefinition = { attr: 'resource.ownerId', eq: { ref: 'subject.id' } };

describe('ids across number and string', () => {
  it('allows the owner when the stored owner id is a number and the principal id a string', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith(OWNER, warnings);
    expect(e.check(alice, 'read', note({ ownerId: 42 }))).toMatchObject({ allowed: true, ruleId: 'own' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      code: 'BULWARK_POLICY_TYPE_MISMATCH',
      policyId: 'notes',
      ruleId: 'own',
      path: 'policies[0].rules[0].when',
      condition: 'resource.ownerId eq subject.id',
      actualType: 'number',
      expectedType: 'string',
      coerced: true,
    });
  });

  it('still denies another owner, and the canonical form only: "042", " 42", "42.0", 4.2', () => {
    const e = engineWith(OWNER);
    expect(e.check(alice, 'read', note({ ownerId: 43 })).allowed).toBe(false);
    for (const id of ['042', ' 42', '42.0', '4.2e1']) {
      expect(
        engineWith({ attr: 'resource.ownerId', eq: 42 }).check(alice, 'read', note({ ownerId: id })).allowed,
      ).toBe(false);
    }
    expect(e.check({ ...alice, id: '4.2' }, 'read', note({ ownerId: 4.2 })).allowed).toBe(false);
    // Beyond 2^53 a number no longer names one id: never coerced.
    const big = 2 ** 53 + 2;
    expect(e.check({ ...alice, id: String(big) }, 'read', note({ ownerId: big })).allowed).toBe(false);
  });

  it('never coerces booleans', () => {
    expect(
      engineWith({ attr: 'resource.shared', eq: true }).check(alice, 'read', note({ shared: 'true' }))
        .allowed,
    ).toBe(false);
    expect(
      engineWith({ attr: 'resource.shared', eq: 'true' }).check(alice, 'read', note({ shared: true }))
        .allowed,
    ).toBe(false);
  });

  it('applies the same rule to ne, in, notIn and contains', () => {
    expect(
      engineWith({ attr: 'resource.ownerId', ne: { ref: 'subject.id' } }).check(
        alice,
        'read',
        note({ ownerId: 42 }),
      ).allowed,
    ).toBe(false);
    expect(
      engineWith({ attr: 'resource.ownerId', ne: { ref: 'subject.id' } }).check(
        alice,
        'read',
        note({ ownerId: 41 }),
      ).allowed,
    ).toBe(true);
    expect(
      engineWith({ attr: 'resource.teamId', in: { ref: 'subject.teams' } }).check(
        alice,
        'read',
        note({ teamId: 9 }),
      ).allowed,
    ).toBe(true);
    expect(
      engineWith({ attr: 'resource.teamId', notIn: { ref: 'subject.teams' } }).check(
        alice,
        'read',
        note({ teamId: 9 }),
      ).allowed,
    ).toBe(false);
    expect(
      engineWith({ attr: 'resource.teamId', in: ['7', '9'] }).check(alice, 'read', note({ teamId: 7 }))
        .allowed,
    ).toBe(true);
    expect(
      engineWith({ attr: 'resource.teamId', in: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }).check(
        alice,
        'read',
        note({ teamId: '7' }),
      ).allowed,
    ).toBe(true);
    expect(
      engineWith({ attr: 'subject.teams', contains: { ref: 'resource.teamId' } }).check(
        alice,
        'read',
        note({ teamId: 7 }),
      ).allowed,
    ).toBe(true);
    expect(
      engineWith({ attr: 'resource.tags', contains: 3 }).check(alice, 'read', note({ tags: ['3'] })).allowed,
    ).toBe(true);
  });

  it('never orders a string against a number, and says so', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith({ attr: 'resource.level', lte: 3 }, warnings);
    expect(e.check(alice, 'read', note({ level: '2' })).allowed).toBe(false);
    expect(e.check(alice, 'read', note({ level: 2 })).allowed).toBe(true);
    expect(warnings).toEqual([
      expect.objectContaining({ actualType: 'string', expectedType: 'number', coerced: false }),
    ]);
    const refs: PolicyWarning[] = [];
    const r = engineWith({ attr: 'resource.level', lt: { ref: 'subject.clearance' } }, refs);
    expect(r.check({ ...alice, clearance: '5' }, 'read', note({ level: 2 })).allowed).toBe(false);
    expect(refs).toHaveLength(1);
  });

  it('keeps instants comparable without a warning (a Date against an ISO string)', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith({ attr: 'resource.expiresAt', gt: '2026-01-01T00:00:00Z' }, warnings);
    expect(e.check(alice, 'read', note({ expiresAt: new Date('2027-01-01T00:00:00Z') })).allowed).toBe(true);
    expect(warnings).toEqual([]);
  });
});

describe('type-mismatch warnings', () => {
  it('warns once per condition and type pair, however many requests meet it, and again after load()', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith(OWNER, warnings);
    for (let i = 0; i < 5; i++) e.check(alice, 'read', note({ ownerId: 40 + i }));
    // 40, 41, 43, 44: unequal (one warning); 42: equal as ids (one coerced note).
    expect(warnings.map((w) => w.coerced)).toEqual([false, true]);
    e.load(e.policy);
    e.check(alice, 'read', note({ ownerId: 42 }));
    expect(warnings).toHaveLength(3);
    expect(warnings[2].coerced).toBe(true);
  });

  it('a coerced note does not hide a later real mismatch on the same condition', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith(OWNER, warnings);
    expect(e.check(alice, 'read', note({ ownerId: 42 })).allowed).toBe(true);
    expect(e.check(alice, 'read', note({ ownerId: true })).allowed).toBe(false);
    expect(e.check(alice, 'read', note({ ownerId: false })).allowed).toBe(false);
    expect(warnings.map((w) => [w.actualType, w.expectedType, w.coerced])).toEqual([
      ['number', 'string', true],
      ['boolean', 'string', false],
    ]);
  });

  it('names types and the condition as written, never the values compared', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith({ attr: 'resource.ownerEmail', eq: { ref: 'subject.email' } }, warnings);
    e.check(alice, 'read', note({ ownerEmail: 12345 }));
    expect(warnings).toHaveLength(1);
    const text = JSON.stringify(warnings[0]);
    expect(text).not.toContain('alice@example.test');
    expect(text).not.toContain('12345');
    expect(warnings[0].message).toMatch(/compared a number with a string/);
  });

  it('says nothing when the types agree or an attribute is missing', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith(OWNER, warnings);
    e.check(alice, 'read', note({ ownerId: '42' }));
    e.check(alice, 'read', note({ ownerId: '7' }));
    e.check(alice, 'read', note({}));
    e.check(alice, 'read', note({ ownerId: null }));
    expect(warnings).toEqual([]);
  });

  it('a throwing listener does not change the decision', () => {
    const e = new PolicyEngine({
      policy: engineWith(OWNER).policy,
      onWarning: () => {
        throw new Error('listener down');
      },
    });
    expect(e.check(alice, 'read', note({ ownerId: 42 })).allowed).toBe(true);
  });

  it('goes to process warnings by default, with its code', () => {
    const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const e = new PolicyEngine({ policy: engineWith(OWNER).policy });
      e.check(alice, 'read', note({ ownerId: 42 }));
      e.check(alice, 'read', note({ ownerId: 42 }));
      expect(emit).toHaveBeenCalledTimes(1);
      expect(emit.mock.calls[0][1]).toEqual({ code: 'BULWARK_POLICY_TYPE_MISMATCH' });
    } finally {
      emit.mockRestore();
    }
  });

  it('refuses an onWarning that is not a function', () => {
    expect(() => new PolicyEngine({ policy: engineWith(OWNER).policy, onWarning: 'log' as never })).toThrow(
      BulwarkConfigError,
    );
  });
});

describe('query scopes agree with check()', () => {
  it('matches a numeric owner column against the string principal id', () => {
    const e = engineWith(OWNER);
    const scope = e.queryScope(alice, 'read', 'notes');
    expect(matchesScope(scope, { id: 'n1', ownerId: 42 })).toBe(true);
    expect(matchesScope(scope, { id: 'n1', ownerId: '42' })).toBe(true);
    expect(matchesScope(scope, { id: 'n1', ownerId: 43 })).toBe(false);
    expect(matchesScope(scope, { id: 'n1', ownerId: '042' })).toBe(false);
  });
});

describe('createBulwark({ authz: { onWarning } })', () => {
  it('hands the engine the listener, and refuses one that is not a function', async () => {
    const warnings: PolicyWarning[] = [];
    const kit = await createBulwark({
      authz: { policy: engineWith(OWNER).policy, onWarning: (w) => warnings.push(w) },
    });
    try {
      expect(kit.policyEngine!.check(alice, 'read', note({ ownerId: 42 })).allowed).toBe(true);
      expect(warnings).toEqual([expect.objectContaining({ ruleId: 'own', coerced: true })]);
    } finally {
      await kit.close();
    }
    await expect(
      createBulwark({ authz: { policy: engineWith(OWNER).policy, onWarning: 'log' as never } }),
    ).rejects.toThrow(/authz\.onWarning/);
  });
});

describe('the warning covers the shapes that silently deny (review M3)', () => {
  const rows: [string, ConditionDefinition, AuthzSubject, Record<string, unknown>, string, string][] = [
    [
      'a BigInt id (Prisma / pg bigint) against a string id',
      OWNER,
      alice,
      { ownerId: BigInt(42) },
      'bigint',
      'string',
    ],
    [
      'a relation object the loader returned instead of its id',
      { attr: 'resource.owner', eq: { ref: 'subject.id' } },
      alice,
      { owner: { id: 42 } },
      'object',
      'string',
    ],
    [
      'a Date against an ISO string',
      { attr: 'resource.at', eq: { ref: 'subject.at' } },
      { ...alice, at: '2026-01-01T00:00:00Z' },
      { at: new Date('2026-01-01T00:00:00Z') },
      'date',
      'string',
    ],
    [
      'in: a comma-separated string where a list belongs',
      { attr: 'resource.team', in: { ref: 'subject.teams' } },
      { ...alice, teams: '7,9' },
      { team: '7' },
      'string',
      'string',
    ],
    [
      'contains: a comma-separated string where a list belongs',
      { attr: 'subject.teams', contains: { ref: 'resource.team' } },
      { ...alice, teams: '7,9' },
      { team: '7' },
      'string',
      'string',
    ],
    [
      'ordering: a `date` column string against an instant',
      { attr: 'resource.embargoUntil', lt: '2030-01-01T00:00:00Z' },
      alice,
      { embargoUntil: '2026-06-01' },
      'string',
      'instant',
    ],
  ];

  it.each(rows)('%s: denies and warns', (_name, when, subject, attrs, actualType, expectedType) => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith(when, warnings);
    expect(e.check(subject, 'read', note(attrs))).toMatchObject({ allowed: false, reasonId: 'default_deny' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ actualType, expectedType, coerced: false });
    expect(JSON.stringify(warnings[0])).not.toMatch(/7,9|2026-06-01|alice@/);
  });

  it('the reverse order of a relation object warns too (symmetric)', () => {
    const warnings: PolicyWarning[] = [];
    const e = engineWith({ attr: 'resource.owner', eq: { ref: 'subject.id' } }, warnings);
    const f = engineWith({ attr: 'subject.id', eq: { ref: 'resource.owner' } }, warnings);
    e.check(alice, 'read', note({ owner: { id: 42 } }));
    f.check(alice, 'read', note({ owner: { id: 42 } }));
    expect(warnings.map((w) => [w.actualType, w.expectedType].sort())).toEqual([
      ['object', 'string'],
      ['object', 'string'],
    ]);
  });
});
