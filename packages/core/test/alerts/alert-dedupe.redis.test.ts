import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';
import type { Alert, AlertChannel, AlertInput } from '../../src/alerts/alert';
import { RedisAlertDedupeStore } from '../../src/alerts/alert-dedupe-store';
import { AlertRouter, type AlertRouterOptions } from '../../src/alerts/alert-router';
import { BulwarkConfigError } from '../../src/errors';

// Issue 19: de-duplication and rate limits across processes. Two AlertRouters (two app
// instances, each with its own in-process state) share one Redis: the same alert raised on both
// is sent once; the rate limit counts both instances' alerts.

/** A channel that keeps what it is sent; both instances' channels write into one list. */
function capture(name: string, into: Alert[]): AlertChannel {
  return {
    name,
    kind: 'test',
    send(alert) {
      into.push(alert);
      return Promise.resolve();
    },
  };
}

const burst = (account: string): AlertInput => ({
  rule: 'failed-login-burst',
  severity: 'high',
  category: 'detection',
  message: `5 failed sign-ins for ${account}`,
  subject: { account },
});

describeWithService('redis', 'AlertRouter de-duplication and rate limits shared through Redis', () => {
  let redis: Redis;
  let prefix: string;
  const routers: AlertRouter[] = [];

  beforeAll(async () => {
    redis = new Redis(SERVICE_URLS.redis, { maxRetriesPerRequest: 1 });
    await redis.ping();
  });
  beforeEach(() => {
    prefix = `bulwark-test:alerts:${process.pid}:${randomBytes(4).toString('hex')}:`;
  });
  afterEach(async () => {
    for (const r of routers.splice(0)) await r.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  afterAll(async () => {
    await redis.quit();
  });

  async function instance(sent: Alert[], options: Partial<AlertRouterOptions> = {}): Promise<AlertRouter> {
    const router = await AlertRouter.open({
      channels: [capture('soc', sent)],
      retry: { attempts: 1, intervalMs: 0 },
      shared: new RedisAlertDedupeStore({ client: redis, keyPrefix: prefix }),
      ...options,
    });
    routers.push(router);
    return router;
  }

  it('two instances raising the same alert at once send it once', async () => {
    const sent: Alert[] = [];
    const [a, b] = [await instance(sent), await instance(sent)];
    const outcomes = await Promise.all([
      a.notify(burst('alice')),
      b.notify(burst('alice')),
      a.notify(burst('alice')),
      b.notify(burst('alice')),
    ]);
    expect(sent).toHaveLength(1);
    expect(outcomes.filter((o) => o.decision.deliver)).toHaveLength(1);
    expect(
      outcomes.filter((o) => !o.decision.deliver).map((o) => !o.decision.deliver && o.decision.reason),
    ).toEqual(['duplicate', 'duplicate', 'duplicate']);
    // Another key (another account) is another alert, from whichever instance sees it.
    await b.notify(burst('bob'));
    expect(sent.map((x) => x.subject)).toEqual([{ account: 'alice' }, { account: 'bob' }]);
    // The key in Redis is a digest with the dedupe window as its expiry: no account name in it.
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.join(' ')).not.toMatch(/alice|bob|failed-login/);
    const ttl = await redis.pttl(keys.find((k) => k.startsWith(`${prefix}d:`))!);
    expect(ttl).toBeGreaterThan(250_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
  });

  it('without the shared store each instance sends its own copy (the behaviour this replaces)', async () => {
    const sent: Alert[] = [];
    const [a, b] = [await instance(sent, { shared: undefined }), await instance(sent, { shared: undefined })];
    await Promise.all([a.notify(burst('alice')), b.notify(burst('alice'))]);
    expect(sent).toHaveLength(2);
  });

  it('the rate limit counts every instance; critical alerts are exempt', async () => {
    const sent: Alert[] = [];
    const opts = { rateLimit: { max: 3, windowSec: 3600 } };
    const [a, b] = [await instance(sent, opts), await instance(sent, opts)];
    // Six distinct keys of one rule, alternating instances: each instance alone is under its limit
    // of 3 (its own view), together they are over it.
    for (let i = 0; i < 6; i++) await (i % 2 === 0 ? a : b).notify(burst(`user-${i}`));
    expect(sent).toHaveLength(3);
    const critical = await a.integrityAlarm('audit-write-failure', 'Audit writes are failing.');
    expect(critical.delivered).toEqual(['soc']);
    expect(sent).toHaveLength(4);
  });

  it('a Redis that does not answer lets the alert through and reports the error', async () => {
    const sent: Alert[] = [];
    const errors: unknown[] = [];
    const down = new Redis({
      port: 1, // nothing listens: every command fails at once
      host: '127.0.0.1',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      const router = await instance(sent, {
        shared: new RedisAlertDedupeStore({ client: down, keyPrefix: prefix }),
        onError: (e) => errors.push(e),
      });
      const outcome = await router.notify(burst('alice'));
      expect(outcome.delivered).toEqual(['soc']);
      expect(errors).toHaveLength(1);
      // In-process de-duplication still holds.
      expect((await router.notify(burst('alice'))).decision).toEqual({ deliver: false, reason: 'duplicate' });
    } finally {
      down.disconnect();
    }
  });

  it('refuses a shared store that is not one', async () => {
    await expect(AlertRouter.open({ channels: [capture('soc', [])], shared: {} as never })).rejects.toThrow(
      BulwarkConfigError,
    );
    expect(() => new RedisAlertDedupeStore({ client: {} as never })).toThrow(BulwarkConfigError);
  });
});
