import { BulwarkMfaError, ErrorCodes } from '../errors';
import type { AuthenticationFactor, PrincipalAuthentication } from '../identity/authentication';
import { factorProvedAt } from '../identity/factor-proved-at';
import type { MfaPolicyDecision } from '../mfa/mfa-policy';
import { configError } from '../util/options';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';

/**
 * What a sensitive route asks of the caller's authentication (ASVS 5.0 V6.3.3, V7.5.1): a sign-in
 * or second factor at most `maxAgeSec` ago, and / or one of `factors` proved. Adapters take a
 * number as shorthand for `{ maxAgeSec }`.
 */
export interface StepUpRequirement {
  readonly maxAgeSec?: number;
  readonly factors?: readonly AuthenticationFactor[];
}

/** What an adapter needs of an `MfaPolicy`. */
export interface PrincipalMfaPolicy {
  evaluatePrincipal(principal: {
    readonly roles: readonly string[];
    readonly authentication?: PrincipalAuthentication;
  }): MfaPolicyDecision;
}

/** Tolerated clock difference between the server that authenticated the user and this one. */
const CLOCK_SKEW_MS = 60_000;
const FACTOR_RE = /^[a-z][a-z0-9-]{0,31}$/;

/** Validates a route's requirement at start-up (a number is `{ maxAgeSec }`). */
export function stepUpRequirement(value: unknown, path = 'requireRecentAuth'): StepUpRequirement {
  const req = typeof value === 'number' ? { maxAgeSec: value } : value;
  if (req === null || typeof req !== 'object') {
    throw configError(path, 'must be a number of seconds or { maxAgeSec?, factors? }');
  }
  const { maxAgeSec, factors, ...rest } = req as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    throw configError(`${path}.${unknown[0]}`, 'unknown option (allowed: maxAgeSec, factors)');
  if (
    maxAgeSec !== undefined &&
    (typeof maxAgeSec !== 'number' || !Number.isSafeInteger(maxAgeSec) || maxAgeSec < 1)
  ) {
    throw configError(
      `${path}.maxAgeSec`,
      `must be a positive integer number of seconds, got ${String(maxAgeSec)}`,
    );
  }
  if (
    factors !== undefined &&
    (!Array.isArray(factors) ||
      factors.length === 0 ||
      factors.some((f) => typeof f !== 'string' || !FACTOR_RE.test(f)))
  ) {
    throw configError(`${path}.factors`, 'must be a non-empty array of factor names (webauthn, totp...)');
  }
  if (maxAgeSec === undefined && factors === undefined) throw configError(path, 'needs maxAgeSec or factors');
  return Object.freeze({
    ...(maxAgeSec !== undefined ? { maxAgeSec } : {}),
    ...(factors !== undefined ? { factors: Object.freeze([...(factors as string[])]) } : {}),
  });
}

/** The reason id of a policy deny rule that means "authenticate again" rather than "never". */
export const STEP_UP_REASON_ID = 'step_up_required';

/** The 401 ERR_MFA_STEP_UP_REQUIRED refusal; `details` may hold `maxAgeSec` and `requiredFactors`. */
export function stepUpRequired(reason: string, details: Record<string, unknown> = {}): BulwarkMfaError {
  return new BulwarkMfaError(
    ErrorCodes.MFA_STEP_UP_REQUIRED,
    'A stronger or more recent authentication is required; authenticate again and retry.',
    { reasonId: reason, ...details },
  );
}

function noPrincipal(): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_AUTH_REQUIRED,
    401,
    'This resource needs an authenticated caller.',
  );
}

/**
 * Throws ERR_MFA_STEP_UP_REQUIRED (401, RFC 9470 `insufficient_user_authentication` with
 * `max_age`) unless the principal's authentication meets the requirement; ERR_HTTP_AUTH_REQUIRED
 * without a principal. A principal without authentication facts never meets one (fail closed).
 */
export function requireStepUp(
  principal: HttpPrincipal | undefined,
  requirement: StepUpRequirement,
  now: number = Date.now(),
): void {
  if (principal === undefined) throw noPrincipal();
  const auth = principal.authentication;
  const factors = Array.isArray(auth?.factors) ? auth.factors : [];
  if (requirement.factors !== undefined && !requirement.factors.some((f) => factors.includes(f))) {
    throw stepUpRequired('factor_required', {
      requiredFactors: requirement.factors.join(' '),
      ...(requirement.maxAgeSec !== undefined ? { maxAgeSec: requirement.maxAgeSec } : {}),
    });
  }
  if (requirement.maxAgeSec !== undefined) {
    // With required factors, only their own proofs count: a fresh factor of another kind (or the
    // sign-in) does not make an old passkey recent.
    const times = (
      requirement.factors !== undefined
        ? requirement.factors.map((f) => factorProvedAt(auth, f))
        : [auth?.at, auth?.mfaAt]
    ).filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
    const age = times.length === 0 ? NaN : now - Math.max(...times);
    if (!(age >= -CLOCK_SKEW_MS && age <= requirement.maxAgeSec * 1000)) {
      throw stepUpRequired('recent_auth_required', { maxAgeSec: requirement.maxAgeSec });
    }
  }
}

/**
 * Applies an `MfaPolicy` to the principal: throws ERR_MFA_STEP_UP_REQUIRED when its roles need a
 * second factor it has not proved (or proved too long ago, or by a method the policy excludes).
 */
export function enforceMfaPolicy(policy: PrincipalMfaPolicy, principal: HttpPrincipal | undefined): void {
  if (principal === undefined) throw noPrincipal();
  const decision = policy.evaluatePrincipal(principal);
  if (!decision.satisfied) throw stepUpRequired(`mfa_${decision.reason.replace(/-/g, '_')}`, {});
}
