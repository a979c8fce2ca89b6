import { configError } from '../util/options';
import { ErrorCodes } from '../errors';
import type {
  BruteForceAttempt,
  BruteForceReservation,
  BruteForceReservationResult,
  BruteForceReserveOptions,
} from '../threat/brute-force-guard';
import { BulwarkHttpError } from './bulwark-http-error';

/** What the gate needs: `BruteForceGuard` fits. */
export interface BruteForceLimiter {
  reserve(
    attempt: BruteForceAttempt,
    options?: BruteForceReserveOptions,
  ): Promise<BruteForceReservationResult>;
}

/** What a challenge hook sees of the login request. */
export interface BruteForceChallengeRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: unknown;
}

export interface BruteForceGateOptions {
  guard: BruteForceLimiter;
  /** Body field holding the account name. Default `username`; `false` counts per IP only. */
  accountField?: string | false;
  /** Response statuses that count as a failed login. Default 401 and 403. */
  failureStatuses?: readonly number[];
  /**
   * Response statuses that mean a successful login (refund, clear the pair's counter, remember
   * the client). Default every 2xx. A form login answering `303 See Other` on success lists 303;
   * never list a redirect the route also sends on failure.
   */
  successStatuses?: readonly number[];
  /**
   * Called when only the account lockout refuses a login (with the guard's `lockout:
   * 'progressive'`, for a client the account never signed in from): resolve `true` when the
   * request carries a passed human challenge (a verified CAPTCHA token...), and the login goes on,
   * still limited per IP and per IP+account. Without it, or when it resolves `false`, the answer
   * is 429 with `challenge: true` in the problem details so the client can show one.
   */
  onChallenge?: (request: BruteForceChallengeRequest) => boolean | Promise<boolean>;
  /** Called when recording an outcome fails (the response is already sent). Default: process warning. */
  onError?: (error: unknown) => void;
}

/** The 429 a locked-out attempt answers with (Retry-After from `retryAfterSec`). */
export function lockedOut(decision: {
  retryAfterSec: number;
  reason: string;
  challengeable?: boolean;
}): BulwarkHttpError {
  return new BulwarkHttpError(
    ErrorCodes.HTTP_TOO_MANY_REQUESTS,
    429,
    'Too many failed attempts; retry later.',
    {
      retryAfterSec: decision.retryAfterSec,
      location: decision.reason,
      ...(decision.challengeable === true ? { challenge: true } : {}),
    },
  );
}

/** A login request that passed the gate; hand it back to `after()` once the answer is known. */
export interface BruteForceTicket {
  readonly reservation?: BruteForceReservation;
}

const NOTHING_RESERVED: BruteForceTicket = Object.freeze({});

/**
 * Brute-force defence around a login route. `before()` reserves the attempt on the IP, account
 * and pair counters atomically and refuses (429 + Retry-After) when any is full or locked, so no
 * more credential checks run than the limits allow, however many requests race in however many
 * processes. `after()` settles the reservation from the final status: a failure status keeps it
 * counted, a 2xx refunds it (and clears the pair's counter), anything else refunds it; an answer
 * that never completed (the client went away) counts as a failure, since the check may have run.
 * The login handler itself needs no changes.
 */
export class BruteForceGate {
  readonly #guard: BruteForceLimiter;
  readonly #accountField: string | false;
  readonly #failures: readonly number[];
  readonly #successes: readonly number[] | undefined;
  readonly #onChallenge: BruteForceGateOptions['onChallenge'];
  readonly #onError: (error: unknown) => void;
  readonly #settled = new WeakSet<BruteForceTicket>();

  constructor(options: BruteForceGateOptions, path = 'bruteForce') {
    if (typeof options?.guard?.reserve !== 'function') {
      throw configError(`${path}.guard`, 'must be a BruteForceGuard');
    }
    const field = options.accountField ?? 'username';
    if (field !== false && (typeof field !== 'string' || field.length === 0)) {
      throw configError(`${path}.accountField`, 'must be a field name or false');
    }
    const failures = options.failureStatuses ?? [401, 403];
    if (!Array.isArray(failures) || !failures.every((s) => Number.isInteger(s) && s >= 400 && s < 600)) {
      throw configError(`${path}.failureStatuses`, 'must be 4xx/5xx statuses');
    }
    const successes = options.successStatuses;
    if (
      successes !== undefined &&
      (!Array.isArray(successes) ||
        !successes.every((s) => Number.isInteger(s) && s >= 200 && s < 400 && !failures.includes(s)))
    ) {
      throw configError(`${path}.successStatuses`, 'must be 2xx/3xx statuses, none of them a failure status');
    }
    if (options.onChallenge !== undefined && typeof options.onChallenge !== 'function') {
      throw configError(`${path}.onChallenge`, 'must be a function');
    }
    this.#guard = options.guard;
    this.#accountField = field;
    this.#failures = failures;
    this.#successes = successes;
    this.#onChallenge = options.onChallenge;
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

  /** Reserves the attempt; throws 429 while a counter is full or locked. */
  async before(attempt: BruteForceAttempt, request?: BruteForceChallengeRequest): Promise<BruteForceTicket> {
    if (attempt.ip === undefined && attempt.account === undefined) return NOTHING_RESERVED;
    let result = await this.#guard.reserve(attempt);
    if (!result.allowed && result.challengeable === true && this.#onChallenge !== undefined) {
      if (await this.#challengePassed(request))
        result = await this.#guard.reserve(attempt, { challengePassed: true });
    }
    if (!result.allowed) throw lockedOut(result);
    return { reservation: result.reservation };
  }

  /**
   * Settles the reservation from the final status (`undefined`: the answer never completed).
   * Idempotent per ticket; never throws.
   */
  after(ticket: BruteForceTicket, status: number | undefined): void {
    const r = ticket.reservation;
    if (r === undefined || this.#settled.has(ticket)) return;
    this.#settled.add(ticket);
    let pending: Promise<unknown>;
    try {
      if (status === undefined || this.#failures.includes(status)) pending = r.fail();
      else if (this.#successes?.includes(status) ?? (status >= 200 && status < 300)) pending = r.succeed();
      else pending = r.release();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.catch((error: unknown) => this.#report(error));
  }

  async #challengePassed(request: BruteForceChallengeRequest | undefined): Promise<boolean> {
    try {
      return (await this.#onChallenge!(request ?? { headers: {}, body: undefined })) === true;
    } catch (error) {
      // A broken hook is a failed challenge (fail closed).
      this.#report(error);
      return false;
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // never reaches the request path
    }
  }
}
