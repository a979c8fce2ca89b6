import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { describeWithBinary, PrivateServer } from '../../../../test/support/private-server';
import { BulwarkThreatError, ErrorCodes } from '../../src/errors';
import { BruteForceGuard, type BruteForceGuardOptions } from '../../src/threat/brute-force-guard';

/*
 * A PRIVATE redis-server per test (free port, data in a temporary directory), killed with SIGKILL
 * and restarted on the same port and directory: what survives is what the persistence settings
 * keep. The shared Redis on 6379 is never touched.
 */

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const accountKey = randomBytes(32);
const LIMITS: BruteForceGuardOptions = {
  ip: false,
  ipAccount: false,
  account: { maxFailures: 3, windowSec: 600, lockoutSec: 600, maxLockoutSec: 600 },
  accountKey,
};

async function lockOut(guard: BruteForceGuard, account: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await guard.reserve({ account });
    if (!r.allowed) throw new Error('locked out too early');
    await r.reservation.fail();
  }
  expect(await guard.check({ account })).toMatchObject({ allowed: false, reason: 'account' });
}

describeWithBinary('redis-server', 'BruteForceGuard across Redis restarts (private redis-server)', () => {
  jest.setTimeout(40_000);
  let server: PrivateServer | undefined;
  const clients: Redis[] = [];
  const client = (): Redis => {
    const c = new Redis(server!.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await server?.dispose();
    server = undefined;
  });

  it('waits for a client still connecting instead of failing the first call ("connection is not ready")', async () => {
    server = await PrivateServer.redis('none');
    const redis = client();
    expect(redis.status).not.toBe('ready');
    const guard = new BruteForceGuard({ ...LIMITS, redis });
    const r = await guard.reserve({ account: 'first-call@example.com' });
    expect(r.allowed).toBe(true);
    expect(guard.stats()).toMatchObject({ storeFailures: 0 });
  });

  it('keeps a lockout across a crash and restart when Redis persists (AOF, appendfsync always)', async () => {
    server = await PrivateServer.redis('aof');
    const redis = client();
    const guard = new BruteForceGuard({ ...LIMITS, redis });
    await lockOut(guard, 'victim@example.com');

    await server.kill();
    await until('the client to notice', () => redis.status !== 'ready');
    await server.start();
    await until('the client to reconnect', () => redis.status === 'ready');

    const after = await guard.check({ account: 'victim@example.com' });
    expect(after).toMatchObject({ allowed: false, reason: 'account' });
    expect((after as { retryAfterSec: number }).retryAfterSec).toBeGreaterThan(500);
    // and a new instance (another process after the restart) sees it too
    const other = new BruteForceGuard({ ...LIMITS, redis: client() });
    expect(await other.reserve({ account: 'victim@example.com' })).toMatchObject({ allowed: false });
  });

  it('loses every lockout on a restart without persistence (the documented risk of appendonly no / no save)', async () => {
    server = await PrivateServer.redis('none');
    const redis = client();
    const guard = new BruteForceGuard({ ...LIMITS, redis });
    await lockOut(guard, 'victim@example.com');

    await server.kill();
    await until('the client to notice', () => redis.status !== 'ready');
    await server.start();
    await until('the client to reconnect', () => redis.status === 'ready');

    expect(await guard.check({ account: 'victim@example.com' })).toEqual({ allowed: true });
  });

  it("fails closed while Redis is down (ERR_THREAT_STORE), and 'local-fallback' decides with the same limits, counted", async () => {
    server = await PrivateServer.redis('none');
    const redis = client();
    const closed = new BruteForceGuard({ ...LIMITS, redis });
    const fallback = new BruteForceGuard({ ...LIMITS, redis, onStoreUnavailable: 'local-fallback' });
    await closed.reserve({ account: 'warm@example.com' });
    await fallback.reserve({ account: 'warm@example.com' });
    await server.kill();
    await until('the client to notice', () => redis.status !== 'ready');

    const err = await closed.reserve({ account: 'a@example.com' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulwarkThreatError);
    expect((err as BulwarkThreatError).code).toBe(ErrorCodes.THREAT_STORE);
    expect(closed.stats()).toMatchObject({ storeFailures: 1, fallbackDecisions: 0 });
    expect(closed.stats().lastStoreFailureAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    // the fallback still limits: 3 failures, then refused
    await lockOut(fallback, 'a@example.com');
    expect(await fallback.reserve({ account: 'a@example.com' })).toMatchObject({
      allowed: false,
      reason: 'account',
    });
    expect(fallback.stats().fallbackDecisions).toBeGreaterThanOrEqual(5);
    expect(fallback.describe()).toMatchObject({ store: 'redis', onStoreUnavailable: 'local-fallback' });
  });
});
