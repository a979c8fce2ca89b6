import { parsePolicyText } from '../../src/authz/parse-policy-text';
import { PolicyEngine } from '../../src/authz/policy-engine';
import { validatePolicyDocument } from '../../src/authz/validate-policy-document';
import { BulwarkPolicyError, ErrorCodes } from '../../src/errors';
import { clinicPolicy, records, users } from './authz-helpers';

/** A document with one rule whose fields are overridden by `rule`, inside the 4th policy. */
function withRule(rule: Record<string, unknown>, roles: Record<string, unknown> = { user: {} }): unknown {
  const filler = (id: string) => ({ id, rules: [] });
  return {
    version: 1,
    roles,
    policies: [
      filler('p0'),
      filler('p1'),
      filler('p2'),
      {
        id: 'p3',
        rules: [
          {
            id: 'r0',
            effect: 'allow',
            roles: ['user'],
            actions: ['read'],
            resources: ['records/*'],
            ...rule,
          },
        ],
      },
    ],
  };
}

function policyError(fn: () => unknown): BulwarkPolicyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkPolicyError);
    return err as BulwarkPolicyError;
  }
  throw new Error('expected a BulwarkPolicyError, nothing was thrown');
}

const R = 'policies[3].rules[0]';

describe('validatePolicyDocument: every kind of mistake is an error naming its path', () => {
  it.each([
    // [kind, document, path, message fragment]
    [
      'bad CIDR (the issue example)',
      withRule({ when: { ip: '10.0.0.0/33' } }),
      `${R}.when.ip`,
      `${R}.when.ip: "10.0.0.0/33" is not a CIDR`,
    ],
    [
      'bad IPv6 CIDR in a list',
      withRule({ when: { ip: ['10.0.0.0/8', '2001:db8::/129'] } }),
      `${R}.when.ip[1]`,
      'is not a CIDR',
    ],
    [
      'CIDR with a leading-zero prefix',
      withRule({ when: { ip: '10.0.0.0/08' } }),
      `${R}.when.ip`,
      'is not a CIDR',
    ],
    ['not an address', withRule({ when: { ip: 'intranet' } }), `${R}.when.ip`, 'is not a CIDR'],
    [
      'unknown time zone',
      withRule({ when: { timeWindow: { start: '08:00', end: '18:00', timeZone: 'Mars/Olympus' } } }),
      `${R}.when.timeWindow.timeZone`,
      'is not an IANA time zone',
    ],
    [
      'bad clock time',
      withRule({ when: { timeWindow: { start: '8am', end: '18:00', timeZone: 'UTC' } } }),
      `${R}.when.timeWindow.start`,
      'is not a HH:MM time',
    ],
    [
      'empty time window',
      withRule({ when: { timeWindow: { start: '08:00', end: '08:00', timeZone: 'UTC' } } }),
      `${R}.when.timeWindow`,
      'start and end are equal',
    ],
    [
      'bad weekday',
      withRule({ when: { timeWindow: { days: ['monday'], start: '08:00', end: '18:00', timeZone: 'UTC' } } }),
      `${R}.when.timeWindow.days[0]`,
      'is not one of',
    ],
    [
      'unknown field in a rule (typo of when)',
      withRule({ wehn: { mfaVerified: true } }),
      `${R}.wehn`,
      'unknown field',
    ],
    ['unknown top-level field', { version: 1, policies: [], extra: true }, 'extra', 'unknown field'],
    [
      'unknown policy field',
      { version: 1, policies: [{ id: 'p', rules: [], priority: 1 }] },
      'policies[0].priority',
      'unknown field',
    ],
    [
      'unknown operator',
      withRule({ when: { attr: 'resource.name', like: 'a%' } }),
      `${R}.when.like`,
      'unknown field',
    ],
    ['operator without attr', withRule({ when: { eq: 'x' } }), `${R}.when`, 'operator eq needs an attr'],
    [
      'unknown condition kind',
      withRule({ when: { weekday: 'mon' } }),
      `${R}.when.weekday`,
      'unknown condition or operator',
    ],
    [
      'two operators in one condition',
      withRule({ when: { attr: 'resource.a', eq: 1, ne: 2 } }),
      `${R}.when`,
      'exactly one operator',
    ],
    [
      'two kinds in one condition',
      withRule({ when: { mfaVerified: true, ip: '10.0.0.0/8' } }),
      `${R}.when`,
      'combine them with all / any',
    ],
    ['empty condition', withRule({ when: {} }), `${R}.when`, 'is empty'],
    [
      'nested bad operand',
      withRule({
        when: { all: [{ attr: 'resource.a', eq: 1 }, { not: { attr: 'resource.b', lt: 'yesterday' } }] },
      }),
      `${R}.when.all[1].not.lt`,
      'is not a number or an ISO-8601 time',
    ],
    [
      'in with a non-list',
      withRule({ when: { attr: 'resource.a', in: 'abc' } }),
      `${R}.when.in`,
      'must be an array',
    ],
    ['eq with a list', withRule({ when: { attr: 'resource.a', eq: ['a'] } }), `${R}.when.eq`, 'not a list'],
    ['null literal', withRule({ when: { attr: 'resource.a', eq: null } }), `${R}.when.eq`, 'exists: false'],
    [
      'unknown field next to ref',
      withRule({ when: { attr: 'resource.a', eq: { ref: 'subject.id', x: 1 } } }),
      `${R}.when.eq.x`,
      'unknown field',
    ],
    [
      'attribute path with a bad root',
      withRule({ when: { attr: 'user.id', exists: true } }),
      `${R}.when.attr`,
      'is not an attribute path',
    ],
    [
      'attribute path into the prototype',
      withRule({ when: { attr: 'resource.a', eq: { ref: 'subject.__proto__.polluted' } } }),
      `${R}.when.eq.ref`,
      'is not an attribute path',
    ],
    [
      'exists with a non-boolean',
      withRule({ when: { attr: 'resource.a', exists: 'yes' } }),
      `${R}.when.exists`,
      'true or false',
    ],
    [
      'mfaVerified with a non-boolean',
      withRule({ when: { mfaVerified: 'true' } }),
      `${R}.when.mfaVerified`,
      'true or false',
    ],
    [
      'conditions nested too deep',
      withRule({
        when: Array.from({ length: 20 }).reduce<unknown>((c) => ({ not: c }), { mfaVerified: true }),
      }),
      `${R}.when${'.not'.repeat(17)}`,
      'nest deeper',
    ],
    [
      'unknown role in a rule',
      withRule({ roles: ['superuser'] }),
      `${R}.roles[0]`,
      'unknown role "superuser"',
    ],
    ['"*" mixed with roles', withRule({ roles: ['*', 'user'] }), `${R}.roles`, 'must be the only entry'],
    ['missing roles', withRule({ roles: undefined }), `${R}.roles`, 'is required'],
    [
      'unknown inherited role',
      { version: 1, roles: { doctor: { inherits: ['nurse'] } }, policies: [] },
      'roles.doctor.inherits[0]',
      'unknown role "nurse"',
    ],
    [
      'role inheriting itself',
      { version: 1, roles: { a: { inherits: ['a'] } }, policies: [] },
      'roles.a.inherits[0]',
      'inherits itself',
    ],
    [
      'role inheritance cycle',
      {
        version: 1,
        roles: { a: { inherits: ['b'] }, b: { inherits: ['c'] }, c: { inherits: ['a'] } },
        policies: [],
      },
      'roles.c.inherits',
      'cycle a -> b -> c -> a',
    ],
    [
      'bad role name',
      { version: 1, roles: { 'bad role': {} }, policies: [] },
      'roles.bad role',
      'is not a role name',
    ],
    [
      'regex in an action pattern',
      withRule({ actions: ['patient:(a+)+$'] }),
      `${R}.actions[0]`,
      'is not an action pattern',
    ],
    [
      'partial wildcard in an action',
      withRule({ actions: ['pat*'] }),
      `${R}.actions[0]`,
      'is not an action pattern',
    ],
    [
      'wildcard in the middle of an action',
      withRule({ actions: ['*:read'] }),
      `${R}.actions[0]`,
      'is not an action pattern',
    ],
    [
      'regex in a resource pattern',
      withRule({ resources: ['records/.*'] }),
      `${R}.resources[0]`,
      'is not a resource pattern',
    ],
    [
      'double wildcard resource',
      withRule({ resources: ['records/**'] }),
      `${R}.resources[0]`,
      'is not a resource pattern',
    ],
    ['empty actions', withRule({ actions: [] }), `${R}.actions`, 'must not be empty'],
    ['bad effect', withRule({ effect: 'permit' }), `${R}.effect`, 'must be "allow" or "deny"'],
    ['bad reasonId', withRule({ reasonId: 'Policy internals here' }), `${R}.reasonId`, 'is not a reason id'],
    ['bad rule id', withRule({ id: '' }), `${R}.id`, 'is not a rule id'],
    [
      'duplicate rule id',
      {
        version: 1,
        roles: { u: {} },
        policies: [
          {
            id: 'p',
            rules: [
              { id: 'r', effect: 'allow', roles: ['u'], actions: 'a', resources: 'b' },
              { id: 'r', effect: 'deny', roles: ['u'], actions: 'a', resources: 'b' },
            ],
          },
        ],
      },
      'policies[0].rules[1].id',
      'duplicate rule id',
    ],
    [
      'duplicate policy id',
      {
        version: 1,
        policies: [
          { id: 'p', rules: [] },
          { id: 'p', rules: [] },
        ],
      },
      'policies[1].id',
      'duplicate policy id',
    ],
    [
      'breakGlassProof not boolean',
      { version: 1, policies: [{ id: 'p', rules: [], breakGlassProof: 'yes' }] },
      'policies[0].breakGlassProof',
      'true or false',
    ],
    ['wrong version', { version: 2, policies: [] }, 'version', 'must be 1'],
    ['policies missing', { version: 1 }, 'policies', 'must be an array'],
    ['not an object', 'allow everything', 'policy', 'must be an object'],
    [
      'class instance instead of a plain object',
      withRule({
        when: new (class X {
          mfaVerified = true;
        })(),
      }),
      `${R}.when`,
      'must be a condition object',
    ],
  ])('%s', (_kind, doc, path, fragment) => {
    const err = policyError(() => validatePolicyDocument(doc));
    expect(err.code).toBe(ErrorCodes.POLICY_INVALID);
    expect(err.details).toEqual({ path });
    expect(err.message.startsWith(`${path}: `)).toBe(true);
    expect(err.message).toContain(fragment);
    // The engine refuses it the same way: no engine, so no silent allow.
    expect(() => new PolicyEngine({ policy: doc as never })).toThrow(BulwarkPolicyError);
  });

  it('rejects a __proto__ key from JSON instead of ignoring it', () => {
    const err = policyError(() =>
      parsePolicyText('{"version":1,"policies":[],"__proto__":{"x":1}}', { format: 'json' }),
    );
    expect(err.details).toEqual({ path: '__proto__' });
  });

  it('accepts the clinic policy and returns a frozen, normalised copy', () => {
    const doc = validatePolicyDocument(clinicPolicy);
    expect(doc).not.toBe(clinicPolicy);
    expect(Object.isFrozen(doc.policies[0].rules[3])).toBe(true);
    expect(doc.policies[0].rules[3].actions).toEqual(['patient:create']);
  });
});

const yamlPolicy = `
version: 1
roles:
  nurse:
  doctor: { inherits: [nurse] }
policies:
  - id: clinical
    rules:
      - id: read-own-department
        effect: allow
        roles: [nurse]
        actions: ["patient:read"]
        resources: ["records/*"]
        when:
          all:
            - attr: resource.department
              eq: { ref: subject.department }
            - ip: [10.0.0.0/8, "2001:db8::/32"]
            - mfaVerified: true
`;

describe('parsePolicyText: JSON and YAML', () => {
  it('loads YAML and decides with it', () => {
    const e = PolicyEngine.fromText(yamlPolicy);
    const ctx = { ip: '10.1.1.1', mfaVerified: true };
    expect(e.check(users.bob, 'patient:read', records.r1, ctx).allowed).toBe(true);
    expect(e.check(users.bob, 'patient:read', records.r1, { ...ctx, mfaVerified: false }).allowed).toBe(
      false,
    );
    expect(e.check(users.bob, 'patient:read', records.r1, { ...ctx, ip: '2001:db8::5' }).allowed).toBe(true);
    expect(e.check(users.bob, 'patient:read', records.r1, { ...ctx, ip: '192.0.2.1' }).allowed).toBe(false);
  });

  it('loads JSON and agrees with the same policy from code', () => {
    const fromJson = new PolicyEngine({ policy: JSON.stringify(clinicPolicy), format: 'json' });
    const fromCode = new PolicyEngine({ policy: clinicPolicy });
    for (const s of Object.values(users)) {
      for (const r of Object.values(records)) {
        for (const a of ['patient:read', 'patient:update', 'read', 'x']) {
          expect(fromJson.check(s, a, r)).toEqual(fromCode.check(s, a, r));
        }
      }
    }
  });

  it.each([
    ['invalid JSON', '{"version": 1,', 'json', 'not valid JSON'],
    ['invalid YAML', 'version: 1\npolicies: [\n', 'yaml', 'not valid YAML'],
    [
      'duplicate YAML key (a second effect must not silently win)',
      'version: 1\nversion: 1\npolicies: []\n',
      'yaml',
      'not valid YAML',
    ],
    ['YAML custom tag', 'version: 1\npolicies: !!js/function "function () {}"\n', 'yaml', 'not valid YAML'],
    [
      'YAML alias bomb',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
      'yaml',
      'could not be resolved',
    ],
    ['a YAML scalar', 'allow', 'yaml', 'must be an object'],
    ['oversized text', ' '.repeat(1024 * 1024 + 1), 'yaml', 'longer than'],
  ] as const)('rejects %s with ERR_POLICY_INVALID', (_name, text, format, fragment) => {
    const err = policyError(() => parsePolicyText(text, { format }));
    expect(err.code).toBe(ErrorCodes.POLICY_INVALID);
    expect(err.message).toContain(fragment);
  });

  it('reports a YAML mistake with its path, like JSON', () => {
    const err = policyError(() => parsePolicyText(yamlPolicy.replace('10.0.0.0/8', '10.0.0.0/33')));
    expect(err.message).toBe('policies[0].rules[0].when.all[1].ip[0]: "10.0.0.0/33" is not a CIDR');
  });
});
