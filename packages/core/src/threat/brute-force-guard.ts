import { createHmac, randomBytes } from 'node:crypto';
import { types as utilTypes } from 'node:util';
import { BulwarkThreatError, ErrorCodes } from '../errors';
import { AttemptCounter, type CounterState } from './attempt-counter';
import { clientAddressKey } from './client-address';
import { lockoutEvent, unlockEvent, type LockoutAuditSink, type UnlockContext } from './lockout-audit';
import { whenRedisReady } from './redis-readiness';
import { configError } from '../util/options';

/** The counter a lockout came from. */
export type BruteForceScope = 'ip' | 'account' | 'ip+account';

/**
 * What the account counter does once an account has seen `maxFailures` failures:
 * - `'progressive'` (default): it locks out clients the account has never signed in from; a known
 *   client (an address this account signed in from successfully within `knownClientTtlSec`) is
 *   not locked by it and stays limited by its own ip+account counter, whose lockouts double (a
 *   progressive delay); an unknown client that passed a challenge (`challengePassed`) likewise.
 *   Strangers cannot lock the owner out (OWASP Authentication Cheat Sheet, "Account Lockout").
 * - `'hard'`: it locks out every client, the owner included: anyone who knows an account name
 *   can keep it locked (a denial of service), in exchange for a strict per-account ceiling.
 */
export type BruteForceLockout = 'progressive' | 'hard';

/** One counter: `maxFailures` failures within `windowSec` lock the key for `lockoutSec`, doubling. */
export interface BruteForceLimit {
  /** Failures within the window that trigger a lockout; also the most credential checks at once. */
  maxFailures: number;
  /** Period (seconds) the failures are counted over; the count restarts after it. */
  windowSec: number;
  /** First lockout, seconds. */
  lockoutSec: number;
  /** Ceiling of the exponential back-off, seconds. */
  maxLockoutSec: number;
}

/**
 * Structural type of an ioredis (or node-redis v4+) client: core never imports a Redis driver;
 * the app passes the client it already has and keeps ownership of it (the guard never closes it).
 */
export interface BruteForceRedisClient {
  multi(...args: never[]): unknown;
}

/**
 * What the guard does while its store (Redis) fails or is not connected:
 * - `'fail-closed'` (default): every call throws ERR_THREAT_STORE, which the HTTP gate answers
 *   with 503 problem+json ("the login service is unavailable"), not 429: nobody is told they are
 *   locked out, and no credential is checked unguarded.
 * - `'local-fallback'`: the call is decided by an in-process guard with the same limits until
 *   the store answers again (each such decision counted in `stats()`). Weaker, and said so in
 *   `describe()`: lockouts held in Redis are not seen, and N instances allow N times the budget.
 */
export type BruteForceStoreUnavailablePolicy = 'fail-closed' | 'local-fallback';

/** Store health as evidence: how often the store failed and the fallback decided. */
export interface BruteForceGuardStats {
  /** Calls whose store (Redis) failed. */
  readonly storeFailures: number;
  /** Of those, calls the local fallback decided (`onStoreUnavailable: 'local-fallback'`). */
  readonly fallbackDecisions: number;
  /** ISO time of the last store failure. */
  readonly lastStoreFailureAt?: string;
}

export interface BruteForceGuardOptions {
  /**
   * Failures from one IP across all accounts (credential stuffing, password spraying).
   * Default 100 per hour, lock 15 min doubling up to 24 h. `false` disables the counter.
   */
  ip?: Partial<BruteForceLimit> | false;
  /**
   * Failures on one account from any IP (distributed guessing). Default 20 per hour, lock 5 min
   * doubling up to 1 h. Who it locks out depends on `lockout`.
   */
  account?: Partial<BruteForceLimit> | false;
  /**
   * Consecutive failures on one account from one IP (OWASP "account lockout"). Default 5 per
   * 15 min, lock 1 min doubling up to 1 h; a success clears it.
   */
  ipAccount?: Partial<BruteForceLimit> | false;
  /**
   * Who the account counter locks out: `'progressive'` (default: clients the account never signed
   * in from) or `'hard'` (everyone, the owner included). See BruteForceLockout. Known clients are
   * only spared while the `ipAccount` counter is on, since it is then their per-account limit.
   */
  lockout?: BruteForceLockout;
  /** How long a successful sign-in makes its address a known client of the account (seconds). Default 14 days. */
  knownClientTtlSec?: number;
  /** Multiplier between successive lockouts of one key. Default 2. */
  backoffFactor?: number;
  /** How long past lockouts count toward the back-off (seconds). Default 86 400. */
  strikeWindowSec?: number;
  /**
   * Shared counters for many instances (RateLimiterRedis). Default: in-process memory. For
   * lockouts to survive a Redis restart, Redis must persist (AOF `appendonly yes`, ideally
   * `appendfsync everysec` or `always`; RDB snapshots alone lose what came after the last one).
   * Set the client's `commandTimeout` so a partitioned Redis fails instead of hanging.
   */
  redis?: BruteForceRedisClient;
  /** What to do while the store fails. Default `'fail-closed'`. See BruteForceStoreUnavailablePolicy. */
  onStoreUnavailable?: BruteForceStoreUnavailablePolicy;
  /**
   * With `redis`: the first call waits up to this long for the client to be ready, so a guard
   * used right after `new Redis()` does not fail with "connection is not ready". Later calls never
   * wait (a Redis that goes away fails fast, and `onStoreUnavailable` decides). Default 5000 ms.
   */
  readyTimeoutMs?: number;
  /** Prefix of every store key. Default `bulwark:bf`. */
  keyPrefix?: string;
  /**
   * HMAC key (>= 32 bytes) for account names and known clients in store keys, so the store never
   * holds user names. Required with `redis` (every instance must derive the same keys); random per
   * process otherwise.
   */
  accountKey?: Uint8Array;
  /** IPv6 addresses are counted per prefix of this many bits (one host usually owns a /64). Default 64. */
  ipv6PrefixBits?: number;
  /**
   * Canonical form of an account name before hashing. Default: NFKC, trimmed, lower case, so
   * `Alice@Example.com ` and `alice@example.com` share one counter.
   */
  normalizeAccount?: (account: string) => string;
  /** Receives `auth.lockout` when a counter locks and `auth.unlock` on `reset()` (an `AuditLog`). */
  audit?: LockoutAuditSink;
  /** Config path used in error messages. Default `threat.bruteForce`. */
  configPath?: string;
}

/** An authentication attempt: who from where. At least one of the two. */
export interface BruteForceAttempt {
  ip?: string;
  account?: string;
}

export interface BruteForceReserveOptions {
  /**
   * The app verified a human challenge (CAPTCHA, e-mailed link...) for this attempt. With
   * `lockout: 'progressive'` it lifts the account lockout for the attempt (the ip and ip+account
   * counters still apply); with `'hard'` it changes nothing.
   */
  challengePassed?: boolean;
}

export type BruteForceDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly retryAfterSec: number;
      readonly reason: BruteForceScope;
      /** Only the account lockout refused it, and a passed challenge would lift it (`'progressive'`). */
      readonly challengeable?: true;
    };

/**
 * An attempt allowed to reach the credential check, holding one unit on each of its counters.
 * Settle it exactly once when the check is done (later calls do nothing):
 */
export interface BruteForceReservation {
  /** Wrong credentials: the unit stays counted; may start lockouts. Resolves to the decision for the next attempt. */
  fail(): Promise<BruteForceDecision>;
  /** Right credentials: the units are refunded, the ip+account counter cleared, the address remembered as a known client. */
  succeed(): Promise<void>;
  /** The credentials were never checked (a malformed request, a failure before the check): the units are refunded. */
  release(): Promise<void>;
}

export type BruteForceReservationResult =
  | { readonly allowed: true; readonly reservation: BruteForceReservation }
  | Extract<BruteForceDecision, { allowed: false }>;

/** The effective configuration (no key material), as compliance evidence. */
export interface BruteForceGuardDescription {
  readonly store: 'memory' | 'redis';
  /** With `redis`: what happens while it is unavailable. */
  readonly onStoreUnavailable: BruteForceStoreUnavailablePolicy;
  readonly limits: Readonly<Record<BruteForceScope, BruteForceLimit | false>>;
  readonly lockout: BruteForceLockout;
  readonly knownClientTtlSec: number;
  readonly backoffFactor: number;
  readonly strikeWindowSec: number;
}

const DEFAULTS: Record<BruteForceScope, BruteForceLimit> = {
  ip: { maxFailures: 100, windowSec: 3600, lockoutSec: 900, maxLockoutSec: 86_400 },
  account: { maxFailures: 20, windowSec: 3600, lockoutSec: 300, maxLockoutSec: 3600 },
  'ip+account': { maxFailures: 5, windowSec: 900, lockoutSec: 60, maxLockoutSec: 3600 },
};
const SCOPES: readonly BruteForceScope[] = ['ip', 'account', 'ip+account'];
const SCOPE_OPTION: Record<BruteForceScope, 'ip' | 'account' | 'ipAccount'> = {
  ip: 'ip',
  account: 'account',
  'ip+account': 'ipAccount',
};
const ACCOUNT_MAX = 1024;
const KEY_PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
// The memory store expires keys with setTimeout, whose delay cannot exceed 2^31 - 1 ms (24.8 days).
const KNOWN_TTL_MAX_MEMORY = 24 * 86_400;
const KNOWN_TTL_MAX = 400 * 86_400;

function argError(message: string): BulwarkThreatError {
  return new BulwarkThreatError(ErrorCodes.THREAT_INVALID_ARGUMENT, message);
}

function defaultNormalize(account: string): string {
  return account.normalize('NFKC').trim().toLowerCase();
}

type Refusal = { scope: BruteForceScope; retryAfterSec: number };

/** A counter unit held by a reservation. */
interface Held {
  scope: BruteForceScope;
  key: string;
  /** The count the unit brought the counter to: its place among the window's attempts. */
  count: number;
  /** When the window it was counted in ends (a refund after that would credit the next window). */
  expiresAt: number;
}

/** The store keys of one attempt. */
interface AttemptKeys {
  ip?: string;
  account?: string;
  counters: [BruteForceScope, string][];
}

/**
 * Brute-force defence for authentication endpoints (OWASP Authentication Cheat Sheet, NIST SP
 * 800-63B §5.2.2 "rate limiting", ASVS 5.0 V6.3.1), on rate-limiter-flexible. Three counters (IP,
 * account, IP+account), each locking its key when `maxFailures` failures land within `windowSec`;
 * each further lockout of the same key within `strikeWindowSec` lasts `backoffFactor` times
 * longer, up to `maxLockoutSec`.
 *
 * `reserve()` before verifying credentials: it takes one unit on every counter atomically (one
 * Redis round trip each), so however many requests race, in however many processes, at most
 * `maxFailures` attempts per key are past it at once or failed within the window; refuse
 * (HTTP 429 + Retry-After) when it is not allowed, otherwise settle the reservation with `fail()`,
 * `succeed()` or `release()`. Store keys hold keyed hashes of account names and known clients,
 * never the names. A store failure throws ERR_THREAT_STORE: the guard fails closed.
 */
export class BruteForceGuard {
  readonly #limits: Record<BruteForceScope, BruteForceLimit | false>;
  readonly #failures = new Map<BruteForceScope, AttemptCounter>();
  readonly #strikes = new Map<BruteForceScope, AttemptCounter>();
  readonly #known: AttemptCounter;
  readonly #lockout: BruteForceLockout;
  readonly #knownTtlSec: number;
  readonly #factor: number;
  readonly #strikeWindowSec: number;
  readonly #accountKey: Buffer;
  readonly #v6Bits: number;
  readonly #normalize: (account: string) => string;
  readonly #store: 'memory' | 'redis';
  readonly #redis?: BruteForceRedisClient;
  readonly #policy: BruteForceStoreUnavailablePolicy;
  readonly #fallback?: BruteForceGuard;
  readonly #readyTimeoutMs: number;
  readonly #audit?: LockoutAuditSink;
  #ready?: Promise<void>;
  #storeFailures = 0;
  #fallbackDecisions = 0;
  #lastStoreFailureAt?: string;

  constructor(options: BruteForceGuardOptions = {}) {
    const path = options?.configPath ?? 'threat.bruteForce';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    const limits = {} as Record<BruteForceScope, BruteForceLimit | false>;
    for (const scope of SCOPES) {
      const name = SCOPE_OPTION[scope];
      limits[scope] = this.#limit(options[name], DEFAULTS[scope], `${path}.${name}`);
    }
    if (SCOPES.every((s) => limits[s] === false)) throw configError(path, 'must enable at least one counter');
    this.#limits = limits;
    this.#lockout = options.lockout ?? 'progressive';
    if (this.#lockout !== 'progressive' && this.#lockout !== 'hard') {
      throw configError(`${path}.lockout`, `must be 'progressive' or 'hard', got ${String(this.#lockout)}`);
    }
    this.#factor = options.backoffFactor ?? 2;
    if (typeof this.#factor !== 'number' || !(this.#factor >= 1 && this.#factor <= 10)) {
      throw configError(
        `${path}.backoffFactor`,
        `must be a number from 1 to 10, got ${String(this.#factor)}`,
      );
    }
    this.#strikeWindowSec = options.strikeWindowSec ?? 86_400;
    if (!Number.isInteger(this.#strikeWindowSec) || this.#strikeWindowSec < 1) {
      throw configError(`${path}.strikeWindowSec`, 'must be a positive integer');
    }
    const prefix = options.keyPrefix ?? 'bulwark:bf';
    if (typeof prefix !== 'string' || !KEY_PREFIX_RE.test(prefix)) {
      throw configError(`${path}.keyPrefix`, 'must be 1-100 characters of [A-Za-z0-9_.:-]');
    }
    const redis = options.redis;
    if (
      redis !== undefined &&
      (redis === null || typeof redis !== 'object' || typeof redis.multi !== 'function')
    ) {
      throw configError(`${path}.redis`, 'must be an ioredis / node-redis client');
    }
    this.#knownTtlSec = options.knownClientTtlSec ?? 14 * 86_400;
    const knownMax = redis === undefined ? KNOWN_TTL_MAX_MEMORY : KNOWN_TTL_MAX;
    if (!Number.isInteger(this.#knownTtlSec) || this.#knownTtlSec < 60 || this.#knownTtlSec > knownMax) {
      throw configError(
        `${path}.knownClientTtlSec`,
        `must be an integer from 60 to ${knownMax}${redis === undefined ? ' with the memory store' : ''}, got ${String(this.#knownTtlSec)}`,
      );
    }
    if (options.accountKey !== undefined) {
      if (!utilTypes.isUint8Array(options.accountKey) || options.accountKey.byteLength < 32) {
        throw configError(`${path}.accountKey`, 'must be a Uint8Array of at least 32 random bytes');
      }
      this.#accountKey = Buffer.from(options.accountKey);
    } else if (redis !== undefined) {
      throw configError(
        `${path}.accountKey`,
        'is required with redis: every instance must hash account names with the same key',
      );
    } else {
      this.#accountKey = randomBytes(32);
    }
    this.#v6Bits = options.ipv6PrefixBits ?? 64;
    if (!Number.isInteger(this.#v6Bits) || this.#v6Bits < 16 || this.#v6Bits > 128) {
      throw configError(`${path}.ipv6PrefixBits`, 'must be an integer from 16 to 128');
    }
    if (options.normalizeAccount !== undefined && typeof options.normalizeAccount !== 'function') {
      throw configError(`${path}.normalizeAccount`, 'must be a function');
    }
    this.#normalize = options.normalizeAccount ?? defaultNormalize;
    this.#store = redis === undefined ? 'memory' : 'redis';
    this.#redis = redis;
    this.#policy = options.onStoreUnavailable ?? 'fail-closed';
    if (this.#policy !== 'fail-closed' && this.#policy !== 'local-fallback') {
      throw configError(
        `${path}.onStoreUnavailable`,
        `must be 'fail-closed' or 'local-fallback', got ${String(this.#policy)}`,
      );
    }
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 5000;
    if (
      !Number.isInteger(this.#readyTimeoutMs) ||
      this.#readyTimeoutMs < 0 ||
      this.#readyTimeoutMs > 600_000
    ) {
      throw configError(`${path}.readyTimeoutMs`, 'must be an integer from 0 to 600000');
    }
    if (options.audit !== undefined && typeof options.audit?.append !== 'function') {
      throw configError(`${path}.audit`, 'must be an AuditLog (append)');
    }
    this.#audit = options.audit;
    if (redis !== undefined && this.#policy === 'local-fallback') {
      // Same limits and key, in memory (whose TTLs are capped, hence the known-client clamp).
      this.#fallback = new BruteForceGuard({
        ...options,
        redis: undefined,
        onStoreUnavailable: 'fail-closed',
        accountKey: this.#accountKey,
        knownClientTtlSec: Math.min(this.#knownTtlSec, KNOWN_TTL_MAX_MEMORY),
        configPath: `${path}.fallback`,
      });
    }

    for (const scope of SCOPES) {
      const limit = limits[scope];
      if (limit === false) continue;
      const tag = scope === 'ip+account' ? 'ipacct' : scope;
      this.#failures.set(
        scope,
        new AttemptCounter({
          redis,
          keyPrefix: `${prefix}:fail:${tag}`,
          points: limit.maxFailures,
          duration: limit.windowSec,
        }),
      );
      // Strike counters only count lockouts; the point budget is never meant to run out.
      this.#strikes.set(
        scope,
        new AttemptCounter({
          redis,
          keyPrefix: `${prefix}:strike:${tag}`,
          points: Number.MAX_SAFE_INTEGER,
          duration: this.#strikeWindowSec,
        }),
      );
    }
    this.#known = new AttemptCounter({
      redis,
      keyPrefix: `${prefix}:known`,
      points: 1,
      duration: this.#knownTtlSec,
    });
  }

  /**
   * Reserves an attempt before its credentials are checked: allowed only while every counter of
   * the attempt has a free unit, taken atomically. Refused attempts take nothing.
   */
  async reserve(
    attempt: BruteForceAttempt,
    options: BruteForceReserveOptions = {},
  ): Promise<BruteForceReservationResult> {
    await this.#whenReady();
    try {
      return await this.#reserveOnStore(attempt, options);
    } catch (error) {
      return this.#orFallback(error, (f) => f.reserve(attempt, options));
    }
  }

  /**
   * Whether a reservation would be allowed now (read only: for a login page's hint, not as the
   * gate in front of a credential check, which is `reserve()`'s job).
   */
  async check(
    attempt: BruteForceAttempt,
    options: BruteForceReserveOptions = {},
  ): Promise<BruteForceDecision> {
    await this.#whenReady();
    try {
      return await this.#checkOnStore(attempt, options);
    } catch (error) {
      return this.#orFallback(error, (f) => f.check(attempt, options));
    }
  }

  /**
   * Clears counters and back-off history (support desk unlock): `{ account }` clears the account
   * counter, `{ ip }` the IP counter, both together also the ip+account counter. (ip+account
   * counters of other IPs cannot be enumerated; they expire with their window.) With a local
   * fallback its counters are cleared too; a store failure still throws (the unlock did not
   * reach the shared store).
   */
  async reset(attempt: BruteForceAttempt, context?: UnlockContext): Promise<void> {
    await this.#whenReady();
    // The fallback's counters are cleared without its own unlock event (one reset, one event).
    if (this.#fallback !== undefined) await this.#fallback.#resetOnStore(attempt);
    try {
      await this.#resetOnStore(attempt);
    } catch (error) {
      if (error instanceof BulwarkThreatError && error.code === ErrorCodes.THREAT_STORE)
        this.#noteStoreFailure();
      throw error;
    }
    await this.#audit?.append(unlockEvent(attempt, context));
  }

  /** Store health: failures and fallback decisions since start (compliance evidence, monitoring). */
  stats(): BruteForceGuardStats {
    return Object.freeze({
      storeFailures: this.#storeFailures,
      fallbackDecisions: this.#fallbackDecisions,
      ...(this.#lastStoreFailureAt === undefined ? {} : { lastStoreFailureAt: this.#lastStoreFailureAt }),
    });
  }

  /** The first call waits (bounded) for a Redis client that is still connecting; later calls never wait. */
  #whenReady(): Promise<void> {
    if (this.#redis === undefined) return Promise.resolve();
    return (this.#ready ??= whenRedisReady(this.#redis, this.#readyTimeoutMs));
  }

  #noteStoreFailure(): void {
    this.#storeFailures++;
    this.#lastStoreFailureAt = new Date().toISOString();
  }

  /** A store failure goes to the local fallback when there is one; anything else is rethrown. */
  async #orFallback<T>(error: unknown, decide: (fallback: BruteForceGuard) => Promise<T>): Promise<T> {
    if (!(error instanceof BulwarkThreatError) || error.code !== ErrorCodes.THREAT_STORE) throw error;
    this.#noteStoreFailure();
    if (this.#fallback === undefined) throw error;
    this.#fallbackDecisions++;
    return decide(this.#fallback);
  }

  async #reserveOnStore(
    attempt: BruteForceAttempt,
    options: BruteForceReserveOptions,
  ): Promise<BruteForceReservationResult> {
    const keys = this.#keys(attempt);
    const taken = await Promise.allSettled(
      keys.counters.map(async ([scope, key]) => {
        const state = await this.#failures.get(scope)!.take(key);
        return { scope, key, count: state.count, expiresAt: Date.now() + state.msBeforeNext, state };
      }),
    );
    const units = taken.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
    const failed = taken.find((t): t is PromiseRejectedResult => t.status === 'rejected');
    if (failed !== undefined) {
      await this.#refundAll(units).catch(() => undefined); // best effort: the store is failing
      throw this.#storeError(failed.reason);
    }
    let refusals: Refusal[] = [];
    for (const unit of units) {
      const refusal = this.#refusal(unit.scope, unit.state, 'taken');
      if (refusal !== undefined) refusals.push(refusal);
    }
    let challengeable = false;
    if (refusals.some((r) => r.scope === 'account') && this.#spares(keys)) {
      let exempt: boolean;
      try {
        exempt = await this.#exempt(keys, options);
      } catch (error) {
        await this.#refundAll(units).catch(() => undefined);
        throw error;
      }
      if (exempt) {
        // Spared from the account lockout: nothing of that counter is held.
        const account = units.find((u) => u.scope === 'account')!;
        units.splice(units.indexOf(account), 1);
        await this.#refundAll([account]);
        refusals = refusals.filter((r) => r.scope !== 'account');
      } else {
        challengeable = refusals.length === 1;
      }
    }
    if (refusals.length > 0) {
      await this.#refundAll(units);
      const worst = this.#worst(refusals) as Extract<BruteForceDecision, { allowed: false }>;
      return challengeable ? { ...worst, challengeable: true } : worst;
    }
    return {
      allowed: true,
      reservation: this.#reservation(
        attempt,
        keys,
        units.map(({ scope, key, count, expiresAt }) => ({ scope, key, count, expiresAt })),
      ),
    };
  }

  async #checkOnStore(
    attempt: BruteForceAttempt,
    options: BruteForceReserveOptions,
  ): Promise<BruteForceDecision> {
    const keys = this.#keys(attempt);
    const states = await Promise.all(
      keys.counters.map(async ([scope, key]) => ({
        scope,
        state: await this.#call(() => this.#failures.get(scope)!.peek(key)),
      })),
    );
    let refusals = states.flatMap(({ scope, state }) => {
      const r = this.#refusal(scope, state, 'peeked');
      return r === undefined ? [] : [r];
    });
    let challengeable = false;
    if (refusals.some((r) => r.scope === 'account') && this.#spares(keys)) {
      if (await this.#exempt(keys, options)) refusals = refusals.filter((r) => r.scope !== 'account');
      else challengeable = refusals.length === 1;
    }
    const decision = this.#worst(refusals);
    return challengeable && !decision.allowed ? { ...decision, challengeable: true } : decision;
  }

  async #resetOnStore(attempt: BruteForceAttempt): Promise<void> {
    for (const [scope, key] of this.#keys(attempt).counters) {
      await this.#call(() => this.#failures.get(scope)!.clear(key));
      await this.#call(() => this.#strikes.get(scope)!.clear(key));
    }
  }

  describe(): BruteForceGuardDescription {
    return Object.freeze({
      store: this.#store,
      onStoreUnavailable: this.#policy,
      limits: Object.freeze({ ...this.#limits }),
      lockout: this.#lockout,
      knownClientTtlSec: this.#knownTtlSec,
      backoffFactor: this.#factor,
      strikeWindowSec: this.#strikeWindowSec,
    });
  }

  #reservation(attempt: BruteForceAttempt, keys: AttemptKeys, held: Held[]): BruteForceReservation {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      return true;
    };
    return Object.freeze({
      fail: async (): Promise<BruteForceDecision> => {
        if (!settle()) return { allowed: true };
        const locks = await Promise.all(held.map((h) => this.#lockIfLast(h)));
        for (const [i, lockSec] of locks.entries()) {
          if (lockSec !== undefined)
            await this.#audit?.append(lockoutEvent(attempt, held[i]!.scope, lockSec));
        }
        return this.check(attempt);
      },
      succeed: async (): Promise<void> => {
        if (!settle()) return;
        const pair = keys.counters.find(([scope]) => scope === 'ip+account');
        // OWASP: the ip+account counter counts consecutive failures, so a success clears it and
        // its back-off; the ip and account counters only get this attempt's unit back.
        await this.#refundAll(held.filter((h) => h.scope !== 'ip+account'));
        if (pair !== undefined) {
          await this.#call(() => this.#failures.get('ip+account')!.clear(pair[1]));
          await this.#call(() => this.#strikes.get('ip+account')!.clear(pair[1]));
        }
        if (this.#lockout === 'progressive' && keys.ip !== undefined && keys.account !== undefined) {
          await this.#call(() => this.#known.mark(this.#knownKey(keys), this.#knownTtlSec));
        }
      },
      release: async (): Promise<void> => {
        if (settle()) await this.#refundAll(held);
      },
    });
  }

  /**
   * A failure on the unit that filled a counter (count == maxFailures) starts the lockout (and
   * returns its length, for the audit event): exactly one holder in any process sees that count. (After a refund it can be taken again; a lockout
   * already in place is then left alone rather than escalated twice.)
   */
  async #lockIfLast(h: Held): Promise<number | undefined> {
    const limit = this.#limits[h.scope] as BruteForceLimit;
    if (h.count !== limit.maxFailures) return undefined;
    const failures = this.#failures.get(h.scope)!;
    if (AttemptCounter.isLocked(await this.#call(() => failures.peek(h.key)))) return undefined;
    const strike = await this.#call(() => this.#strikes.get(h.scope)!.take(h.key));
    const lockSec = Math.min(
      limit.maxLockoutSec,
      Math.round(limit.lockoutSec * this.#factor ** Math.max(0, strike.count - 1)),
    );
    // When the lockout expires the key is gone, so counting restarts from zero while the strike
    // count remembers the lockout.
    await this.#call(() => failures.lock(h.key, lockSec));
    return lockSec;
  }

  /** Refunds units, skipping those whose window has ended (their key no longer holds them). */
  async #refundAll(units: readonly Held[]): Promise<void> {
    const now = Date.now();
    const live = units.filter((u) => u.expiresAt > now);
    const results = await Promise.allSettled(live.map((u) => this.#failures.get(u.scope)!.refund(u.key)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw this.#storeError(failed.reason);
  }

  /**
   * Why a counter refuses. A unit just taken is refused above the budget; a peek refuses at it
   * (the next unit would be). A locked key answers its lockout's remaining time; a full but
   * unlocked one is full of attempts still in flight, which settle within a request's time.
   */
  #refusal(scope: BruteForceScope, state: CounterState | null, how: 'taken' | 'peeked'): Refusal | undefined {
    if (state === null) return undefined;
    const max = (this.#limits[scope] as BruteForceLimit).maxFailures;
    if (how === 'taken' ? state.count <= max : state.count < max) return undefined;
    return {
      scope,
      retryAfterSec: AttemptCounter.isLocked(state) ? Math.max(1, Math.ceil(state.msBeforeNext / 1000)) : 1,
    };
  }

  /** Whether the account lockout may spare this attempt at all ('progressive', with its pair counter on). */
  #spares(keys: AttemptKeys): boolean {
    return this.#lockout === 'progressive' && keys.counters.some(([scope]) => scope === 'ip+account');
  }

  async #exempt(keys: AttemptKeys, options: BruteForceReserveOptions): Promise<boolean> {
    if (options?.challengePassed === true) return true;
    const mark = await this.#call(() => this.#known.peek(this.#knownKey(keys)));
    return mark !== null && mark.count > 0;
  }

  /** Keyed hash of (account, client address): the store learns neither from it. */
  #knownKey(keys: AttemptKeys): string {
    return createHmac('sha256', this.#accountKey)
      .update('bulwark/bf/known\0')
      .update(keys.account!)
      .update('\0')
      .update(keys.ip!)
      .digest('base64url')
      .slice(0, 22);
  }

  #limit(value: unknown, defaults: BruteForceLimit, path: string): BruteForceLimit | false {
    if (value === false) return false;
    if (value !== undefined && (value === null || typeof value !== 'object')) {
      throw configError(path, 'must be an object or false');
    }
    const v = { ...defaults, ...(value as Partial<BruteForceLimit> | undefined) };
    for (const name of ['maxFailures', 'windowSec', 'lockoutSec', 'maxLockoutSec'] as const) {
      const n = v[name];
      if (!Number.isSafeInteger(n) || n < 1) {
        throw configError(`${path}.${name}`, `must be a positive integer, got ${String(n)}`);
      }
    }
    if (v.maxLockoutSec < v.lockoutSec) {
      throw configError(`${path}.maxLockoutSec`, `must be >= lockoutSec (${v.lockoutSec})`);
    }
    return Object.freeze(v);
  }

  /** Store keys for the counters this attempt touches. */
  #keys(attempt: BruteForceAttempt): AttemptKeys {
    if (attempt === null || typeof attempt !== 'object') throw argError('attempt must be { ip?, account? }');
    let ip: string | undefined;
    if (attempt.ip !== undefined) {
      ip = clientAddressKey(attempt.ip, this.#v6Bits);
      if (ip === undefined) throw argError('ip must be an IPv4 or IPv6 address');
    }
    const account = attempt.account === undefined ? undefined : this.#accountHash(attempt.account);
    if (ip === undefined && account === undefined) throw argError('attempt needs an ip, an account or both');
    const counters: [BruteForceScope, string][] = [];
    if (ip !== undefined && this.#limits.ip !== false) counters.push(['ip', ip]);
    if (account !== undefined && this.#limits.account !== false) counters.push(['account', account]);
    if (ip !== undefined && account !== undefined && this.#limits['ip+account'] !== false) {
      counters.push(['ip+account', `${ip}|${account}`]);
    }
    return { ...(ip !== undefined ? { ip } : {}), ...(account !== undefined ? { account } : {}), counters };
  }

  #accountHash(account: unknown): string {
    if (typeof account !== 'string' || account.length === 0 || account.length > ACCOUNT_MAX) {
      throw argError(`account must be a non-empty string of at most ${ACCOUNT_MAX} characters`);
    }
    const canonical = this.#normalize(account);
    if (typeof canonical !== 'string' || canonical === '')
      throw argError('account normalises to an empty string');
    // Keyed hash: the store (and anyone reading it) sees no user names, and cannot test guesses
    // against the keys without the key.
    return createHmac('sha256', this.#accountKey)
      .update('bulwark/bf/account\0')
      .update(canonical)
      .digest('base64url')
      .slice(0, 22);
  }

  #worst(results: readonly Refusal[]): BruteForceDecision {
    let worst: Refusal | undefined;
    for (const r of results) if (worst === undefined || r.retryAfterSec > worst.retryAfterSec) worst = r;
    return worst === undefined
      ? { allowed: true }
      : { allowed: false, retryAfterSec: worst.retryAfterSec, reason: worst.scope };
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.#storeError(error);
    }
  }

  #storeError(error: unknown): BulwarkThreatError {
    if (error instanceof BulwarkThreatError) return error;
    return new BulwarkThreatError(
      ErrorCodes.THREAT_STORE,
      'the brute-force store failed; refusing the attempt (fail closed)',
      { store: this.#store },
      { cause: error },
    );
  }
}
