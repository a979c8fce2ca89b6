import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { types as utilTypes } from 'node:util';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { BulwarkConfigError, BulwarkThreatError, ErrorCodes } from '../errors';

/** The counter a lockout came from. */
export type BruteForceScope = 'ip' | 'account' | 'ip+account';

/** One counter: `maxFailures` failures within `windowSec` lock the key for `lockoutSec`, doubling. */
export interface BruteForceLimit {
  /** Failures within the window that trigger a lockout. */
  maxFailures: number;
  /** Sliding period (seconds) the failures are counted over; the count restarts after it. */
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

export interface BruteForceGuardOptions {
  /**
   * Failures from one IP across all accounts (credential stuffing, password spraying).
   * Default 100 per hour, lock 15 min doubling up to 24 h. `false` disables the counter.
   */
  ip?: Partial<BruteForceLimit> | false;
  /**
   * Failures on one account from any IP (distributed guessing). Default 20 per hour, lock 5 min
   * doubling up to 1 h. Note that anyone can trip it for any account name (a lockout DoS): keep
   * its threshold well above `ipAccount`'s, or pair it with a CAPTCHA instead of a hard block.
   */
  account?: Partial<BruteForceLimit> | false;
  /**
   * Consecutive failures on one account from one IP (OWASP "account lockout"). Default 5 per
   * 15 min, lock 1 min doubling up to 1 h; `recordSuccess` clears it.
   */
  ipAccount?: Partial<BruteForceLimit> | false;
  /** Multiplier between successive lockouts of one key. Default 2. */
  backoffFactor?: number;
  /** How long past lockouts count toward the back-off (seconds). Default 86 400. */
  strikeWindowSec?: number;
  /** Shared counters for many instances (RateLimiterRedis). Default: in-process memory. */
  redis?: BruteForceRedisClient;
  /** Prefix of every store key. Default `bulwark:bf`. */
  keyPrefix?: string;
  /**
   * HMAC key (>= 32 bytes) for account names in store keys, so Redis never holds user names.
   * Required with `redis` (every instance must derive the same keys); random per process otherwise.
   */
  accountKey?: Uint8Array;
  /** IPv6 addresses are counted per prefix of this many bits (one host usually owns a /64). Default 64. */
  ipv6PrefixBits?: number;
  /**
   * Canonical form of an account name before hashing. Default: NFKC, trimmed, lower case, so
   * `Alice@Example.com ` and `alice@example.com` share one counter.
   */
  normalizeAccount?: (account: string) => string;
  /** Config path used in error messages. Default `threat.bruteForce`. */
  configPath?: string;
}

/** An authentication attempt: who from where. At least one of the two. */
export interface BruteForceAttempt {
  ip?: string;
  account?: string;
}

export type BruteForceDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSec: number; readonly reason: BruteForceScope };

/** The effective configuration (no key material), as compliance evidence. */
export interface BruteForceGuardDescription {
  readonly store: 'memory' | 'redis';
  readonly limits: Readonly<Record<BruteForceScope, BruteForceLimit | false>>;
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

function configError(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} ${message}`, { path });
}

function argError(message: string): BulwarkThreatError {
  return new BulwarkThreatError(ErrorCodes.THREAT_INVALID_ARGUMENT, message);
}

function defaultNormalize(account: string): string {
  return account.normalize('NFKC').trim().toLowerCase();
}

/** Expands an IPv6 address (no zone id) into eight 16-bit groups. Input already passed isIP. */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4, ::1.2.3.4) becomes two hex groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = parse(head);
  if (rest === undefined) return left;
  const right = parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * Brute-force defence for authentication endpoints (OWASP Authentication Cheat Sheet, NIST SP
 * 800-63B §5.2.2 "rate limiting"), on rate-limiter-flexible. Three counters, each locking its key
 * when `maxFailures` failures land within `windowSec`; each further lockout of the same key within
 * `strikeWindowSec` lasts `backoffFactor` times longer, up to `maxLockoutSec`.
 *
 * Call `check()` before verifying credentials and refuse (HTTP 429 + Retry-After) when it is not
 * allowed; then `recordFailure()` or `recordSuccess()`. Store keys hold a keyed hash of the
 * account name, never the name. A store failure throws ERR_THREAT_STORE: the guard fails closed.
 */
export class BruteForceGuard {
  readonly #limits: Record<BruteForceScope, BruteForceLimit | false>;
  readonly #failures = new Map<BruteForceScope, RateLimiterAbstract>();
  readonly #strikes = new Map<BruteForceScope, RateLimiterAbstract>();
  readonly #factor: number;
  readonly #strikeWindowSec: number;
  readonly #accountKey: Buffer;
  readonly #v6Bits: number;
  readonly #normalize: (account: string) => string;
  readonly #store: 'memory' | 'redis';

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

    for (const scope of SCOPES) {
      const limit = limits[scope];
      if (limit === false) continue;
      const tag = scope === 'ip+account' ? 'ipacct' : scope;
      const make = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract =>
        redis === undefined
          ? new RateLimiterMemory({ keyPrefix, points, duration })
          : // rejectIfRedisNotReady: fail fast (and closed) instead of queueing behind a dead connection.
            new RateLimiterRedis({
              storeClient: redis,
              keyPrefix,
              points,
              duration,
              rejectIfRedisNotReady: true,
            });
      this.#failures.set(scope, make(`${prefix}:fail:${tag}`, limit.maxFailures, limit.windowSec));
      // Strike counters only count lockouts; the point budget is never meant to run out.
      this.#strikes.set(
        scope,
        make(`${prefix}:strike:${tag}`, Number.MAX_SAFE_INTEGER, this.#strikeWindowSec),
      );
    }
  }

  /** Whether an attempt may proceed now; when not, the longest applicable lockout. */
  async check(attempt: BruteForceAttempt): Promise<BruteForceDecision> {
    const keys = this.#keys(attempt);
    const results = await Promise.all(
      keys.map(async ([scope, key]) => {
        const res = await this.#call(() => this.#failures.get(scope)!.get(key));
        const limit = this.#limits[scope] as BruteForceLimit;
        return res !== null && res.consumedPoints > limit.maxFailures
          ? { scope, retryAfterSec: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) }
          : undefined;
      }),
    );
    return this.#worst(results);
  }

  /**
   * Counts a failed attempt on every applicable counter and starts lockouts that reach their
   * threshold. Returns the decision for the next attempt. Failures while already locked do not
   * extend or escalate the lockout (so an attacker cannot stretch a victim's lock indefinitely).
   */
  async recordFailure(attempt: BruteForceAttempt): Promise<BruteForceDecision> {
    const keys = this.#keys(attempt);
    const results = await Promise.all(
      keys.map(async ([scope, key]) => {
        const limit = this.#limits[scope] as BruteForceLimit;
        const failures = this.#failures.get(scope)!;
        let res: RateLimiterRes;
        try {
          res = await failures.consume(key);
        } catch (error) {
          if (!(error instanceof RateLimiterRes)) throw this.#storeError(error);
          // Over the budget: the key is locked already.
          return { scope, retryAfterSec: Math.max(1, Math.ceil(error.msBeforeNext / 1000)) };
        }
        // Atomic increment: exactly one caller (in any process) sees the threshold-reaching count.
        if (res.consumedPoints !== limit.maxFailures) return undefined;
        const strike = await this.#call(() => this.#strikes.get(scope)!.consume(key));
        const lockSec = Math.min(
          limit.maxLockoutSec,
          Math.round(limit.lockoutSec * this.#factor ** Math.max(0, strike.consumedPoints - 1)),
        );
        // block() sets the counter past the budget with the lockout as its TTL; when it expires the
        // key is gone, so counting restarts from zero while the strike count remembers the lockout.
        await this.#call(() => failures.block(key, lockSec));
        return { scope, retryAfterSec: lockSec };
      }),
    );
    return this.#worst(results);
  }

  /** A successful login: clears the ip+account counter and its back-off history. */
  async recordSuccess(attempt: BruteForceAttempt): Promise<void> {
    const key = this.#keys(attempt).find(([scope]) => scope === 'ip+account');
    if (key === undefined) return;
    await this.#call(() => this.#failures.get('ip+account')!.delete(key[1]));
    await this.#call(() => this.#strikes.get('ip+account')!.delete(key[1]));
  }

  /**
   * Clears counters and back-off history (support desk unlock): `{ account }` clears the account
   * counter, `{ ip }` the IP counter, both together also the ip+account counter. (ip+account
   * counters of other IPs cannot be enumerated; they expire with their window.)
   */
  async reset(attempt: BruteForceAttempt): Promise<void> {
    for (const [scope, key] of this.#keys(attempt)) {
      await this.#call(() => this.#failures.get(scope)!.delete(key));
      await this.#call(() => this.#strikes.get(scope)!.delete(key));
    }
  }

  describe(): BruteForceGuardDescription {
    return Object.freeze({
      store: this.#store,
      limits: Object.freeze({ ...this.#limits }),
      backoffFactor: this.#factor,
      strikeWindowSec: this.#strikeWindowSec,
    });
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
  #keys(attempt: BruteForceAttempt): [BruteForceScope, string][] {
    if (attempt === null || typeof attempt !== 'object') throw argError('attempt must be { ip?, account? }');
    const ip = attempt.ip === undefined ? undefined : this.#ipKey(attempt.ip);
    const account = attempt.account === undefined ? undefined : this.#accountHash(attempt.account);
    if (ip === undefined && account === undefined) throw argError('attempt needs an ip, an account or both');
    const out: [BruteForceScope, string][] = [];
    if (ip !== undefined && this.#limits.ip !== false) out.push(['ip', ip]);
    if (account !== undefined && this.#limits.account !== false) out.push(['account', account]);
    if (ip !== undefined && account !== undefined && this.#limits['ip+account'] !== false) {
      out.push(['ip+account', `${ip}|${account}`]);
    }
    return out;
  }

  #ipKey(ip: unknown): string {
    if (typeof ip !== 'string' || ip.length > 64) throw argError('ip must be an IPv4 or IPv6 address');
    const address = ip.replace(/%[A-Za-z0-9_.-]+$/, ''); // drop an IPv6 zone id
    const family = isIP(address);
    if (family === 4) return address;
    if (family !== 6) throw argError('ip must be an IPv4 or IPv6 address');
    const groups = ipv6Groups(address.toLowerCase());
    // IPv4-mapped (::ffff:a.b.c.d): the same client as the IPv4 address.
    if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
      return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
    }
    const masked = groups.map((g, i) => {
      const bits = Math.min(16, Math.max(0, this.#v6Bits - i * 16));
      return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
    });
    return `${masked.map((g) => g.toString(16)).join(':')}/${this.#v6Bits}`;
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

  #worst(results: ({ scope: BruteForceScope; retryAfterSec: number } | undefined)[]): BruteForceDecision {
    let worst: { scope: BruteForceScope; retryAfterSec: number } | undefined;
    for (const r of results)
      if (r !== undefined && (worst === undefined || r.retryAfterSec > worst.retryAfterSec)) worst = r;
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
