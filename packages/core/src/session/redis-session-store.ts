import { createHash } from 'node:crypto';
import { BulwarkConfigError, BulwarkIdentityError, ErrorCodes } from '../errors';
import { parseStoredSession } from './stored-session';
import type { SessionStore, StoredSession } from './session-store';

/** The one ioredis (or node-redis v4+ `eval`-compatible) call the store makes; core never imports a driver. */
export interface SessionRedisClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisSessionStoreOptions {
  redis: SessionRedisClient;
  /** Prefix of every key. Default `bulwark:sess:`. Give each app (and each test) its own. */
  keyPrefix?: string;
  /** Clock the record TTLs are computed with (epoch ms). Default `Date.now`. */
  now?: () => number;
}

// A session is a hash (`body`: the record as JSON; `seen` / `exp`: the idle fields, moved by touch
// without re-encoding the app's JSON); a user's sessions are a set of ids beside it. Each script
// runs alone on the server, so "replace only if it still exists" cannot race a revocation.
// Keys are derived inside the scripts from the prefix: use one Redis node (or a hash-tagged prefix
// on a Cluster). The user index lives until the last absolute time-out among its sessions (ARGV[8]),
// not their idle one: touch never reaches the index, and an active session outlives its first idle end.
const CREATE = `
redis.call('HSET', KEYS[1], 'body', ARGV[1], 'seen', ARGV[2], 'exp', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'user', ARGV[5])
  local index = ARGV[6] .. 'u:' .. ARGV[5]
  redis.call('SADD', index, ARGV[7])
  if redis.call('PTTL', index) < tonumber(ARGV[8]) then redis.call('PEXPIRE', index, ARGV[8]) end
end
return 1
`;
const REPLACE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'body', ARGV[1], 'seen', ARGV[2], 'exp', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;
const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'seen', ARGV[1], 'exp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;
const DELETE = `
local user = redis.call('HGET', KEYS[1], 'user')
local n = redis.call('DEL', KEYS[1])
if user then redis.call('SREM', ARGV[1] .. 'u:' .. user, ARGV[2]) end
return n
`;
const LIST = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'body', 'seen', 'exp')
  if v[1] then
    table.insert(out, v[1]); table.insert(out, v[2]); table.insert(out, v[3])
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`;
const DELETE_USER = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('DEL', ARGV[1] .. 's:' .. id) == 1 then table.insert(out, id) end
end
redis.call('DEL', KEYS[1])
return out
`;

// One SCAN step over the store's keys (sessions and user indexes), deleting what it finds: the
// client loops on the cursor, so no single script blocks Redis for long.
const DELETE_ALL_STEP = `
local r = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', 500)
local n = 0
for _, key in ipairs(r[2]) do
  if string.sub(key, string.len(ARGV[3]) + 1, string.len(ARGV[3]) + 2) == 's:' then n = n + 1 end
  redis.call('DEL', key)
end
return { r[1], n }
`;

function storeError(what: string, cause?: unknown): BulwarkIdentityError {
  return new BulwarkIdentityError(
    ErrorCodes.SESSION_STORE,
    `session store: ${what}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Sessions in Redis, shared by every instance using the same client and prefix. A key expires with
 * its session (idle or absolute time-out, whichever is first); user ids appear in key names only
 * as SHA-256 digests.
 */
export class RedisSessionStore implements SessionStore {
  readonly #redis: SessionRedisClient;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(options: RedisSessionStoreOptions) {
    if (options === null || typeof options !== 'object' || typeof options.redis?.eval !== 'function') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'sessions.store.redis must be an ioredis client',
        {
          path: 'sessions.store.redis',
        },
      );
    }
    const prefix = options.keyPrefix ?? 'bulwark:sess:';
    if (typeof prefix !== 'string' || prefix.length > 128) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'sessions.store.keyPrefix must be a string of at most 128 characters',
        { path: 'sessions.store.keyPrefix' },
      );
    }
    this.#redis = options.redis;
    this.#prefix = prefix;
    this.#now = options.now ?? Date.now;
  }

  #sessionKey(id: string): string {
    return `${this.#prefix}s:${id}`;
  }

  #userDigest(userId: string): string {
    return createHash('sha256').update(userId).digest('hex');
  }

  #userKey(userId: string): string {
    return `${this.#prefix}u:${this.#userDigest(userId)}`;
  }

  #ttl(expiresAt: number): number {
    return Math.max(1000, Math.ceil(expiresAt - this.#now()));
  }

  async #eval(what: string, script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#redis.eval(script, keys.length, ...keys, ...args);
    } catch (error) {
      throw storeError(`${what} failed`, error);
    }
  }

  async get(id: string): Promise<StoredSession | undefined> {
    const reply = await this.#eval(
      'read',
      `return redis.call('HMGET', KEYS[1], 'body', 'seen', 'exp')`,
      [this.#sessionKey(id)],
      [],
    );
    if (!Array.isArray(reply) || reply[0] === null || reply[0] === undefined) return undefined;
    return this.#parse(reply[0], reply[1], reply[2]);
  }

  #parse(body: unknown, seen: unknown, exp: unknown): StoredSession {
    if (typeof body !== 'string') throw storeError('malformed session record');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw storeError('malformed session record');
    }
    const session = parseStoredSession({
      ...(parsed as object),
      lastSeenAt: Number(seen),
      expiresAt: Number(exp),
    });
    if (session === undefined) throw storeError('malformed session record');
    return session;
  }

  async create(session: StoredSession): Promise<void> {
    await this.#eval(
      'create',
      CREATE,
      [this.#sessionKey(session.id)],
      [
        JSON.stringify(session),
        session.lastSeenAt,
        session.expiresAt,
        this.#ttl(session.expiresAt),
        session.userId === undefined ? '' : this.#userDigest(session.userId),
        this.#prefix,
        session.id,
        this.#ttl(session.absoluteExpiresAt),
      ],
    );
  }

  async replace(session: StoredSession): Promise<boolean> {
    const reply = await this.#eval(
      'replace',
      REPLACE,
      [this.#sessionKey(session.id)],
      [JSON.stringify(session), session.lastSeenAt, session.expiresAt, this.#ttl(session.expiresAt)],
    );
    return Number(reply) === 1;
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number): Promise<boolean> {
    const reply = await this.#eval(
      'touch',
      TOUCH,
      [this.#sessionKey(id)],
      [lastSeenAt, expiresAt, this.#ttl(expiresAt)],
    );
    return Number(reply) === 1;
  }

  async delete(id: string): Promise<boolean> {
    const reply = await this.#eval('delete', DELETE, [this.#sessionKey(id)], [this.#prefix, id]);
    return Number(reply) === 1;
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    const reply = await this.#eval('list', LIST, [this.#userKey(userId)], [this.#prefix]);
    if (!Array.isArray(reply)) throw storeError('malformed reply');
    const out: StoredSession[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) out.push(this.#parse(reply[i], reply[i + 1], reply[i + 2]));
    return out;
  }

  async deleteByUser(userId: string): Promise<string[]> {
    const reply = await this.#eval('delete user', DELETE_USER, [this.#userKey(userId)], [this.#prefix]);
    if (!Array.isArray(reply)) throw storeError('malformed reply');
    return reply.map(String);
  }

  /** Deletes every session and user index under the prefix (SCAN in steps); returns the sessions deleted. */
  async deleteAll(): Promise<number> {
    const pattern = `${this.#prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const reply = await this.#eval('delete all', DELETE_ALL_STEP, [], [cursor, pattern, this.#prefix]);
      if (!Array.isArray(reply) || reply.length !== 2) throw storeError('malformed reply');
      cursor = String(reply[0]);
      deleted += Number(reply[1]);
    } while (cursor !== '0');
    return deleted;
  }
}
