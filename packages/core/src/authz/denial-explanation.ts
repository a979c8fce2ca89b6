import type { ConditionTrace } from './compile-condition';
import { typeName } from './compile-condition';
import type { Explanation, RuleTrace } from './policy-engine';

/** Why the deciding condition of a rule did not hold, without the values it compared. */
export interface ConditionMiss {
  /** Where the condition is, e.g. `policies[0].rules[1].when.all[0]`. */
  readonly path: string;
  /** The condition as written, e.g. `resource.ownerId eq subject.id`. */
  readonly summary: string;
  /**
   * `missing`: the attribute (or the referenced one) is absent; `type_mismatch`: the two sides
   * have different types that never compare equal (`"abc"` and `1`, `"true"` and `true`; a number
   * and an integer string are comparable ids); `false`: the values did not satisfy it.
   */
  readonly why: 'missing' | 'type_mismatch' | 'false';
  /** Type names (`number`, `string`, `array`, `undefined`...) of both sides, for attribute conditions. */
  readonly actualType?: string;
  readonly expectedType?: string;
}

/** The allow rule closest to applying, and what stopped it (explain() on a default deny). */
export interface NearestRule {
  readonly policyId: string;
  readonly ruleId: string;
  readonly path: string;
  /** The first thing that did not match. */
  readonly failed: 'action' | 'resource' | 'role' | 'condition';
  /** When `failed` is `condition`: the leaf condition that decided it. */
  readonly condition?: ConditionMiss;
}

/**
 * What a denial says about itself, safe for an audit entry and, in development, a 403 body: ids,
 * paths, condition text and type names from the policy, never attribute values (which may be
 * personal data).
 */
export interface DenialExplanation {
  readonly reasonId: string;
  /** The deny rule that decided (absent for `default_deny` and `invalid_request`). */
  readonly deniedBy?: {
    readonly policyId: string;
    readonly ruleId: string;
    /** The leaf condition that made the deny rule apply. */
    readonly condition?: string;
  };
  /** For `default_deny`: the allow rule that came closest and why it did not apply. */
  readonly nearest?: NearestRule;
  /** One line for humans, e.g. `deny by default: no allow rule matched; nearest ...`. */
  readonly summary: string;
}

const STAGE = { action: 0, resource: 1, role: 2, condition: 3 } as const;

function findLeaf(trace: ConditionTrace, path: string): ConditionTrace | undefined {
  if (trace.path === path) return trace;
  for (const child of trace.children ?? []) {
    const found = findLeaf(child, path);
    if (found !== undefined) return found;
  }
  return undefined;
}

const present = (v: unknown): boolean => v !== undefined && v !== null;
/** The engine's own id predicate (`sameValue`): a safe integer's canonical decimal string. */
const isIdString = (v: string): boolean => {
  const n = Number(v);
  return v.length !== 0 && Number.isSafeInteger(n) && String(n) === v;
};
/**
 * A safe integer and a canonical integer string: comparable as ids (`sameValue`), so unequal
 * ones simply differ. `42` and `"042"`, `"-0"`, an unsafe integer: never equal, a type mismatch.
 */
const idPair = (a: unknown, b: unknown): boolean =>
  (typeof a === 'number' && Number.isSafeInteger(a) && typeof b === 'string' && isIdString(b)) ||
  (typeof b === 'number' && Number.isSafeInteger(b) && typeof a === 'string' && isIdString(a));
/** Two values that can be equal: the same type, or an id pair. */
const comparable = (a: unknown, b: unknown): boolean => typeName(a) === typeName(b) || idPair(a, b);

function miss(trace: ConditionTrace): ConditionMiss {
  const leaf = findLeaf(trace, trace.decidedBy) ?? trace;
  if (leaf.kind !== 'attr') return { path: leaf.path, summary: leaf.summary, why: 'false' };
  const actualType = typeName(leaf.actual);
  const expectedType = typeName(leaf.expected);
  const isExists = / exists (true|false)$/.test(leaf.summary);
  const isList = / (in|notIn) /.test(leaf.summary);
  const isContains = / contains /.test(leaf.summary);
  const isOrder = / (lt|lte|gt|gte) /.test(leaf.summary);
  // Lists (`in`: the expected side, `contains`: the actual side) are compared item by item: a
  // mismatch when no item could ever equal the value (or the list is not a list at all).
  const listMismatch = (list: unknown, value: unknown): boolean =>
    !Array.isArray(list) || (list.length !== 0 && !list.some((item) => comparable(item, value)));
  const why: ConditionMiss['why'] =
    !isExists && (!present(leaf.actual) || !present(leaf.expected))
      ? 'missing'
      : isExists
        ? 'false'
        : isList
          ? listMismatch(leaf.expected, leaf.actual)
            ? 'type_mismatch'
            : 'false'
          : isContains
            ? listMismatch(leaf.actual, leaf.expected)
              ? 'type_mismatch'
              : 'false'
            : isOrder
              ? actualType !== expectedType && !(actualType === 'date' || expectedType === 'date')
                ? 'type_mismatch'
                : 'false'
              : !comparable(leaf.actual, leaf.expected)
                ? 'type_mismatch'
                : 'false';
  return { path: leaf.path, summary: leaf.summary, why, actualType, expectedType };
}

/**
 * The allow rule that got furthest (action, then resource, then role, then condition) among the
 * rules traced, the first in document order on a tie; undefined when no allow rule names the action.
 */
export function nearestRule(traces: readonly RuleTrace[]): NearestRule | undefined {
  let best: RuleTrace | undefined;
  for (const t of traces) {
    if (t.effect !== 'allow' || t.matched || t.failed === undefined || t.failed === 'action') continue;
    if (best === undefined || STAGE[t.failed] > STAGE[best.failed!]) best = t;
  }
  if (best === undefined) return undefined;
  return {
    policyId: best.policyId,
    ruleId: best.ruleId,
    path: best.path,
    failed: best.failed!,
    ...(best.failed === 'condition' && best.condition !== undefined
      ? { condition: miss(best.condition) }
      : {}),
  };
}

/**
 * The value-free part of an explanation of a deny, for audit entries and development 403 bodies:
 * the deny rule that decided (and its deciding condition), or for a default deny the nearest allow
 * rule and why it did not apply. Undefined for an allow.
 */
export function explainDenial(explanation: Explanation): DenialExplanation | undefined {
  const { decision } = explanation;
  if (decision.allowed) return undefined;
  const by = explanation.decidedBy;
  const summary = explanation.summary.slice(0, 512);
  if (by !== undefined) {
    return {
      reasonId: decision.reasonId,
      deniedBy: {
        policyId: by.policyId,
        ruleId: by.ruleId,
        ...(by.condition !== undefined ? { condition: by.condition } : {}),
      },
      summary,
    };
  }
  return {
    reasonId: decision.reasonId,
    ...(explanation.nearest !== undefined ? { nearest: explanation.nearest } : {}),
    summary,
  };
}
