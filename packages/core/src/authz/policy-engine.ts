import type { AuditEvent } from '../audit/audit-event';
import type { BreakGlassStore } from './break-glass-store';
import { BulwarkConfigError, BulwarkPolicyError, ErrorCodes } from '../errors';
import { type ActionPattern, matchesActionPattern, parseActionPattern } from './action-pattern';
import type { Authorizer, AuthzContext, AuthzResource, AuthzSubject, Decision } from './authorizer';
import {
  type AuditEmitter,
  type BreakGlassActor,
  type BreakGlassGrant,
  type BreakGlassOptions,
  BreakGlassRegistry,
  type BreakGlassRequest,
} from './break-glass-registry';
import {
  type CompiledCondition,
  compileCondition,
  type ConditionTrace,
  type NowMs,
  type TypeMismatchHook,
} from './compile-condition';
import { type DenialExplanation, explainDenial, nearestRule, type NearestRule } from './denial-explanation';
import type { ConditionDefinition, PolicyDocument } from './policy-document';
import { parsePolicyText, type ParsePolicyTextOptions } from './parse-policy-text';
import { matchesResourcePattern, parseResourcePattern, type ResourcePattern } from './resource-pattern';
import { RoleGraph } from './role-graph';
import { validatePolicyDocument } from './validate-policy-document';
import { NO_FIELDS, type FieldPermission } from './field-permission';
import { FALSE, translateScope, type PolicyScope, type ScopeRule } from './query-scope';
import { positiveInt } from '../util/options';

/**
 * Bulwark's access-control policy engine: RBAC with role inheritance plus ABAC conditions,
 * deny overrides allow, default deny, explain() for every decision, and audited break-glass.
 *
 * Precedence, in order:
 * 1. a matching deny rule of a `breakGlassProof` policy (a hard deny): deny, always;
 * 2. a matching deny rule: deny, unless the subject holds an active break-glass grant covering
 *    the request, which overrides it (that is what break-glass is for);
 * 3. a matching allow rule: allow;
 * 4. an active break-glass grant covering the request: allow (audited as a use);
 * 5. otherwise: deny (`default_deny`).
 * Bad input (no subject, roles not an array, empty action, no resource type) is a deny
 * (`invalid_request`), never an exception and never an allow.
 *
 * Performance: policies are compiled at load into closures; rules are indexed lazily per
 * (resource type, action) into buckets already split into hard-deny / deny / allow lists; role
 * inheritance is a precomputed mask per role (LRU for multi-role sets). Decisions are frozen
 * objects built at load, so check() allocates nothing on the common path.
 */

export interface PolicyEngineOptions {
  /** A policy document (typed object), or its JSON / YAML text. */
  policy: PolicyDocument | string;
  /** Format of `policy` when it is text (default: auto). */
  format?: ParsePolicyTextOptions['format'];
  /** Clock for time windows and break-glass expiry (tests inject one). */
  clock?: () => Date;
  /** Audit hook: receives break-glass events. May return a promise (awaited for grants). */
  onAudit?: (event: AuditEvent) => void | Promise<unknown>;
  /** An `AuditLog` (or anything with `append(event)`), used like `onAudit`. */
  auditLog?: { append(event: AuditEvent): unknown };
  /** Called when a background audit write (break-glass use / expiry) fails; default: process warning. */
  onAuditError?: (err: unknown, event: AuditEvent) => void;
  breakGlass?: BreakGlassOptions;
  /**
   * Shares break-glass grants between instances (e.g. `bulwarkStores(dataSource).breakGlass` from
   * @bulwark/typeorm). Grants are then read through the store by `authorize()` on every
   * break-glass decision; the synchronous `check()` never allows by break-glass (it cannot read
   * the store, and a local copy could miss a revocation made elsewhere).
   */
  breakGlassStore?: BreakGlassStore;
  /**
   * Hears what the engine notices while deciding (today: a condition comparing values of
   * different types, `BULWARK_POLICY_TYPE_MISMATCH`), once per condition and loaded policy. A
   * warning names the rule and condition and the two types, never the values. Default:
   * `process.emitWarning`.
   */
  onWarning?: (warning: PolicyWarning) => void;
  /** Capacity of the multi-role closure LRU (default 1024). */
  roleCacheSize?: number;
  /** Capacity of the (resource type, action) rule index (default 4096 pairs); beyond it buckets are computed per check. */
  indexSize?: number;
}

/** Something the engine noticed about the policy while deciding (see `onWarning`). */
export interface PolicyWarning {
  readonly code: 'BULWARK_POLICY_TYPE_MISMATCH';
  readonly message: string;
  readonly policyId: string;
  readonly ruleId: string;
  /** The condition's location, e.g. `policies[0].rules[1].when`. */
  readonly path: string;
  /** The condition as written, e.g. `resource.ownerId eq subject.id`. */
  readonly condition: string;
  readonly actualType: string;
  readonly expectedType: string;
  /** True when the id rule made the values equal (`42` and `"42"`); false when they stayed unequal. */
  readonly coerced: boolean;
}

/** Why one rule did or did not apply, as reported by explain(). */
export interface RuleTrace {
  readonly policyId: string;
  readonly ruleId: string;
  readonly effect: 'allow' | 'deny';
  /** Location in the document, e.g. `policies[1].rules[3]`. */
  readonly path: string;
  readonly hardDeny: boolean;
  readonly matched: boolean;
  /** The first thing that did not match: `action`, `resource`, `role` or `condition`. */
  readonly failed?: 'action' | 'resource' | 'role' | 'condition';
  readonly condition?: ConditionTrace;
}

/**
 * The full trace of a decision. It contains policy internals and attribute values (possibly
 * personal data): log it or show it to administrators, never to the end user.
 */
export interface Explanation {
  readonly decision: Decision;
  readonly subject: {
    readonly id: unknown;
    readonly roles: readonly string[];
    readonly effectiveRoles: readonly string[];
  };
  readonly action: string;
  readonly resource: { readonly type: unknown; readonly id?: unknown };
  readonly rules: readonly RuleTrace[];
  /** The deciding rule and, when a condition made the difference, the deciding condition's path. */
  readonly decidedBy?: {
    readonly policyId: string;
    readonly ruleId: string;
    readonly path: string;
    readonly condition?: string;
  };
  /**
   * On a default deny: the allow rule that came closest (the furthest through action, resource,
   * role, condition) and what stopped it; absent when no allow rule names the action.
   */
  readonly nearest?: NearestRule;
  /** The break-glass grant that decided (explain() does not record a use: enforce with check()). */
  readonly breakGlass?: BreakGlassGrant;
  /** One line for humans. */
  readonly summary: string;
}

interface CompiledRule {
  readonly policyId: string;
  readonly ruleId: string;
  readonly path: string;
  readonly effect: 'allow' | 'deny';
  readonly hard: boolean;
  readonly anyRole: boolean;
  readonly roleIdx: readonly number[];
  readonly actions: readonly ActionPattern[];
  readonly resources: readonly ResourcePattern[];
  readonly condition?: CompiledCondition;
  /** The rule's condition as written (query scopes translate it). */
  readonly when?: ConditionDefinition;
  /** Field rule: the fields it allows or withholds (see RuleDefinition.fields). */
  readonly fields?: readonly string[];
  readonly decision: Decision;
}

/** A deny rule with `fields` withholds those fields; it does not deny the action. */
const isFieldDeny = (rule: CompiledRule): boolean => rule.effect === 'deny' && rule.fields !== undefined;

/** id check of a rule for one resource type: 0 none, 1 any non-empty id, 2 one of `ids`. */
interface BucketEntry {
  readonly rule: CompiledRule;
  readonly idMode: 0 | 1 | 2;
  readonly ids?: ReadonlySet<string>;
}

interface Bucket {
  readonly hard: readonly BucketEntry[];
  readonly soft: readonly BucketEntry[];
  readonly allow: readonly BucketEntry[];
  /** Deny rules with `fields`: read by permittedFields() only. */
  readonly fieldDeny: readonly BucketEntry[];
}

interface CompiledPolicy {
  readonly document: PolicyDocument;
  readonly roles: RoleGraph;
  readonly rules: readonly CompiledRule[];
  readonly index: Map<string, Map<string, Bucket>>;
  indexed: number;
  /** denialExplanation(): the first allow rule naming an action, per action (bounded like the index). */
  firstAllow?: Map<string, CompiledRule | undefined>;
}

export const DEFAULT_DENY: Decision = Object.freeze({
  allowed: false,
  effect: 'deny',
  reasonId: 'default_deny',
});
export const INVALID_REQUEST: Decision = Object.freeze({
  allowed: false,
  effect: 'deny',
  reasonId: 'invalid_request',
});
const EMPTY_CONTEXT: AuthzContext = Object.freeze({});
const MAX_ACTION_LENGTH = 256;

function compile(
  document: PolicyDocument,
  roleCacheSize: number,
  onMismatch: TypeMismatchHook,
): CompiledPolicy {
  const roles = new RoleGraph(document.roles ?? {}, roleCacheSize);
  const rules: CompiledRule[] = [];
  document.policies.forEach((policy, p) => {
    policy.rules.forEach((rule, r) => {
      const path = `policies[${p}].rules[${r}]`;
      const hard = rule.effect === 'deny' && policy.breakGlassProof === true;
      const decision: Decision = Object.freeze({
        allowed: rule.effect === 'allow',
        effect: rule.effect,
        reasonId: rule.reasonId ?? (rule.effect === 'allow' ? 'rule_allow' : 'rule_deny'),
        policyId: policy.id,
        ruleId: rule.id,
      });
      const actions = typeof rule.actions === 'string' ? [rule.actions] : rule.actions;
      const resources = typeof rule.resources === 'string' ? [rule.resources] : rule.resources;
      const when: ConditionDefinition | undefined =
        rule.when === undefined
          ? undefined
          : Array.isArray(rule.when)
            ? { all: rule.when as readonly ConditionDefinition[] }
            : (rule.when as ConditionDefinition);
      rules.push({
        policyId: policy.id,
        ruleId: rule.id,
        path,
        effect: rule.effect,
        hard,
        anyRole: rule.roles.includes('*'),
        roleIdx: rule.roles.filter((n) => n !== '*').map((n) => roles.index.get(n)!),
        actions: actions.map((a) => parseActionPattern(a)!),
        resources: resources.map((s) => parseResourcePattern(s)!),
        condition: when === undefined ? undefined : compileCondition(when, `${path}.when`, onMismatch),
        ...(when !== undefined ? { when } : {}),
        ...(rule.fields !== undefined ? { fields: rule.fields } : {}),
        decision,
      });
    });
  });
  return { document, roles, rules, index: new Map(), indexed: 0 };
}

/** The rules that can apply to (type, action), in document order, split by precedence. */
function buildBucket(rules: readonly CompiledRule[], type: string, action: string): Bucket {
  const hard: BucketEntry[] = [];
  const soft: BucketEntry[] = [];
  const allow: BucketEntry[] = [];
  const fieldDeny: BucketEntry[] = [];
  for (const rule of rules) {
    if (!rule.actions.some((p) => matchesActionPattern(p, action))) continue;
    let idMode: 0 | 1 | 2 | undefined;
    let ids: Set<string> | undefined;
    for (const p of rule.resources) {
      if (p.kind === 'any' || (p.kind === 'type' && p.type === type)) idMode = 0;
      else if (p.kind === 'anyId' && p.type === type) idMode = idMode === 0 ? 0 : 1;
      else if (p.kind === 'id' && p.type === type) {
        if (idMode === undefined) idMode = 2;
        (ids ??= new Set()).add(p.id);
      }
    }
    if (idMode === undefined) continue;
    const entry: BucketEntry = idMode === 2 ? { rule, idMode, ids } : { rule, idMode };
    (rule.effect === 'allow' ? allow : isFieldDeny(rule) ? fieldDeny : rule.hard ? hard : soft).push(entry);
  }
  return { hard, soft, allow, fieldDeny };
}

/** What decides a deny that break-glass may override (`denied` undefined: no rule matched). */
type Overridable<R> = (
  denied: Decision | undefined,
  subject: AuthzSubject,
  action: string,
  resource: AuthzResource,
  context: AuthzContext | undefined,
) => R;

function applies(
  entry: BucketEntry,
  mask: Uint8Array,
  subject: AuthzSubject,
  resource: AuthzResource,
  context: AuthzContext,
  now: NowMs,
): boolean {
  if (entry.idMode !== 0) {
    const id = resource.id as unknown;
    if (typeof id !== 'string' || id.length === 0) return false;
    if (entry.idMode === 2 && !entry.ids!.has(id)) return false;
  }
  const rule = entry.rule;
  if (!rule.anyRole) {
    const idx = rule.roleIdx;
    let hit = false;
    for (let i = 0; i < idx.length; i++) {
      if (mask[idx[i]] === 1) {
        hit = true;
        break;
      }
    }
    if (!hit) return false;
  }
  return rule.condition === undefined || rule.condition.test(subject, resource, context, now);
}

/**
 * Rules traced at most by a denial explanation (denialExplanation()): a 403 must stay as cheap as
 * an allow whatever the policy's size, since denials are what a caller produces most easily.
 */
export const DENIAL_TRACE_LIMIT = 64;

/**
 * The id rule applied to `resource.id`: a safe integer is the id `String(id)` (as `42` and `"42"`
 * are one id in conditions and query scopes); a string, undefined or null is taken as is; any
 * other value (a non-integer or unsafe number, a bigint, an object...) is not an id (undefined:
 * the caller denies `invalid_request`). The view keeps every other attribute (its prototype is
 * the caller's object), so class instances and getters still read as before.
 */
function normaliseResource(resource: AuthzResource): AuthzResource | undefined {
  const id = resource.id as unknown;
  if (id === undefined || id === null || typeof id === 'string') return resource;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) return undefined;
  return Object.create(resource, {
    id: { value: String(id), enumerable: true },
    type: { value: resource.type, enumerable: true },
  }) as AuthzResource;
}

function isValidRequest(subject: AuthzSubject, action: string, resource: AuthzResource): boolean {
  return (
    subject !== null &&
    typeof subject === 'object' &&
    typeof subject.id === 'string' &&
    Array.isArray(subject.roles) &&
    typeof action === 'string' &&
    action.length !== 0 &&
    action.length <= MAX_ACTION_LENGTH &&
    resource !== null &&
    typeof resource === 'object' &&
    typeof resource.type === 'string' &&
    resource.type.length !== 0
  );
}

export class PolicyEngine implements Authorizer {
  private compiled: CompiledPolicy;
  private readonly nowMs: NowMs;
  private readonly breakGlass: BreakGlassRegistry;
  private readonly roleCacheSize: number;
  private readonly indexSize: number;
  private readonly onWarning: (warning: PolicyWarning) => void;

  constructor(options: PolicyEngineOptions) {
    if (options === null || typeof options !== 'object') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'PolicyEngine options must be an object', {
        path: 'options',
      });
    }
    const clock = options.clock;
    if (clock !== undefined && typeof clock !== 'function') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'clock must be a function returning a Date', {
        path: 'clock',
      });
    }
    this.nowMs = clock === undefined ? Date.now : () => clock().getTime();
    this.roleCacheSize = positiveInt(options.roleCacheSize, 'roleCacheSize', 1024);
    this.indexSize = positiveInt(options.indexSize, 'indexSize', 4096);

    const sinks: AuditEmitter[] = [];
    if (options.onAudit !== undefined) {
      if (typeof options.onAudit !== 'function') {
        throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'onAudit must be a function', {
          path: 'onAudit',
        });
      }
      sinks.push(options.onAudit);
    }
    if (options.auditLog !== undefined) {
      const log = options.auditLog;
      if (log === null || typeof log.append !== 'function') {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'auditLog must have an append(event) method',
          {
            path: 'auditLog',
          },
        );
      }
      sinks.push((event) => log.append(event) as void | Promise<unknown>);
    }
    const emit: AuditEmitter | undefined =
      sinks.length === 0
        ? undefined
        : sinks.length === 1
          ? sinks[0]
          : (event) => {
              const results = sinks.map((sink) => sink(event));
              return results.some((r) => r && typeof (r as Promise<unknown>).then === 'function')
                ? Promise.all(results)
                : undefined;
            };
    const onAuditError =
      options.onAuditError ??
      ((err: unknown, event: AuditEvent) => {
        process.emitWarning(
          `Bulwark: audit event ${event.action} could not be written: ${(err as Error)?.message ?? String(err)}`,
          { code: 'BULWARK_AUDIT_FAILED' },
        );
      });
    this.breakGlass = new BreakGlassRegistry(
      options.breakGlass ?? {},
      this.nowMs,
      emit,
      onAuditError,
      'breakGlass',
      options.breakGlassStore,
    );
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'onWarning must be a function', {
        path: 'onWarning',
      });
    }
    this.onWarning =
      options.onWarning ?? ((warning) => process.emitWarning(warning.message, { code: warning.code }));
    this.compiled = this.compile(PolicyEngine.validate(options.policy, options.format));
  }

  private compile(document: PolicyDocument): CompiledPolicy {
    // Conditions already warned about, per loaded policy: a warning per request would flood.
    const warned = new Set<string>();
    // Keyed by condition and type pair: a benign coerced note must not hide a real mismatch.
    const onMismatch: TypeMismatchHook = (m) => {
      const key = `${m.path}\u0000${m.actualType}\u0000${m.expectedType}\u0000${m.coerced}`;
      if (warned.has(key)) return;
      warned.add(key);
      const rule = /^policies\[(\d+)\]\.rules\[(\d+)\]/.exec(m.path);
      const policy = rule ? document.policies[Number(rule[1])] : undefined;
      const ruleId = rule ? policy?.rules[Number(rule[2])]?.id : undefined;
      const warning: PolicyWarning = Object.freeze({
        code: 'BULWARK_POLICY_TYPE_MISMATCH',
        message:
          `Bulwark policy ${policy?.id ?? '?'}/${ruleId ?? '?'}: the condition at ${m.path} (${m.summary}) ` +
          `compared a ${m.actualType} with a ${m.expectedType}; ` +
          (m.coerced
            ? 'they were equal as ids (a safe integer and its decimal string). Store ids with one type.'
            : 'values of different types never match (only equality treats 42 and "42" as one id).'),
        policyId: policy?.id ?? '',
        ruleId: ruleId ?? '',
        // (resource.id: no rule; the id rule applied to the request itself)
        path: m.path,
        condition: m.summary,
        actualType: m.actualType,
        expectedType: m.expectedType,
        coerced: m.coerced,
      });
      try {
        this.onWarning(warning);
      } catch {
        // A failing listener must not turn a decision into an exception.
      }
    };
    this.onIdCoerced = () =>
      onMismatch({
        path: 'resource.id',
        summary: 'resource.id (a number, taken as its decimal string)',
        actualType: 'number',
        expectedType: 'string',
        coerced: true,
      });
    return compile(document, this.roleCacheSize, onMismatch);
  }

  /** Warns (once per loaded policy) that a request's resource id was a number. */
  private onIdCoerced: () => void = () => undefined;

  /** The request with the id rule applied to `resource.id`, or undefined when it is not valid. */
  private request(subject: AuthzSubject, action: string, resource: AuthzResource): AuthzResource | undefined {
    if (!isValidRequest(subject, action, resource)) return undefined;
    const view = normaliseResource(resource);
    if (view !== resource && view !== undefined) this.onIdCoerced();
    return view;
  }

  /** Builds an engine from JSON or YAML text. */
  static fromText(text: string, options: Omit<PolicyEngineOptions, 'policy'> = {}): PolicyEngine {
    return new PolicyEngine({ ...options, policy: text });
  }

  private static validate(
    policy: PolicyDocument | string,
    format: ParsePolicyTextOptions['format'],
  ): PolicyDocument {
    return typeof policy === 'string' ? parsePolicyText(policy, { format }) : validatePolicyDocument(policy);
  }

  /** Replaces the policy atomically (validated first: a bad document leaves the current one in place). Break-glass grants survive. */
  load(policy: PolicyDocument | string, options: ParsePolicyTextOptions = {}): void {
    this.compiled = this.compile(PolicyEngine.validate(policy, options.format));
  }

  /** The loaded (validated, normalised, frozen) document. */
  get policy(): PolicyDocument {
    return this.compiled.document;
  }

  private bucket(c: CompiledPolicy, type: string, action: string): Bucket {
    let byAction = c.index.get(type);
    let bucket = byAction?.get(action);
    if (bucket !== undefined) return bucket;
    bucket = buildBucket(c.rules, type, action);
    // Bounded: action and type strings come from application code, but a route that passes a
    // request parameter through must not grow the index without limit.
    if (c.indexed < this.indexSize) {
      if (byAction === undefined) c.index.set(type, (byAction = new Map()));
      byAction.set(action, bucket);
      c.indexed++;
    }
    return bucket;
  }

  /**
   * The rules' decision on a valid request: a hard deny or an allow is final; a soft deny (`denied`)
   * or no matching rule (`undefined`) is handed to `overridable`, where break-glass may override it.
   */
  private evaluate<R>(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context: AuthzContext | undefined,
    overridable: Overridable<R>,
  ): Decision | R {
    const c = this.compiled;
    const ctx = context ?? EMPTY_CONTEXT;
    const now = this.nowMs;
    const mask = c.roles.maskOf(subject.roles);
    const bucket = this.bucket(c, resource.type, action);

    const hard = bucket.hard;
    for (let i = 0; i < hard.length; i++) {
      if (applies(hard[i], mask, subject, resource, ctx, now)) return hard[i].rule.decision;
    }
    const soft = bucket.soft;
    for (let i = 0; i < soft.length; i++) {
      if (applies(soft[i], mask, subject, resource, ctx, now)) {
        return overridable(soft[i].rule.decision, subject, action, resource, context);
      }
    }
    const allow = bucket.allow;
    for (let i = 0; i < allow.length; i++) {
      if (applies(allow[i], mask, subject, resource, ctx, now)) return allow[i].rule.decision;
    }
    return overridable(undefined, subject, action, resource, context);
  }

  /** A deny break-glass may override, decided with this instance's grants. */
  private readonly overrideLocal: Overridable<Decision> = (denied, subject, action, resource, context) => {
    if (!this.breakGlass.hasActive) return denied ?? DEFAULT_DENY;
    return this.breakGlass.use(subject.id, action, resource, context, denied) ?? denied ?? DEFAULT_DENY;
  };

  /** A deny break-glass may override, decided by reading the subject's grants through the shared store. */
  private readonly overrideShared: Overridable<Promise<Decision>> = async (
    denied,
    subject,
    action,
    resource,
    context,
  ) =>
    (await this.breakGlass.useShared(subject.id, action, resource, context, denied)) ??
    denied ??
    DEFAULT_DENY;

  /** Decides one request. Synchronous; never throws for bad input (denies `invalid_request`). */
  check(subject: AuthzSubject, action: string, resource: AuthzResource, context?: AuthzContext): Decision {
    const r = this.request(subject, action, resource);
    if (r === undefined) return INVALID_REQUEST;
    return this.evaluate(subject, action, r, context, this.overrideLocal);
  }

  /**
   * check() as an asynchronous Authorizer: the same decision, except that with a shared
   * `breakGlassStore` a deny that break-glass may override is decided by reading the subject's
   * grants through the store (a grant given or revoked on another instance counts at once; a
   * store failure denies). Without a store it is check(). The HTTP adapters of a `createBulwark`
   * with a break-glass store call this.
   */
  async authorize(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): Promise<Decision> {
    if (!this.breakGlass.shared) return this.check(subject, action, resource, context);
    const r = this.request(subject, action, resource);
    if (r === undefined) return INVALID_REQUEST;
    return this.evaluate(subject, action, r, context, this.overrideShared);
  }

  /** Like check(), but throws `BulwarkPolicyError` `ERR_POLICY_DENIED` (details.reasonId) on deny. */
  enforce(subject: AuthzSubject, action: string, resource: AuthzResource, context?: AuthzContext): Decision {
    const decision = this.check(subject, action, resource, context);
    if (!decision.allowed) {
      throw new BulwarkPolicyError(ErrorCodes.POLICY_DENIED, `access denied (${decision.reasonId})`, {
        reasonId: decision.reasonId,
      });
    }
    return decision;
  }

  /**
   * The full trace of what check() would decide: every rule, whether it matched, what failed
   * first, and the condition tree with values. Slower than check() and allocates; meant for
   * debugging, admin tools and denied-request logs. Does not record break-glass uses.
   */
  explain(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): Explanation {
    const s = subject as unknown as Record<string, unknown> | null;
    const res = resource as unknown as Record<string, unknown> | null;
    const subjectView = {
      id: s?.id,
      roles: Array.isArray(s?.roles) ? [...(s.roles as string[])] : [],
      effectiveRoles: [] as string[],
    };
    const resourceView = { type: res?.type, id: res?.id };
    const request = this.request(subject, action, resource);
    if (request === undefined) {
      return {
        decision: INVALID_REQUEST,
        subject: subjectView,
        action: String(action),
        resource: resourceView,
        rules: [],
        summary:
          'deny (invalid_request): subject needs id and roles[], action a non-empty string, resource a type (and a string or safe-integer id)',
      };
    }
    resource = request;
    const c = this.compiled;
    const ctx = context ?? EMPTY_CONTEXT;
    const mask = c.roles.maskOf(subject.roles);
    subjectView.effectiveRoles = c.roles.effectiveRoles(subject.roles);

    const traces: RuleTrace[] = [];
    let hard: RuleTrace | undefined;
    let soft: RuleTrace | undefined;
    let allow: RuleTrace | undefined;
    for (const rule of c.rules) {
      const base = {
        policyId: rule.policyId,
        ruleId: rule.ruleId,
        effect: rule.effect,
        path: rule.path,
        hardDeny: rule.hard,
      };
      let trace: RuleTrace;
      // The same matching as the index + applies(), evaluated rule by rule so every miss is named.
      if (!rule.actions.some((p) => matchesActionPattern(p, action)))
        trace = { ...base, matched: false, failed: 'action' };
      else if (!rule.resources.some((p) => matchesResourcePattern(p, resource.type, resource.id))) {
        trace = { ...base, matched: false, failed: 'resource' };
      } else if (!rule.anyRole && !rule.roleIdx.some((i) => mask[i] === 1))
        trace = { ...base, matched: false, failed: 'role' };
      else if (rule.condition !== undefined) {
        const condition = rule.condition.explain(subject, resource, ctx, this.nowMs);
        trace = condition.result
          ? { ...base, matched: true, condition }
          : { ...base, matched: false, failed: 'condition', condition };
      } else trace = { ...base, matched: true };
      traces.push(trace);
      if (trace.matched && !isFieldDeny(rule)) {
        if (rule.effect === 'allow') allow ??= trace;
        else if (rule.hard) hard ??= trace;
        else soft ??= trace;
      }
    }

    const byTrace = (t: RuleTrace) => c.rules.find((r) => r.path === t.path)!.decision;
    const decidedBy = (t: RuleTrace) => ({
      policyId: t.policyId,
      ruleId: t.ruleId,
      path: t.path,
      ...(t.condition ? { condition: t.condition.decidedBy } : {}),
    });
    const base = { subject: subjectView, action, resource: resourceView, rules: traces };
    if (hard) {
      return {
        ...base,
        decision: byTrace(hard),
        decidedBy: decidedBy(hard),
        summary: `deny by hard deny ${hard.policyId}/${hard.ruleId} (break-glass cannot override)`,
      };
    }
    const grant = soft || !allow ? this.breakGlass.peek(subject.id, action, resource) : undefined;
    if (soft && !grant) {
      return {
        ...base,
        decision: byTrace(soft),
        decidedBy: decidedBy(soft),
        summary: `deny by ${soft.policyId}/${soft.ruleId}`,
      };
    }
    if (grant) {
      const decision: Decision = Object.freeze({
        allowed: true,
        effect: 'allow',
        reasonId: 'break_glass',
        breakGlassId: grant.id,
      });
      return {
        ...base,
        decision,
        breakGlass: grant,
        summary: soft
          ? `allow by break-glass ${grant.id}, overriding deny ${soft.policyId}/${soft.ruleId}`
          : `allow by break-glass ${grant.id}`,
      };
    }
    if (allow) {
      return {
        ...base,
        decision: byTrace(allow),
        decidedBy: decidedBy(allow),
        summary: `allow by ${allow.policyId}/${allow.ruleId}`,
      };
    }
    const nearest = nearestRule(traces);
    return {
      ...base,
      decision: DEFAULT_DENY,
      ...(nearest !== undefined ? { nearest } : {}),
      summary:
        'deny by default: no allow rule matched' +
        (nearest === undefined
          ? ''
          : `; nearest ${nearest.policyId}/${nearest.ruleId} failed at its ${nearest.failed}` +
            (nearest.condition ? ` (${nearest.condition.summary}: ${nearest.condition.why})` : '')),
    };
  }

  /**
   * The value-free explanation of a deny (what `explainDenial(explain(...))` says), built at a
   * bounded cost for 403s and audit entries: only the rules of the request's (type, action) index
   * bucket are looked at, only the deciding deny rule's condition is traced, and on a default deny
   * at most DENIAL_TRACE_LIMIT (64) allow rules are traced to find the nearest (the summary says
   * when the limit cut the search). Undefined when check() would allow. explain() itself traces
   * every rule (O(rules)): keep it for debugging and admin tools.
   */
  denialExplanation(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): DenialExplanation | undefined {
    const request = this.request(subject, action, resource);
    if (request === undefined) {
      return {
        reasonId: INVALID_REQUEST.reasonId,
        summary:
          'deny (invalid_request): subject needs id and roles[], action a non-empty string, resource a type (and a string or safe-integer id)',
      };
    }
    resource = request;
    const c = this.compiled;
    const ctx = context ?? EMPTY_CONTEXT;
    const now = this.nowMs;
    const mask = c.roles.maskOf(subject.roles);
    const bucket = this.bucket(c, resource.type, action);
    const denied = (entry: BucketEntry, hardDeny: boolean): DenialExplanation => {
      const rule = entry.rule;
      const condition = rule.condition?.explain(subject, resource, ctx, now).decidedBy;
      return {
        reasonId: rule.decision.reasonId,
        deniedBy: {
          policyId: rule.policyId,
          ruleId: rule.ruleId,
          ...(condition !== undefined ? { condition } : {}),
        },
        summary: hardDeny
          ? `deny by hard deny ${rule.policyId}/${rule.ruleId} (break-glass cannot override)`
          : `deny by ${rule.policyId}/${rule.ruleId}`,
      };
    };
    for (const entry of bucket.hard) {
      if (applies(entry, mask, subject, resource, ctx, now)) return denied(entry, true);
    }
    for (const entry of bucket.soft) {
      if (!applies(entry, mask, subject, resource, ctx, now)) continue;
      return this.breakGlass.peek(subject.id, action, resource) ? undefined : denied(entry, false);
    }
    for (const entry of bucket.allow) {
      if (applies(entry, mask, subject, resource, ctx, now)) return undefined;
    }
    if (this.breakGlass.peek(subject.id, action, resource)) return undefined;

    // Default deny: trace the bucket's allow rules (bounded) for the nearest one.
    const traces: RuleTrace[] = [];
    const limit = Math.min(bucket.allow.length, DENIAL_TRACE_LIMIT);
    let passedResource = false;
    for (let i = 0; i < limit; i++) {
      const rule = bucket.allow[i].rule;
      let failed: 'resource' | 'role' | 'condition';
      let condition: ConditionTrace | undefined;
      if (!rule.resources.some((p) => matchesResourcePattern(p, resource.type, resource.id)))
        failed = 'resource';
      else if (!rule.anyRole && !rule.roleIdx.some((j) => mask[j] === 1)) failed = 'role';
      else if (rule.condition !== undefined) {
        failed = 'condition';
        condition = rule.condition.explain(subject, resource, ctx, now);
      } else continue; // (it would have applied: not reached)
      const trace: RuleTrace = {
        policyId: rule.policyId,
        ruleId: rule.ruleId,
        effect: rule.effect,
        path: rule.path,
        hardDeny: false,
        matched: false,
        failed,
        ...(condition !== undefined ? { condition } : {}),
      };
      if (trace.failed !== 'resource') passedResource = true;
      traces.push(trace);
    }
    // No rule of the bucket got past the resource: every allow rule naming the action failed
    // there, and explain() names the first of them in document order.
    if (!passedResource) {
      const first = this.firstAllowFor(c, action);
      if (first !== undefined) {
        traces.length = 0;
        traces.push({
          policyId: first.policyId,
          ruleId: first.ruleId,
          effect: 'allow',
          path: first.path,
          hardDeny: false,
          matched: false,
          failed: 'resource',
        });
      }
    }
    const nearest = nearestRule(traces);
    const cut = bucket.allow.length > limit ? ` (nearest among the first ${limit} allow rules)` : '';
    return explainDenial({
      decision: DEFAULT_DENY,
      subject: { id: subject.id, roles: [], effectiveRoles: [] },
      action,
      resource: { type: resource.type },
      rules: [],
      ...(nearest !== undefined ? { nearest } : {}),
      summary:
        'deny by default: no allow rule matched' +
        (nearest === undefined
          ? ''
          : `; nearest ${nearest.policyId}/${nearest.ruleId} failed at its ${nearest.failed}` +
            (nearest.condition ? ` (${nearest.condition.summary}: ${nearest.condition.why})` : '')) +
        cut,
    });
  }

  /** The first allow rule (document order) naming `action`, cached per action like the index. */
  private firstAllowFor(c: CompiledPolicy, action: string): CompiledRule | undefined {
    const cache = (c.firstAllow ??= new Map());
    if (cache.has(action)) return cache.get(action);
    const rule = c.rules.find(
      (r) => r.effect === 'allow' && r.actions.some((p) => matchesActionPattern(p, action)),
    );
    if (cache.size < this.indexSize) cache.set(action, rule);
    return rule;
  }

  /**
   * The fields of `resource` the subject may read / write for `action` (ASVS V8.2.3): none when
   * check() refuses the action; every field when an allow rule without `fields` matches (or a
   * break-glass grant allowed it); else the union of the matching allow rules' `fields`. Fields of
   * matching deny rules with `fields` are withheld in every case. The adapters' response filter
   * and body check read it.
   */
  permittedFields(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): FieldPermission {
    const decision = this.check(subject, action, resource, context);
    if (!decision.allowed) return NO_FIELDS;
    resource = normaliseResource(resource)!;
    const c = this.compiled;
    const ctx = context ?? EMPTY_CONTEXT;
    const mask = c.roles.maskOf(subject.roles);
    const bucket = this.bucket(c, resource.type, action);
    let all = decision.breakGlassId !== undefined;
    const fields = new Set<string>();
    for (const entry of bucket.allow) {
      if (all && entry.rule.fields !== undefined) continue;
      if (!applies(entry, mask, subject, resource, ctx, this.nowMs)) continue;
      if (entry.rule.fields === undefined) all = true;
      else for (const f of entry.rule.fields) fields.add(f);
    }
    const denied = new Set<string>();
    for (const entry of bucket.fieldDeny) {
      if (applies(entry, mask, subject, resource, ctx, this.nowMs))
        for (const f of entry.rule.fields!) denied.add(f);
    }
    return Object.freeze({
      allowed: true,
      all,
      fields: Object.freeze(all ? [] : [...fields]),
      denied: Object.freeze([...denied]),
    });
  }

  /**
   * The rows of resource type `type` the subject may `action`, as a predicate over the resource's
   * attributes (ASVS V8.2.2, V8.4.1): the conditions of the rules that apply to its roles, with
   * everything about the subject and context resolved now. `@bulwark/typeorm`'s `scopeQuery()`
   * turns it into a WHERE clause so list endpoints return only what check() would allow.
   * Break-glass grants are not included. Throws BulwarkPolicyError ERR_POLICY_UNTRANSLATABLE
   * (fail closed) for a condition a query cannot express: ordering of times, `contains` on a
   * resource attribute, nested resource attributes.
   */
  queryScope(subject: AuthzSubject, action: string, type: string, context?: AuthzContext): PolicyScope {
    if (!isValidRequest(subject, action, { type })) return FALSE;
    const c = this.compiled;
    const mask = c.roles.maskOf(subject.roles);
    const bucket = this.bucket(c, type, action);
    const rules: ScopeRule[] = [];
    for (const entry of [...bucket.hard, ...bucket.soft, ...bucket.allow]) {
      const rule = entry.rule;
      if (!rule.anyRole && !rule.roleIdx.some((i) => mask[i] === 1)) continue;
      rules.push({
        path: rule.path,
        effect: rule.effect,
        idMode: entry.idMode,
        ...(entry.ids !== undefined ? { ids: entry.ids } : {}),
        ...(rule.when !== undefined ? { when: rule.when } : {}),
      });
    }
    return translateScope(rules, subject, context ?? EMPTY_CONTEXT, type, this.nowMs);
  }

  /**
   * Grants emergency access (see BreakGlassRegistry): requires a reason, an actor, a scope and
   * an expiry within `breakGlass.maxDurationMs` (default 4 h), and an audit hook. Resolves once
   * the `authz.break_glass.granted` event is written; if it cannot be, the grant is refused
   * (`ERR_POLICY_AUDIT_FAILED`). A grant overrides ordinary deny rules and default deny, but not
   * deny rules of `breakGlassProof` policies.
   */
  grantBreakGlass(request: BreakGlassRequest): Promise<BreakGlassGrant> {
    return this.breakGlass.grant(request);
  }

  /** Ends a grant early (audited as `authz.break_glass.revoked`). */
  revokeBreakGlass(
    grantId: string,
    by: { actor: BreakGlassActor; reason: string },
  ): Promise<BreakGlassGrant> {
    return this.breakGlass.revoke(grantId, by);
  }

  /** Grants for review (all, or only active / inactive ones). Expired grants are audited as expired here at the latest. */
  listBreakGlass(filter: { active?: boolean } = {}): Promise<BreakGlassGrant[]> {
    return this.breakGlass.list(filter);
  }

  /** Retires expired grants now, emitting their `authz.break_glass.expired` events; call it on a timer for timely expiry events. */
  sweepBreakGlass(): Promise<number> {
    return this.breakGlass.sweep();
  }
}
