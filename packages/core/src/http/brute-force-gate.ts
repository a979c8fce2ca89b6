import { BulwarkConfigError, ErrorCodes } from '../errors';
import type { BruteForceAttempt, BruteForceDecision } from '../threat/brute-force-guard';
import { BulwarkHttpError } from './bulwark-http-error';

/** What the gate needs: `BruteForceGuard` fits. */
export interface BruteForceLimiter {
  check(attempt: BruteForceAttempt): Promise<BruteForceDecision>;
  recordFailure(attempt: BruteForceAttempt): Promise<BruteForceDecision>;
  recordSuccess(attempt: BruteForceAttempt): Promise<void>;
}

export interface BruteForceGateOptions {
  guard: BruteForceLimiter;
  /** Body field holding the account name. Default `username`; `false` counts per IP only. */
  accountField?: string | false;
  /** Response statuses that count as a failed login. Default 401 and 403. */
  failureStatuses?: readonly number[];
  /** Called when recording an outcome fails (the response is already sent). Default: process warning. */
  onError?: (error: unknown) => void;
}

/** The 429 a locked-out attempt answers with (Retry-After from `retryAfterSec`). */
export function lockedOut(decision: { retryAfterSec: number; reason: string }): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_TOO_MANY_REQUESTS,
    429,
    'Too many failed attempts; retry later.',
    {
      retryAfterSec: decision.retryAfterSec,
      location: decision.reason,
    },
  );
}

/**
 * Brute-force defence around a login route: refuse while the IP / account / pair is locked out
 * (429 + Retry-After), and after the route answered, count a failure (401/403) or clear the
 * pair's counter (2xx) from the final status, so the login handler itself needs no changes.
 */
export class BruteForceGate {
  readonly #guard: BruteForceLimiter;
  readonly #accountField: string | false;
  readonly #failures: readonly number[];
  readonly #onError: (error: unknown) => void;

  constructor(options: BruteForceGateOptions, path = 'bruteForce') {
    if (typeof options?.guard?.check !== 'function') {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path}.guard must be a BruteForceGuard`, {
        path: `${path}.guard`,
      });
    }
    const field = options.accountField ?? 'username';
    if (field !== false && (typeof field !== 'string' || field.length === 0)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${path}.accountField must be a field name or false`,
        {
          path: `${path}.accountField`,
        },
      );
    }
    const failures = options.failureStatuses ?? [401, 403];
    if (!Array.isArray(failures) || !failures.every((s) => Number.isInteger(s) && s >= 400 && s < 600)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${path}.failureStatuses must be 4xx/5xx statuses`,
        {
          path: `${path}.failureStatuses`,
        },
      );
    }
    this.#guard = options.guard;
    this.#accountField = field;
    this.#failures = failures;
    this.#onError =
      options.onError ??
      ((e) => process.emitWarning(`bulwark: brute-force outcome not recorded: ${(e as Error)?.message}`));
  }

  /** The attempt of a request: its IP and, when the body names one, the account (strings only, capped). */
  attempt(ip: string | undefined, body: unknown): BruteForceAttempt {
    const out: BruteForceAttempt = {};
    if (ip !== undefined && ip.length > 0) out.ip = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    if (this.#accountField !== false && typeof body === 'object' && body !== null) {
      const account = (body as Record<string, unknown>)[this.#accountField];
      if (typeof account === 'string' && account.length > 0 && account.length <= 1024) out.account = account;
    }
    return out;
  }

  /** Throws 429 while locked out. */
  async before(attempt: BruteForceAttempt): Promise<void> {
    if (attempt.ip === undefined && attempt.account === undefined) return;
    const decision = await this.#guard.check(attempt);
    if (!decision.allowed) throw lockedOut(decision);
  }

  /** Records the outcome from the final status; never throws (it runs in a response listener). */
  after(attempt: BruteForceAttempt, status: number): void {
    if (attempt.ip === undefined && attempt.account === undefined) return;
    const report = (error: unknown): void => {
      try {
        this.#onError(error);
      } catch {
        // never reaches the request path
      }
    };
    try {
      let pending: Promise<unknown> | undefined;
      if (this.#failures.includes(status)) pending = this.#guard.recordFailure(attempt);
      else if (status >= 200 && status < 300) pending = this.#guard.recordSuccess(attempt);
      pending?.catch(report);
    } catch (error) {
      report(error);
    }
  }
}
