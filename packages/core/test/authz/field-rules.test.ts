import {
  BulwarkPolicyError,
  ErrorCodes,
  PolicyEngine,
  filterFields,
  forbiddenFields,
  isFieldPermitted,
  type PolicyDocument,
} from '../../src';

/** HR reads every field; staff read the public ones; nobody but payroll reads salary; owners edit their phone only. */
const POLICY: PolicyDocument = {
  version: 1,
  roles: { staff: {}, hr: { inherits: ['staff'] }, payroll: {} },
  policies: [
    {
      id: 'employees',
      rules: [
        { id: 'hr-read', effect: 'allow', roles: ['hr'], actions: ['read'], resources: ['employees/*'] },
        {
          id: 'staff-read',
          effect: 'allow',
          roles: ['staff'],
          actions: ['read'],
          resources: ['employees/*'],
          fields: ['id', 'name', 'department'],
        },
        {
          id: 'salary-private',
          effect: 'deny',
          roles: ['*'],
          actions: ['read'],
          resources: ['employees/*'],
          fields: ['salary'],
          when: { not: { attr: 'subject.roles', contains: 'payroll' } },
        },
        {
          id: 'payroll-read',
          effect: 'allow',
          roles: ['payroll'],
          actions: ['read'],
          resources: ['employees/*'],
        },
        {
          id: 'own-phone',
          effect: 'allow',
          roles: ['staff'],
          actions: ['update'],
          resources: ['employees/*'],
          fields: ['phone'],
          when: { attr: 'resource.userId', eq: { ref: 'subject.id' } },
        },
      ],
    },
  ],
};

const engine = new PolicyEngine({ policy: POLICY });
const record = { type: 'employees', id: '7', userId: 'u7' };
const row = { id: 7, name: 'Ann', department: 'ops', salary: 90_000, phone: '555' };

describe('field rules', () => {
  it('a role limited to some fields reads only those; salary is withheld from HR, shown to payroll', () => {
    const staff = engine.permittedFields({ id: 'u1', roles: ['staff'] }, 'read', record);
    expect(filterFields(row, staff)).toEqual({ id: 7, name: 'Ann', department: 'ops' });
    const hr = engine.permittedFields({ id: 'u2', roles: ['hr'] }, 'read', record);
    expect(filterFields(row, hr)).toEqual({ id: 7, name: 'Ann', department: 'ops', phone: '555' });
    const payroll = engine.permittedFields({ id: 'u3', roles: ['payroll'] }, 'read', record);
    expect(filterFields(row, payroll)).toEqual(row);
  });

  it('a deny rule with fields withholds fields without denying the action', () => {
    expect(engine.check({ id: 'u2', roles: ['hr'] }, 'read', record).allowed).toBe(true);
    const expl = engine.explain({ id: 'u2', roles: ['hr'] }, 'read', record);
    expect(expl.decision.allowed).toBe(true);
  });

  it('write: the owner may set phone only; a body with salary is refused', () => {
    const owner = engine.permittedFields({ id: 'u7', roles: ['staff'] }, 'update', record);
    expect(forbiddenFields({ phone: '556' }, owner)).toEqual([]);
    expect(forbiddenFields({ phone: '556', salary: 1e6 }, owner)).toEqual(['salary']);
    // Someone else's record: the action is refused, so no field is permitted.
    const other = engine.permittedFields({ id: 'u8', roles: ['staff'] }, 'update', record);
    expect(other.allowed).toBe(false);
    expect(isFieldPermitted(other, 'phone')).toBe(false);
  });

  it('refuses a bad field name at load', () => {
    const bad = structuredClone(POLICY) as unknown as { policies: { rules: { fields?: string[] }[] }[] };
    bad.policies[0]!.rules[1]!.fields = ['name', '__proto__'];
    expect(() => new PolicyEngine({ policy: bad as unknown as PolicyDocument })).toThrow(BulwarkPolicyError);
    bad.policies[0]!.rules[1]!.fields = [];
    expect(() => new PolicyEngine({ policy: bad as unknown as PolicyDocument })).toThrow(
      expect.objectContaining({ code: ErrorCodes.POLICY_INVALID }),
    );
  });
});
