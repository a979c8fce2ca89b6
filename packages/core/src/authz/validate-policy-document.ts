import { BulwarkPolicyError, ErrorCodes } from '../errors';
import { parseActionPattern } from './action-pattern';
import { parseCidr } from './ip-range';
import type {
  ComparisonOperator,
  ConditionDefinition,
  ConditionLiteral,
  ConditionOperand,
  PolicyDefinition,
  PolicyDocument,
  RoleDefinition,
  RuleDefinition,
  TimeWindowDefinition,
  Weekday,
} from './policy-document';
import { parseResourcePattern } from './resource-pattern';
import { parseClockTime, WEEKDAYS, zoneFormatter } from './time-window';

/**
 * Strict validation of a policy document. Anything not understood is an error naming its path
 * (`policies[3].rules[0].when.ip: "10.0.0.0/33" is not a CIDR`), because in an access-control
 * policy an ignored field is a silent allow: a misspelt `wehn` would drop the condition.
 *
 * Returns a normalised, deeply frozen copy (`actions` / `resources` always arrays, `when` a
 * single condition, `roles` always present), so later mutation of the caller's object cannot
 * change a loaded policy.
 */

/** Bounds so a hostile or broken document cannot make loading (or every check) arbitrarily slow. */
export const POLICY_LIMITS = Object.freeze({
  roles: 1_000,
  policies: 1_000,
  rulesPerPolicy: 10_000,
  patternsPerRule: 256,
  listItems: 1_000,
  conditionDepth: 16,
  stringLength: 1_024,
  attributeDepth: 8,
});

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const ROLE_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const REASON_ID_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const FIELD_RE = /^[A-Za-z_$][A-Za-z0-9_$-]{0,127}$/;
const ATTR_ROOT_RE = /^(subject|resource|context)$/;
const ATTR_SEGMENT_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Segments that would walk into the prototype chain instead of the caller's data. */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);
/** ISO-8601 date-time with an explicit offset (a time without one is ambiguous). */
const ISO_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

const OPERATORS: readonly ComparisonOperator[] = [
  'eq',
  'ne',
  'in',
  'notIn',
  'contains',
  'lt',
  'lte',
  'gt',
  'gte',
  'exists',
];
const CONDITION_KINDS = [
  'all',
  'any',
  'not',
  'ip',
  'timeWindow',
  'mfaVerified',
  'factor',
  'recentAuth',
] as const;
/** Factor names (`webauthn`, `totp`, `recovery-code`, an app's own such as `smartcard`). */
const FACTOR_RE = /^[a-z][a-z0-9-]{0,31}$/;
/** recentAuth longer than this is not a step-up requirement (31 days). */
const RECENT_AUTH_MAX_SEC = 31 * 86_400;

function fail(path: string, message: string): never {
  throw new BulwarkPolicyError(ErrorCodes.POLICY_INVALID, `${path}: ${message}`, { path });
}

/** Short, safe rendering of an offending value for a message (policies hold no secrets, but bound it). */
function show(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = typeof value;
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function object(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(value)) fail(path || 'policy', `must be an object, got ${show(value)}`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      fail(path ? `${path}.${key}` : key, `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }
  return value;
}

function string(value: unknown, path: string, max: number = POLICY_LIMITS.stringLength): string {
  if (typeof value !== 'string') fail(path, `must be a string, got ${show(value)}`);
  if (value.length > max) fail(path, `must be at most ${max} characters`);
  return value;
}

function array(value: unknown, path: string, max: number, nonEmpty: boolean): readonly unknown[] {
  if (!Array.isArray(value)) fail(path, `must be an array, got ${show(value)}`);
  if (nonEmpty && value.length === 0) fail(path, 'must not be empty');
  if (value.length > max) fail(path, `must have at most ${max} items`);
  return value;
}

/** A string or an array of strings (each checked by `each`), normalised to an array. */
function stringList(
  value: unknown,
  path: string,
  max: number,
  each: (s: string, p: string) => void,
): string[] {
  if (typeof value === 'string') {
    each(value, path);
    return [value];
  }
  return array(value, path, max, true).map((item, i) => {
    const s = string(item, `${path}[${i}]`);
    each(s, `${path}[${i}]`);
    return s;
  });
}

function checkAttributePath(value: unknown, path: string): string {
  const s = string(value, path, 256);
  const segments = s.split('.');
  if (
    segments.length < 2 ||
    segments.length > POLICY_LIMITS.attributeDepth + 1 ||
    !ATTR_ROOT_RE.test(segments[0]) ||
    segments.slice(1).some((seg) => !ATTR_SEGMENT_RE.test(seg) || FORBIDDEN_SEGMENTS.has(seg))
  ) {
    fail(path, `${show(s)} is not an attribute path (subject.<name>, resource.<name> or context.<name>)`);
  }
  return s;
}

function literal(value: unknown, path: string): ConditionLiteral {
  if (typeof value === 'string') return string(value, path);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(path, 'must be a finite number');
    return value;
  }
  if (value === null)
    fail(path, 'null is not a comparable value (use exists: false for a missing attribute)');
  fail(path, `must be a string, number or boolean, got ${show(value)}`);
}

function isRef(value: unknown): value is { ref: unknown } {
  return isPlainObject(value) && 'ref' in value;
}

function operand(op: ComparisonOperator, value: unknown, path: string): ConditionOperand {
  if (isRef(value)) {
    object(value, path, ['ref']);
    return Object.freeze({ ref: checkAttributePath(value.ref, `${path}.ref`) });
  }
  switch (op) {
    case 'in':
    case 'notIn':
      return Object.freeze(
        array(value, path, POLICY_LIMITS.listItems, true).map((item, i) => literal(item, `${path}[${i}]`)),
      );
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      if (typeof value === 'number') return literal(value, path);
      if (typeof value === 'string' && ISO_TIME_RE.test(value) && !Number.isNaN(Date.parse(value)))
        return value;
      fail(path, `${show(value)} is not a number or an ISO-8601 time with an offset`);
    // falls through (fail never returns)
    default:
      if (Array.isArray(value)) fail(path, `must be a single value or { ref }, not a list (use in)`);
      return literal(value, path);
  }
}

function timeWindow(value: unknown, path: string): TimeWindowDefinition {
  const o = object(value, path, ['days', 'start', 'end', 'timeZone']);
  const start = string(o.start, `${path}.start`, 8);
  const startMin = parseClockTime(start, false);
  if (startMin === undefined) fail(`${path}.start`, `${show(start)} is not a HH:MM time`);
  const end = string(o.end, `${path}.end`, 8);
  const endMin = parseClockTime(end, true);
  if (endMin === undefined) fail(`${path}.end`, `${show(end)} is not a HH:MM time (24:00 allowed)`);
  if (startMin === endMin)
    fail(path, 'start and end are equal (an empty or whole-day window); omit the condition or fix the times');
  const timeZone = string(o.timeZone, `${path}.timeZone`, 64);
  if (zoneFormatter(timeZone) === undefined)
    fail(`${path}.timeZone`, `${show(timeZone)} is not an IANA time zone`);
  const out: TimeWindowDefinition = { start, end, timeZone };
  if (o.days !== undefined) {
    const days = array(o.days, `${path}.days`, 7, true).map((d, i) => {
      if (typeof d !== 'string' || !(WEEKDAYS as readonly string[]).includes(d)) {
        fail(`${path}.days[${i}]`, `${show(d)} is not one of ${WEEKDAYS.join(', ')}`);
      }
      return d as Weekday;
    });
    out.days = Object.freeze(days);
  }
  return Object.freeze(out);
}

function condition(value: unknown, path: string, depth: number): ConditionDefinition {
  if (depth > POLICY_LIMITS.conditionDepth)
    fail(path, `conditions nest deeper than ${POLICY_LIMITS.conditionDepth} levels`);
  if (Array.isArray(value)) {
    // A bare list means "all of".
    return Object.freeze({
      all: Object.freeze(value.map((c, i) => condition(c, `${path}[${i}]`, depth + 1))),
    });
  }
  if (!isPlainObject(value)) fail(path, `must be a condition object, got ${show(value)}`);
  const keys = Object.keys(value);
  if ('attr' in value) {
    const o = object(value, path, ['attr', ...OPERATORS]);
    const attr = checkAttributePath(o.attr, `${path}.attr`);
    const ops = keys.filter((k) => k !== 'attr') as ComparisonOperator[];
    if (ops.length !== 1) {
      fail(
        path,
        `an attribute condition needs exactly one operator (${OPERATORS.join(', ')}), got ${ops.length}`,
      );
    }
    const op = ops[0];
    if (op === 'exists') {
      if (typeof o.exists !== 'boolean') fail(`${path}.exists`, 'must be true or false');
      return Object.freeze({ attr, exists: o.exists });
    }
    return Object.freeze({ attr, [op]: operand(op, o[op], `${path}.${op}`) });
  }
  if (keys.length !== 1) {
    fail(
      path,
      keys.length === 0
        ? `is empty; expected one of attr, ${CONDITION_KINDS.join(', ')}`
        : `has ${keys.length} keys (${keys.join(', ')}); a condition has exactly one, combine them with all / any`,
    );
  }
  const kind = keys[0];
  const p = `${path}.${kind}`;
  switch (kind) {
    case 'all':
    case 'any': {
      const items = array(value[kind], p, POLICY_LIMITS.listItems, true);
      const list = Object.freeze(items.map((c, i) => condition(c, `${p}[${i}]`, depth + 1)));
      return Object.freeze(kind === 'all' ? { all: list } : { any: list });
    }
    case 'not':
      return Object.freeze({ not: condition(value.not, p, depth + 1) });
    case 'ip': {
      const cidrs = stringList(value.ip, p, POLICY_LIMITS.listItems, (s, sp) => {
        if (parseCidr(s) === undefined) fail(sp, `${show(s)} is not a CIDR`);
      });
      return Object.freeze({ ip: Object.freeze(cidrs) });
    }
    case 'timeWindow':
      return Object.freeze({ timeWindow: timeWindow(value.timeWindow, p) });
    case 'mfaVerified':
      if (typeof value.mfaVerified !== 'boolean') fail(p, 'must be true or false');
      return Object.freeze({ mfaVerified: value.mfaVerified });
    case 'factor': {
      const factors = stringList(value.factor, p, POLICY_LIMITS.listItems, (s, sp) => {
        if (!FACTOR_RE.test(s))
          fail(sp, `${show(s)} is not a factor name (e.g. webauthn, totp, recovery-code)`);
      });
      return Object.freeze({ factor: Object.freeze(factors) });
    }
    case 'recentAuth': {
      const def = object(value.recentAuth, p, ['maxAgeSec']);
      const maxAgeSec = def.maxAgeSec;
      if (
        typeof maxAgeSec !== 'number' ||
        !Number.isInteger(maxAgeSec) ||
        maxAgeSec < 1 ||
        maxAgeSec > RECENT_AUTH_MAX_SEC
      ) {
        fail(`${p}.maxAgeSec`, `must be an integer number of seconds from 1 to ${RECENT_AUTH_MAX_SEC}`);
      }
      return Object.freeze({ recentAuth: Object.freeze({ maxAgeSec }) });
    }
    default:
      if ((OPERATORS as readonly string[]).includes(kind)) fail(path, `operator ${kind} needs an attr`);
      fail(
        p,
        `unknown condition or operator (expected attr with ${OPERATORS.join(' / ')}, or ${CONDITION_KINDS.join(', ')})`,
      );
  }
}

function roles(value: unknown): Record<string, RoleDefinition> {
  if (value === undefined) return Object.freeze({});
  if (!isPlainObject(value))
    fail('roles', `must be an object mapping role names to { inherits }, got ${show(value)}`);
  const names = Object.keys(value);
  if (names.length > POLICY_LIMITS.roles) fail('roles', `must define at most ${POLICY_LIMITS.roles} roles`);
  const out: Record<string, RoleDefinition> = Object.create(null);
  for (const name of names) {
    const path = `roles.${name}`;
    if (!ROLE_RE.test(name)) fail(path, `${show(name)} is not a role name ([A-Za-z0-9][A-Za-z0-9_.:-]*)`);
    const def = value[name] === null ? {} : object(value[name], path, ['inherits', 'description']);
    const role: RoleDefinition = {};
    if (def.inherits !== undefined) {
      role.inherits = Object.freeze(
        array(def.inherits, `${path}.inherits`, POLICY_LIMITS.roles, false).map((parent, i) => {
          const p = `${path}.inherits[${i}]`;
          const s = string(parent, p, 64);
          if (!Object.hasOwn(value, s)) fail(p, `unknown role ${show(s)} (define it under roles)`);
          if (s === name) fail(p, `role ${show(name)} inherits itself`);
          return s;
        }),
      );
    }
    if (def.description !== undefined) role.description = string(def.description, `${path}.description`);
    out[name] = Object.freeze(role);
  }
  rejectCycles(out);
  return Object.freeze(out);
}

/** Depth-first search with three colours; the first back edge found is reported as a path. */
function rejectCycles(defs: Record<string, RoleDefinition>): void {
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 1);
    stack.push(name);
    for (const parent of defs[name].inherits ?? []) {
      const s = state.get(parent);
      if (s === 1) {
        const cycle = [...stack.slice(stack.indexOf(parent)), parent].join(' -> ');
        fail(`roles.${stack[stack.length - 1]}.inherits`, `role inheritance cycle ${cycle}`);
      }
      if (s === undefined) visit(parent);
    }
    stack.pop();
    state.set(name, 2);
  };
  for (const name of Object.keys(defs)) if (!state.has(name)) visit(name);
}

function rule(value: unknown, path: string, roleDefs: Record<string, RoleDefinition>): RuleDefinition {
  const o = object(value, path, [
    'id',
    'effect',
    'roles',
    'actions',
    'resources',
    'when',
    'reasonId',
    'description',
    'fields',
  ]);
  const id = string(o.id, `${path}.id`, 128);
  if (!ID_RE.test(id)) fail(`${path}.id`, `${show(id)} is not a rule id ([A-Za-z0-9][A-Za-z0-9_.:-]*)`);
  if (o.effect !== 'allow' && o.effect !== 'deny')
    fail(`${path}.effect`, `must be "allow" or "deny", got ${show(o.effect)}`);
  if (o.roles === undefined) fail(`${path}.roles`, 'is required (use ["*"] for every subject)');
  const ruleRoles = stringList(o.roles, `${path}.roles`, POLICY_LIMITS.roles, (s, p) => {
    if (s !== '*' && !Object.hasOwn(roleDefs, s)) fail(p, `unknown role ${show(s)} (define it under roles)`);
  });
  if (ruleRoles.includes('*') && ruleRoles.length > 1) fail(`${path}.roles`, '"*" must be the only entry');
  if (o.actions === undefined) fail(`${path}.actions`, 'is required');
  const actions = stringList(o.actions, `${path}.actions`, POLICY_LIMITS.patternsPerRule, (s, p) => {
    if (parseActionPattern(s) === undefined) {
      fail(
        p,
        `${show(s)} is not an action pattern (segments of [A-Za-z0-9_.-] separated by ":", "*" only as a whole last segment)`,
      );
    }
  });
  if (o.resources === undefined) fail(`${path}.resources`, 'is required');
  const resources = stringList(o.resources, `${path}.resources`, POLICY_LIMITS.patternsPerRule, (s, p) => {
    if (parseResourcePattern(s) === undefined) {
      fail(p, `${show(s)} is not a resource pattern (type, type/*, type/id or *)`);
    }
  });
  const out: RuleDefinition = {
    id,
    effect: o.effect,
    roles: Object.freeze(ruleRoles),
    actions: Object.freeze(actions),
    resources: Object.freeze(resources),
  };
  if (o.when !== undefined) out.when = condition(o.when, `${path}.when`, 0);
  if (o.fields !== undefined) {
    const fields = array(o.fields, `${path}.fields`, POLICY_LIMITS.listItems, true).map((f, i) => {
      const name = string(f, `${path}.fields[${i}]`, 128);
      if (!FIELD_RE.test(name) || FORBIDDEN_SEGMENTS.has(name)) {
        fail(`${path}.fields[${i}]`, `${show(name)} is not a field name ([A-Za-z_$][A-Za-z0-9_$-]*)`);
      }
      return name;
    });
    out.fields = Object.freeze([...new Set(fields)]);
  }
  if (o.reasonId !== undefined) {
    const r = string(o.reasonId, `${path}.reasonId`, 64);
    if (!REASON_ID_RE.test(r))
      fail(`${path}.reasonId`, `${show(r)} is not a reason id ([a-z0-9][a-z0-9_.-]*, at most 64)`);
    out.reasonId = r;
  }
  if (o.description !== undefined) out.description = string(o.description, `${path}.description`);
  return Object.freeze(out);
}

function policy(value: unknown, path: string, roleDefs: Record<string, RoleDefinition>): PolicyDefinition {
  const o = object(value, path, ['id', 'description', 'breakGlassProof', 'rules']);
  const id = string(o.id, `${path}.id`, 128);
  if (!ID_RE.test(id)) fail(`${path}.id`, `${show(id)} is not a policy id ([A-Za-z0-9][A-Za-z0-9_.:-]*)`);
  const out: PolicyDefinition = { id, rules: [] };
  if (o.description !== undefined) out.description = string(o.description, `${path}.description`);
  if (o.breakGlassProof !== undefined) {
    if (typeof o.breakGlassProof !== 'boolean') fail(`${path}.breakGlassProof`, 'must be true or false');
    out.breakGlassProof = o.breakGlassProof;
  }
  const seen = new Set<string>();
  out.rules = Object.freeze(
    array(o.rules, `${path}.rules`, POLICY_LIMITS.rulesPerPolicy, false).map((r, i) => {
      const compiled = rule(r, `${path}.rules[${i}]`, roleDefs);
      if (seen.has(compiled.id)) fail(`${path}.rules[${i}].id`, `duplicate rule id ${show(compiled.id)}`);
      seen.add(compiled.id);
      return compiled;
    }),
  );
  return Object.freeze(out);
}

/**
 * Validates a policy document (from code, or parsed from JSON / YAML by `parsePolicyText`).
 * Throws `BulwarkPolicyError` `ERR_POLICY_INVALID` whose message and `details.path` name the
 * first offending field.
 */
export function validatePolicyDocument(input: unknown): PolicyDocument {
  const o = object(input, '', ['version', 'roles', 'policies']);
  if (o.version !== 1) fail('version', `must be 1, got ${show(o.version)}`);
  const roleDefs = roles(o.roles);
  const seen = new Set<string>();
  const policies = array(o.policies, 'policies', POLICY_LIMITS.policies, false).map((p, i) => {
    const compiled = policy(p, `policies[${i}]`, roleDefs);
    if (seen.has(compiled.id)) fail(`policies[${i}].id`, `duplicate policy id ${show(compiled.id)}`);
    seen.add(compiled.id);
    return compiled;
  });
  return Object.freeze({ version: 1, roles: roleDefs, policies: Object.freeze(policies) });
}
