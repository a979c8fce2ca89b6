import { BulwarkConfigError } from '../../src/errors';
import {
  BruteForceGuard,
  type BruteForceAttempt,
  type BruteForceDecision,
  type BruteForceGuardOptions,
} from '../../src/threat/brute-force-guard';

beforeEach(() => jest.useFakeTimers({ now: Date.parse('2025-06-02T10:00:00.000Z') }));
afterEach(() => jest.useRealTimers());

async function login(
  guard: BruteForceGuard,
  attempt: BruteForceAttempt,
  right: boolean,
  options?: { challengePassed?: boolean },
): Promise<BruteForceDecision> {
  const r = await guard.reserve(attempt, options);
  if (!r.allowed) return r;
  if (!right) return r.reservation.fail();
  await r.reservation.succeed();
  return { allowed: true };
}

// express-clinic's account limit (PCI DSS 8.3.4 wording): 10 failures, 30 min, doubling to 24 h.
const CLINIC: BruteForceGuardOptions = {
  ipAccount: { maxFailures: 5, windowSec: 900, lockoutSec: 60, maxLockoutSec: 3600 },
  account: { maxFailures: 10, windowSec: 3600, lockoutSec: 1800, maxLockoutSec: 86_400 },
};
const victim = { ip: '198.51.100.20', account: 'dr.house' };

/** Wrong passwords for the victim's account from `n` attacker addresses, `each` per address. */
async function attack(guard: BruteForceGuard, n: number, each: number) {
  for (let i = 0; i < n; i++)
    for (let k = 0; k < each; k++)
      await login(guard, { ip: `203.0.113.${i + 1}`, account: 'dr.house' }, false);
}

describe("BruteForceGuard lockout: 'progressive' (default)", () => {
  it('an attacker on other addresses cannot lock the owner out of a known address', async () => {
    const guard = new BruteForceGuard(CLINIC);
    expect(await login(guard, victim, true)).toEqual({ allowed: true }); // the address becomes known
    await attack(guard, 6, 2); // 12 wrong passwords from 6 addresses: the account counter is locked
    expect(await guard.check({ ip: '203.0.113.99', account: 'dr.house' })).toMatchObject({
      allowed: false,
      reason: 'account',
      retryAfterSec: 1800,
      challengeable: true,
    });
    // The owner, from the address they signed in from before, still gets in at once.
    expect(await login(guard, victim, true)).toEqual({ allowed: true });
    // ...and again after more attack rounds that doubled the lockout.
    jest.advanceTimersByTime(1_800_001);
    await attack(guard, 6, 2);
    expect(await guard.check({ ip: '203.0.113.99', account: 'dr.house' })).toMatchObject({
      retryAfterSec: 3600,
    });
    expect(await login(guard, victim, true)).toEqual({ allowed: true });
  });

  it('keeps the known address limited by its own ip+account counter (a doubling delay)', async () => {
    const guard = new BruteForceGuard(CLINIC);
    await login(guard, victim, true);
    await attack(guard, 6, 2);
    // Someone at the victim's own address guessing: 5 failures, then 60 s, then 120 s...
    for (let i = 0; i < 4; i++) expect(await login(guard, victim, false)).toEqual({ allowed: true });
    expect(await login(guard, victim, false)).toEqual({
      allowed: false,
      retryAfterSec: 60,
      reason: 'ip+account',
    });
    expect(await login(guard, victim, true)).toMatchObject({ allowed: false, reason: 'ip+account' });
    jest.advanceTimersByTime(60_001);
    await login(guard, victim, false);
    for (let i = 0; i < 4; i++) await login(guard, victim, false);
    expect(await guard.check(victim)).toEqual({ allowed: false, retryAfterSec: 120, reason: 'ip+account' });
  });

  it('locks out an address the account never signed in from, unless a challenge was passed', async () => {
    const guard = new BruteForceGuard(CLINIC);
    await login(guard, victim, true);
    await attack(guard, 6, 2);
    const newLaptop = { ip: '192.0.2.77', account: 'dr.house' };
    expect(await login(guard, newLaptop, true)).toMatchObject({
      allowed: false,
      reason: 'account',
      challengeable: true,
    });
    // A passed CAPTCHA lifts the account lockout for that attempt only.
    expect(await login(guard, newLaptop, true, { challengePassed: true })).toEqual({ allowed: true });
    // It signed in there, so that address is now known as well.
    expect(await login(guard, newLaptop, true)).toEqual({ allowed: true });
    // A challenge does not lift the ip+account lockout of an attacker's address.
    const attacker = { ip: '203.0.113.50', account: 'dr.house' };
    for (let i = 0; i < 5; i++) await login(guard, attacker, false, { challengePassed: true });
    expect(await login(guard, attacker, true, { challengePassed: true })).toMatchObject({
      allowed: false,
      reason: 'ip+account',
    });
    expect(await guard.check(attacker)).not.toHaveProperty('challengeable');
  });

  it('remembers a known client for knownClientTtlSec only, and per account', async () => {
    const guard = new BruteForceGuard({ ...CLINIC, knownClientTtlSec: 3600 });
    await login(guard, victim, true);
    await login(guard, { ip: '198.51.100.21', account: 'dr.wilson' }, true);
    await attack(guard, 6, 2);
    // Another account's address is not this account's known client.
    expect(await login(guard, { ip: '198.51.100.21', account: 'dr.house' }, true)).toMatchObject({
      allowed: false,
      reason: 'account',
    });
    jest.advanceTimersByTime(3_600_001);
    await attack(guard, 6, 2); // the account lock (30 min) ran out too: lock it again
    expect(await login(guard, victim, true)).toMatchObject({ allowed: false, reason: 'account' });
  });

  it('counts IPv6 clients per /64 for known clients as for counters', async () => {
    const guard = new BruteForceGuard(CLINIC);
    await login(guard, { ip: '2001:db8:5:6::1', account: 'dr.house' }, true);
    await attack(guard, 6, 2);
    expect(await login(guard, { ip: '2001:db8:5:6:aaaa::2', account: 'dr.house' }, true)).toEqual({
      allowed: true,
    });
  });

  it('spares no one when the ip+account counter is off (it would be their only per-account limit)', async () => {
    const guard = new BruteForceGuard({ ...CLINIC, ipAccount: false });
    await login(guard, victim, true);
    await attack(guard, 10, 1);
    expect(await login(guard, victim, true)).toMatchObject({ allowed: false, reason: 'account' });
    expect(await guard.check(victim)).not.toHaveProperty('challengeable');
  });
});

describe("BruteForceGuard lockout: 'hard'", () => {
  it('locks every client out of the account, the owner on a known address included', async () => {
    const guard = new BruteForceGuard({ ...CLINIC, lockout: 'hard' });
    expect(await login(guard, victim, true)).toEqual({ allowed: true });
    await attack(guard, 6, 2);
    expect(await login(guard, victim, true)).toEqual({
      allowed: false,
      retryAfterSec: 1800,
      reason: 'account',
    });
    expect(await login(guard, victim, true, { challengePassed: true })).toMatchObject({
      allowed: false,
      reason: 'account',
    });
    expect(guard.describe().lockout).toBe('hard');
  });
});

describe('lockout options', () => {
  it.each([
    [{ lockout: 'soft' }, 'threat.bruteForce.lockout'],
    [{ knownClientTtlSec: 10 }, 'threat.bruteForce.knownClientTtlSec'],
    [{ knownClientTtlSec: 30 * 86_400 }, 'threat.bruteForce.knownClientTtlSec'], // memory timers cap it
  ])('validates %p eagerly', (options, path) => {
    let error: unknown;
    try {
      new BruteForceGuard(options as BruteForceGuardOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BulwarkConfigError);
    expect((error as BulwarkConfigError).details?.path).toBe(path);
  });
});
