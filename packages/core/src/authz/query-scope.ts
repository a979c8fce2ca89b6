import { BulwarkPolicyError, ErrorCodes } from '../errors';
import type { AuthzContext, AuthzSubject } from './authorizer';
import { compileCondition, sameValue, type NowMs } from './compile-condition';
import type { AttributeCondition, ConditionDefinition, ConditionOperand } from './policy-document';

/**
 * The rows of one resource type a subject may act on, as a predicate over the resource's own
 * attributes: what `PolicyEngine.queryScope()` returns and `@bulwark/typeorm`'s `scopeQuery()`
 * turns into SQL, so a list endpoint returns only what the policy allows (ASVS 5.0 V8.2.2,
 * V8.4.1). Two-valued like the engine: a comparison with a missing (NULL) attribute is false,
 * never unknown, so `not` inverts exactly as `check()` does.
 */
export type PolicyScope =
  | { readonly kind: 'true' }
  | { readonly kind: 'false' }
  | { readonly kind: 'and'; readonly nodes: readonly PolicyScope[] }
  | { readonly kind: 'or'; readonly nodes: readonly PolicyScope[] }
  | { readonly kind: 'not'; readonly node: PolicyScope }
  /** `attribute <op> value`; false when the attribute is missing. */
  | {
      readonly kind: 'compare';
      readonly attribute: string;
      readonly op: ScopeOperator;
      readonly value: ScopeValue;
    }
  /** `attribute` is one of `values` (never empty: an empty list is `false`). */
  | { readonly kind: 'in'; readonly attribute: string; readonly values: readonly ScopeValue[] }
  /**
   * `attribute` is present (not null). `comparable`: and a string, number or boolean, as `notIn`
   * needs (an array or NaN attribute is in no list, and not "not in" one either); a column always
   * is, so SQL renders both as IS NOT NULL.
   */
  | { readonly kind: 'present'; readonly attribute: string; readonly comparable?: true }
  /** Two attributes of the same row compared; false when either is missing. */
  | { readonly kind: 'sameAs'; readonly attribute: string; readonly op: 'eq' | 'ne'; readonly other: string };

export type ScopeOperator = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte';
export type ScopeValue = string | number | boolean;

/** A rule that can apply to (type, action) for the subject's roles, as the engine's index found it. */
export interface ScopeRule {
  readonly path: string;
  readonly effect: 'allow' | 'deny';
  readonly when?: ConditionDefinition;
  /** 0: any resource of the type; 1: any with an id; 2: one of `ids`. */
  readonly idMode: 0 | 1 | 2;
  readonly ids?: ReadonlySet<string>;
}

export const TRUE: PolicyScope = Object.freeze({ kind: 'true' });
export const FALSE: PolicyScope = Object.freeze({ kind: 'false' });
const SWAPPED: Readonly<Record<ScopeOperator, ScopeOperator>> = {
  eq: 'eq',
  ne: 'ne',
  lt: 'gt',
  lte: 'gte',
  gt: 'lt',
  gte: 'lte',
};

function untranslatable(path: string, why: string): BulwarkPolicyError {
  return new BulwarkPolicyError(
    ErrorCodes.POLICY_UNTRANSLATABLE,
    `query scope: the condition at ${path} cannot be expressed as a query (${why}); refusing rather than returning rows the policy may not allow`,
    { path },
  );
}

function and(nodes: PolicyScope[]): PolicyScope {
  const kept: PolicyScope[] = [];
  for (const n of nodes) {
    if (n.kind === 'false') return FALSE;
    if (n.kind !== 'true') kept.push(n);
  }
  return kept.length === 0 ? TRUE : kept.length === 1 ? kept[0]! : { kind: 'and', nodes: kept };
}

function or(nodes: PolicyScope[]): PolicyScope {
  const kept: PolicyScope[] = [];
  for (const n of nodes) {
    if (n.kind === 'true') return TRUE;
    if (n.kind !== 'false') kept.push(n);
  }
  return kept.length === 0 ? FALSE : kept.length === 1 ? kept[0]! : { kind: 'or', nodes: kept };
}

function not(node: PolicyScope): PolicyScope {
  if (node.kind === 'true') return FALSE;
  if (node.kind === 'false') return TRUE;
  if (node.kind === 'not') return node.node;
  return { kind: 'not', node };
}

const isPrimitive = (v: unknown): v is ScopeValue =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && !Number.isNaN(v));

const isRef = (o: ConditionOperand | undefined): o is { ref: string } =>
  typeof o === 'object' && o !== null && !Array.isArray(o);

/** `resource.<name>` other than `resource.type` depends on the row; everything else is known now. */
function rowAttribute(path: string, where: string): string | undefined {
  if (!path.startsWith('resource.') || path === 'resource.type') return undefined;
  const name = path.slice('resource.'.length);
  if (name.includes('.')) throw untranslatable(where, `${path} is nested; scopes read top-level attributes`);
  return name;
}

/** Translates rule conditions for one subject, context and resource type. */
class Translator {
  constructor(
    private readonly subject: AuthzSubject,
    private readonly context: AuthzContext,
    private readonly type: string,
    private readonly now: NowMs,
  ) {}

  /** A subject / context / resource.type attribute's value, as the engine's getters read it. */
  private value(path: string): unknown {
    const [root, ...keys] = path.split('.');
    let v: unknown =
      root === 'subject' ? this.subject : root === 'context' ? this.context : { type: this.type };
    for (const k of keys) {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return undefined;
      v = (v as Record<string, unknown>)[k];
    }
    return v;
  }

  /** A condition that does not depend on the row, decided now exactly as check() would. */
  private constant(def: ConditionDefinition, path: string): PolicyScope {
    const result = compileCondition(def, path).test(
      this.subject,
      { type: this.type },
      this.context,
      this.now,
    );
    return result ? TRUE : FALSE;
  }

  condition(def: ConditionDefinition, path: string): PolicyScope {
    if ('all' in def) return and(def.all.map((d, i) => this.condition(d, `${path}.all[${i}]`)));
    if ('any' in def) return or(def.any.map((d, i) => this.condition(d, `${path}.any[${i}]`)));
    if ('not' in def) return not(this.condition(def.not, `${path}.not`));
    if ('attr' in def) return this.attribute(def, path);
    // ip, timeWindow, mfaVerified and any other kind read only the context and the clock.
    return this.constant(def, path);
  }

  private attribute(def: AttributeCondition, path: string): PolicyScope {
    const op = (Object.keys(def) as (keyof AttributeCondition)[]).find((k) => k !== 'attr')!;
    const operand = def[op] as ConditionOperand | boolean;
    const left = rowAttribute(def.attr, path);
    const right = isRef(operand as ConditionOperand)
      ? rowAttribute((operand as { ref: string }).ref, path)
      : undefined;
    if (left === undefined && right === undefined) return this.constant(def, path);

    if (op === 'exists') {
      const present: PolicyScope = { kind: 'present', attribute: left! };
      return operand === true ? present : not(present);
    }
    if (left !== undefined && right !== undefined) {
      if (op !== 'eq' && op !== 'ne') throw untranslatable(path, `${op} between two resource attributes`);
      return { kind: 'sameAs', attribute: left, op, other: right };
    }
    if (left !== undefined) {
      const given = isRef(operand as ConditionOperand)
        ? this.value((operand as { ref: string }).ref)
        : (operand as unknown);
      return this.rowAgainst(left, op, given, path);
    }
    // A known value compared with a row attribute: `subject.id eq resource.ownerId`.
    const known = this.value(def.attr);
    switch (op) {
      case 'eq':
      case 'ne':
        return isPrimitive(known) ? { kind: 'compare', attribute: right!, op, value: known } : FALSE;
      case 'contains':
        return Array.isArray(known) ? this.inList(right!, known) : FALSE;
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        if (typeof known === 'number' && Number.isFinite(known)) {
          return { kind: 'compare', attribute: right!, op: SWAPPED[op], value: known };
        }
        if (typeof known === 'string' || known instanceof Date)
          throw untranslatable(path, 'ordering of times');
        return FALSE;
      default:
        throw untranslatable(path, `${op} with a resource attribute as the list`);
    }
  }

  /** `resource.<attribute> <op> given` with `given` known now (literal or resolved reference). */
  private rowAgainst(attribute: string, op: string, given: unknown, path: string): PolicyScope {
    switch (op) {
      case 'eq':
      case 'ne':
        return isPrimitive(given) ? { kind: 'compare', attribute, op, value: given } : FALSE;
      case 'in':
        return Array.isArray(given) ? this.inList(attribute, given) : FALSE;
      case 'notIn':
        return Array.isArray(given)
          ? and([{ kind: 'present', attribute, comparable: true }, not(this.inList(attribute, given))])
          : FALSE;
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        if (typeof given === 'number' && Number.isFinite(given))
          return { kind: 'compare', attribute, op, value: given };
        // A string or Date is a time the engine orders as a time, which a column comparison cannot
        // mirror; FALSE would be wrong too, since a deny under not(...) would then vanish.
        if (typeof given === 'string' || given instanceof Date)
          throw untranslatable(path, 'ordering of times');
        return FALSE;
      default:
        throw untranslatable(path, `${op} on a resource attribute (an array)`);
    }
  }

  private inList(attribute: string, list: readonly unknown[]): PolicyScope {
    const values = [...new Set(list.filter(isPrimitive))];
    return values.length === 0 ? FALSE : { kind: 'in', attribute, values };
  }
}

/**
 * The scope of the rules that apply to (subject's roles, action, type): any applicable allow
 * rule's condition, and none of the applicable deny rules' conditions. Break-glass grants are not
 * part of a scope. Throws ERR_POLICY_UNTRANSLATABLE for a condition a query cannot express.
 */
export function translateScope(
  rules: readonly ScopeRule[],
  subject: AuthzSubject,
  context: AuthzContext,
  type: string,
  now: NowMs,
): PolicyScope {
  const t = new Translator(subject, context, type, now);
  const allow: PolicyScope[] = [];
  const deny: PolicyScope[] = [];
  for (const rule of rules) {
    const ids: PolicyScope =
      rule.idMode === 2
        ? t_in('id', [...rule.ids!])
        : rule.idMode === 1
          ? { kind: 'present', attribute: 'id' }
          : TRUE;
    const when = rule.when === undefined ? TRUE : t.condition(rule.when, `${rule.path}.when`);
    (rule.effect === 'allow' ? allow : deny).push(and([ids, when]));
  }
  return and([or(allow), not(or(deny))]);
}

function t_in(attribute: string, values: string[]): PolicyScope {
  return values.length === 0 ? FALSE : { kind: 'in', attribute, values };
}

const present = (v: unknown): boolean => v !== undefined && v !== null;
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Whether one resource's attributes satisfy a scope, with the engine's semantics (strict equality
 * but for ids: `42` equals `"42"`; a missing attribute fails every comparison): filters an in-memory collection the way
 * `scopeQuery()` filters a table.
 */
export function matchesScope(scope: PolicyScope, attributes: Readonly<Record<string, unknown>>): boolean {
  switch (scope.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'and':
      return scope.nodes.every((n) => matchesScope(n, attributes));
    case 'or':
      return scope.nodes.some((n) => matchesScope(n, attributes));
    case 'not':
      return !matchesScope(scope.node, attributes);
    case 'present':
      return scope.comparable === true
        ? isPrimitive(attributes[scope.attribute])
        : present(attributes[scope.attribute]);
    case 'in': {
      const v = attributes[scope.attribute];
      return isPrimitive(v) && scope.values.some((x) => sameValue(v, x));
    }
    case 'sameAs': {
      const a = attributes[scope.attribute];
      const b = attributes[scope.other];
      return isPrimitive(a) && isPrimitive(b) && sameValue(a, b) === (scope.op === 'eq');
    }
    case 'compare': {
      const a = attributes[scope.attribute];
      const b = scope.value;
      switch (scope.op) {
        case 'eq':
          return sameValue(a, b);
        case 'ne':
          return isPrimitive(a) && !sameValue(a, b);
        case 'lt':
          return finite(a) && a < (b as number);
        case 'lte':
          return finite(a) && a <= (b as number);
        case 'gt':
          return finite(a) && a > (b as number);
        case 'gte':
          return finite(a) && a >= (b as number);
      }
    }
  }
}
