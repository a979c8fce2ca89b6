import { MemorySessionStore, RedisSessionStore, SessionEngine, type AuditLog } from '@bulwark/core';
import Redis from 'ioredis';

/** The shop's browser sessions and what to close at shutdown. */
export interface ShopSessions {
  readonly engine: SessionEngine;
  /** `redis` or `memory`. */
  readonly store: 'redis' | 'memory';
  close(): Promise<void>;
}

/**
 * Server-side sessions for the shop's HTML pages: in Redis when `redisUrl` is given (every
 * instance then shares them, and a logout or revocation on one is seen by all), in memory
 * otherwise. Idle time-out 15 minutes (PCI DSS 8.2.8), absolute 8 hours; `SameSite=Strict`
 * (nothing in the shop is reached by following a link from another site while signed in).
 */
export async function openShopSessions(options: {
  secret: Uint8Array;
  secure: boolean;
  auditLog: AuditLog;
  redisUrl?: string;
  keyPrefix?: string;
}): Promise<ShopSessions> {
  const redis =
    options.redisUrl === undefined
      ? undefined
      : new Redis(options.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis?.connect();
  const engine = new SessionEngine({
    secret: options.secret,
    store:
      redis === undefined
        ? new MemorySessionStore()
        : new RedisSessionStore({ redis, keyPrefix: options.keyPrefix ?? 'koa-shop:sess:' }),
    idleTimeoutSec: 900,
    absoluteTimeoutSec: 8 * 3600,
    cookie: {
      name: options.secure ? '__Host-shop.session' : 'shop.session',
      secure: options.secure,
      sameSite: 'Strict',
    },
    audit: options.auditLog,
  });
  return {
    engine,
    store: redis === undefined ? 'memory' : 'redis',
    async close() {
      await redis?.quit().catch(() => redis.disconnect());
    },
  };
}
