import { setImmediate as tick } from 'node:timers/promises';
import { BruteForceGuard, type BruteForceAttempt } from '../../src/threat/brute-force-guard';

const attempt = { ip: '203.0.113.9', account: 'alice@example.com' };

/**
 * `n` logins racing with a wrong password: each reserves, and only when allowed runs the
 * "credential check" (counted), yields a few times as a password hash would, then fails.
 */
async function race(guard: BruteForceGuard, n: number, who: (i: number) => BruteForceAttempt) {
  let checks = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const r = await guard.reserve(who(i));
      if (!r.allowed) {
        refused++;
        return;
      }
      checks++;
      for (let k = 0; k < 5; k++) await tick();
      await r.reservation.fail();
    }),
  );
  return { checks, refused };
}

describe('BruteForceGuard reservations (memory store)', () => {
  it('lets at most maxFailures concurrent wrong guesses reach the credential check, then locks', async () => {
    const guard = new BruteForceGuard({
      ip: false,
      ipAccount: false,
      account: { maxFailures: 10, lockoutSec: 1800 },
      lockout: 'hard',
    });
    const { checks, refused } = await race(guard, 100, (i) => ({
      ip: `198.51.100.${i + 1}`,
      account: 'alice',
    }));
    expect(checks).toBe(10);
    expect(refused).toBe(90);
    expect(await guard.check({ account: 'alice' })).toEqual({
      allowed: false,
      retryAfterSec: 1800,
      reason: 'account',
    });
  });

  it('bounds each counter: one address racing on one account gets ipAccount checks', async () => {
    const guard = new BruteForceGuard(); // defaults: ip 100, account 20, ip+account 5
    const { checks } = await race(guard, 100, () => attempt);
    expect(checks).toBe(5);
    expect(await guard.check(attempt)).toMatchObject({
      allowed: false,
      reason: 'ip+account',
      retryAfterSec: 60,
    });
  });

  it('answers a full counter whose attempts are still in flight with Retry-After 1, not a lockout', async () => {
    const guard = new BruteForceGuard({ ip: false, account: false, ipAccount: { maxFailures: 2 } });
    const a = await guard.reserve(attempt);
    const b = await guard.reserve(attempt);
    expect(await guard.reserve(attempt)).toEqual({ allowed: false, retryAfterSec: 1, reason: 'ip+account' });
    if (!a.allowed || !b.allowed) throw new Error('expected two reservations');
    await a.reservation.release(); // e.g. a malformed request: the credentials were never checked
    const c = await guard.reserve(attempt);
    expect(c.allowed).toBe(true);
    await b.reservation.fail();
    if (!c.allowed) throw new Error('expected a reservation');
    // c holds the unit that filled the counter: its failure starts the lockout.
    expect(await c.reservation.fail()).toEqual({ allowed: false, retryAfterSec: 60, reason: 'ip+account' });
  });

  it('refunds successes: many users signing in from one address never trip the IP counter', async () => {
    const guard = new BruteForceGuard({ ip: { maxFailures: 3 }, account: false, ipAccount: false });
    for (let i = 0; i < 20; i++) {
      const r = await guard.reserve({ ip: '192.0.2.1', account: `user${i}` });
      if (!r.allowed) throw new Error(`login ${i} refused`);
      await r.reservation.succeed();
    }
    expect(await guard.check({ ip: '192.0.2.1' })).toEqual({ allowed: true });
  });

  it('refuses atomically across counters: a refused attempt holds no unit on the others', async () => {
    const guard = new BruteForceGuard({
      ip: { maxFailures: 50 },
      account: false,
      ipAccount: { maxFailures: 1 },
    });
    const held = await guard.reserve(attempt);
    for (let i = 0; i < 30; i++) expect((await guard.reserve(attempt)).allowed).toBe(false);
    if (!held.allowed) throw new Error('expected a reservation');
    await held.reservation.release();
    // The 30 refusals took nothing from the IP counter: 50 other accounts still fit.
    const { checks } = await race(guard, 50, (i) => ({ ip: attempt.ip, account: `other${i}` }));
    expect(checks).toBe(50);
  });

  it('settles once: a second settle call changes nothing', async () => {
    const guard = new BruteForceGuard({ ip: false, account: false, ipAccount: { maxFailures: 2 } });
    const r = await guard.reserve(attempt);
    if (!r.allowed) throw new Error('expected a reservation');
    await r.reservation.fail();
    await r.reservation.release(); // ignored: the failure stays counted
    await r.reservation.succeed(); // ignored
    const second = await guard.reserve(attempt);
    if (!second.allowed) throw new Error('expected a reservation');
    expect(await second.reservation.fail()).toMatchObject({ allowed: false, reason: 'ip+account' });
  });

  it('never turns a refund into credit once the window has ended', async () => {
    jest.useFakeTimers({ now: Date.parse('2025-06-02T10:00:00.000Z') });
    try {
      const guard = new BruteForceGuard({
        ip: { maxFailures: 3, windowSec: 60 },
        account: false,
        ipAccount: false,
      });
      const slow = await guard.reserve({ ip: '192.0.2.5' });
      jest.advanceTimersByTime(61_000); // the window ends while the check is still running
      if (!slow.allowed) throw new Error('expected a reservation');
      await slow.reservation.succeed();
      // A new window: exactly 3 failures lock it, not 4.
      for (let i = 0; i < 2; i++) await (await reserveOrThrow(guard, { ip: '192.0.2.5' })).fail();
      expect(await (await reserveOrThrow(guard, { ip: '192.0.2.5' })).fail()).toMatchObject({
        allowed: false,
      });
    } finally {
      jest.useRealTimers();
    }
  });
});

async function reserveOrThrow(guard: BruteForceGuard, a: BruteForceAttempt) {
  const r = await guard.reserve(a);
  if (!r.allowed) throw new Error(`refused: ${JSON.stringify(r)}`);
  return r.reservation;
}
