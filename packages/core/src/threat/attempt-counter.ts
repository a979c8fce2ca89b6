import type { RateLimiterAbstract } from 'rate-limiter-flexible';

type RateLimiterModule = typeof import('rate-limiter-flexible');
let rateLimiterModule: RateLimiterModule | undefined;
/** Loaded with the first counter (a BruteForceGuard), not by `import '@bulwark/core'`. */
function rateLimiter(): RateLimiterModule {
  return (rateLimiterModule ??= require('rate-limiter-flexible') as RateLimiterModule);
}

/**
 * The value a lockout writes. Far above any budget, so that refunds of attempts still in flight
 * when the lockout started (at most one per concurrent request) can never bring it back under.
 */
const LOCKED = 2 ** 40;
const LOCKED_FLOOR = 2 ** 39;

/** A counter's state: `count` units within the window, `msBeforeNext` until the key expires. */
export interface CounterState {
  readonly count: number;
  readonly msBeforeNext: number;
}

/** Structural client type (see BruteForceRedisClient). */
interface RedisLike {
  multi(...args: never[]): unknown;
}

/**
 * One atomic counter per key (rate-limiter-flexible: a Map in memory, INCRBY in a Lua script on
 * Redis), the primitive the brute-force guard reserves attempts on and the request rate limiter
 * (http/request-rate-limiter.ts) counts on. Internal to core.
 */
export class AttemptCounter {
  readonly #limiter: RateLimiterAbstract;

  constructor(options: {
    redis: RedisLike | undefined;
    keyPrefix: string;
    points: number;
    duration: number;
  }) {
    const { redis, keyPrefix, points, duration } = options;
    const { RateLimiterMemory, RateLimiterRedis } = rateLimiter();
    this.#limiter =
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
  }

  /**
   * Adds one unit atomically and returns the count including it, over the budget or not (the
   * caller decides, and refunds a unit it does not keep). In every process at most one caller
   * sees any given count.
   */
  async take(key: string): Promise<CounterState> {
    try {
      const res = await this.#limiter.consume(key);
      return { count: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } catch (error) {
      if (error instanceof rateLimiter().RateLimiterRes)
        return { count: error.consumedPoints, msBeforeNext: error.msBeforeNext };
      throw error;
    }
  }

  /**
   * Gives one unit back. A refund must never create credit: when the key it was taken from is
   * gone (window over, lockout over, cleared), rate-limiter-flexible would start a key at -1; the
   * compensating penalty brings it back to zero. (Atomic per call; between the two calls another
   * taker may see 0 instead of 1, which the compensation then accounts for.)
   */
  async refund(key: string): Promise<void> {
    const res = await this.#limiter.reward(key, 1);
    if (res.consumedPoints < 0) await this.#limiter.penalty(key, -res.consumedPoints);
  }

  /** Starts a lockout of `sec` seconds: the key reads as locked until it expires, then restarts at zero. */
  async lock(key: string, sec: number): Promise<void> {
    await this.#limiter.set(key, LOCKED, sec);
  }

  async peek(key: string): Promise<CounterState | null> {
    const res = await this.#limiter.get(key);
    return res === null ? null : { count: res.consumedPoints, msBeforeNext: res.msBeforeNext };
  }

  /** Sets a marker (known clients): a count of 1 for `sec` seconds. */
  async mark(key: string, sec: number): Promise<void> {
    await this.#limiter.set(key, 1, sec);
  }

  async clear(key: string): Promise<void> {
    await this.#limiter.delete(key);
  }

  static isLocked(state: CounterState | null): boolean {
    return state !== null && state.count >= LOCKED_FLOOR;
  }
}
