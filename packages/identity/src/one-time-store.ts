import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';

/**
 * Values that may be read once: OIDC login transactions (state, nonce, PKCE verifier), seen
 * back-channel logout token ids. `take` is atomic, so a replayed `state` or a code raced through two
 * instances is answered once, whatever the number of processes sharing the store.
 */
export interface OneTimeStore {
  /** Stores `value` under `key` for `ttlSec` seconds; false when the key is already there. */
  put(key: string, value: string, ttlSec: number): Promise<boolean>;
  /** Returns the value and deletes it in one step; undefined when absent or expired. */
  take(key: string): Promise<string | undefined>;
}

function checkKey(key: string, ttlSec?: number): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
    throw new TypeError('OneTimeStore key must be a non-empty string of at most 512 characters');
  }
  if (ttlSec !== undefined && !(Number.isSafeInteger(ttlSec) && ttlSec > 0)) {
    throw new TypeError('OneTimeStore ttlSec must be a positive integer');
  }
}

/** In-process store for one instance (and tests). Entries expire; the map is swept as it grows. */
export class MemoryOneTimeStore implements OneTimeStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  #sweptAt = Number.NEGATIVE_INFINITY;

  /**
   * `maxEntries` (default 100 000) bounds memory: past it, expired entries go first, then the
   * oldest (an abandoned login), so a flood of anonymous logins cannot lock everyone else out.
   */
  constructor(options: { now?: () => number; maxEntries?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  async put(key: string, value: string, ttlSec: number): Promise<boolean> {
    checkKey(key, ttlSec);
    const now = this.#now();
    const existing = this.#entries.get(key);
    if (existing !== undefined && existing.expiresAt > now) return false;
    this.#entries.delete(key); // an expired entry of this key: re-added as the newest
    if (this.#entries.size >= this.#maxEntries) this.#makeRoom(now);
    this.#entries.set(key, { value, expiresAt: now + ttlSec * 1000 });
    return true;
  }

  async take(key: string): Promise<string | undefined> {
    checkKey(key);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    return entry.expiresAt > this.#now() ? entry.value : undefined;
  }

  /** Drops the expired entries (a full scan at most once a second), else the oldest one. */
  #makeRoom(now: number): void {
    if (now - this.#sweptAt >= 1000) {
      this.#sweptAt = now;
      for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
    }
    if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }
}

/**
 * Structural type of an ioredis client (Redis >= 6.2 for GETDEL): the app passes the client it
 * already has and keeps ownership of it.
 */
export interface OneTimeRedisClient {
  set(key: string, value: string, ex: 'EX', ttlSec: number, nx: 'NX'): Promise<string | null>;
  getdel(key: string): Promise<string | null>;
}

/** Shared store for many instances: SET NX EX to put, GETDEL to take (both atomic in Redis). */
export class RedisOneTimeStore implements OneTimeStore {
  readonly #redis: OneTimeRedisClient;
  readonly #prefix: string;

  /** `keyPrefix` default `bulwark:once`; give each use (and each test) its own. */
  constructor(options: { redis: OneTimeRedisClient; keyPrefix?: string }) {
    if (typeof options?.redis?.set !== 'function' || typeof options.redis.getdel !== 'function') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'oneTimeStore.redis must be an ioredis client (set, getdel)',
        { path: 'oneTimeStore.redis' },
      );
    }
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix ?? 'bulwark:once';
  }

  async put(key: string, value: string, ttlSec: number): Promise<boolean> {
    checkKey(key, ttlSec);
    return (await this.#redis.set(`${this.#prefix}:${key}`, value, 'EX', ttlSec, 'NX')) === 'OK';
  }

  async take(key: string): Promise<string | undefined> {
    checkKey(key);
    return (await this.#redis.getdel(`${this.#prefix}:${key}`)) ?? undefined;
  }
}
