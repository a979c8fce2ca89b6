/**
 * The contract between an application (or a Bulwark adapter: `authorize` middleware, NestJS
 * guard) and whatever decides access. `PolicyEngine` implements it; an app that already has
 * CASL or casbin rules can implement it instead and keep every adapter:
 *
 * ```ts
 * // CASL: build the ability once per user (cache it), then answer from it.
 * const casl: Authorizer = {
 *   check(subject, action, resource) {
 *     const allowed = abilityFor(subject).can(action, { ...resource, __type: resource.type });
 *     return allowed
 *       ? { allowed: true, effect: 'allow', reasonId: 'casl_allow' }
 *       : { allowed: false, effect: 'deny', reasonId: 'casl_deny' };
 *   },
 * };
 * // casbin: enforce() is async (enforceSync exists too).
 * const casbin: Authorizer = {
 *   async check(subject, action, resource) {
 *     const allowed = await enforcer.enforce(subject, resource, action);
 *     return { allowed, effect: allowed ? 'allow' : 'deny', reasonId: allowed ? 'casbin_allow' : 'casbin_deny' };
 *   },
 * };
 * ```
 *
 * An implementation must fail closed: anything it cannot evaluate is a deny, never an allow.
 */

import type { FieldPermission } from './field-permission';
import type { DenialExplanation } from './denial-explanation';
import type { Explanation } from './policy-engine';

/**
 * Who is asking. `roles` are the subject's assigned roles (inheritance is the policy's job);
 * every other property is an attribute that conditions can reference as `subject.<name>`.
 */
export interface AuthzSubject {
  readonly id: string;
  readonly roles: readonly string[];
  readonly [attribute: string]: unknown;
}

/**
 * What is acted on: a type (`records`), an optional id (`123`; absent for type-level actions
 * such as `create`), and attributes that conditions reference as `resource.<name>`.
 */
export interface AuthzResource {
  readonly type: string;
  readonly id?: string;
  readonly [attribute: string]: unknown;
}

/**
 * Facts about the request, set by the server (never copied from the request body):
 * `ip` for CIDR conditions, `mfaVerified` for step-up rules, anything else for `context.<name>`.
 */
export interface AuthzContext {
  readonly ip?: string;
  readonly mfaVerified?: boolean;
  readonly [attribute: string]: unknown;
}

/**
 * The outcome of a check. `reasonId` is a stable short id (`default_deny`, `rule_allow`, a
 * rule's own `reasonId` such as `outside_hours`) that is safe to put in a 403 body;
 * `policyId` / `ruleId` identify the deciding rule for logs and must not be shown to end users.
 */
export interface Decision {
  readonly allowed: boolean;
  readonly effect: 'allow' | 'deny';
  readonly reasonId: string;
  readonly policyId?: string;
  readonly ruleId?: string;
  /** Set when the allow came from a break-glass grant. */
  readonly breakGlassId?: string;
}

/** Anything that can decide access: Bulwark's `PolicyEngine`, or an adapter over CASL / casbin. */
export interface Authorizer {
  check(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): Decision | Promise<Decision>;
  /**
   * Optional field-level decisions (`PolicyEngine` has it): what the adapters' response filter
   * and body check read. Without it those options fail closed at the request.
   */
  permittedFields?(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): FieldPermission | Promise<FieldPermission>;
  /**
   * Optional trace of a decision (`PolicyEngine` has it). The HTTP adapters call it on a deny to
   * say why (`explainDenial`): in the audit entry always, in the 403 body in development.
   */
  explain?(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): Explanation;
  /**
   * Optional bounded-cost explanation of a deny (`PolicyEngine` has it): preferred over
   * `explain()` by the HTTP adapters, which call it lazily (only when a 403 body or an audit
   * entry reads it). Undefined when the request is allowed.
   */
  denialExplanation?(
    subject: AuthzSubject,
    action: string,
    resource: AuthzResource,
    context?: AuthzContext,
  ): DenialExplanation | undefined;
}
