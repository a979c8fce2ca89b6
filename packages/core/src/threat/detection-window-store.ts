import { createHmac, randomUUID } from 'node:crypto';
import { BulwarkConfigError, BulwarkThreatError, ErrorCodes } from '../errors';
import type { BurstResult, WindowState } from './detection-rule';

/**
 * Where the ThreatDetector's built-in rules count, when several instances must detect together:
 * N instances behind a load balancer each see a share of the failures, and a burst split between
 * them must fire as it would on one instance, once. Each operation is atomic in the store.
 */
export interface DetectionWindowStore {
  /**
   * Adds entry `seq` at event time `tMs` to window `key`, drops entries at or before
   * `tMs - windowMs`, keeps at most `maxEntries` (the newest), and when the window then holds
   * `threshold` entries or more empties it and reports `fired` (to exactly one caller).
   */
  burst(
    key: string,
    seq: number,
    tMs: number,
    windowMs: number,
    threshold: number,
    maxEntries: number,
  ): Promise<BurstResult>;
  /** True at most once per `cooldownMs` of event time for `key`. */
  cooldown(key: string, tMs: number, cooldownMs: number): Promise<boolean>;
}

/** The ioredis calls the store makes (an `ioredis` client, or a Cluster with one hash slot per key). */
export interface DetectionRedisClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

// Atomic (a Lua script runs alone on the Redis server): add, expire by event time, cap, and on
// reaching the threshold delete the window, so one caller fires. Members are `seq|nonce` so the
// same seq seen by two instances (two logs) is counted twice, as it happened twice.
const BURST = `
local key = KEYS[1]
local t = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[3])
local threshold = tonumber(ARGV[4])
local maxEntries = tonumber(ARGV[5])
redis.call('ZADD', key, t, ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', t - windowMs)
local n = redis.call('ZCARD', key)
if n > maxEntries then redis.call('ZREMRANGEBYRANK', key, 0, n - maxEntries - 1) end
local members = redis.call('ZRANGE', key, 0, -1)
if #members >= threshold then
  redis.call('DEL', key)
  return {1, members}
end
redis.call('PEXPIRE', key, windowMs + 60000)
return {0, members}
`;

const COOLDOWN = `
local last = redis.call('GET', KEYS[1])
local t = tonumber(ARGV[1])
local cd = tonumber(ARGV[2])
if last and (t - tonumber(last)) < cd then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', cd + 60000)
return 1
`;

function storeError(cause: unknown): BulwarkThreatError {
  return new BulwarkThreatError(ErrorCodes.THREAT_STORE, 'detection window store failed', undefined, {
    cause,
  });
}

/**
 * Detection windows in Redis (sorted sets keyed by rule and subject, scored by event time), shared
 * by every detector using the same client and prefix. The rule and subject (account, IP, actor)
 * of a key are hidden behind HMAC-SHA256 with `keySecret` when one is given (recommended, as the
 * brute-force guard's `accountKey`: Redis and its dumps then hold no account names or addresses;
 * every instance needs the same secret); without it they are in the key names in clear. Keys
 * expire a minute after their window would have emptied.
 */
export class RedisDetectionWindowStore implements DetectionWindowStore {
  readonly #redis: DetectionRedisClient;
  readonly #prefix: string;
  readonly #secret?: Buffer;

  constructor(options: { redis: DetectionRedisClient; keyPrefix?: string; keySecret?: Uint8Array }) {
    if (options === null || typeof options !== 'object' || typeof options.redis?.eval !== 'function') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'threat.detector.windows.redis must be an ioredis client',
        {
          path: 'threat.detector.windows.redis',
        },
      );
    }
    const prefix = options.keyPrefix ?? 'bulwark:detect:';
    if (typeof prefix !== 'string' || prefix.length > 128) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'threat.detector.windows.keyPrefix must be a string of at most 128 characters',
        {
          path: 'threat.detector.windows.keyPrefix',
        },
      );
    }
    if (
      options.keySecret !== undefined &&
      (!(options.keySecret instanceof Uint8Array) || options.keySecret.length < 32)
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'threat.detector.windows.keySecret must be at least 32 random bytes',
        { path: 'threat.detector.windows.keySecret' },
      );
    }
    this.#redis = options.redis;
    this.#prefix = prefix;
    if (options.keySecret !== undefined) this.#secret = Buffer.from(options.keySecret);
  }

  /** The Redis key of a window / cooldown: the subject in clear, or its keyed hash. */
  #key(kind: 'w' | 'c', key: string): string {
    const name =
      this.#secret === undefined ? key : createHmac('sha256', this.#secret).update(key).digest('hex');
    return `${this.#prefix}${kind}:${name}`;
  }

  async burst(
    key: string,
    seq: number,
    tMs: number,
    windowMs: number,
    threshold: number,
    maxEntries: number,
  ): Promise<BurstResult> {
    let reply: unknown;
    try {
      reply = await this.#redis.eval(
        BURST,
        1,
        this.#key('w', key),
        tMs,
        `${seq}|${randomUUID()}`,
        windowMs,
        threshold,
        maxEntries,
      );
    } catch (error) {
      throw storeError(error);
    }
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw storeError(reply);
    const seqs = (reply[1] as unknown[]).map((m) => Number(String(m).split('|', 1)[0]));
    return {
      fired: Number(reply[0]) === 1,
      count: seqs.length,
      seqs: seqs.filter((s) => Number.isSafeInteger(s)),
    };
  }

  async cooldown(key: string, tMs: number, cooldownMs: number): Promise<boolean> {
    try {
      return Number(await this.#redis.eval(COOLDOWN, 1, this.#key('c', key), tMs, cooldownMs)) === 1;
    } catch (error) {
      throw storeError(error);
    }
  }
}

/** One rule's view of a shared store (keys namespaced by rule; the current entry set per call). */
export class SharedRuleState implements WindowState {
  seq = 0;
  t = 0;

  constructor(
    private readonly rule: string,
    private readonly store: DetectionWindowStore,
    private readonly maxEntries: number,
  ) {}

  burst(key: string, windowSec: number, threshold: number): Promise<BurstResult> {
    return this.store.burst(
      `${this.rule}:${key}`,
      this.seq,
      this.t,
      windowSec * 1000,
      threshold,
      this.maxEntries,
    );
  }

  cooldown(key: string, cooldownSec: number): Promise<boolean> {
    return this.store.cooldown(`${this.rule}:${key}`, this.t, cooldownSec * 1000);
  }
}
