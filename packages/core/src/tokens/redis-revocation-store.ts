import { createHash } from 'node:crypto';
import { BulwarkTokenError, ErrorCodes } from '../errors';
import { configError } from '../util/options';
import type { RevocationStatus, RevocationStore } from './revocation-store';

/** The ioredis calls the store makes (an `ioredis` client; with a Cluster, give a `{hash tag}` prefix). */
export interface RevocationRedisClient {
  mget(...keys: string[]): Promise<(string | null)[]>;
  set(key: string, value: string, mode: 'PX', ms: number): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisRevocationStoreOptions {
  client: RevocationRedisClient;
  /** Key prefix; every instance of one app must use the same. Default `bulwark:revoked:`. */
  keyPrefix?: string;
  configPath?: string;
}

// Atomic max: a "not before" time never moves back, whatever order two revocations arrive in.
const RAISE = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

function storeError(cause: unknown): BulwarkTokenError {
  return new BulwarkTokenError(
    ErrorCodes.TOKEN_REVOCATION_STORE,
    'The token revocation store failed; the token was not accepted.',
    undefined,
    { cause },
  );
}

/** Subject ids and token ids in key names are SHA-256 digests: no user ids in Redis key listings, bounded key size. */
function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/**
 * Revocations in Redis, shared by every instance using the same client and prefix. A token-id
 * entry is a key that expires with the token (`SET … PX`); a subject's "not before" time is a key
 * without expiry (one per subject ever revoked). `status()` is one `MGET` of two keys: one round
 * trip per authenticated request. A Redis error refuses the token (ERR_TOKEN_REVOCATION_STORE, 503).
 */
export class RedisRevocationStore implements RevocationStore {
  readonly #redis: RevocationRedisClient;
  readonly #prefix: string;

  constructor(options: RedisRevocationStoreOptions) {
    const path = options?.configPath ?? 'RedisRevocationStore';
    const client = options?.client as Partial<RevocationRedisClient> | undefined;
    if (
      typeof client?.mget !== 'function' ||
      typeof client.set !== 'function' ||
      typeof client.eval !== 'function'
    ) {
      throw configError(`${path}.client`, 'must be an ioredis client (mget, set, eval)');
    }
    const prefix = options.keyPrefix ?? 'bulwark:revoked:';
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 128) {
      throw configError(`${path}.keyPrefix`, 'must be a non-empty string of at most 128 characters');
    }
    this.#redis = options.client;
    this.#prefix = prefix;
  }

  #tokenKey(jti: string): string {
    return `${this.#prefix}t:${digest(jti)}`;
  }

  #subjectKey(subject: string): string {
    return `${this.#prefix}s:${digest(subject)}`;
  }

  async revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    const ttl = Math.ceil(expiresAtMs - Date.now());
    if (ttl <= 0) return;
    try {
      await this.#redis.set(this.#tokenKey(jti), '1', 'PX', ttl);
    } catch (err) {
      throw storeError(err);
    }
  }

  async revokeSubject(subject: string, notBeforeSec: number): Promise<void> {
    try {
      await this.#redis.eval(RAISE, 1, this.#subjectKey(subject), notBeforeSec);
    } catch (err) {
      throw storeError(err);
    }
  }

  /** Redis expires deny-list entries itself, so the caller's time is not needed. */
  async status(jti: string | undefined, subject: string, _nowMs?: number): Promise<RevocationStatus> {
    let values: (string | null)[];
    try {
      values =
        jti === undefined
          ? [null, ...(await this.#redis.mget(this.#subjectKey(subject)))]
          : await this.#redis.mget(this.#tokenKey(jti), this.#subjectKey(subject));
    } catch (err) {
      throw storeError(err);
    }
    const notBefore = values[1] === null || values[1] === undefined ? undefined : Number(values[1]);
    if (notBefore !== undefined && !Number.isFinite(notBefore)) throw storeError(undefined);
    return {
      tokenRevoked: values[0] !== null && values[0] !== undefined,
      ...(notBefore !== undefined ? { notBeforeSec: notBefore } : {}),
    };
  }
}
