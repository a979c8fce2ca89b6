/**
 * Where a SAML service provider keeps what must be shared by all its instances: the ids of the
 * AuthnRequests it sent (so a response answers one of ours, once: InResponseTo) and the ids of the
 * assertions it accepted (so the same assertion is refused everywhere until it expires).
 */
export interface SamlReplayStore {
  /** Keeps `value` under `key` for `ttlMs`. */
  put(key: string, value: string, ttlMs: number): Promise<void>;
  /** The value under `key`, or null when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Removes `key` and returns its value; null when another caller removed it first. */
  take(key: string): Promise<string | null>;
  /** Records `key` for `ttlMs` if absent: true for the first caller, false for every later one. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

/** One process only (tests, a single instance). Expired keys are dropped on access and on a sweep. */
export class MemorySamlReplayStore implements SamlReplayStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    this.#sweep();
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
  }

  async get(key: string): Promise<string | null> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return null;
    }
    return entry.value;
  }

  async take(key: string): Promise<string | null> {
    const value = await this.get(key);
    this.#entries.delete(key);
    return value;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    if ((await this.get(key)) !== null) return false;
    await this.put(key, '1', ttlMs);
    return true;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}

/** The few Redis commands the store uses (ioredis and node-redis v4 `legacyMode` fit). */
export interface SamlRedisClient {
  set(key: string, value: string, px: 'PX', ttlMs: number, nx?: 'NX'): Promise<unknown>;
  get(key: string): Promise<string | null>;
  getdel(key: string): Promise<string | null>;
}

/**
 * Shared by every instance through Redis: `claim` is one `SET NX PX`, `take` one `GETDEL` (Redis
 * 6.2+), so two instances racing on the same response cannot both accept it.
 */
export class RedisSamlReplayStore implements SamlReplayStore {
  readonly #redis: SamlRedisClient;
  readonly #prefix: string;

  constructor(redis: SamlRedisClient, options: { keyPrefix?: string } = {}) {
    this.#redis = redis;
    this.#prefix = options.keyPrefix ?? 'bulwark:saml:';
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  get(key: string): Promise<string | null> {
    return this.#redis.get(this.#prefix + key);
  }

  take(key: string): Promise<string | null> {
    return this.#redis.getdel(this.#prefix + key);
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#redis.set(this.#prefix + key, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return reply === 'OK';
  }
}
