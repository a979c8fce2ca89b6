// Access control: RBAC + ABAC policy engine, deny-overrides, explain(), break-glass.
export {
  PolicyEngine,
  DEFAULT_DENY,
  INVALID_REQUEST,
  type PolicyEngineOptions,
  type Explanation,
  type RuleTrace,
  type PolicyWarning,
} from './policy-engine';
export {
  explainDenial,
  type DenialExplanation,
  type NearestRule,
  type ConditionMiss,
} from './denial-explanation';
export type { Authorizer, AuthzSubject, AuthzResource, AuthzContext, Decision } from './authorizer';
export {
  definePolicy,
  type PolicyDocument,
  type PolicyDefinition,
  type RuleDefinition,
  type RoleDefinition,
  type ConditionDefinition,
  type AttributeCondition,
  type AttributeRef,
  type ComparisonOperator,
  type TimeWindowDefinition,
  type Weekday,
  type ConditionOperand,
  type ConditionLiteral,
} from './policy-document';
export { validatePolicyDocument, POLICY_LIMITS } from './validate-policy-document';
export { parsePolicyText, type ParsePolicyTextOptions } from './parse-policy-text';
export {
  BREAK_GLASS_DEFAULTS,
  type BreakGlassRequest,
  type BreakGlassGrant,
  type BreakGlassActor,
  type BreakGlassOptions,
} from './break-glass-registry';
export { MemoryBreakGlassStore, type BreakGlassStore, type StoredBreakGlassGrant } from './break-glass-store';
export type { ConditionTrace } from './compile-condition';
export {
  NO_FIELDS,
  isFieldPermitted,
  filterFields,
  forbiddenFields,
  type FieldPermission,
} from './field-permission';
export { matchesScope, type PolicyScope, type ScopeOperator, type ScopeValue } from './query-scope';
