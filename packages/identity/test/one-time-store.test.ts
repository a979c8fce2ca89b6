import Redis from 'ioredis';
import { MemoryOneTimeStore, RedisOneTimeStore, type OneTimeStore } from '@bulwark/identity';
import { describeWithService, SERVICE_URLS } from '../../../test/support/services';

function contract(name: string, make: () => OneTimeStore): void {
  describe(name, () => {
    it('gives a value to exactly one of many concurrent takers', async () => {
      const store = make();
      expect(await store.put('tx-1', 'value', 60)).toBe(true);
      const taken = await Promise.all(Array.from({ length: 20 }, () => store.take('tx-1')));
      expect(taken.filter((v) => v === 'value')).toHaveLength(1);
      expect(taken.filter((v) => v === undefined)).toHaveLength(19);
    });

    it('refuses a second put of a live key (a replayed logout token id)', async () => {
      const store = make();
      expect(await store.put('jti-1', '1', 60)).toBe(true);
      expect(await store.put('jti-1', '1', 60)).toBe(false);
    });

    it('answers undefined for an unknown key and refuses bad arguments', async () => {
      const store = make();
      expect(await store.take('never-put')).toBeUndefined();
      await expect(store.put('k', 'v', 0)).rejects.toThrow(TypeError);
      await expect(store.take('')).rejects.toThrow(TypeError);
    });
  });
}

contract('MemoryOneTimeStore', () => new MemoryOneTimeStore());

describe('MemoryOneTimeStore expiry and bound', () => {
  it('does not give an expired value', async () => {
    let now = 1_000_000;
    const store = new MemoryOneTimeStore({ now: () => now, maxEntries: 2 });
    await store.put('a', '1', 10);
    now += 10_000;
    expect(await store.take('a')).toBeUndefined();
  });

  it('past maxEntries evicts expired entries first, then the oldest, and never refuses a put', async () => {
    let now = 1_000_000;
    const store = new MemoryOneTimeStore({ now: () => now, maxEntries: 3 });
    expect(await store.put('short', 's', 1)).toBe(true);
    expect(await store.put('old', 'o', 600)).toBe(true);
    expect(await store.put('newer', 'n', 600)).toBe(true);
    now += 2000; // 'short' expired: it goes first although 'old' was not taken
    expect(await store.put('x', 'x', 600)).toBe(true);
    expect(await store.take('old')).toBe('o');
    expect(await store.put('old', 'o', 600)).toBe(true);
    // A flood of anonymous logins: the oldest pending values make room, the newest stay.
    for (let i = 0; i < 10; i++) expect(await store.put(`flood-${i}`, 'f', 600)).toBe(true);
    expect(await store.take('flood-9')).toBe('f');
    expect(await store.take('newer')).toBeUndefined();
  });
});

describeWithService('redis', 'RedisOneTimeStore (Redis)', () => {
  const redis = new Redis(SERVICE_URLS.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const prefix = `bulwark-test:identity-once:${process.pid}:${Date.now()}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  contract('on a real Redis', () => new RedisOneTimeStore({ redis, keyPrefix: prefix }));

  it('shares taken values across instances (two clients, one key)', async () => {
    const other = new Redis(SERVICE_URLS.redis);
    try {
      const a = new RedisOneTimeStore({ redis, keyPrefix: prefix });
      const b = new RedisOneTimeStore({ redis: other, keyPrefix: prefix });
      await a.put('shared', 'v', 60);
      const [x, y] = await Promise.all([a.take('shared'), b.take('shared')]);
      expect([x, y].filter((v) => v === 'v')).toHaveLength(1);
      expect(await redis.ttl(`${prefix}:shared`)).toBe(-2);
    } finally {
      other.disconnect();
    }
  });

  it('refuses a client that is not ioredis-shaped', () => {
    expect(() => new RedisOneTimeStore({ redis: {} as never })).toThrow(/oneTimeStore.redis/);
  });
});
