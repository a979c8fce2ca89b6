import type { Authorizer, AuthzContext, AuthzResource, AuthzSubject, Decision } from '../authz/authorizer';
import { explainDenial, type DenialExplanation } from '../authz/denial-explanation';
import { BulwarkPolicyError, ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';
import {
  enforceMfaPolicy,
  requireStepUp,
  STEP_UP_REASON_ID,
  stepUpRequired,
  type PrincipalMfaPolicy,
  type StepUpRequirement,
} from './step-up';

/** Authentication requirements checked once the authorizer allowed the request. */
export interface AuthorizeStepUp {
  /** The MFA policy (roles that need a second factor, how recent). */
  mfaPolicy?: PrincipalMfaPolicy;
  /** The route's own requirement (recent sign-in, a given factor). */
  requirement?: StepUpRequirement;
  /** Epoch ms now (tests). Default Date.now(). */
  now?: number;
  /**
   * Put the denial's explanation (`explainDenial`: the deciding rule, or the nearest allow rule and
   * the condition that failed; no attribute values) in the 403 body as `explanation`. Default: only
   * when `NODE_ENV=development` (unset, `test` and `production` do not explain: a server whose
   * environment nobody set must not hand out its policy). The error's `details.denial` carries it
   * for the audit entry either way.
   */
  explainDenials?: boolean;
}

/**
 * Whether 403 bodies explain themselves when a route does not say: in development only
 * (`NODE_ENV=development`). Fail closed: an unset NODE_ENV is treated as production here.
 */
export function explainDenialsByDefault(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'development';
}

/**
 * The value-free explanation of a deny from an authorizer that can explain (PolicyEngine), or
 * undefined. Never throws: a denial stays a denial even when its explanation fails.
 */
export function denialExplanation(
  authorizer: Authorizer,
  subject: AuthzSubject,
  action: string,
  resource: AuthzResource,
  context: AuthzContext | undefined,
): DenialExplanation | undefined {
  try {
    // The bounded-cost path first (PolicyEngine): explain() traces every rule.
    if (typeof authorizer.denialExplanation === 'function')
      return authorizer.denialExplanation(subject, action, resource, context);
    if (typeof authorizer.explain !== 'function') return undefined;
    return explainDenial(authorizer.explain(subject, action, resource, context));
  } catch {
    return undefined;
  }
}

/**
 * A denial explanation computed on first read (then kept): a 403 that neither explains itself
 * nor reaches an audit entry costs no tracing at all. Reads like a DenialExplanation; when the
 * authorizer cannot explain (or its explanation fails) it says only the reason id.
 */
class LazyDenialExplanation implements DenialExplanation {
  private value: DenialExplanation | undefined;
  private compute: (() => DenialExplanation | undefined) | undefined;

  constructor(
    private readonly fallbackReasonId: string,
    compute: () => DenialExplanation | undefined,
  ) {
    this.compute = compute;
  }

  private get resolved(): DenialExplanation {
    if (this.compute !== undefined) {
      const compute = this.compute;
      this.compute = undefined;
      this.value = compute();
    }
    return this.value ?? { reasonId: this.fallbackReasonId, summary: `deny (${this.fallbackReasonId})` };
  }

  get reasonId(): string {
    return this.resolved.reasonId;
  }
  get deniedBy(): DenialExplanation['deniedBy'] {
    return this.resolved.deniedBy;
  }
  get nearest(): DenialExplanation['nearest'] {
    return this.resolved.nearest;
  }
  get summary(): string {
    return this.resolved.summary;
  }
  toJSON(): DenialExplanation {
    return this.resolved;
  }
}

/**
 * The denial explanation of a deny, deferred (see LazyDenialExplanation); undefined when the
 * authorizer cannot explain at all.
 */
export function lazyDenialExplanation(
  authorizer: Authorizer,
  reasonId: string,
  subject: AuthzSubject,
  action: string,
  resource: AuthzResource,
  context: AuthzContext | undefined,
): DenialExplanation | undefined {
  if (typeof authorizer.denialExplanation !== 'function' && typeof authorizer.explain !== 'function')
    return undefined;
  return new LazyDenialExplanation(reasonId, () =>
    denialExplanation(authorizer, subject, action, resource, context),
  );
}

/**
 * Copies the reason id and explanation of a denial (the error `authorizeRequest` throws) to the
 * adapter's request state, for the audit event; any other error is left alone.
 */
export function noteDenial(state: { reasonId?: string; denial?: DenialExplanation }, error: unknown): void {
  if (!(error instanceof BulwarkPolicyError) || error.code !== ErrorCodes.POLICY_DENIED) return;
  const reasonId = error.details?.reasonId;
  if (typeof reasonId === 'string') state.reasonId = reasonId;
  const denial = error.details?.denial as DenialExplanation | undefined;
  if (denial !== undefined) state.denial = denial;
}

/**
 * The 401 of an authorized route for an anonymous caller (ERR_HTTP_AUTH_REQUIRED). Checked before
 * a resource loader runs, so an anonymous request never reaches the database nor learns from a
 * 404 which records exist.
 */
export function requirePrincipal(principal: HttpPrincipal | undefined): asserts principal is HttpPrincipal {
  if (principal === undefined) {
    throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'This resource needs a bearer token.');
  }
}

/**
 * Asks the authorizer and throws unless allowed: no principal is a 401, a deny is a 403 carrying
 * the decision's reason id, and in development (`explainDenials`) the denial's explanation; the
 * error's `details.denial` carries the explanation for the audit entry in every mode. An authorizer that throws
 * fails closed (the error propagates as a 500, never as an allow).
 *
 * Step-up (ASVS 5.0 V6.3.3, V7.5.1): a deny whose reason id is `step_up_required` (a policy
 * rule such as `deny ... when: { not: { factor: webauthn } }`), and, after an allow, an MFA
 * policy or a route requirement the principal's authentication does not meet, answer 401
 * ERR_MFA_STEP_UP_REQUIRED instead, so the client knows to authenticate again.
 */
export async function authorizeRequest(
  authorizer: Authorizer,
  principal: HttpPrincipal | undefined,
  action: string,
  resource: AuthzResource,
  context?: AuthzContext,
  stepUp?: AuthorizeStepUp,
): Promise<Decision> {
  return authorizeRequestNow(authorizer, principal, action, resource, context, stepUp);
}

/**
 * `authorizeRequest` without a promise when the authorizer answers synchronously (PolicyEngine's
 * `check()`): the same decision and the same errors, thrown instead of rejected; an authorizer
 * that returns a promise (or thenable) gets a native Promise back, so `instanceof Promise` tells the
 * two apart. Lets an adapter's route step skip a promise per request.
 */
export function authorizeRequestNow(
  authorizer: Authorizer,
  principal: HttpPrincipal | undefined,
  action: string,
  resource: AuthzResource,
  context?: AuthzContext,
  stepUp?: AuthorizeStepUp,
): Decision | Promise<Decision> {
  requirePrincipal(principal);
  const decision = authorizer.check(principal, action, resource, context);
  if (isThenable(decision)) {
    return Promise.resolve(decision).then((d) =>
      settleDecision(d, authorizer, principal, action, resource, context, stepUp),
    );
  }
  return settleDecision(decision, authorizer, principal, action, resource, context, stepUp);
}

/** A value to await: a promise, or any thenable an authorizer or a loader returns. */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** What `authorizeRequest` does with the authorizer's answer: the decision, or the error. */
function settleDecision(
  decision: Decision,
  authorizer: Authorizer,
  principal: HttpPrincipal,
  action: string,
  resource: AuthzResource,
  context: AuthzContext | undefined,
  stepUp: AuthorizeStepUp | undefined,
): Decision {
  if (decision?.allowed !== true && decision?.reasonId === STEP_UP_REASON_ID) {
    throw stepUpRequired(STEP_UP_REASON_ID);
  }
  if (decision?.allowed !== true) {
    const reasonId = typeof decision?.reasonId === 'string' ? decision.reasonId : 'default_deny';
    // Computed only when read: by the 403 body (explainDenials) or the audit entry.
    const denial = lazyDenialExplanation(authorizer, reasonId, principal, action, resource, context);
    const expose = stepUp?.explainDenials ?? explainDenialsByDefault();
    throw new BulwarkPolicyError(ErrorCodes.POLICY_DENIED, 'Access denied.', {
      reasonId,
      // For the audit entry (adapters copy it to the request state); never echoed as such.
      ...(denial !== undefined ? { denial } : {}),
      // Echoed in the 403 body (problemFor) only when the route explains denials.
      ...(denial !== undefined && expose ? { explanation: denial } : {}),
    });
  }
  if (stepUp?.mfaPolicy !== undefined) enforceMfaPolicy(stepUp.mfaPolicy, principal);
  if (stepUp?.requirement !== undefined) requireStepUp(principal, stepUp.requirement, stepUp.now);
  return decision;
}
