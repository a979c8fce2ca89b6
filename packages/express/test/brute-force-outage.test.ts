import { randomBytes } from 'node:crypto';
import { BruteForceGuard, type BruteForceGuardOptions } from '@bulwark/core';
import express, { type Express } from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { describeWithBinary, PrivateServer } from '../../../test/support/private-server';
import { bruteForce, problemDetails } from '../src';

/*
 * The configured policy for a Redis outage, over real HTTP: a login route behind `bruteForce`,
 * its guard on a PRIVATE redis-server that the test kills.
 */

const LIMITS: BruteForceGuardOptions = {
  ip: false,
  ipAccount: false,
  account: { maxFailures: 3, windowSec: 600, lockoutSec: 600, maxLockoutSec: 600 },
  accountKey: randomBytes(32),
};

function loginApp(guard: BruteForceGuard, onCheck: () => void = () => undefined): Express {
  const app = express();
  app.use(express.json());
  app.post('/login', bruteForce({ guard }), (req, res) => {
    onCheck();
    res.status(req.body?.password === 'right' ? 200 : 401).json({});
  });
  app.use(problemDetails({ log: () => undefined }));
  return app;
}

describeWithBinary('redis-server', 'bruteForce over HTTP while Redis is down (private redis-server)', () => {
  jest.setTimeout(30_000);
  let server: PrivateServer;
  let redis: Redis;

  beforeEach(async () => {
    server = await PrivateServer.redis('none');
    redis = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  });
  afterEach(async () => {
    redis.disconnect();
    await server.dispose();
  });

  async function stopRedis(): Promise<void> {
    await server.kill();
    const end = Date.now() + 10_000;
    while (redis.status === 'ready' && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  }

  it('fail-closed (default): 503 problem+json, not a 429 lockout, and the credential check never runs', async () => {
    let checks = 0;
    const guard = new BruteForceGuard({ ...LIMITS, redis });
    const app = loginApp(guard, () => checks++);
    await request(app).post('/login').send({ username: 'alice', password: 'wrong' }).expect(401);
    await stopRedis();

    const res = await request(app).post('/login').send({ username: 'alice', password: 'right' });
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 503, code: 'ERR_THREAT_STORE' });
    expect(res.headers['retry-after']).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toMatch(/alice|127\.0\.0\.1|redis:/i);
    expect(checks).toBe(1); // only the login before the outage
    expect(guard.stats().storeFailures).toBeGreaterThanOrEqual(1);
  });

  it("'local-fallback': logins go on under the same limits in process, and the fallback's decisions are counted", async () => {
    const guard = new BruteForceGuard({ ...LIMITS, redis, onStoreUnavailable: 'local-fallback' });
    const app = loginApp(guard);
    await request(app).post('/login').send({ username: 'bob', password: 'right' }).expect(200);
    await stopRedis();

    await request(app).post('/login').send({ username: 'bob', password: 'right' }).expect(200);
    for (let i = 0; i < 3; i++) {
      await request(app).post('/login').send({ username: 'mallory-target', password: 'guess' }).expect(401);
    }
    const locked = await request(app).post('/login').send({ username: 'mallory-target', password: 'right' });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(guard.stats().fallbackDecisions).toBeGreaterThanOrEqual(5);
  });
});
