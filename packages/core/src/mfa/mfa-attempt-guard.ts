import { BulwarkMfaError, ErrorCodes } from '../errors';

/** Who is attempting a code; `ip` lets a brute-force guard also count per address. */
export interface MfaAttempt {
  ip?: string;
  /** Copied into the `auth.mfa` audit event when the factor has an audit sink. */
  requestId?: string;
  userAgent?: string;
}

/**
 * What a second-factor check needs from a brute-force guard. `BruteForceGuard` (threat/)
 * satisfies it; the account it is given is `mfa:<userId>`, so TOTP and recovery-code failures
 * count together. RFC 4226 §7.3 / RFC 6238 §5.2: a verifier must throttle guessing, since a
 * 6-digit code with a ±1-step window falls to ~333 000 guesses on average. The attempt is
 * reserved before the code is checked, so concurrent guesses cannot outrun the limit.
 */
export interface MfaAttemptGuard {
  reserve(attempt: { ip?: string; account?: string }): Promise<
    | {
        allowed: true;
        reservation: { fail(): Promise<unknown>; succeed(): Promise<unknown>; release(): Promise<unknown> };
      }
    | { allowed: false; retryAfterSec: number; reason: string }
  >;
}

const USER_ID_MAX = 256;

/** Validates a user id (it keys store records and is bound into the secret's associated data). */
export function checkUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > USER_ID_MAX) {
    throw new BulwarkMfaError(
      ErrorCodes.MFA_INVALID_ARGUMENT,
      `userId must be a non-empty string of at most ${USER_ID_MAX} characters`,
    );
  }
}

/** Runs `fn` holding a reservation of the guard, settled from its outcome (a wrong code stays counted). */
export async function guarded<T>(
  guard: MfaAttemptGuard | undefined,
  userId: string,
  attempt: MfaAttempt | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  if (guard === undefined) return fn();
  const key = { account: `mfa:${userId}`, ...(attempt?.ip !== undefined ? { ip: attempt.ip } : {}) };
  const decision = await guard.reserve(key);
  if (!decision.allowed) {
    throw new BulwarkMfaError(
      ErrorCodes.MFA_LOCKED,
      `too many failed codes; retry in ${decision.retryAfterSec} s`,
      { retryAfterSec: decision.retryAfterSec, reason: decision.reason },
    );
  }
  const { reservation } = decision;
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    // Wrong and replayed codes are guesses; enrolment state and store failures are not.
    if (
      error instanceof BulwarkMfaError &&
      (error.code === ErrorCodes.MFA_INVALID_CODE ||
        error.code === ErrorCodes.MFA_REPLAY ||
        error.code === ErrorCodes.MFA_RECOVERY_CODE_USED ||
        error.code === ErrorCodes.MFA_WEBAUTHN_INVALID ||
        error.code === ErrorCodes.MFA_WEBAUTHN_COUNTER)
    ) {
      await reservation.fail();
    } else {
      await reservation.release();
    }
    throw error;
  }
  await reservation.succeed();
  return result;
}

/** Wraps a store failure so callers see one typed error and no store internals. */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof BulwarkMfaError) throw error;
    throw new BulwarkMfaError(ErrorCodes.MFA_STORE, 'the MFA store failed', undefined, { cause: error });
  }
}
