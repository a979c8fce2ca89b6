'use strict';

/**
 * Access control: one operation = one decision (subject, action, resource) -> allowed?, over a
 * fixed set of 10,000 seeded tuples, cycled.
 *
 * The same 50-rule clinic policy (11 roles with inheritance, ownership, department equality,
 * clearance <= comparisons, status membership, deny rules that override allows, default deny)
 * is written once in a neutral form below and translated into each implementation:
 * - bulwark        PolicyEngine.check(): policy compiled at load, rules indexed by
 *                  (resource type, action), inheritance as precomputed role masks.
 * - @casl/ability  createMongoAbility per user, with the user's values inlined into the
 *                  conditions and `cannot` rules last (so a matching deny wins), built once per
 *                  user and reused ("checks cached per user": CASL's recommended use). Role
 *                  inheritance is resolved by the app when it builds the rules (CASL has no roles).
 * - casbin         model + policy loaded from strings (newModelFromString, StringAdapter):
 *                  g() role hierarchy, deny-override effect, ABAC conditions per policy line
 *                  through a registered matcher function (faster than eval(p.cond)); enforceSync().
 *
 * Before timing, all three must return the same decision for every one of the 10,000 tuples;
 * the suite aborts on any disagreement, listing a few. Each timed operation returns whether the
 * decision equals the agreed one, and `check` rejects `false`.
 */

const { costAtMost, fasterThan } = require('../lib/targets');

// ---------------------------------------------------------------------------------------------
// The policy, in a neutral form

const ROLES = {
  patient: [],
  nurse: [],
  headnurse: ['nurse'],
  doctor: ['nurse'],
  surgeon: ['doctor'],
  auditor: [],
  admin: ['doctor', 'auditor'],
  receptionist: [],
  billing: [],
  pharmacist: [],
  labtech: [],
};

/**
 * Condition atoms (AND-ed within a rule):
 *   owner      resource.ownerId == subject.id
 *   dept       resource.department == subject.department
 *   clear      resource.sensitivity <= subject.clearance
 *   assigned   resource.assignedTo == subject.id
 *   status     resource.status in [...]
 */
const r = (effect, roles, actions, type, cond = {}) => ({ effect, roles, actions, type, cond });
const RULES = [
  r('allow', ['patient'], ['read'], 'records', { owner: true }),
  r('allow', ['patient'], ['read'], 'prescriptions', { owner: true }),
  r('allow', ['patient'], ['read'], 'appointments', { owner: true }),
  r('allow', ['patient'], ['create', 'cancel'], 'appointments', { owner: true }),
  r('allow', ['patient'], ['read'], 'invoices', { owner: true }),
  r('allow', ['patient'], ['pay'], 'invoices', { owner: true }),
  r('allow', ['patient'], ['read'], 'labresults', { owner: true, status: ['final'] }),
  r('allow', ['nurse'], ['read'], 'records', { dept: true }),
  r('allow', ['nurse'], ['update'], 'records', { dept: true, status: ['draft'] }),
  r('allow', ['nurse'], ['read'], 'prescriptions', { dept: true }),
  r('allow', ['nurse'], ['read'], 'appointments', { dept: true }),
  r('allow', ['nurse'], ['create', 'update'], 'appointments', { dept: true }),
  r('allow', ['nurse'], ['read'], 'labresults', { dept: true }),
  r('allow', ['nurse'], ['read'], 'notes', { dept: true, clear: true }),
  r('allow', ['headnurse'], ['update', 'sign'], 'records', { dept: true }),
  r('allow', ['headnurse'], ['approve'], 'appointments', { dept: true }),
  r('allow', ['headnurse'], ['read'], 'auditlogs', { dept: true }),
  r('allow', ['doctor'], ['create', 'update'], 'records', { dept: true }),
  r('allow', ['doctor'], ['sign'], 'records', { assigned: true }),
  r('allow', ['doctor'], ['create', 'update'], 'prescriptions', { dept: true }),
  r('allow', ['doctor'], ['sign'], 'prescriptions', { assigned: true }),
  r('allow', ['doctor'], ['create', 'update'], 'notes', { dept: true }),
  r('allow', ['doctor'], ['read'], 'notes', { assigned: true }),
  r('allow', ['doctor'], ['create'], 'labresults', { dept: true }),
  r('allow', ['doctor'], ['export'], 'records', { assigned: true }),
  r('allow', ['surgeon'], ['update', 'sign'], 'records', { dept: true, clear: true }),
  r('allow', ['surgeon'], ['read'], 'notes', { clear: true }),
  r('allow', ['auditor'], ['read'], 'auditlogs'),
  r('allow', ['auditor'], ['export'], 'auditlogs'),
  r('allow', ['auditor'], ['read'], 'records', { clear: true }),
  r('allow', ['auditor'], ['read'], 'invoices'),
  r('allow', ['admin'], ['read', 'update'], 'settings'),
  r('allow', ['admin'], ['create', 'update', 'delete'], 'users'),
  r('allow', ['admin'], ['delete'], 'records'),
  r('allow', ['admin'], ['read'], 'reports'),
  r('allow', ['receptionist'], ['read', 'create', 'update', 'cancel'], 'appointments'),
  r('allow', ['receptionist'], ['read'], 'users'),
  r('allow', ['billing'], ['read', 'create', 'update'], 'invoices'),
  r('allow', ['billing'], ['export'], 'invoices', { status: ['final', 'paid'] }),
  r('allow', ['billing'], ['read'], 'reports'),
  r('allow', ['pharmacist'], ['read'], 'prescriptions'),
  r('allow', ['pharmacist'], ['dispense'], 'prescriptions', { status: ['signed'] }),
  r('allow', ['labtech'], ['create', 'update'], 'labresults', { dept: true }),
  r('allow', ['labtech'], ['read'], 'labresults', { dept: true }),
  r('deny', ['*'], ['update', 'delete'], 'records', { status: ['signed', 'archived'] }),
  r('deny', ['*'], ['update', 'delete', 'dispense'], 'prescriptions', { status: ['archived'] }),
  r('deny', ['nurse', 'receptionist'], ['read'], 'notes', { status: ['sealed'] }),
  r('deny', ['*'], ['delete', 'update'], 'auditlogs'),
  r('deny', ['auditor'], ['sign'], 'records'),
  r('deny', ['*'], ['pay'], 'invoices', { status: ['paid'] }),
];
if (RULES.length !== 50) throw new Error(`the bench policy must have 50 rules, has ${RULES.length}`);

const TYPES = [...new Set(RULES.map((rule) => rule.type))];
const ACTIONS = [...new Set(RULES.flatMap((rule) => rule.actions))];
const DEPARTMENTS = ['cardio', 'onco', 'neuro', 'peds'];
const STATUSES = ['draft', 'final', 'signed', 'archived', 'sealed', 'paid'];

function effectiveRoles(role) {
  const out = new Set();
  const stack = [role];
  while (stack.length > 0) {
    const name = stack.pop();
    if (out.has(name)) continue;
    out.add(name);
    stack.push(...ROLES[name]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Seeded data: users, resources, 10,000 decision tuples

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeData(count) {
  const rand = mulberry32(0xb01a4c);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const roleNames = Object.keys(ROLES);
  const users = [];
  for (let i = 0; i < 80; i++) {
    // A third patients, the rest spread over the staff roles.
    const role = i % 3 === 0 ? 'patient' : roleNames[1 + (i % (roleNames.length - 1))];
    users.push({
      id: `u${i}`,
      roles: [role],
      role,
      department: pick(DEPARTMENTS),
      clearance: 1 + Math.floor(rand() * 3),
    });
  }
  const patients = users.filter((u) => u.role === 'patient');
  const staff = users.filter((u) => u.role !== 'patient');
  const resources = [];
  for (let i = 0; i < 400; i++) {
    resources.push({
      type: pick(TYPES),
      id: `res${i}`,
      ownerId: pick(patients).id,
      department: pick(DEPARTMENTS),
      status: pick(STATUSES),
      sensitivity: 1 + Math.floor(rand() * 3),
      assignedTo: pick(staff).id,
    });
  }
  // Half the tuples ask what some rule of the user's roles (with inheritance) is about, on a
  // resource the user is related to when there is one, so allows and denies mix; the rest are
  // random (mostly default denies).
  const relatedTo = (user) =>
    resources.filter((res) =>
      user.role === 'patient'
        ? res.ownerId === user.id
        : res.department === user.department || res.assignedTo === user.id,
    );
  const tuples = [];
  for (let i = 0; i < count; i++) {
    const user = pick(users);
    let resource = pick(resources);
    let action = pick(ACTIONS);
    if (rand() < 0.5) {
      const mine = effectiveRoles(user.role);
      const rule = pick(RULES.filter((x) => x.effect === 'allow' && x.roles.some((role) => mine.has(role))));
      action = pick(rule.actions);
      const candidates = relatedTo(user).filter((res) => res.type === rule.type);
      const ofType = resources.filter((res) => res.type === rule.type);
      resource = candidates.length > 0 && rand() < 0.8 ? pick(candidates) : pick(ofType);
    } else if (rand() < 0.7) {
      const typeActions = [
        ...new Set(RULES.filter((x) => x.type === resource.type).flatMap((x) => x.actions)),
      ];
      action = pick(typeActions);
    }
    tuples.push({ user, action, resource });
  }
  return { users, tuples };
}

// ---------------------------------------------------------------------------------------------
// bulwark

function loadPolicyEngine() {
  let core;
  try {
    core = require('@bulwark/core');
  } catch (err) {
    throw new Error(`cannot load @bulwark/core (run \`npm run build\` first): ${err.message}`, {
      cause: err,
    });
  }
  if (typeof core.PolicyEngine !== 'function') {
    throw new Error('@bulwark/core has no PolicyEngine (stale build? run `npm run build`)');
  }
  return core.PolicyEngine;
}

function bulwarkCondition(cond) {
  const atoms = [];
  if (cond.owner) atoms.push({ attr: 'resource.ownerId', eq: { ref: 'subject.id' } });
  if (cond.dept) atoms.push({ attr: 'resource.department', eq: { ref: 'subject.department' } });
  if (cond.clear) atoms.push({ attr: 'resource.sensitivity', lte: { ref: 'subject.clearance' } });
  if (cond.assigned) atoms.push({ attr: 'resource.assignedTo', eq: { ref: 'subject.id' } });
  if (cond.status) atoms.push({ attr: 'resource.status', in: cond.status });
  if (atoms.length === 0) return undefined;
  return atoms.length === 1 ? atoms[0] : { all: atoms };
}

function bulwarkImpl() {
  const PolicyEngine = loadPolicyEngine();
  const roles = {};
  for (const [name, inherits] of Object.entries(ROLES)) roles[name] = inherits.length > 0 ? { inherits } : {};
  const document = {
    version: 1,
    roles,
    policies: [
      {
        id: 'clinic',
        rules: RULES.map((rule, i) => {
          const out = {
            id: `rule-${i}`,
            effect: rule.effect,
            roles: rule.roles,
            actions: rule.actions,
            resources: [`${rule.type}/*`],
          };
          const when = bulwarkCondition(rule.cond);
          if (when) out.when = when;
          return out;
        }),
      },
    ],
  };
  const engine = new PolicyEngine({ policy: document });
  return { impl: 'bulwark', decide: (t) => engine.check(t.user, t.action, t.resource).allowed };
}

// ---------------------------------------------------------------------------------------------
// @casl/ability

function caslImpl() {
  const { AbilityBuilder, createMongoAbility } = require('@casl/ability');
  const build = (user) => {
    const { can, cannot, build: done } = new AbilityBuilder(createMongoAbility);
    const mine = effectiveRoles(user.role);
    const applies = (rule) => rule.roles.includes('*') || rule.roles.some((role) => mine.has(role));
    const conditions = (cond) => {
      const c = {};
      if (cond.owner) c.ownerId = user.id;
      if (cond.dept) c.department = user.department;
      if (cond.clear) c.sensitivity = { $lte: user.clearance };
      if (cond.assigned) c.assignedTo = user.id;
      if (cond.status) c.status = { $in: cond.status };
      return Object.keys(c).length > 0 ? c : undefined;
    };
    // CASL: later rules take precedence, so every `cannot` goes after every `can` (deny overrides).
    for (const rule of RULES)
      if (rule.effect === 'allow' && applies(rule)) can(rule.actions, rule.type, conditions(rule.cond));
    for (const rule of RULES)
      if (rule.effect === 'deny' && applies(rule)) cannot(rule.actions, rule.type, conditions(rule.cond));
    return done({ detectSubjectType: (object) => object.type });
  };
  const abilities = new Map();
  const abilityOf = (user) => {
    let ability = abilities.get(user.id);
    if (ability === undefined) abilities.set(user.id, (ability = build(user)));
    return ability;
  };
  return { impl: '@casl/ability', decide: (t) => abilityOf(t.user).can(t.action, t.resource) };
}

// ---------------------------------------------------------------------------------------------
// casbin

// The condition is a matcher function (casbin's documented ABAC extension point) rather than
// eval(p.cond): in a probe, eval() of the same conditions as expression text was ~1.5x slower,
// and the faster form is the fair comparison.
const CASBIN_MODEL = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, rtype, act, cond, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.obj.type == p.rtype && r.act == p.act && (p.sub == "*" || g(r.sub.role, p.sub)) && cond(r.sub, r.obj, p.cond)
`;

/** A JS predicate for a rule's condition atoms (what an app registers with casbin's addFunction). */
function casbinPredicate(cond) {
  const status = cond.status ? new Set(cond.status) : undefined;
  return (sub, obj) =>
    (!cond.owner || obj.ownerId === sub.id) &&
    (!cond.dept || obj.department === sub.department) &&
    (!cond.clear || obj.sensitivity <= sub.clearance) &&
    (!cond.assigned || obj.assignedTo === sub.id) &&
    (!status || status.has(obj.status));
}

async function casbinImpl() {
  const casbin = require('casbin');
  const predicates = new Map();
  const lines = [];
  for (const [name, inherits] of Object.entries(ROLES)) {
    for (const parent of inherits) lines.push(`g, ${name}, ${parent}`);
  }
  RULES.forEach((rule, i) => {
    predicates.set(`c${i}`, casbinPredicate(rule.cond));
    for (const role of rule.roles) {
      for (const action of rule.actions)
        lines.push(`p, ${role}, ${rule.type}, ${action}, c${i}, ${rule.effect}`);
    }
  });
  const enforcer = await casbin.newEnforcer(
    casbin.newModelFromString(CASBIN_MODEL),
    new casbin.StringAdapter(lines.join('\n')),
  );
  await enforcer.addFunction('cond', (sub, obj, key) => predicates.get(key)(sub, obj));
  return { impl: 'casbin', decide: (t) => enforcer.enforceSync(t.user, t.resource, t.action) };
}

// ---------------------------------------------------------------------------------------------

function agree(impls, tuples) {
  const expected = tuples.map((t) => impls[0].decide(t));
  const disagreements = [];
  for (const impl of impls.slice(1)) {
    tuples.forEach((t, i) => {
      const got = impl.decide(t);
      if (got !== expected[i]) disagreements.push({ i, impl: impl.impl, got, expected: expected[i], t });
    });
  }
  if (disagreements.length > 0) {
    const sample = disagreements
      .slice(0, 5)
      .map(
        (d) =>
          `#${d.i} ${d.t.user.id}(${d.t.user.role},${d.t.user.department},c${d.t.user.clearance}) ` +
          `${d.t.action} ${d.t.resource.type}/${d.t.resource.id}` +
          `(owner ${d.t.resource.ownerId}, ${d.t.resource.department}, ${d.t.resource.status}, s${d.t.resource.sensitivity}, ` +
          `assigned ${d.t.resource.assignedTo}): ${impls[0].impl}=${d.expected} ${d.impl}=${d.got}`,
      )
      .join('\n  ');
    throw new Error(`implementations disagree on ${disagreements.length} decisions, e.g.\n  ${sample}`);
  }
  return expected;
}

// ---------------------------------------------------------------------------------------------
// a denied request at 1,000 rules: what a 403 costs once its explanation is read (audit entry)

const DENIAL_CASE = 'denied request, 1,000-rule policy (check + denial explanation)';

/**
 * The review's shape (M1): 1,000 ownership rules over 50 actions and 20 types; one request that
 * is denied by default (20 rules of its bucket fail at their condition). `bulwark` is what the
 * HTTP kernel does on a 403 whose explanation an audit entry reads; `check() only` the decision
 * alone; `explain() (every rule)` the explanation as it was built before (O(rules)).
 */
function denialImpls() {
  const core = require('@bulwark/core');
  const { denialExplanation } = require('@bulwark/core/http');
  const rules = [];
  for (let i = 0; i < 1000; i++) {
    rules.push({
      id: `r${i}`,
      effect: 'allow',
      roles: ['u'],
      actions: [`act${i % 50}`],
      resources: [`t${i % 20}/*`],
      when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
    });
  }
  const engine = new core.PolicyEngine({
    policy: { version: 1, roles: { u: {} }, policies: [{ id: 'p', rules }] },
    onWarning() {},
  });
  const s = { id: 'x', roles: ['u'] };
  const r = { type: 't1', id: '1', ownerId: 'y' };
  const nearestOk = (d) =>
    d !== undefined && d.reasonId === 'default_deny' && d.nearest?.failed === 'condition';
  return [
    {
      impl: 'bulwark',
      run: () =>
        !engine.check(s, 'act1', r).allowed && nearestOk(denialExplanation(engine, s, 'act1', r, {})),
    },
    { impl: 'check() only', run: () => !engine.check(s, 'act1', r).allowed },
    {
      impl: 'explain() (every rule)',
      run: () =>
        !engine.check(s, 'act1', r).allowed && nearestOk(core.explainDenial(engine.explain(s, 'act1', r))),
    },
  ];
}

module.exports = {
  name: 'authz',
  title: 'one access decision (50-rule clinic RBAC + ABAC policy, 10,000 seeded tuples)',
  subject: 'bulwark',
  settings: { rounds: 30, roundMs: 50, warmupMs: 300 },
  targets: [
    fasterThan({ peer: '@casl/ability', min: 1, cases: ['50 rules'] }),
    fasterThan({ peer: 'casbin', min: 15, cases: ['50 rules'] }),
    // A 403 with its audit explanation (check + denialExplanation) at 1,000 rules: at most 10x the
    // bare check(), however large the policy (it was ~2000x: explain() over every rule).
    costAtMost({ baseline: 'check() only', max: 10, cases: [DENIAL_CASE] }),
  ],

  async setup({ quick, log }) {
    const count = 10_000;
    const { tuples } = makeData(count);
    const impls = [bulwarkImpl(), caslImpl(), await casbinImpl()];
    const expected = agree(impls, tuples);
    const allowed = expected.filter(Boolean).length;
    log(
      `  authz: ${impls.length} implementations agree on all ${count} decisions ` +
        `(${allowed} allow, ${count - allowed} deny)${quick ? ' [quick]' : ''}`,
    );

    const runner = (impl) => {
      let i = 0;
      return () => {
        const ok = impl.decide(tuples[i]) === expected[i];
        i = i + 1 === count ? 0 : i + 1;
        return ok;
      };
    };
    return {
      cases: [
        {
          name: '50 rules',
          check(output) {
            if (output !== true) throw new Error('decision differs from the agreed one');
          },
          impls: impls.map((impl) => ({ impl: impl.impl, run: runner(impl) })),
        },
        {
          name: DENIAL_CASE,
          check(output) {
            if (output !== true) throw new Error('expected a deny explained with its nearest rule');
          },
          impls: denialImpls(),
        },
      ],
    };
  },
};
