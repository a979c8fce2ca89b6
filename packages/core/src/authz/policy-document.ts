/**
 * The policy format: the same shape whether written as TypeScript objects, JSON or YAML. Every
 * field is validated strictly at load (`validatePolicyDocument`): an unknown field, operator or
 * role is an error naming its path, never something silently ignored (an ignored `when` would
 * turn a conditional allow into an unconditional one).
 *
 * ```yaml
 * version: 1
 * roles:
 *   nurse: {}
 *   doctor: { inherits: [nurse] }
 * policies:
 *   - id: clinical
 *     rules:
 *       - id: read-own-department
 *         effect: allow
 *         roles: [nurse]
 *         actions: ["patient:read"]
 *         resources: ["records/*"]
 *         when: { attr: resource.department, eq: { ref: subject.department } }
 * ```
 */

/** An attribute path: `subject.<a>[.<b>...]`, `resource.<a>...` or `context.<a>...`. */
export type AttributePath = string;

/** A reference to another attribute, e.g. `{ ref: 'subject.id' }` (ownership checks). */
export interface AttributeRef {
  ref: AttributePath;
}

export type ConditionLiteral = string | number | boolean;
export type ConditionOperand = ConditionLiteral | readonly ConditionLiteral[] | AttributeRef;

/** Comparison operators of an attribute condition. */
export type ComparisonOperator =
  'eq' | 'ne' | 'in' | 'notIn' | 'contains' | 'lt' | 'lte' | 'gt' | 'gte' | 'exists';

/**
 * `{ attr: 'resource.ownerId', eq: { ref: 'subject.id' } }`: exactly one operator.
 * - eq / ne: strict equality of primitives (a missing attribute never equals anything).
 * - in / notIn: the attribute is (not) one of a list (literal list or a referenced array).
 * - contains: the attribute (an array) contains the operand.
 * - lt / lte / gt / gte: both numbers, or both ISO-8601 times (compared as instants).
 * - exists: `true` / `false`.
 */
export interface AttributeCondition {
  attr: AttributePath;
  eq?: ConditionOperand;
  ne?: ConditionOperand;
  in?: ConditionOperand;
  notIn?: ConditionOperand;
  contains?: ConditionOperand;
  lt?: ConditionOperand;
  lte?: ConditionOperand;
  gt?: ConditionOperand;
  gte?: ConditionOperand;
  exists?: boolean;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/**
 * Local wall-clock window in an IANA time zone (resolved with Intl, so DST is handled).
 * `end` before `start` wraps past midnight (22:00-06:00); `days` name the day the window opens.
 */
export interface TimeWindowDefinition {
  days?: readonly Weekday[];
  /** `HH:MM`, inclusive. */
  start: string;
  /** `HH:MM` (`24:00` allowed), exclusive. */
  end: string;
  timeZone: string;
}

/** Exactly one key per condition object; combine with `all` / `any` / `not`. */
export type ConditionDefinition =
  | AttributeCondition
  | { all: readonly ConditionDefinition[] }
  | { any: readonly ConditionDefinition[] }
  | { not: ConditionDefinition }
  /** `context.ip` inside one of these CIDR ranges (IPv4 / IPv6; a bare address is a /32 or /128). */
  | { ip: string | readonly string[] }
  | { timeWindow: TimeWindowDefinition }
  /** `context.mfaVerified === true` (or, with `false`, not verified). */
  | { mfaVerified: boolean }
  /**
   * Step-up: the subject proved one of these factors (`subject.authentication.factors`, from a
   * session, a sign-in path or a token's `amr`; or the `mfaContext()` method in the context).
   */
  | { factor: string | readonly string[] }
  /**
   * Step-up: the subject signed in or proved a second factor at most `maxAgeSec` ago
   * (`subject.authentication.at` / `mfaAt`, or the context's `mfaAt`).
   */
  | { recentAuth: RecentAuthDefinition };

/** `{ recentAuth: { maxAgeSec: 300 } }`: how recent the last authentication must be. */
export interface RecentAuthDefinition {
  maxAgeSec: number;
}

export interface RoleDefinition {
  /** Roles whose permissions this role also has. Cycles are rejected at load. */
  inherits?: readonly string[];
  description?: string;
}

export interface RuleDefinition {
  /** Unique within its policy; `[A-Za-z0-9][A-Za-z0-9_.:-]*`. */
  id: string;
  effect: 'allow' | 'deny';
  /** Roles the rule applies to (with inheritance), or `['*']` for every subject. */
  roles: readonly string[];
  /** Action patterns: `read`, `patient:*`, `*`. */
  actions: string | readonly string[];
  /** Resource patterns: `records` (the type), `records/*` (any id), `records/123`, `*`. */
  resources: string | readonly string[];
  when?: ConditionDefinition | readonly ConditionDefinition[];
  /**
   * Field-level rule (ASVS V8.2.3, V8.1.2): the top-level fields of the resource this rule is about.
   * On an allow rule, the action is allowed but only these fields may be read / written (a
   * matching allow rule without `fields` allows every field). On a deny rule, these fields are
   * withheld / refused while the action itself stays allowed. Names `[A-Za-z_$][A-Za-z0-9_$-]*`.
   * Read by `permittedFields()` and the adapters' response filter and body check.
   */
  fields?: readonly string[];
  /** Stable id for the decision (`[a-z0-9_.-]{1,64}`), safe for a 403 body; defaults to `rule_allow` / `rule_deny`. */
  reasonId?: string;
  description?: string;
}

export interface PolicyDefinition {
  id: string;
  description?: string;
  /**
   * Hard denies: this policy's deny rules also override break-glass grants (e.g. "nobody reads
   * psychotherapy notes outside the treating team, emergency or not").
   */
  breakGlassProof?: boolean;
  rules: readonly RuleDefinition[];
}

export interface PolicyDocument {
  version: 1;
  roles?: Readonly<Record<string, RoleDefinition>>;
  policies: readonly PolicyDefinition[];
}

/** Identity helper that gives a code-defined policy its type (validation happens at load). */
export function definePolicy(document: PolicyDocument): PolicyDocument {
  return document;
}
