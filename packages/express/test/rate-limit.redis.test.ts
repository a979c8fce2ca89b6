import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { ErrorCodes } from '@bulwark/core';
import type { RateLimitOptions } from '@bulwark/core/http';
import { bulwark } from '../src';
import { describeWithService, SERVICE_URLS } from '../../../test/support/services';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

// ASVS 5.0 V2.4.1 across instances: two app instances, each with its own Redis connection,
// share one budget per user (rate-limiter-flexible's atomic counters on Redis).

async function instance(t: TestKit, rateLimit: RateLimitOptions) {
  const bw = bulwark(t.kit, {
    production: false,
    authenticate: { optional: true },
    rateLimit,
    problemDetails: { log: () => undefined },
  });
  const app = express();
  app.use(bw);
  app.get('/me', (req, res) => {
    res.json({ id: req.principal?.id ?? null });
  });
  app.use(bw.problemDetails());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await bw.close();
    },
  };
}

describeWithService('redis', 'rateLimit on Redis across instances (express)', () => {
  const keyPrefix = `bulwark-test:rl:${process.pid}:${randomBytes(4).toString('hex')}`;
  let t: TestKit;
  const clients: Redis[] = [];
  const closers: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    t = await testKit();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    const admin = new Redis(SERVICE_URLS.redis);
    const keys = await admin.keys(`${keyPrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
    for (const c of clients.splice(0)) {
      if (c.status === 'ready') await c.quit();
      else c.disconnect();
    }
    await t.close();
  });

  it('shares one budget per user between two instances', async () => {
    const limits = { keyPrefix, perUser: { limit: 4, windowSec: 60 }, perIp: false } as const;
    const apps = [];
    for (let i = 0; i < 2; i++) {
      const redis = new Redis(SERVICE_URLS.redis, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      const app = await instance(t, { ...limits, redis });
      closers.push(app.close);
      apps.push(app);
    }
    const alice = `Bearer ${await t.sign('alice')}`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (
          await request(apps[i % 2]!.url)
            .get('/me')
            .set('Authorization', alice)
        ).status,
      );
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const other = await request(apps[1]!.url)
      .get('/me')
      .set('Authorization', `Bearer ${await t.sign('bob')}`);
    expect(other.status).toBe(200);
    expect(other.headers.ratelimit).toMatch(/^"api-user";r=3;/);
    // Store keys hold a hash of the principal, never its id.
    const admin = new Redis(SERVICE_URLS.redis);
    const keys = await admin.keys(`${keyPrefix}*`);
    await admin.quit();
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toMatch(/alice|bob/);
  });

  it('fails closed (503) while Redis is unreachable, or serves unlimited with fail-open', async () => {
    const dead = (): Redis => {
      // Never connected (lazyConnect): every command finds the connection not ready.
      const r = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0 });
      clients.push(r);
      return r;
    };
    const closed = await instance(t, { keyPrefix, redis: dead(), readyTimeoutMs: 200 });
    closers.push(closed.close);
    const res = await request(closed.url).get('/me');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe(ErrorCodes.THREAT_STORE);
    const errors: unknown[] = [];
    const open = await instance(t, {
      keyPrefix,
      redis: dead(),
      readyTimeoutMs: 200,
      onStoreUnavailable: 'fail-open',
      onError: (e) => errors.push(e),
    });
    closers.push(open.close);
    await request(open.url).get('/me').expect(200);
    expect(errors.length).toBe(1);
  });
});
