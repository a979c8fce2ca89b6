import { createHash } from 'node:crypto';
import { configError } from '../util/options';

/**
 * De-duplication and rate limits shared by every instance of an app, so that N instances send one
 * alert for the same key (not N). The router asks it after its own in-process checks.
 */
export interface AlertDedupeStore {
  /**
   * Claims `key` for `ttlMs`: true when no instance claimed it within the window (this one sends
   * the alert), false when another one did (a duplicate). Atomic across instances.
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /**
   * Counts one alert of `rule` in the fixed window of `windowMs` that holds `nowMs`, across
   * instances, and returns the count including this one.
   */
  count(rule: string, windowMs: number, nowMs: number): Promise<number>;
}

/** The ioredis calls the store makes (an `ioredis` client; with a Cluster, give a `{hash tag}` prefix). */
export interface AlertRedisClient {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisAlertDedupeStoreOptions {
  client: AlertRedisClient;
  /** Key prefix; every instance of one app must use the same. Default `bulwark:alerts:`. */
  keyPrefix?: string;
  configPath?: string;
}

// INCR and, on the window's first alert, its expiry: one atomic step.
const COUNT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/** Keys hold digests: no account hash, IP or rule text in Redis key listings, bounded key size. */
function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/**
 * Alert de-duplication and rate limits in Redis: a claim is `SET key 1 PX ttl NX` (the first
 * instance wins, the key expires with the dedupe window); a rate-limit window is an `INCR`ed
 * counter that expires with it. Keys are `<prefix>d:<sha256>` and `<prefix>r:<sha256>:<window>`.
 */
export class RedisAlertDedupeStore implements AlertDedupeStore {
  readonly #redis: AlertRedisClient;
  readonly #prefix: string;

  constructor(options: RedisAlertDedupeStoreOptions) {
    const path = options?.configPath ?? 'RedisAlertDedupeStore';
    const client = options?.client as Partial<AlertRedisClient> | undefined;
    if (typeof client?.set !== 'function' || typeof client.eval !== 'function') {
      throw configError(`${path}.client`, 'must be an ioredis client (set, eval)');
    }
    const prefix = options.keyPrefix ?? 'bulwark:alerts:';
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 128) {
      throw configError(`${path}.keyPrefix`, 'must be a non-empty string of at most 128 characters');
    }
    this.#redis = options.client;
    this.#prefix = prefix;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#redis.set(
      `${this.#prefix}d:${digest(key)}`,
      '1',
      'PX',
      Math.max(1, ttlMs),
      'NX',
    );
    return reply === 'OK';
  }

  async count(rule: string, windowMs: number, nowMs: number): Promise<number> {
    const window = Math.floor(nowMs / windowMs);
    const n = await this.#redis.eval(COUNT, 1, `${this.#prefix}r:${digest(rule)}:${window}`, windowMs);
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new TypeError('unexpected reply to INCR');
    return n;
  }
}
