import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import {
  AUTH_AUDIT_ACTIONS,
  ErrorCodes,
  MemorySessionStore,
  MfaPolicy,
  RedisSessionStore,
  SessionEngine,
  type AuditEvent,
  type SessionEngineOptions,
  type SessionStore,
} from '../../src';
import { requireStepUp } from '../../src/http/step-up';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';

const SECRET = 'a session secret of at least thirty-two bytes!';

class Clock {
  // Real time as the start: the Redis store computes key TTLs from its own clock.
  t = Date.now();
  now = (): number => this.t;
  advance(sec: number): void {
    this.t += sec * 1000;
  }
}

/** A browser's cookie jar for one cookie: applies Set-Cookie values like a user agent. */
class Jar {
  value: string | undefined;
  readonly set: string[] = [];
  constructor(private readonly name = '__Host-bulwark.sid') {}
  get header(): string | undefined {
    return this.value === undefined ? undefined : `${this.name}=${this.value}`;
  }
  setCookie = (v: string): void => {
    this.set.push(v);
    const [pair] = v.split(';');
    const value = pair!.slice(pair!.indexOf('=') + 1);
    this.value = /Max-Age=0/.test(v) ? undefined : value;
  };
}

function setup(
  store: SessionStore | undefined,
  clock = new Clock(),
  extra: Partial<SessionEngineOptions> = {},
) {
  const events: AuditEvent[] = [];
  const engine = new SessionEngine({
    ...extra,
    secret: SECRET,
    ...(store ? { store } : {}),
    idleTimeoutSec: 900,
    absoluteTimeoutSec: 3600,
    touchIntervalSec: 60,
    now: clock.now,
    audit: { append: async (e: AuditEvent) => void events.push(e) },
  });
  const open = (jar: Jar) =>
    engine.open({ cookieHeader: jar.header, setCookie: jar.setCookie, ip: '203.0.113.9' });
  return { engine, events, clock, open };
}

function behaviours(makeStore: () => SessionStore | undefined): void {
  it('keeps only the HMAC of the token in the store: a dumped id does not open the session', async () => {
    const store = makeStore() ?? new MemorySessionStore();
    const { open } = setup(store);
    const jar = new Jar();
    const s = await open(jar);
    await s.login({ id: 'alice', roles: ['clerk'] });
    expect(jar.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.id).not.toBe(jar.value);
    expect(await store.get(s.id!)).toBeDefined();
    // An attacker with the store dump presents the stored id as a cookie.
    const replay = new Jar();
    replay.value = s.id;
    const stolen = await open(replay);
    expect(stolen.isNew).toBe(true);
    expect(stolen.principal).toBeUndefined();
  });

  it('gives a new id at login and deletes the pre-login one (fixation), keeping the data', async () => {
    const { open, events } = setup(makeStore());
    const victim = new Jar();
    const anon = await open(victim);
    await anon.set({ cart: ['sku-1'] });
    const planted = victim.value;
    const before = anon.id;
    await anon.login({
      id: 'alice',
      roles: ['clerk'],
      authentication: { method: 'password', factors: ['password'] },
    });
    expect(anon.id).not.toBe(before);
    expect(victim.value).not.toBe(planted);
    const attacker = new Jar();
    attacker.value = planted;
    const attackerView = await open(attacker);
    expect(attackerView.isNew).toBe(true);
    expect(attackerView.principal).toBeUndefined();
    const after = await open(victim);
    expect(after.principal).toMatchObject({ id: 'alice', roles: ['clerk'], type: 'user' });
    expect(after.get('cart')).toEqual(['sku-1']);
    expect(after.principal!.authentication).toMatchObject({
      method: 'session',
      sessionId: after.id,
      factors: ['password'],
    });
    expect(events.map((e) => e.action)).toEqual([AUTH_AUDIT_ACTIONS.sessionCreated]);
    expect(JSON.stringify(events)).not.toContain(victim.value);
  });

  it('never adopts an id chosen by the client', async () => {
    const { open } = setup(makeStore());
    const jar = new Jar();
    jar.value = randomBytes(32).toString('base64url');
    const chosen = jar.value;
    const s = await open(jar);
    expect(s.isNew).toBe(true);
    await s.set({ x: 1 });
    expect(jar.value).not.toBe(chosen);
  });

  it('ends a session idle for the idle time-out, and audits it', async () => {
    const { open, clock, events } = setup(makeStore());
    const jar = new Jar();
    await (await open(jar)).login({ id: 'bob' });
    clock.advance(899);
    expect((await open(jar)).userId).toBe('bob'); // touched at 899 s
    clock.advance(899);
    expect((await open(jar)).userId).toBe('bob');
    clock.advance(900);
    const s = await open(jar);
    expect(s.isNew).toBe(true);
    expect(jar.value).toBeUndefined(); // the stale cookie was cleared
    expect(events.at(-1)).toMatchObject({ action: AUTH_AUDIT_ACTIONS.sessionExpired, reason: 'idle' });
  });

  it('ends an active session at the absolute time-out; rotation does not extend it', async () => {
    const { open, clock, events } = setup(makeStore());
    const jar = new Jar();
    await (await open(jar)).login({ id: 'carol', roles: ['a'] });
    for (let i = 0; i < 6; i++) {
      clock.advance(590);
      const s = await open(jar);
      expect(s.userId).toBe('carol');
      await s.setRoles(['a', `b${i}`]);
    }
    clock.advance(100); // 3640 s after login
    expect((await open(jar)).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ action: AUTH_AUDIT_ACTIONS.sessionExpired, reason: 'absolute' });
  });

  it('revokes one session and all of a user’s sessions', async () => {
    const { engine, open, events } = setup(makeStore());
    const a = new Jar();
    const b = new Jar();
    const c = new Jar();
    await (await open(a)).login({ id: 'dave' });
    await (await open(b)).login({ id: 'dave' });
    await (await open(c)).login({ id: 'erin' });
    const list = await engine.list('dave');
    expect(list).toHaveLength(2);
    const aId = (await open(a)).id!;
    expect(await engine.revoke(aId, { id: 'admin' })).toBe(true);
    expect((await open(a)).isNew).toBe(true);
    expect((await open(b)).userId).toBe('dave');
    await (await open(a)).login({ id: 'dave' });
    expect(await engine.revokeAll('dave', { by: { id: 'dave' }, reason: 'password-changed' })).toBe(2);
    expect((await open(a)).isNew).toBe(true);
    expect((await open(b)).isNew).toBe(true);
    expect((await open(c)).userId).toBe('erin');
    expect(events.filter((e) => e.action === AUTH_AUDIT_ACTIONS.sessionRevoked).map((e) => e.reason)).toEqual(
      ['revoked', 'password-changed'],
    );
  });

  it('maxSessionsPerUser: a sign-in beyond the limit ends the oldest sessions of that user only', async () => {
    const store = makeStore() ?? new MemorySessionStore();
    const clock = new Clock();
    const { engine, open, events } = setup(store, clock, { maxSessionsPerUser: 2 });
    const jars = [new Jar(), new Jar(), new Jar()];
    const other = new Jar();
    await (await open(other)).login({ id: 'gina' });
    for (const jar of jars) {
      await (await open(jar)).login({ id: 'fred' });
      clock.advance(1);
    }
    expect((await open(jars[0]!)).isNew).toBe(true);
    expect((await open(jars[1]!)).userId).toBe('fred');
    expect((await open(jars[2]!)).userId).toBe('fred');
    expect((await open(other)).userId).toBe('gina');
    expect(await engine.list('fred')).toHaveLength(2);
    expect(engine.describe().maxSessionsPerUser).toBe(2);
    const limited = events.filter((e) => e.reason === 'session_limit');
    expect(limited).toHaveLength(1);
    expect(limited[0]).toMatchObject({
      action: AUTH_AUDIT_ACTIONS.sessionRevoked,
      actor: { id: 'system', type: 'system' },
      details: { userId: 'fred' },
    });
  });

  it('maxSessionsPerUser counts live sessions only: an expired one ends no live one', async () => {
    const clock = new Clock();
    const { open, events } = setup(makeStore(), clock, { maxSessionsPerUser: 2 });
    const old = new Jar();
    await (await open(old)).login({ id: 'hank' });
    clock.advance(901);
    const [b, c] = [new Jar(), new Jar()];
    await (await open(b)).login({ id: 'hank' });
    clock.advance(1);
    await (await open(c)).login({ id: 'hank' });
    expect((await open(b)).userId).toBe('hank');
    expect((await open(c)).userId).toBe('hank');
    expect(events.filter((e) => e.reason === 'session_limit')).toEqual([]);
  });

  it('revokeAllSessions ends every session of every user, anonymous ones too, and audits the count', async () => {
    const { engine, open, events } = setup(makeStore());
    const jars = [new Jar(), new Jar(), new Jar()];
    await (await open(jars[0]!)).login({ id: 'hal' });
    await (await open(jars[1]!)).login({ id: 'ivy' });
    await (await open(jars[2]!)).set({ cart: ['tea'] });
    expect(await engine.revokeAllSessions({ by: { id: 'admin-1' }, reason: 'breach' })).toBe(3);
    for (const jar of jars) expect((await open(jar)).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({
      action: AUTH_AUDIT_ACTIONS.sessionRevoked,
      actor: { id: 'admin-1', type: 'user' },
      reason: 'breach',
      details: { sessions: 3 },
    });
    expect(await engine.revokeAllSessions()).toBe(0);
  });

  it('refuses a write to a session revoked by another instance instead of resurrecting it', async () => {
    const { engine, open } = setup(makeStore());
    const jar = new Jar();
    await (await open(jar)).login({ id: 'frank' });
    const s = await open(jar);
    await engine.revokeAll('frank');
    await expect(s.set({ x: 1 })).rejects.toMatchObject({ code: ErrorCodes.SESSION_REVOKED });
    await expect((await open(jar)).isNew).toBe(true);
  });

  it('records a step-up factor with mfaAt and rotates the id', async () => {
    const { open, clock } = setup(makeStore());
    const jar = new Jar();
    await (await open(jar)).login({ id: 'gina' });
    clock.advance(30);
    const s = await open(jar);
    const before = s.id;
    await s.stepUp('totp');
    expect(s.id).not.toBe(before);
    const again = await open(jar);
    expect(again.authentication).toMatchObject({ factors: ['password', 'totp'], mfaAt: clock.t });
  });

  it('times each factor by its own proof: a fresh SMS code does not refresh an old passkey', async () => {
    const { open, clock } = setup(makeStore());
    const jar = new Jar();
    await (await open(jar)).login({ id: 'ivy', authentication: { factors: ['password', 'webauthn'] } });
    const signedInAt = clock.t;
    clock.advance(600);
    await (await open(jar)).stepUp('sms-otp');
    const s = await open(jar);
    expect(s.authentication).toMatchObject({
      mfaAt: clock.t,
      factorTimes: { password: signedInAt, webauthn: signedInAt, 'sms-otp': clock.t },
    });
    const principal = s.principal!;
    // The passkey was proved ten minutes ago: a route asking for one within five minutes refuses.
    expect(() => requireStepUp(principal, { factors: ['webauthn'], maxAgeSec: 300 }, clock.t)).toThrow(
      expect.objectContaining({ code: ErrorCodes.MFA_STEP_UP_REQUIRED }),
    );
    expect(() => requireStepUp(principal, { factors: ['sms-otp'], maxAgeSec: 300 }, clock.t)).not.toThrow();
    const policy = new MfaPolicy({ requiredFor: ['*'], maxAgeSec: 300, clock: () => new Date(clock.t) });
    expect(policy.evaluatePrincipal({ ...principal, roles: ['user'] }).reason).toBe('expired');
    await (await open(jar)).stepUp('webauthn');
    expect(policy.evaluatePrincipal({ ...(await open(jar)).principal!, roles: ['user'] }).reason).toBe(
      'verified',
    );
  });

  it('logs out: deleted, cookie cleared, audited', async () => {
    const { open, events } = setup(makeStore());
    const jar = new Jar();
    await (await open(jar)).login({ id: 'hal' });
    const old = jar.value;
    await (await open(jar)).logout();
    expect(jar.value).toBeUndefined();
    const replay = new Jar();
    replay.value = old;
    expect((await open(replay)).isNew).toBe(true);
    expect(events.at(-1)).toMatchObject({ action: AUTH_AUDIT_ACTIONS.sessionRevoked, reason: 'logout' });
  });

  it('rotates the secret without signing anyone out (previousSecrets): the session moves to the new key', async () => {
    const store = makeStore() ?? new MemorySessionStore();
    const before = new SessionEngine({ secret: SECRET, store });
    const jar = new Jar();
    await (await before.open({ cookieHeader: undefined, setCookie: jar.setCookie })).login({ id: 'ivy' });
    const oldId = (await before.open({ cookieHeader: jar.header, setCookie: jar.setCookie })).id!;
    const NEW = 'another session secret, also 32 bytes or more!';
    const after = new SessionEngine({ secret: NEW, previousSecrets: [SECRET], store });
    const moved = await after.open({ cookieHeader: jar.header, setCookie: jar.setCookie });
    expect(moved.userId).toBe('ivy');
    expect(moved.id).not.toBe(oldId);
    expect(await store.get(oldId)).toBeUndefined();
    expect((await after.list('ivy')).map((x) => x.id)).toEqual([moved.id]);
    // A deployment without the new secret no longer finds it; one without the old still does.
    expect((await before.open({ cookieHeader: jar.header, setCookie: () => {} })).isNew).toBe(true);
    expect(
      (
        await new SessionEngine({ secret: NEW, store }).open({
          cookieHeader: jar.header,
          setCookie: () => {},
        })
      ).userId,
    ).toBe('ivy');
  });

  it('a secret rotation does not resurrect a session revoked while it was being moved', async () => {
    const inner = makeStore() ?? new MemorySessionStore();
    const revokeOnRead = new Set<string>();
    // Another instance revokes the session right after this one has read it under the old key.
    const store: SessionStore = {
      get: async (id) => {
        const found = await inner.get(id);
        if (revokeOnRead.has(id)) await inner.delete(id);
        return found;
      },
      create: (s) => inner.create(s),
      replace: (s) => inner.replace(s),
      touch: (id, seen, exp) => inner.touch(id, seen, exp),
      delete: (id) => inner.delete(id),
      listByUser: (u) => inner.listByUser(u),
      deleteByUser: (u) => inner.deleteByUser(u),
    };
    const before = new SessionEngine({ secret: SECRET, store: inner });
    const jar = new Jar();
    await (await before.open({ cookieHeader: undefined, setCookie: jar.setCookie })).login({ id: 'jay' });
    revokeOnRead.add((await before.open({ cookieHeader: jar.header, setCookie: () => {} })).id!);
    const after = new SessionEngine({
      secret: 'another session secret, also 32 bytes or more!',
      previousSecrets: [SECRET],
      store,
    });
    expect((await after.open({ cookieHeader: jar.header, setCookie: () => {} })).userId).toBeUndefined();
    expect(await inner.listByUser('jay')).toEqual([]);
  });

  it('answers a live probe: idle and absolute sessions refused, a fresh one accepted', async () => {
    const { engine } = setup(makeStore());
    await expect(engine.probe()).resolves.toEqual({
      idleRefused: true,
      absoluteRefused: true,
      freshAccepted: true,
    });
  });
}

describe('SessionEngine (memory store)', () => {
  behaviours(() => new MemorySessionStore());

  it('treats malformed and forged cookies as no session', async () => {
    const { open } = setup(undefined);
    for (const value of ['', 'x', 'a'.repeat(43), '../../etc/passwd', 'é'.repeat(43)]) {
      const jar = new Jar();
      jar.value = value;
      const s = await open(jar);
      expect(s.isNew).toBe(true);
    }
  });

  it('refuses revokeAllSessions on a store without deleteAll (ERR_SESSION_STORE), and a bad session limit', async () => {
    const memory = new MemorySessionStore();
    const partial = {
      get: (id: string) => memory.get(id),
      create: (s: never) => memory.create(s),
      replace: (s: never) => memory.replace(s),
      touch: (id: string, a: number, b: number) => memory.touch(id, a, b),
      delete: (id: string) => memory.delete(id),
      listByUser: (u: string) => memory.listByUser(u),
      deleteByUser: (u: string) => memory.deleteByUser(u),
    };
    const engine = new SessionEngine({ secret: SECRET, store: partial });
    await expect(engine.revokeAllSessions()).rejects.toMatchObject({ code: ErrorCodes.SESSION_STORE });
    expect(engine.describe().maxSessionsPerUser).toBeUndefined();
    for (const bad of [0, -1, 1.5, '2']) {
      expect(() => new SessionEngine({ secret: SECRET, maxSessionsPerUser: bad as never })).toThrow(
        /sessions.maxSessionsPerUser/,
      );
    }
  });

  it('validates options at construction with the path in the message', () => {
    expect(() => new SessionEngine({ secret: 'short' })).toThrow(/sessions.secret/);
    expect(() => new SessionEngine({ secret: SECRET, idleTimeoutSec: 0 })).toThrow(/sessions.idleTimeoutSec/);
    expect(() => new SessionEngine({ secret: SECRET, idleTimeoutSec: 600, absoluteTimeoutSec: 60 })).toThrow(
      /absoluteTimeoutSec/,
    );
    expect(() => new SessionEngine({ secret: SECRET, cookie: { sameSite: 'None' as 'Lax' } })).toThrow(
      /sameSite/,
    );
    expect(() => new SessionEngine({ secret: SECRET, cookie: { name: '__Host-x', secure: false } })).toThrow(
      /secure/,
    );
    expect(() => new SessionEngine({ secret: SECRET, idel: 5 } as never)).toThrow(/sessions.idel/);
  });

  it('sets a __Host- cookie: Secure, HttpOnly, SameSite=Lax by default, Path=/, no Domain', async () => {
    const { open } = setup(undefined);
    const jar = new Jar();
    await (await open(jar)).set({ a: 1 });
    expect(jar.set[0]).toMatch(
      /^__Host-bulwark\.sid=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
    );
  });

  it('refuses oversized or non-JSON data with a typed error', async () => {
    const { open } = setup(undefined);
    const s = await open(new Jar());
    await expect(s.set({ big: 'x'.repeat(20_000) })).rejects.toMatchObject({
      code: ErrorCodes.SESSION_INVALID_ARGUMENT,
    });
    await expect(s.set({ n: 10n } as never)).rejects.toMatchObject({
      code: ErrorCodes.SESSION_INVALID_ARGUMENT,
    });
  });
});

describeWithService('redis', 'SessionEngine (Redis store, needs Redis)', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(SERVICE_URLS.redis, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await redis.keys('bw-test-sess-unit:*');
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  behaviours(
    () => new RedisSessionStore({ redis, keyPrefix: `bw-test-sess-unit:${randomBytes(4).toString('hex')}:` }),
  );

  it('expires keys with the session and keeps user ids out of key names', async () => {
    const prefix = `bw-test-sess-unit:${randomBytes(4).toString('hex')}:`;
    const store = new RedisSessionStore({ redis, keyPrefix: prefix });
    const engine = new SessionEngine({ secret: SECRET, store, idleTimeoutSec: 900 });
    const jar = new Jar();
    await (
      await engine.open({ cookieHeader: undefined, setCookie: jar.setCookie })
    ).login({
      id: 'patient-42@example.org',
    });
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.join(' ')).not.toContain('patient-42');
    const ttl = await redis.pttl(keys.find((k) => k.includes(':s:'))!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(900_000);
  });

  it('keeps the user index until the absolute time-out, so revokeUser still finds an active session', async () => {
    const prefix = `bw-test-sess-unit:${randomBytes(4).toString('hex')}:`;
    const store = new RedisSessionStore({ redis, keyPrefix: prefix });
    const engine = new SessionEngine({ secret: SECRET, store, idleTimeoutSec: 60, absoluteTimeoutSec: 3600 });
    const jar = new Jar();
    await (await engine.open({ cookieHeader: undefined, setCookie: jar.setCookie })).login({ id: 'u-idx' });
    const index = (await redis.keys(`${prefix}u:*`))[0]!;
    // The session key follows the idle time-out (touch moves it); the index must outlive it.
    expect(await redis.pttl(index)).toBeGreaterThan(60_000);
    expect(await redis.pttl(index)).toBeLessThanOrEqual(3_600_000);
    expect(await engine.revokeAll('u-idx')).toBe(1);
  });

  it('revokeAllSessions deletes only the keys under its own prefix', async () => {
    const mine = `bw-test-sess-unit:${randomBytes(4).toString('hex')}:`;
    const theirs = `bw-test-sess-unit:${randomBytes(4).toString('hex')}:`;
    const login = async (engine: SessionEngine, user: string) => {
      const jar = new Jar();
      await (await engine.open({ cookieHeader: undefined, setCookie: jar.setCookie })).login({ id: user });
      return jar;
    };
    const a = new SessionEngine({ secret: SECRET, store: new RedisSessionStore({ redis, keyPrefix: mine }) });
    const b = new SessionEngine({
      secret: SECRET,
      store: new RedisSessionStore({ redis, keyPrefix: theirs }),
    });
    for (let i = 0; i < 5; i++) await login(a, `user-${i}`);
    const kept = await login(b, 'user-0');
    expect(await a.revokeAllSessions()).toBe(5);
    expect(await redis.keys(`${mine}*`)).toEqual([]);
    expect((await b.open({ cookieHeader: kept.header, setCookie: () => {} })).userId).toBe('user-0');
  });

  it('refuses a record written around the engine (ERR_SESSION_STORE), never trusting it', async () => {
    const prefix = `bw-test-sess-unit:${randomBytes(4).toString('hex')}:`;
    const store = new RedisSessionStore({ redis, keyPrefix: prefix });
    const id = 'A'.repeat(43);
    await redis.hset(`${prefix}s:${id}`, 'body', '{"id":"nope"}', 'seen', '1', 'exp', '2');
    await expect(store.get(id)).rejects.toMatchObject({ code: ErrorCodes.SESSION_STORE });
  });
});
