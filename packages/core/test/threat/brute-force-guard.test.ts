import { BulwarkConfigError, BulwarkThreatError, ErrorCodes } from '../../src/errors';
import {
  BruteForceGuard,
  type BruteForceAttempt,
  type BruteForceDecision,
  type BruteForceGuardOptions,
} from '../../src/threat/brute-force-guard';

// rate-limiter-flexible's memory store reads Date.now() and expires keys with setTimeout, so
// jest's modern fake timers drive lockouts and back-off without real sleeps.
beforeEach(() => jest.useFakeTimers({ now: Date.parse('2025-06-02T10:00:00.000Z') }));
afterEach(() => jest.useRealTimers());

const only = (over: Partial<BruteForceGuardOptions>): BruteForceGuard =>
  new BruteForceGuard({ ip: false, account: false, ipAccount: false, ...over });

/** One login with a wrong password: reserved, checked, failed. A refusal is returned as is. */
async function failOnce(guard: BruteForceGuard, attempt: BruteForceAttempt): Promise<BruteForceDecision> {
  const r = await guard.reserve(attempt);
  return r.allowed ? r.reservation.fail() : r;
}

/** One login with the right password: the refusal when refused, else allowed. */
async function succeedOnce(guard: BruteForceGuard, attempt: BruteForceAttempt): Promise<BruteForceDecision> {
  const r = await guard.reserve(attempt);
  if (!r.allowed) return r;
  await r.reservation.succeed();
  return { allowed: true };
}

async function fail(guard: BruteForceGuard, n: number, attempt: BruteForceAttempt) {
  let last;
  for (let i = 0; i < n; i++) last = await failOnce(guard, attempt);
  return last;
}

describe('BruteForceGuard', () => {
  const attempt = { ip: '203.0.113.9', account: 'alice@example.com' };

  it('locks ip+account after 5 consecutive failures for 1 minute by default', async () => {
    const guard = new BruteForceGuard();
    expect(await fail(guard, 4, attempt)).toEqual({ allowed: true });
    expect(await guard.check(attempt)).toEqual({ allowed: true });
    expect(await failOnce(guard, attempt)).toEqual({
      allowed: false,
      retryAfterSec: 60,
      reason: 'ip+account',
    });
    expect(await guard.check(attempt)).toEqual({ allowed: false, retryAfterSec: 60, reason: 'ip+account' });
    jest.advanceTimersByTime(20_000);
    expect(await guard.check(attempt)).toEqual({ allowed: false, retryAfterSec: 40, reason: 'ip+account' });
    // Failures during the lockout neither extend nor escalate it.
    expect(await failOnce(guard, attempt)).toEqual({
      allowed: false,
      retryAfterSec: 40,
      reason: 'ip+account',
    });
    jest.advanceTimersByTime(40_001);
    expect(await guard.check(attempt)).toEqual({ allowed: true });
    // The same user from another address and another user from this address were never locked.
    expect(await guard.check({ ...attempt, ip: '203.0.113.10' })).toEqual({ allowed: true });
    expect(await guard.check({ ...attempt, account: 'bob' })).toEqual({ allowed: true });
  });

  it('doubles each further lockout up to maxLockoutSec', async () => {
    const guard = only({ ipAccount: { maxFailures: 3, lockoutSec: 60, maxLockoutSec: 200 } });
    const seen: number[] = [];
    for (let round = 0; round < 4; round++) {
      const d = await fail(guard, 3, attempt);
      if (d?.allowed !== false) throw new Error('expected a lockout');
      seen.push(d.retryAfterSec);
      jest.advanceTimersByTime(d.retryAfterSec * 1000 + 1);
      expect(await guard.check(attempt)).toEqual({ allowed: true });
    }
    expect(seen).toEqual([60, 120, 200, 200]);
  });

  it('forgets the back-off after strikeWindowSec', async () => {
    const guard = only({ ipAccount: { maxFailures: 2, lockoutSec: 10 }, strikeWindowSec: 100 });
    expect(await fail(guard, 2, attempt)).toMatchObject({ retryAfterSec: 10 });
    jest.advanceTimersByTime(101_000);
    expect(await fail(guard, 2, attempt)).toMatchObject({ retryAfterSec: 10 });
  });

  it('resets the ip+account counter and its back-off on success', async () => {
    const guard = only({ ipAccount: { maxFailures: 5, lockoutSec: 60 } });
    await fail(guard, 4, attempt);
    await succeedOnce(guard, attempt);
    expect(await fail(guard, 4, attempt)).toEqual({ allowed: true });
    expect(await failOnce(guard, attempt)).toMatchObject({ allowed: false, retryAfterSec: 60 });
    jest.advanceTimersByTime(60_001);
    await succeedOnce(guard, attempt);
    // Back-off history cleared too: the next lockout is the base one again.
    expect(await fail(guard, 5, attempt)).toMatchObject({ retryAfterSec: 60 });
  });

  it('limits one IP across many accounts (credential stuffing)', async () => {
    const guard = new BruteForceGuard({ ip: { maxFailures: 10, lockoutSec: 900 } });
    for (let i = 0; i < 10; i++) await failOnce(guard, { ip: '198.51.100.1', account: `user${i}` });
    expect(await guard.check({ ip: '198.51.100.1', account: 'fresh-victim' })).toEqual({
      allowed: false,
      retryAfterSec: 900,
      reason: 'ip',
    });
    expect(await guard.check({ ip: '198.51.100.1' })).toMatchObject({ allowed: false, reason: 'ip' });
    expect(await guard.check({ ip: '198.51.100.2', account: 'fresh-victim' })).toEqual({ allowed: true });
  });

  it('limits one account across many IPs (distributed guessing)', async () => {
    const guard = new BruteForceGuard({ account: { maxFailures: 8, lockoutSec: 300 } });
    for (let i = 0; i < 8; i++)
      await failOnce(guard, { ip: `192.0.2.${i + 1}`, account: 'Alice@Example.com' });
    // Case and surrounding space do not open a new counter.
    expect(await guard.check({ ip: '192.0.2.200', account: ' alice@example.COM' })).toEqual({
      allowed: false,
      retryAfterSec: 300,
      reason: 'account',
      challengeable: true, // lockout 'progressive': a passed challenge would lift it
    });
    expect(await guard.check({ ip: '192.0.2.200', account: 'bob' })).toEqual({ allowed: true });
  });

  it('does not lock below the threshold or once the window has passed', async () => {
    const guard = only({ ipAccount: { maxFailures: 3, windowSec: 60 } });
    await fail(guard, 2, attempt);
    jest.advanceTimersByTime(61_000);
    expect(await fail(guard, 2, attempt)).toEqual({ allowed: true });
    expect(await guard.check(attempt)).toEqual({ allowed: true });
  });

  it('reports the longest applicable lockout', async () => {
    const guard = new BruteForceGuard({
      ipAccount: { maxFailures: 2, lockoutSec: 30 },
      account: { maxFailures: 3, lockoutSec: 600 },
    });
    expect(await fail(guard, 2, attempt)).toEqual({
      allowed: false,
      retryAfterSec: 30,
      reason: 'ip+account',
    });
    await failOnce(guard, { ip: '203.0.113.50', account: attempt.account });
    expect(await guard.check(attempt)).toEqual({ allowed: false, retryAfterSec: 600, reason: 'account' });
  });

  it('reset() unlocks (support desk)', async () => {
    const guard = new BruteForceGuard({ account: { maxFailures: 2 }, ipAccount: { maxFailures: 2 } });
    await fail(guard, 2, attempt);
    expect((await guard.check(attempt)).allowed).toBe(false);
    await guard.reset(attempt);
    expect(await guard.check(attempt)).toEqual({ allowed: true });
  });

  it('counts an IPv6 /64 as one client and IPv4-mapped addresses as IPv4', async () => {
    const guard = only({ ip: { maxFailures: 3 } });
    await failOnce(guard, { ip: '2001:db8:1:2::1' });
    await failOnce(guard, { ip: '2001:db8:1:2:ffff:ffff:ffff:fffe' });
    await failOnce(guard, { ip: '2001:0db8:0001:0002:0:0:0:9' });
    expect(await guard.check({ ip: '2001:db8:1:2::abcd' })).toMatchObject({ allowed: false, reason: 'ip' });
    expect(await guard.check({ ip: '2001:db8:1:3::1' })).toEqual({ allowed: true });

    await fail(guard, 3, { ip: '::ffff:192.0.2.77' });
    expect(await guard.check({ ip: '192.0.2.77' })).toMatchObject({ allowed: false, reason: 'ip' });
  });

  it('rejects bad attempts with typed errors and never echoes the account', async () => {
    const guard = new BruteForceGuard();
    for (const bad of [
      {},
      { ip: 'not-an-ip' },
      { ip: '1.2.3.4', account: '' },
      { account: 'x'.repeat(2000) },
    ]) {
      const error = await guard.check(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BulwarkThreatError);
      expect((error as BulwarkThreatError).code).toBe(ErrorCodes.THREAT_INVALID_ARGUMENT);
      expect((error as Error).message).not.toContain('xxxx');
    }
  });

  it('fails closed with ERR_THREAT_STORE when Redis is not ready', async () => {
    const deadRedis = { status: 'end', multi() {}, defineCommand() {} };
    const guard = new BruteForceGuard({ redis: deadRedis, accountKey: Buffer.alloc(32, 1) });
    for (const call of [guard.check(attempt), guard.reserve(attempt)]) {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BulwarkThreatError);
      expect((error as BulwarkThreatError).code).toBe(ErrorCodes.THREAT_STORE);
    }
  });

  it.each([
    [{ ipAccount: { maxFailures: 0 } }, 'threat.bruteForce.ipAccount.maxFailures'],
    [{ ip: { lockoutSec: 100, maxLockoutSec: 50 } }, 'threat.bruteForce.ip.maxLockoutSec'],
    [{ account: 'lots' }, 'threat.bruteForce.account'],
    [{ ip: false, account: false, ipAccount: false }, 'threat.bruteForce'],
    [{ backoffFactor: 0.5 }, 'threat.bruteForce.backoffFactor'],
    [{ keyPrefix: 'has space' }, 'threat.bruteForce.keyPrefix'],
    [{ redis: {} }, 'threat.bruteForce.redis'],
    [{ redis: { multi() {} } }, 'threat.bruteForce.accountKey'],
    [{ accountKey: Buffer.alloc(16) }, 'threat.bruteForce.accountKey'],
    [{ ipv6PrefixBits: 8 }, 'threat.bruteForce.ipv6PrefixBits'],
  ])('validates options eagerly (%p)', (options, path) => {
    let error: unknown;
    try {
      new BruteForceGuard(options as BruteForceGuardOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BulwarkConfigError);
    expect((error as BulwarkConfigError).details?.path).toBe(path);
  });

  it('describes its effective limits', () => {
    expect(new BruteForceGuard().describe()).toEqual({
      store: 'memory',
      onStoreUnavailable: 'fail-closed',
      limits: {
        ip: { maxFailures: 100, windowSec: 3600, lockoutSec: 900, maxLockoutSec: 86_400 },
        account: { maxFailures: 20, windowSec: 3600, lockoutSec: 300, maxLockoutSec: 3600 },
        'ip+account': { maxFailures: 5, windowSec: 900, lockoutSec: 60, maxLockoutSec: 3600 },
      },
      lockout: 'progressive',
      knownClientTtlSec: 14 * 86_400,
      backoffFactor: 2,
      strikeWindowSec: 86_400,
    });
  });
});
