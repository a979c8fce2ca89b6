import type { AuthzContext, AuthzResource, AuthzSubject } from './authorizer';
import { compileIpRange } from './ip-range';
import type {
  AttributeCondition,
  ComparisonOperator,
  ConditionDefinition,
  ConditionLiteral,
  ConditionOperand,
} from './policy-document';
import { compileTimeWindow } from './time-window';

/**
 * Compiles a validated condition into a closure tree once, at load, so a check only calls
 * functions (no parsing, no interpretation of the definition, no allocation). Each node also
 * has an `explain` twin that evaluates the same logic and records why.
 *
 * Fail-closed semantics: a missing attribute (undefined / null) or a value of the wrong type
 * makes every comparison false, including `ne` and `notIn`. Two missing attributes are never
 * "equal", so `resource.ownerId eq subject.id` cannot match a resource without an owner.
 * (`not` inverts that: write deny rules positively, e.g. `exists: false` for "no owner".)
 */

/** Milliseconds since the epoch, from the engine's (injectable) clock. */
export type NowMs = () => number;

export type ConditionTest = (s: AuthzSubject, r: AuthzResource, c: AuthzContext, now: NowMs) => boolean;

/** One node of an explained condition. */
export interface ConditionTrace {
  /** Where the node is in the policy, e.g. `policies[0].rules[2].when.all[1]`. */
  readonly path: string;
  readonly kind:
    'attr' | 'all' | 'any' | 'not' | 'ip' | 'timeWindow' | 'mfaVerified' | 'factor' | 'recentAuth';
  readonly result: boolean;
  /** Human-readable form, e.g. `resource.ownerId eq subject.id`. */
  readonly summary: string;
  /** The value found at the attribute (or context.ip / local time); may be personal data: never send to clients. */
  readonly actual?: unknown;
  /** The value compared against (literal or resolved reference). */
  readonly expected?: unknown;
  readonly children?: readonly ConditionTrace[];
  /** Path of the leaf condition that determined this node's result. */
  readonly decidedBy: string;
}

/**
 * Called when a comparison meets values of different types (a number and a string, a boolean and
 * a string...): the condition's path and summary and the two type names, never the values.
 * `coerced`: the equality rule for ids made them equal (`42` and `"42"`).
 */
export type TypeMismatchHook = (mismatch: {
  readonly path: string;
  readonly summary: string;
  readonly actualType: string;
  readonly expectedType: string;
  readonly coerced: boolean;
}) => void;

/** `number`, `string`, `boolean`, `bigint`, `array`, `date`, `object`... (`null` / `undefined`: missing). */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  return typeof v;
}

const present = (v: unknown): boolean => v !== undefined && v !== null;

/**
 * Equality of two condition values: strict, with one coercion, for ids only: a safe integer and
 * its canonical decimal string (`42` and `"42"`, not `"042"`, `"42.0"` or `" 42"`) are equal, so
 * a numeric database key meets the string id of a principal. Never for ordering, never for
 * booleans.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return isPrimitive(a);
  if (typeof a === 'number' && typeof b === 'string') return Number.isSafeInteger(a) && String(a) === b;
  if (typeof a === 'string' && typeof b === 'number') return Number.isSafeInteger(b) && a === String(b);
  return false;
}

export interface CompiledCondition {
  readonly test: ConditionTest;
  explain(s: AuthzSubject, r: AuthzResource, c: AuthzContext, now: NowMs): ConditionTrace;
}

type Getter = (s: AuthzSubject, r: AuthzResource, c: AuthzContext) => unknown;

/** A getter for `subject.a.b`; never throws, whatever shape the caller's objects have. */
function compileGetter(path: string): Getter {
  const [root, ...keys] = path.split('.');
  const pick: Getter = root === 'subject' ? (s) => s : root === 'resource' ? (_s, r) => r : (_s, _r, c) => c;
  if (keys.length === 1) {
    const k = keys[0];
    return (s, r, c) => {
      const o = pick(s, r, c) as Record<string, unknown> | undefined;
      return o == null ? undefined : o[k];
    };
  }
  return (s, r, c) => {
    let v = pick(s, r, c);
    for (const k of keys) {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return undefined;
      v = (v as Record<string, unknown>)[k];
    }
    return v;
  };
}

function isPrimitive(v: unknown): v is string | number | boolean {
  const t = typeof v;
  return t === 'string' || t === 'boolean' || (t === 'number' && !Number.isNaN(v));
}

const ISO_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A Date or an ISO-8601 string with an offset -> epoch ms; anything else -> NaN. */
function toInstant(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string' && v.length <= 40 && ISO_TIME_RE.test(v)) return Date.parse(v);
  return NaN;
}

/** The type name ordering sees: `number`, `instant` (a Date or an ISO string with an offset), else typeName(). */
function orderType(v: unknown): string {
  if (typeof v === 'number') return 'number';
  return Number.isNaN(toInstant(v)) ? typeName(v) : 'instant';
}

type Order = (a: number, b: number) => boolean;
const ORDERS: Readonly<Record<'lt' | 'lte' | 'gt' | 'gte', Order>> = {
  lt: (a, b) => a < b,
  lte: (a, b) => a <= b,
  gt: (a, b) => a > b,
  gte: (a, b) => a >= b,
};

/** Ordered comparison of two numbers, or two instants; any other pairing is false. */
function compareOrdered(a: unknown, b: unknown, order: Order): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return Number.isFinite(a) && Number.isFinite(b) && order(a, b);
  const x = toInstant(a);
  const y = toInstant(b);
  return !Number.isNaN(x) && !Number.isNaN(y) && order(x, y);
}

function isRef(operand: ConditionOperand | undefined): operand is { ref: string } {
  return typeof operand === 'object' && operand !== null && !Array.isArray(operand);
}

function describeOperand(operand: ConditionOperand): string {
  return isRef(operand) ? operand.ref : JSON.stringify(operand);
}

/** Builds `(actual, expected) => boolean` for one operator, specialised for literal operands. */
function compileAttribute(
  def: AttributeCondition,
  path: string,
  onMismatch: TypeMismatchHook | undefined,
): {
  test: ConditionTest;
  getter: Getter;
  expected: Getter;
  summary: string;
} {
  const op = (Object.keys(def) as (keyof AttributeCondition)[]).find(
    (k) => k !== 'attr',
  ) as ComparisonOperator;
  const getter = compileGetter(def.attr);
  if (op === 'exists') {
    const want = def.exists === true;
    return {
      getter,
      expected: () => want,
      summary: `${def.attr} exists ${want}`,
      test: (s, r, c) => {
        const v = getter(s, r, c);
        return (v !== undefined && v !== null) === want;
      },
    };
  }
  const operand = def[op] as ConditionOperand;
  const summary = `${def.attr} ${op} ${describeOperand(operand)}`;
  // The slow paths below run only once a strict comparison has failed: the common case (same
  // types) costs nothing more than before.
  const reportTypes = (actualType: string, expectedType: string, coerced: boolean): void =>
    onMismatch?.({ path, summary, actualType, expectedType, coerced });
  const report = (a: unknown, b: unknown, coerced: boolean): void =>
    reportTypes(typeName(a), typeName(b), coerced);
  /** A comparison that failed because of a side's shape (not a string / number / boolean, not a list). */
  const reportShape = (a: unknown, b: unknown): void => {
    if (present(a) && present(b)) report(a, b, false);
  };
  /** eq after `a !== b`: the id coercion, reported when the types differ. */
  const looseEq = (a: unknown, b: unknown): boolean => {
    // typeof first: the cheap test that settles the common miss (two strings that differ).
    if (a == null || b == null || typeof a === typeof b) return false;
    const equal = sameValue(a, b);
    report(a, b, equal);
    return equal;
  };
  /** Membership after a strict miss: the id coercion against every item of another type. */
  const looseIncludes = (list: readonly unknown[], a: unknown, types?: ReadonlySet<string>): boolean => {
    const type = typeof a;
    // A literal list knows its item types: a miss of the one type it holds costs one lookup.
    if (types !== undefined && types.size === 1 && types.has(type)) return false;
    const other = list.find((item) => item != null && typeof item !== type);
    if (other === undefined) return false;
    const found = list.some((item) => sameValue(item, a));
    report(a, other, found);
    return found;
  };
  /** Ordering is never coerced; a pairing it cannot order (not two numbers, not two instants) is reported. */
  const ordered = (a: unknown, b: unknown, order: Order): boolean => {
    const result = compareOrdered(a, b, order);
    if (!result && present(a) && present(b)) {
      const x = orderType(a);
      const y = orderType(b);
      if (x !== y || (x !== 'number' && x !== 'instant')) reportTypes(x, y, false);
    }
    return result;
  };
  if (isRef(operand)) {
    const other = compileGetter(operand.ref);
    let test: ConditionTest;
    switch (op) {
      case 'eq':
        test = (s, r, c) => {
          const a = getter(s, r, c);
          const b = other(s, r, c);
          if (a === b) return isPrimitive(a) || (reportShape(a, b), false);
          if (!isPrimitive(a)) return (reportShape(a, b), false);
          return looseEq(a, b);
        };
        break;
      case 'ne':
        test = (s, r, c) => {
          const a = getter(s, r, c);
          const b = other(s, r, c);
          if (!isPrimitive(a) || !isPrimitive(b)) {
            if (present(a) && present(b)) report(a, b, false);
            return false;
          }
          return a !== b && !looseEq(a, b);
        };
        break;
      case 'in':
      case 'notIn': {
        const negate = op === 'notIn';
        test = (s, r, c) => {
          const a = getter(s, r, c);
          const list = other(s, r, c);
          if (!isPrimitive(a) || !Array.isArray(list)) return (reportShape(a, list), false);
          return (list.includes(a) || looseIncludes(list, a)) !== negate;
        };
        break;
      }
      case 'contains':
        test = (s, r, c) => {
          const list = getter(s, r, c);
          const b = other(s, r, c);
          if (!Array.isArray(list) || !isPrimitive(b)) return (reportShape(list, b), false);
          return list.includes(b) || looseIncludes(list, b);
        };
        break;
      default: {
        const order = ORDERS[op];
        test = (s, r, c) => ordered(getter(s, r, c), other(s, r, c), order);
      }
    }
    return { getter, expected: other, summary, test };
  }

  const expected: Getter = () => operand;
  let test: ConditionTest;
  switch (op) {
    case 'eq': {
      const b = operand as ConditionLiteral;
      test = (s, r, c) => {
        const a = getter(s, r, c);
        return a === b || looseEq(a, b);
      };
      break;
    }
    case 'ne': {
      const b = operand as ConditionLiteral;
      test = (s, r, c) => {
        const a = getter(s, r, c);
        if (!isPrimitive(a)) {
          if (present(a)) report(a, b, false);
          return false;
        }
        return a !== b && !looseEq(a, b);
      };
      break;
    }
    case 'in':
    case 'notIn': {
      const negate = op === 'notIn';
      const list = operand as readonly ConditionLiteral[];
      // A Set pays off beyond a handful of items; below that a linear scan is faster.
      const set = list.length > 8 ? new Set<unknown>(list) : undefined;
      const types = new Set<string>(list.map((item) => typeof item));
      test = set
        ? (s, r, c) => {
            const a = getter(s, r, c);
            if (!isPrimitive(a)) return (reportShape(a, list), false);
            return (set.has(a) || looseIncludes(list, a, types)) !== negate;
          }
        : (s, r, c) => {
            const a = getter(s, r, c);
            if (!isPrimitive(a)) return (reportShape(a, list), false);
            return (list.includes(a) || looseIncludes(list, a, types)) !== negate;
          };
      break;
    }
    case 'contains': {
      const b = operand as ConditionLiteral;
      test = (s, r, c) => {
        const list = getter(s, r, c);
        if (!Array.isArray(list)) return (reportShape(list, b), false);
        return list.includes(b) || looseIncludes(list, b);
      };
      break;
    }
    default: {
      const order = ORDERS[op];
      if (typeof operand === 'number') {
        test = (s, r, c) => {
          const a = getter(s, r, c);
          if (typeof a === 'number') return Number.isFinite(a) && order(a, operand);
          if (present(a)) report(a, operand, false);
          return false;
        };
      } else {
        const instant = Date.parse(operand as string);
        test = (s, r, c) => {
          const v = getter(s, r, c);
          const a = toInstant(v);
          // A string that is not an instant with an offset ("2026-06-01", a `date` column) is one too.
          if (Number.isNaN(a) && present(v)) reportTypes(orderType(v), 'instant', false);
          return !Number.isNaN(a) && order(a, instant);
        };
      }
    }
  }
  return { getter, expected, summary, test };
}

/** Tolerated clock difference between the server that authenticated and this one. */
const CLOCK_SKEW_MS = 60_000;
/** `mfaContext()` method names, as `PrincipalAuthentication` factor names. */
const CONTEXT_FACTORS: Readonly<Record<string, string>> = { recovery: 'recovery-code' };

/** Factors the subject proved: `subject.authentication.factors`, plus an `mfaContext()` in the context. */
function provedFactors(s: AuthzSubject, c: AuthzContext | undefined): string[] {
  const auth = s?.authentication as { factors?: unknown } | undefined;
  const factors = Array.isArray(auth?.factors)
    ? auth.factors.filter((f): f is string => typeof f === 'string')
    : [];
  const method = c?.mfaVerified === true ? c.mfaMethod : undefined;
  if (typeof method === 'string')
    factors.push(Object.hasOwn(CONTEXT_FACTORS, method) ? CONTEXT_FACTORS[method] : method);
  return factors;
}

/** Epoch ms of the subject's latest authentication (sign-in or second factor); NaN when unknown. */
function lastAuthenticatedAt(s: AuthzSubject, c: AuthzContext | undefined): number {
  const auth = s?.authentication as { at?: unknown; mfaAt?: unknown } | undefined;
  const times = [auth?.at, auth?.mfaAt, c?.mfaVerified === true ? toInstant(c.mfaAt) : undefined].filter(
    (t): t is number => typeof t === 'number' && Number.isFinite(t),
  );
  return times.length === 0 ? NaN : Math.max(...times);
}

const pad = (n: number): string => String(n).padStart(2, '0');
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * Compiles a validated condition; `path` locates it in the policy for explain(). `onMismatch`
 * hears of comparisons between values of different types (see TypeMismatchHook).
 */
export function compileCondition(
  def: ConditionDefinition,
  path: string,
  onMismatch?: TypeMismatchHook,
): CompiledCondition {
  if ('attr' in def) {
    const { test, getter, expected, summary } = compileAttribute(def, path, onMismatch);
    return {
      test,
      explain(s, r, c, now) {
        const result = test(s, r, c, now);
        return {
          path,
          kind: 'attr',
          result,
          summary,
          actual: getter(s, r, c),
          expected: expected(s, r, c),
          decidedBy: path,
        };
      },
    };
  }
  if ('all' in def || 'any' in def) {
    const isAll = 'all' in def;
    const kind = isAll ? 'all' : 'any';
    const children = (isAll ? def.all : def.any).map((child, i) =>
      compileCondition(child, `${path}.${kind}[${i}]`, onMismatch),
    );
    const tests = children.map((ch) => ch.test);
    const n = tests.length;
    const test: ConditionTest = isAll
      ? (s, r, c, now) => {
          for (let i = 0; i < n; i++) if (!tests[i](s, r, c, now)) return false;
          return true;
        }
      : (s, r, c, now) => {
          for (let i = 0; i < n; i++) if (tests[i](s, r, c, now)) return true;
          return false;
        };
    return {
      test,
      explain(s, r, c, now) {
        const traces = children.map((ch) => ch.explain(s, r, c, now));
        const result = isAll ? traces.every((t) => t.result) : traces.some((t) => t.result);
        // all: decided by the first false child (or the last child when all are true);
        // any: by the first true child (or the last one when none is).
        const decider = traces.find((t) => t.result !== isAll) ?? traces[traces.length - 1];
        return {
          path,
          kind,
          result,
          summary: `${kind} of ${traces.length}`,
          children: traces,
          decidedBy: decider.decidedBy,
        };
      },
    };
  }
  if ('not' in def) {
    const inner = compileCondition(def.not, `${path}.not`, onMismatch);
    const innerTest = inner.test;
    return {
      test: (s, r, c, now) => !innerTest(s, r, c, now),
      explain(s, r, c, now) {
        const t = inner.explain(s, r, c, now);
        return {
          path,
          kind: 'not',
          result: !t.result,
          summary: 'not',
          children: [t],
          decidedBy: t.decidedBy,
        };
      },
    };
  }
  if ('ip' in def) {
    const cidrs = typeof def.ip === 'string' ? [def.ip] : def.ip;
    const range = compileIpRange(cidrs);
    const test: ConditionTest = (_s, _r, c) => c !== undefined && range.test(c.ip);
    return {
      test,
      explain(s, r, c, now) {
        return {
          path,
          kind: 'ip',
          result: test(s, r, c, now),
          summary: `context.ip in ${cidrs.join(', ')}`,
          actual: c?.ip,
          expected: cidrs,
          decidedBy: path,
        };
      },
    };
  }
  if ('timeWindow' in def) {
    const w = def.timeWindow;
    const window = compileTimeWindow(w);
    const test: ConditionTest = (_s, _r, _c, now) => window.test(now());
    return {
      test,
      explain(_s, _r, _c, now) {
        const ms = now();
        const local = window.local(ms);
        return {
          path,
          kind: 'timeWindow',
          result: window.test(ms),
          summary: `${(w.days ?? DAY_NAMES).join(',')} ${w.start}-${w.end} ${w.timeZone}`,
          actual: `${DAY_NAMES[local.day]} ${pad(Math.floor(local.minute / 60))}:${pad(local.minute % 60)} ${w.timeZone}`,
          expected: w,
          decidedBy: path,
        };
      },
    };
  }
  if ('factor' in def) {
    const wanted = typeof def.factor === 'string' ? [def.factor] : [...def.factor];
    const test: ConditionTest = (s, _r, c) => provedFactors(s, c).some((f) => wanted.includes(f));
    return {
      test,
      explain(s, r, c, now) {
        return {
          path,
          kind: 'factor',
          result: test(s, r, c, now),
          summary: `subject proved one of ${wanted.join(', ')}`,
          actual: provedFactors(s, c),
          expected: wanted,
          decidedBy: path,
        };
      },
    };
  }
  if ('recentAuth' in def) {
    const maxAgeMs = def.recentAuth.maxAgeSec * 1000;
    const test: ConditionTest = (s, _r, c, now) => {
      const age = now() - lastAuthenticatedAt(s, c);
      // An authentication dated in the future (beyond clock skew) is not trusted.
      return age >= -CLOCK_SKEW_MS && age <= maxAgeMs;
    };
    return {
      test,
      explain(s, r, c, now) {
        const last = lastAuthenticatedAt(s, c);
        return {
          path,
          kind: 'recentAuth',
          result: test(s, r, c, now),
          summary: `subject authenticated within ${def.recentAuth.maxAgeSec} s`,
          actual: Number.isFinite(last) ? Math.round((now() - last) / 1000) : undefined,
          expected: def.recentAuth.maxAgeSec,
          decidedBy: path,
        };
      },
    };
  }
  const want = def.mfaVerified;
  const test: ConditionTest = (_s, _r, c) => (c !== undefined && c.mfaVerified === true) === want;
  return {
    test,
    explain(s, r, c, now) {
      return {
        path,
        kind: 'mfaVerified',
        result: test(s, r, c, now),
        summary: `context.mfaVerified is ${want}`,
        actual: c?.mfaVerified,
        expected: want,
        decidedBy: path,
      };
    },
  };
}
