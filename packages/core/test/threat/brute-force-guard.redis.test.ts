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
