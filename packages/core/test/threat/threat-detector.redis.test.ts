import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { describeWithService, SERVICE_URLS } from '../../../../test/support/services';
import type { AuditEntry } from '../../src/audit/audit-event';
import { ErrorCodes } from '../../src/errors';
import { RedisDetectionWindowStore } from '../../src/threat/detection-window-store';
import {
  ThreatDetector,
  type SecurityViolation,
  type WindowedDetectionRule,
} from '../../src/threat/threat-detector';

/** Every instance shares the key secret. */
const SECRET = randomBytes(32);

const T0 = Date.parse('2025-06-02T10:00:00.000Z'); // a Monday, in working hours
let seq = 0;

const failedLogin = (offsetSec: number, account = 'alice', ip = '203.0.113.5'): AuditEntry => ({
  seq: ++seq,
  time: new Date(T0 + offsetSec * 1000).toISOString(),
  actor: { id: 'anonymous', type: 'anonymous', ip },
  action: 'auth.login',
  outcome: 'failure',
  category: 'auth',
  details: { account },
  prevHash: '0'.repeat(64),
  leafHash: '0'.repeat(64),
});

describeWithService('redis', 'ThreatDetector with detection windows shared through Redis', () => {
  let redis: Redis;
  let prefix: string;

  beforeAll(async () => {
    redis = new Redis(SERVICE_URLS.redis, { maxRetriesPerRequest: 1 });
    await redis.ping();
  });
  beforeEach(() => {
    prefix = `bulwark-test:detect:${process.pid}:${randomBytes(4).toString('hex')}:`;
  });
  afterEach(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** Two instances (two detectors, each with its own view of the log) over one Redis. */
  function pair() {
    const violations: SecurityViolation[] = [];
    const make = () =>
      new ThreatDetector({
        windows: new RedisDetectionWindowStore({ redis, keyPrefix: prefix }),
        failedLogins: { perAccount: { threshold: 5, windowSec: 300 }, perIp: false },
        deniedAccess: false,
        onViolation: (v) => violations.push(v),
      });
    return { a: make(), b: make(), violations };
  }

  it('failures split between two instances fire the rule once, as one instance would', async () => {
    const { a, b, violations } = pair();
    // 5 failures for one account, alternating instances: each instance sees 2 or 3, fewer than 5.
    for (let i = 0; i < 5; i++) await (i % 2 === 0 ? a : b).write([failedLogin(i)]);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ rule: 'failed-login-burst', subject: { account: 'alice' } });
    expect(violations[0]!.entries).toHaveLength(5);
    // The window was emptied when it fired: the next failure starts a new burst.
    await a.write([failedLogin(6)]);
    expect(violations).toHaveLength(1);
  });

  it('a burst reaching the threshold concurrently on both instances fires exactly once', async () => {
    const { a, b, violations } = pair();
    for (let i = 0; i < 3; i++) await a.write([failedLogin(i, 'bob')]);
    // The 4th and 5th failures arrive at the same moment on the two instances.
    await Promise.all([a.write([failedLogin(3, 'bob')]), b.write([failedLogin(3, 'bob')])]);
    await Promise.all([a.write([failedLogin(4, 'bob')]), b.write([failedLogin(4, 'bob')])]);
    expect(violations.filter((v) => v.subject?.account === 'bob')).toHaveLength(1);
  });

  it('windows are in event time: failures older than the window do not count', async () => {
    const { a, b, violations } = pair();
    for (let i = 0; i < 4; i++) await a.write([failedLogin(i * 10, 'carol')]);
    await b.write([failedLogin(1000, 'carol')]); // 4 earlier ones fell out of the 300 s window
    expect(violations).toHaveLength(0);
  });

  it('without the shared store, each instance sees half and nothing fires (the problem it solves)', async () => {
    const violations: SecurityViolation[] = [];
    const make = () =>
      new ThreatDetector({
        failedLogins: { perAccount: { threshold: 5, windowSec: 300 }, perIp: false },
        deniedAccess: false,
        onViolation: (v) => violations.push(v),
      });
    const [a, b] = [make(), make()];
    for (let i = 0; i < 5; i++) await (i % 2 === 0 ? a : b).write([failedLogin(i, 'dave')]);
    expect(violations).toHaveLength(0);
  });

  it("a custom windowed rule's bursts are shared too; a plain custom rule's are not", async () => {
    const deletes = (name: string, windowed: boolean): WindowedDetectionRule =>
      ({
        name,
        ...(windowed ? { windowed: true } : {}),
        async evaluate(e, state) {
          if (e.action !== 'record.delete') return undefined;
          const w = await state.burst(`actor:${e.actor!.id}`, 60, 4);
          return w.fired ? { message: '4 deletes in a minute', entries: w.seqs } : undefined;
        },
      }) as WindowedDetectionRule;
    const violations: SecurityViolation[] = [];
    const make = () =>
      new ThreatDetector({
        windows: new RedisDetectionWindowStore({ redis, keyPrefix: prefix }),
        failedLogins: false,
        deniedAccess: false,
        rules: [deletes('shared-deletes', true), deletes('local-deletes', false)],
        onViolation: (v) => violations.push(v),
      });
    const [a, b] = [make(), make()];
    const del = (i: number): AuditEntry => ({
      ...failedLogin(i),
      actor: { id: 'mallory', type: 'user' },
      action: 'record.delete',
      outcome: 'success',
    });
    for (let i = 0; i < 4; i++) await (i % 2 === 0 ? a : b).write([del(i)]);
    expect(violations.map((v) => v.rule)).toEqual(['shared-deletes']);
    expect(violations[0]!.entries).toHaveLength(4);
  });

  it('refuses a custom rule whose windowed flag is not a boolean', () => {
    expect(
      () =>
        new ThreatDetector({ rules: [{ name: 'x', windowed: 'yes', evaluate: () => undefined } as never] }),
    ).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }));
  });

  it('with a keySecret, Redis holds no account names or addresses, and counting is unchanged', async () => {
    const violations: SecurityViolation[] = [];
    const make = () =>
      new ThreatDetector({
        windows: new RedisDetectionWindowStore({ redis, keyPrefix: prefix, keySecret: SECRET }),
        failedLogins: {
          perAccount: { threshold: 3, windowSec: 300 },
          perIp: { threshold: 50, windowSec: 300 },
        },
        deniedAccess: false,
        onViolation: (v) => violations.push(v),
      });
    const [a, b] = [make(), make()];
    await a.write([failedLogin(0, 'erin@example.org', '198.51.100.23')]);
    await b.write([failedLogin(1, 'erin@example.org', '198.51.100.23')]);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toMatch(/erin|198\.51|failed-login/);
    await a.write([failedLogin(2, 'erin@example.org', '198.51.100.23')]);
    expect(violations.map((v) => v.subject)).toEqual([{ account: 'erin@example.org' }]);
    expect(() => new RedisDetectionWindowStore({ redis, keySecret: new Uint8Array(8) })).toThrow(
      expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }),
    );
  });

  it('a failing Redis is reported (typed) and raises nothing; observe() refuses, observeAsync() works', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    const errors: unknown[] = [];
    const detector = new ThreatDetector({
      windows: new RedisDetectionWindowStore({ redis: dead }),
      deniedAccess: false,
      onError: (e) => errors.push(e),
    });
    expect(() => detector.observe(failedLogin(0))).toThrow(
      expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }),
    );
    expect(await detector.observeAsync(failedLogin(0))).toEqual([]);
    expect(errors[0]).toMatchObject({ code: ErrorCodes.THREAT_STORE });
    dead.disconnect();
  });
});
