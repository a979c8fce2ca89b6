/**
 * Five ASVS 5.0 requirements over real HTTP, the same scenarios for Express and Koa (issue 23):
 * V16.3.1 a local password sign-in audited as `auth.login` with method `password`; V7.1.2 at most
 * `maxSessionsPerUser` sessions per user; V7.4.5 every session and every bearer token of every
 * user ended at once, seen by another instance; V6.2.3 a password change needs the current
 * password (counted on the brute-force guard); V6.6.2 an SMS code bound to the login attempt
 * that asked for it. Each adapter mounts `gapsRoutes(kit)` on two apps (two instances sharing
 * the stores) and runs `gapsScenarios`.
 */
import {
  AccountLifecycle,
  AUTH_AUDIT_ACTIONS,
  BruteForceGuard,
  ErrorCodes,
  MemoryOtpStore,
  MemoryRevocationStore,
  MemorySessionStore,
  OtpFactor,
  PasswordHasher,
  PasswordSignIn,
  SessionEngine,
  TokenRevocation,
  TokenService,
  type AuditEvent,
  type HttpSession,
  type OtpMessage,
} from '@bulwark/core';
import { randomBytes } from 'node:crypto';
import request from 'supertest';

const FAST = { memoryCost: 1024, timeCost: 1, allowWeakParameters: true } as const;
export const COOKIE = '__Host-bulwark.sid';
/** The session limit every scenario app runs with. */
export const MAX_SESSIONS = 2;

/** The request as the adapter-neutral route handlers see it. */
export interface GapsRequest {
  readonly session: HttpSession;
  readonly body: Record<string, unknown>;
  readonly ip?: string;
}

export type GapsHandler = (req: GapsRequest) => Promise<{ status: number; body: unknown }>;

/** Two instances' worth of services on shared (memory) stores, with a clock the tests move. */
export function gapsKit() {
  const clock = { t: Date.now() };
  const events: AuditEvent[] = [];
  const audit = { append: async (e: AuditEvent) => void events.push(e) };
  const secret = randomBytes(32);
  const sessionStore = new MemorySessionStore();
  const engine = () =>
    new SessionEngine({ secret, store: sessionStore, maxSessionsPerUser: MAX_SESSIONS, audit });
  const passwords = new PasswordHasher(FAST);
  const tokens = new TokenService({
    algorithms: ['HS256'],
    signingKey: { key: randomBytes(32) },
    issuer: 'bulwark-asvs-gaps',
    clock: () => new Date(clock.t),
  });
  const revocationStore = new MemoryRevocationStore();
  const revocation = () =>
    new TokenRevocation({ store: revocationStore, auditLog: audit, clock: () => new Date(clock.t) });
  const outbox: OtpMessage[] = [];
  const otp = new OtpFactor({
    store: new MemoryOtpStore(),
    channel: 'sms',
    transport: { send: async (m) => void outbox.push(m) },
    audit,
  });
  const guard = new BruteForceGuard({
    ip: false,
    ipAccount: false,
    account: { maxFailures: 3, windowSec: 3600, lockoutSec: 1800, maxLockoutSec: 3600 },
    lockout: 'hard',
  });
  const instances = [0, 1].map(() => ({ sessions: engine(), revocation: revocation() }));
  const accounts = new AccountLifecycle({
    passwords,
    sessions: instances[0]!.sessions,
    bruteForce: guard,
    audit,
  });
  /** The app's user table: user id -> password hash. */
  const users = new Map<string, string>();
  const addUser = async (id: string, password: string) => users.set(id, await passwords.hashSecret(password));
  return {
    clock,
    events,
    instances,
    tokens,
    otp,
    outbox,
    accounts,
    users,
    addUser,
    signIn: new PasswordSignIn({ passwords, audit }),
  };
}

export type GapsKit = ReturnType<typeof gapsKit>;

const SIGN_IN_FIRST = { status: 401, body: { error: 'sign in first' } };

/** The routes both adapters mount: method + path -> handler. */
export function gapsRoutes(kit: GapsKit): Record<string, GapsHandler> {
  return {
    'GET /me': async ({ session }) => ({
      status: 200,
      body: { user: session.userId ?? null, factors: session.authentication?.factors ?? [] },
    }),
    'POST /login': async ({ session, body, ip }) => {
      const user = String(body.user);
      const { valid } = await kit.signIn.verify({
        account: user,
        hash: kit.users.get(user),
        password: String(body.password),
        userId: user,
        ...(ip !== undefined ? { ip } : {}),
      });
      if (!valid) return { status: 401, body: { error: 'invalid credentials' } };
      await session.login({ id: user, authentication: { method: 'password', factors: ['password'] } });
      return { status: 200, body: { ok: true } };
    },
    'POST /password': async ({ session, body, ip }) => {
      const user = session.userId;
      if (user === undefined) return SIGN_IN_FIRST;
      const hash = await kit.accounts.changePassword(
        user,
        {
          currentPassword: String(body.current),
          currentHash: kit.users.get(user)!,
          newPassword: String(body.next),
        },
        { keepSessionId: session.id!, ...(ip !== undefined ? { ip } : {}) },
      );
      kit.users.set(user, hash);
      return { status: 200, body: { ok: true } };
    },
    'POST /otp/send': async ({ session }) => {
      const user = session.userId;
      if (user === undefined) return SIGN_IN_FIRST;
      const { challenge } = await kit.otp.send(user, '+15550100');
      await session.set({ otpChallenge: challenge });
      return { status: 200, body: { sent: true } };
    },
    'POST /otp/verify': async ({ session, body }) => {
      const user = session.userId;
      if (user === undefined) return SIGN_IN_FIRST;
      const challenge = session.get<string>('otpChallenge') ?? '';
      await kit.otp.verify(user, challenge, String(body.code));
      await session.stepUp('sms-otp');
      return { status: 200, body: { ok: true } };
    },
  };
}

/** A browser: one session cookie. */
class Jar {
  cookie = '';
  take(res: request.Response): request.Response {
    for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const pair = line.split(';')[0]!;
      if (pair.startsWith(`${COOKIE}=`)) this.cookie = /Max-Age=0/.test(line) ? '' : pair;
    }
    return res;
  }
}

type Server = Parameters<typeof request>[0];

/**
 * The scenarios. `servers`: the two session instances' apps (each mounts `gapsRoutes`);
 * `bearer`: two apps whose `GET /api/me` needs a bearer token, each checking
 * `kit.instances[i].revocation`.
 */
export function gapsScenarios(
  kit: GapsKit,
  servers: () => [Server, Server],
  bearer: () => [Server, Server],
): void {
  const call = async (i: 0 | 1, jar: Jar, method: 'get' | 'post', path: string, body?: object) => {
    const req = request(servers()[i])[method](path).set('Cookie', jar.cookie);
    return jar.take(await (body ? req.send(body) : req));
  };
  const me = async (i: 0 | 1, jar: Jar) => (await call(i, jar, 'get', '/me')).body.user as string | null;
  const login = async (i: 0 | 1, user: string, password: string) => {
    const jar = new Jar();
    const res = await call(i, jar, 'post', '/login', { user, password });
    return { jar, res };
  };

  beforeAll(async () => {
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'fay'])
      await kit.addUser(u, `${u} harbor lantern`);
  });

  it('V16.3.1: a password sign-in is audited as auth.login with method password, success and failure, never the password', async () => {
    const from = kit.events.length;
    expect((await login(0, 'alice', 'wrong guess')).res.status).toBe(401);
    expect((await login(1, 'nobody', 'wrong guess')).res.status).toBe(401);
    const ok = await login(0, 'alice', 'alice harbor lantern');
    expect(ok.res.status).toBe(200);
    const logins = kit.events.slice(from).filter((e) => e.action === AUTH_AUDIT_ACTIONS.login);
    expect(logins.map((e) => [e.outcome, e.actor.id, e.resource?.id, e.details?.method])).toEqual([
      ['failure', 'anonymous', 'alice', 'password'],
      ['failure', 'anonymous', 'nobody', 'password'],
      ['success', 'alice', 'alice', 'password'],
    ]);
    expect(JSON.stringify(kit.events)).not.toMatch(/wrong guess|harbor lantern/);
  });

  it('V7.1.2: a third sign-in of one user, on either instance, ends the oldest session (audited session_limit)', async () => {
    const first = (await login(0, 'bob', 'bob harbor lantern')).jar;
    const second = (await login(1, 'bob', 'bob harbor lantern')).jar;
    expect(await me(1, first)).toBe('bob');
    const third = (await login(1, 'bob', 'bob harbor lantern')).jar;
    expect(await me(0, first)).toBeNull();
    expect(await me(0, second)).toBe('bob');
    expect(await me(0, third)).toBe('bob');
    expect(await kit.instances[0]!.sessions.list('bob')).toHaveLength(MAX_SESSIONS);
    const limited = kit.events.filter(
      (e) => e.action === AUTH_AUDIT_ACTIONS.sessionRevoked && e.reason === 'session_limit',
    );
    expect(limited.map((e) => e.details?.userId)).toEqual(['bob']);
  });

  it('V7.4.5: revokeAllSessions() on one instance ends every user’s session on the other (audited)', async () => {
    const carol = (await login(0, 'carol', 'carol harbor lantern')).jar;
    const dave = (await login(1, 'dave', 'dave harbor lantern')).jar;
    expect(await me(0, dave)).toBe('dave');
    const ended = await kit.instances[1]!.sessions.revokeAllSessions({ by: { id: 'admin-1' } });
    expect(ended).toBeGreaterThanOrEqual(2);
    expect(await me(0, carol)).toBeNull();
    expect(await me(0, dave)).toBeNull();
    const event = kit.events.find((e) => e.reason === 'revoked-everyone')!;
    expect(event).toMatchObject({ action: AUTH_AUDIT_ACTIONS.sessionRevoked, actor: { id: 'admin-1' } });
    expect(event.details).toEqual({ sessions: ended });
    expect((await login(0, 'carol', 'carol harbor lantern')).res.status).toBe(200); // sign-in works again
  });

  it('V7.4.5: revokeEveryone() on one instance refuses every earlier bearer token on the other', async () => {
    const [a, b] = bearer();
    const old = await kit.tokens.sign({ roles: ['user'] }, { subject: 'erin' });
    const other = await kit.tokens.sign({ roles: ['user'] }, { subject: 'fay' });
    const get = (server: Server, token: string) =>
      request(server).get('/api/me').set('Authorization', `Bearer ${token}`);
    expect((await get(a, old)).status).toBe(200);
    await kit.instances[1]!.revocation.revokeEveryone({ actor: { id: 'admin-1', type: 'user' } });
    for (const token of [old, other]) {
      const res = await get(a, token);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/invalid_token/);
    }
    expect(kit.events.at(-1)).toMatchObject({
      action: AUTH_AUDIT_ACTIONS.tokenRevoked,
      details: { scope: 'everyone' },
    });
    kit.clock.t += 2000; // iat has one-second resolution: the next second's tokens pass
    expect((await get(b, await kit.tokens.sign({ roles: ['user'] }, { subject: 'erin' }))).status).toBe(200);
  });

  it('V6.2.3: a password change needs the current password; wrong ones are refused (403), counted, then locked (429)', async () => {
    const { jar } = await login(0, 'erin', 'erin harbor lantern');
    const change = (current: string) =>
      call(0, jar, 'post', '/password', { current, next: 'quiet violet meadow stone' });
    for (let i = 0; i < 3; i++) {
      const res = await change(`guess ${i}`);
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe(ErrorCodes.ACCOUNT_CURRENT_PASSWORD_INVALID);
    }
    const locked = await change('erin harbor lantern'); // the right one, too late
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe(ErrorCodes.ACCOUNT_LOCKED);
    expect((await login(1, 'erin', 'quiet violet meadow stone')).res.status).toBe(401); // unchanged

    const fay = (await login(1, 'fay', 'fay harbor lantern')).jar;
    expect(
      (
        await call(1, fay, 'post', '/password', {
          current: 'fay harbor lantern',
          next: 'quiet violet meadow stone',
        })
      ).status,
    ).toBe(200);
    expect((await login(0, 'fay', 'fay harbor lantern')).res.status).toBe(401);
    expect((await login(0, 'fay', 'quiet violet meadow stone')).res.status).toBe(200);
    expect(await me(0, fay)).toBe('fay'); // the session that changed it survives
  });

  it('V6.6.2: an SMS code sent for one login attempt is refused on another, and accepted on its own', async () => {
    const mine = (await login(0, 'alice', 'alice harbor lantern')).jar;
    const theirs = (await login(1, 'alice', 'alice harbor lantern')).jar;
    // Both attempts asked for a code; the latest one (mine) replaced the other's.
    expect((await call(1, theirs, 'post', '/otp/send')).status).toBe(200);
    expect((await call(0, mine, 'post', '/otp/send')).status).toBe(200);
    const code = kit.outbox.at(-1)!.code;
    const elsewhere = await call(1, theirs, 'post', '/otp/verify', { code });
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.body.code).toBe(ErrorCodes.MFA_INVALID_CODE);
    const here = await call(0, mine, 'post', '/otp/verify', { code });
    expect(here.status).toBe(200);
    expect((await call(0, mine, 'get', '/me')).body.factors).toEqual(['password', 'sms-otp']);
  });
}
