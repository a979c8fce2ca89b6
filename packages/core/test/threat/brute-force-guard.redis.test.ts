import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';

const DIST = path.resolve(__dirname, '../../dist/threat/brute-force-guard.js');
const WORKER = path.join(__dirname, 'fixtures', 'brute-force-worker.js');

interface Worker {
  child: ChildProcess;
  send(msg: Record<string, unknown>): Promise<unknown>;
}

function startWorker(config: Record<string, unknown>): Promise<Worker> {
  const child = fork(WORKER, [], {
    env: { ...process.env, BULWARK_BF_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const waiting = new Map<number, (value: unknown) => void>();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`worker exited early with code ${code}`)));
    child.on('message', (msg: { ready?: boolean; id?: number; result?: unknown; error?: unknown }) => {
      if (msg.ready) {
        resolve({
          child,
          send: (m) =>
            new Promise((done) => {
              const id = ++next;
              waiting.set(id, done);
              child.send({ ...m, id });
            }),
        });
        return;
      }
      const done = waiting.get(msg.id!);
      waiting.delete(msg.id!);
      done?.(msg.error !== undefined ? { error: msg.error } : msg.result);
    });
  });
}

describeWithService('redis', 'BruteForceGuard on Redis across processes', () => {
  const keyPrefix = `bulwark-test:bf:${process.pid}:${randomBytes(4).toString('hex')}`;
  const accountKey = randomBytes(32);
  const limits = { ip: false, ipAccount: false, account: { maxFailures: 6, windowSec: 60, lockoutSec: 30 } };
  let redis: Redis;
  const workers: Worker[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(DIST)) {
      throw new Error(
        `${DIST} is missing: this suite runs the BUILT package in child processes; run \`npm run build\` (npm test builds first)`,
      );
    }
    redis = new Redis(SERVICE_URLS.redis, { maxRetriesPerRequest: 1 });
    const config = {
      redisUrl: SERVICE_URLS.redis,
      keyPrefix,
      accountKeyHex: accountKey.toString('hex'),
      limits,
    };
    workers.push(await startWorker(config), await startWorker(config));
  });

  afterAll(async () => {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.child.removeAllListeners('exit');
            w.child.once('exit', () => resolve());
            w.child.send({ cmd: 'exit', id: 0 });
          }),
      ),
    );
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('two processes share one account limit: together they cross it and both see the lockout', async () => {
    const [a, b] = workers as [Worker, Worker];
    // 3 + 2 failures from two instances (and two IPs): still under the limit of 6.
    expect(
      await a.send({ cmd: 'fail', n: 3, attempt: { ip: '192.0.2.1', account: 'alice@example.com' } }),
    ).toEqual({
      allowed: true,
    });
    expect(
      await b.send({ cmd: 'fail', n: 2, attempt: { ip: '192.0.2.2', account: 'alice@example.com' } }),
    ).toEqual({
      allowed: true,
    });
    expect(await a.send({ cmd: 'check', attempt: { account: 'alice@example.com' } })).toEqual({
      allowed: true,
    });
    // The sixth failure, in process B, locks the account for both.
    expect(
      await b.send({ cmd: 'fail', n: 1, attempt: { ip: '192.0.2.2', account: 'alice@example.com' } }),
    ).toEqual({
      allowed: false,
      retryAfterSec: 30,
      reason: 'account',
    });
    for (const w of [a, b]) {
      expect(
        await w.send({ cmd: 'check', attempt: { ip: '192.0.2.3', account: 'ALICE@example.com' } }),
      ).toMatchObject({
        allowed: false,
        reason: 'account',
      });
    }
    // This process, a third instance, sees it too.
    const local = new BruteForceGuard({ redis, keyPrefix, accountKey, ...limits } as never);
    expect(await local.check({ account: 'alice@example.com' })).toMatchObject({
      allowed: false,
      reason: 'account',
    });
    expect(await local.check({ account: 'bob@example.com' })).toEqual({ allowed: true });
  });

  it('concurrent failures from both processes start exactly one lockout (atomic counting)', async () => {
    const [a, b] = workers as [Worker, Worker];
    const attempt = { ip: '192.0.2.9', account: 'carol@example.com' };
    await Promise.all([a.send({ cmd: 'fail', n: 5, attempt }), b.send({ cmd: 'fail', n: 5, attempt })]);
    const local = new BruteForceGuard({ redis, keyPrefix, accountKey, ...limits } as never);
    // One strike: the lockout is the base 30 s, not a doubled one.
    const decision = await local.check(attempt);
    expect(decision).toMatchObject({ allowed: false, reason: 'account' });
    expect((decision as { retryAfterSec: number }).retryAfterSec).toBeLessThanOrEqual(30);
    const strikeKeys = await redis.keys(`${keyPrefix}:strike:*`);
    const strikes = await Promise.all(strikeKeys.map((k) => redis.get(k)));
    expect(strikes.map(Number).sort()).toEqual([1, 1]); // alice's and carol's: one lockout each
  });

  it('two processes racing 100 wrong guesses each never run more credential checks than the limit', async () => {
    const [a, b] = workers as [Worker, Worker];
    // The shape of the reported attack: 2 processes x 100 concurrent wrong guesses, one account,
    // each check taking a while (a password hash); limit 6.
    const attempt = { ip: '192.0.2.30', account: 'dave@example.com' };
    const [ra, rb] = (await Promise.all([
      a.send({ cmd: 'guess', n: 100, attempt, holdMs: 30 }),
      b.send({ cmd: 'guess', n: 100, attempt, holdMs: 30 }),
    ])) as { checks: number; refused: number }[];
    expect(ra!.checks + ra!.refused).toBe(100);
    expect(rb!.checks + rb!.refused).toBe(100);
    expect(ra!.checks + rb!.checks).toBeGreaterThan(0);
    expect(ra!.checks + rb!.checks).toBeLessThanOrEqual(6);
    const local = new BruteForceGuard({ redis, keyPrefix, accountKey, ...limits } as never);
    expect(await local.check(attempt)).toMatchObject({ allowed: false, reason: 'account' });
  });

  it('successes refund their units across processes: 2 x 50 concurrent right logins all get through', async () => {
    const [a, b] = workers as [Worker, Worker];
    const attempt = { ip: '192.0.2.31', account: 'erin@example.com' };
    const results = (await Promise.all(
      [a, b].map((w) => w.send({ cmd: 'guess', n: 50, attempt, holdMs: 0, succeed: true })),
    )) as { checks: number; refused: number }[];
    // At most 6 at a time are in flight, so some wait (429); none is lost: the counter is empty after.
    const local = new BruteForceGuard({ redis, keyPrefix, accountKey, ...limits } as never);
    expect(results.reduce((n, r) => n + r.checks, 0)).toBeGreaterThanOrEqual(6);
    expect(await local.check(attempt)).toEqual({ allowed: true });
    const held = [];
    for (let i = 0; i < 6; i++) held.push(await local.reserve(attempt));
    expect(held.every((r) => r.allowed)).toBe(true);
    expect(await local.reserve(attempt)).toMatchObject({ allowed: false, retryAfterSec: 1 });
    for (const r of held) if (r.allowed) await r.reservation.release();
  });

  it("lockout 'progressive' on Redis: the owner's known address is shared by instances, stored as a keyed hash", async () => {
    const options = {
      redis,
      keyPrefix: `${keyPrefix}:p`,
      accountKey,
      account: { maxFailures: 4, lockoutSec: 600 },
      ipAccount: { maxFailures: 3 },
    };
    const one = new BruteForceGuard(options);
    const two = new BruteForceGuard(options);
    const owner = { ip: '198.51.100.44', account: 'frank@example.com' };
    const signIn = await one.reserve(owner);
    if (!signIn.allowed) throw new Error('expected a reservation');
    await signIn.reservation.succeed();
    for (let i = 0; i < 4; i++) {
      const r = await two.reserve({ ip: `203.0.113.${i + 1}`, account: 'frank@example.com' });
      if (r.allowed) await r.reservation.fail();
    }
    expect(await one.check({ ip: '203.0.113.200', account: 'frank@example.com' })).toMatchObject({
      allowed: false,
      reason: 'account',
      challengeable: true,
    });
    expect(await two.check(owner)).toEqual({ allowed: true });
    const hard = new BruteForceGuard({ ...options, lockout: 'hard' });
    expect(await hard.check(owner)).toMatchObject({ allowed: false, reason: 'account' });
    const known = await redis.keys(`${keyPrefix}:p:known:*`);
    expect(known).toHaveLength(1);
    expect(known[0]).not.toContain('198.51.100');
    expect(known[0]!.toLowerCase()).not.toContain('frank');
  });

  it('keeps account names out of Redis (keyed hashes only)', async () => {
    const keys = await redis.keys(`${keyPrefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k.toLowerCase()).not.toContain('alice');
      expect(k.toLowerCase()).not.toContain('carol');
      expect(k.startsWith(`${keyPrefix}:`)).toBe(true);
    }
  });
});
