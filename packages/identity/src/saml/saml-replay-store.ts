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

/**
 * One process only (tests, a single instance). Expired keys are dropped on access and when the
 * store is full. `maxEntries` (default 100 000) bounds memory: past it, expired entries go first,
 * then the oldest pending AuthnRequest ids (anyone can start a login); claims (accepted assertion
 * and logout request ids) are never evicted while valid, so a store full of them refuses (503).
 */
export class MemorySamlReplayStore implements SamlReplayStore {
  readonly #entries = new Map<string, { value: string; expiresAt: number; claim: boolean }>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(options: { now?: () => number; maxEntries?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    this.#add(key, value, ttlMs, false);
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
    this.#add(key, '1', ttlMs, true);
    return true;
  }

  #add(key: string, value: string, ttlMs: number, claim: boolean): void {
    const now = this.#now();
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) this.#makeRoom(now);
    this.#entries.set(key, { value, expiresAt: now + ttlMs, claim });
  }

  /** Expired entries (a full scan at most once a second), else the oldest non-claim, else refuse. */
  #makeRoom(now: number): void {
    if (now - this.#sweptAt >= 1000) {
      this.#sweptAt = now;
      for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
    }
    if (this.#entries.size < this.#maxEntries) return;
    for (const [key, entry] of this.#entries) {
      if (!entry.claim) {
        this.#entries.delete(key);
        return;
      }
    }
    throw new Error('MemorySamlReplayStore is full of valid claims');
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
