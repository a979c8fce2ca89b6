import { randomBytes } from 'node:crypto';
import {
  AUTH_AUDIT_ACTIONS,
  MemorySessionStore,
  SessionEngine,
  TokenService,
  type AuditEvent,
} from '@bulwark/core';
import express, { type Express } from 'express';
import request from 'supertest';
import { authenticate, csrf, problemDetails, session } from '../src';

const SESSION_SECRET = 'a-session-secret-of-at-least-32-bytes';
const CSRF_SECRET = 'a-csrf-secret-of-at-least-32-bytes!!';
const COOKIE = '__Host-bulwark.sid';

/** The cookies a browser would hold after the responses it saw (supertest's agent drops Secure cookies on http). */
class Browser {
  readonly cookies = new Map<string, string>();
  take(res: request.Response): request.Response {
    for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      if (/Max-Age=0/.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1));
    }
    return res;
  }
  get header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function build() {
  const clock = { t: Date.now() };
  const events: AuditEvent[] = [];
  const engine = new SessionEngine({
    secret: SESSION_SECRET,
    store: new MemorySessionStore(),
    idleTimeoutSec: 900,
    absoluteTimeoutSec: 4 * 3600,
    now: () => clock.t,
    audit: { append: async (e: AuditEvent) => void events.push(e) },
  });
  const app: Express = express();
  app.use(express.json());
  app.use(session(engine));
  app.use(csrf({ secret: CSRF_SECRET }));
  app.get('/me', (req, res) => {
    res.json({
      user: req.principal?.id ?? null,
      roles: req.principal?.roles ?? [],
      authentication: req.principal?.authentication ?? null,
      cart: req.bulwarkSession!.get('cart') ?? [],
    });
  });
  app.get('/csrf', (req, res) => res.json({ token: req.csrfToken!() }));
  app.post('/cart', async (req, res, next) => {
    try {
      const cart = req.bulwarkSession!.get<string[]>('cart') ?? [];
      await req.bulwarkSession!.set({ cart: [...cart, String(req.body.item)] });
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  app.post('/login', async (req, res, next) => {
    try {
      await req.bulwarkSession!.login({ id: String(req.body.user), roles: ['customer'] });
      res.json({ ok: true, token: req.csrfToken!() });
    } catch (err) {
      next(err);
    }
  });
  app.post('/admin-grant', async (req, res, next) => {
    try {
      await req.bulwarkSession!.setRoles(['customer', 'admin']);
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  app.post('/logout', async (req, res, next) => {
    try {
      await req.bulwarkSession!.logout();
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  app.use(problemDetails({ log: () => undefined }));
  return { app, engine, clock, events };
}

async function csrfToken(app: Express, b: Browser): Promise<string> {
  return b.take(await request(app).get('/csrf').set('Cookie', b.header)).body.token;
}

async function post(app: Express, b: Browser, path: string, body: object = {}): Promise<request.Response> {
  const token = await csrfToken(app, b);
  return b.take(await request(app).post(path).set('Cookie', b.header).set('x-csrf-token', token).send(body));
}

describe('express session() over HTTP', () => {
  it('sets a __Host- cookie with Secure, HttpOnly, SameSite=Lax and Path=/ only once something is stored', async () => {
    const { app } = build();
    const b = new Browser();
    const first = b.take(await request(app).get('/me'));
    expect(([] as string[]).concat(first.headers['set-cookie'] ?? []).some((c) => c.startsWith(COOKIE))).toBe(
      false,
    );
    const res = await post(app, b, '/cart', { item: 'tea' });
    expect(res.status).toBe(200);
    const cookie = ([] as string[]).concat(res.headers['set-cookie']).find((c) => c.startsWith(COOKIE))!;
    expect(cookie).toMatch(
      /^__Host-bulwark\.sid=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
    );
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it('session fixation: the id changes at login, and an id planted before login is useless after', async () => {
    const { app, events } = build();
    // The attacker gets an anonymous session and plants its cookie in the victim's browser.
    const attacker = new Browser();
    await post(app, attacker, '/cart', { item: 'bait' });
    const planted = attacker.cookies.get(COOKIE)!;
    const victim = new Browser();
    victim.cookies.set(COOKIE, planted);
    await post(app, victim, '/cart', { item: 'tea' });
    const login = await post(app, victim, '/login', { user: 'alice' });
    expect(login.status).toBe(200);
    expect(victim.cookies.get(COOKIE)).not.toBe(planted);
    const me = (await request(app).get('/me').set('Cookie', victim.header)).body;
    expect(me).toMatchObject({ user: 'alice', cart: ['bait', 'tea'] });
    expect(me.authentication).toMatchObject({ method: 'session', factors: ['password'] });
    // The attacker's copy of the planted id now opens nothing.
    const hijack = await request(app).get('/me').set('Cookie', attacker.header);
    expect(hijack.body.user).toBeNull();
    expect(events.map((e) => e.action)).toContain(AUTH_AUDIT_ACTIONS.sessionCreated);
  });

  it('binds the CSRF token to the session: a token from before login is refused after it', async () => {
    const { app } = build();
    const b = new Browser();
    await post(app, b, '/cart', { item: 'tea' });
    const before = await csrfToken(app, b);
    const csrfCookie = b.cookies.get('__Host-bulwark.csrf');
    const login = await post(app, b, '/login', { user: 'alice' });
    // The stale token, with its matching cookie, against the rotated session.
    const stale = await request(app)
      .post('/cart')
      .set('Cookie', `${COOKIE}=${b.cookies.get(COOKIE)}; __Host-bulwark.csrf=${csrfCookie}`)
      .set('x-csrf-token', before)
      .send({ item: 'x' });
    expect(stale.status).toBe(403);
    expect(stale.body.code).toBe('EBADCSRFTOKEN');
    // The token handed out at login works.
    const ok = await request(app)
      .post('/cart')
      .set('Cookie', b.header)
      .set('x-csrf-token', login.body.token)
      .send({ item: 'y' });
    expect(ok.status).toBe(200);
  });

  it('rotates the id on a privilege change', async () => {
    const { app } = build();
    const b = new Browser();
    await post(app, b, '/login', { user: 'alice' });
    const before = b.cookies.get(COOKIE);
    await post(app, b, '/admin-grant');
    expect(b.cookies.get(COOKIE)).not.toBe(before);
    const old = await request(app).get('/me').set('Cookie', `${COOKIE}=${before}`);
    expect(old.body.user).toBeNull();
    expect((await request(app).get('/me').set('Cookie', b.header)).body.roles).toEqual(['customer', 'admin']);
  });

  it('idle time-out: refused after 15 idle minutes (injected clock), kept alive by activity', async () => {
    const { app, clock, events } = build();
    const b = new Browser();
    await post(app, b, '/login', { user: 'alice' });
    clock.t += 14 * 60_000;
    expect((await request(app).get('/me').set('Cookie', b.header)).body.user).toBe('alice');
    clock.t += 14 * 60_000;
    expect((await request(app).get('/me').set('Cookie', b.header)).body.user).toBe('alice');
    clock.t += 15 * 60_000;
    const res = b.take(await request(app).get('/me').set('Cookie', b.header));
    expect(res.status).toBe(200);
    expect(res.body.user).toBeNull();
    expect(b.cookies.has(COOKIE)).toBe(false);
    expect(events.at(-1)).toMatchObject({ action: AUTH_AUDIT_ACTIONS.sessionExpired, reason: 'idle' });
  });

  it('absolute time-out: refused after 4 hours however active', async () => {
    const { app, clock } = build();
    const b = new Browser();
    await post(app, b, '/login', { user: 'alice' });
    for (let i = 0; i < 24; i++) {
      clock.t += 10 * 60_000;
      const res = await request(app).get('/me').set('Cookie', b.header);
      expect(res.body.user).toBe(i < 23 ? 'alice' : null);
    }
  });

  it('answers a tampered, unknown or malformed cookie with a new anonymous session, never a 500', async () => {
    const { app } = build();
    const b = new Browser();
    await post(app, b, '/login', { user: 'alice' });
    const good = b.cookies.get(COOKIE)!;
    const flipped = (good[0] === 'A' ? 'B' : 'A') + good.slice(1);
    for (const value of [
      flipped,
      randomBytes(32).toString('base64url'),
      'x',
      '%00%ff',
      'a'.repeat(4000),
      `${good}; ${COOKIE}=${flipped}`,
    ]) {
      const res = await request(app).get('/me').set('Cookie', `${COOKIE}=${value}`);
      expect(res.status).toBe(200);
      expect(res.body.user === null || value.startsWith(good)).toBe(true);
    }
    // Writing through a forged cookie creates a fresh session with a server-chosen id.
    const forged = new Browser();
    forged.cookies.set(COOKIE, flipped);
    await post(app, forged, '/cart', { item: 'x' });
    expect(forged.cookies.get(COOKIE)).not.toBe(flipped);
  });

  it('logout deletes the session: the old cookie opens nothing', async () => {
    const { app } = build();
    const b = new Browser();
    await post(app, b, '/login', { user: 'alice' });
    const old = b.cookies.get(COOKIE);
    await post(app, b, '/logout');
    expect(b.cookies.has(COOKIE)).toBe(false);
    expect((await request(app).get('/me').set('Cookie', `${COOKIE}=${old}`)).body.user).toBeNull();
  });

  it('admin revocation of all of a user’s sessions is immediate', async () => {
    const { app, engine } = build();
    const laptop = new Browser();
    const phone = new Browser();
    await post(app, laptop, '/login', { user: 'alice' });
    await post(app, phone, '/login', { user: 'alice' });
    expect(await engine.list('alice')).toHaveLength(2);
    await engine.revokeAll('alice', { by: { id: 'admin-1' }, reason: 'account-disabled' });
    for (const b of [laptop, phone]) {
      expect((await request(app).get('/me').set('Cookie', b.header)).body.user).toBeNull();
    }
  });

  it('authenticate accepts the signed-in session without a bearer token, and still verifies a bearer token when sent', async () => {
    const engine = new SessionEngine({ secret: SESSION_SECRET });
    const tokens = new TokenService({ algorithms: ['HS256'], signingKey: { key: randomBytes(32) } });
    const app = express();
    app.use(session(engine));
    app.post('/login', async (req, res, next) => {
      await req.bulwarkSession!.login({ id: 'alice' }).then(() => res.json({ ok: true }), next);
    });
    app.use(authenticate({ tokens }));
    app.get('/private', (req, res) => res.json({ user: req.principal!.id }));
    app.use(problemDetails({ log: () => undefined }));
    const b = new Browser();
    expect((await request(app).get('/private')).status).toBe(401);
    b.take(await request(app).post('/login'));
    expect((await request(app).get('/private').set('Cookie', b.header)).body).toEqual({ user: 'alice' });
    // Another scheme's credential beside the session: the session decides, and the personal
    // response is kept out of shared caches as on Koa and NestJS.
    const withBasic = await request(app)
      .get('/private')
      .set('Cookie', b.header)
      .set('Authorization', 'Basic YWxpY2U6cHc=')
      .expect(200, { user: 'alice' });
    expect(withBasic.headers['cache-control']).toMatch(/no-store/);
    const forged = await request(app)
      .get('/private')
      .set('Cookie', b.header)
      .set('Authorization', 'Bearer x.y.z');
    expect(forged.status).toBe(401);
  });

  it('answers 503 problem+json when the session store fails (fail closed, nothing of the error leaked)', async () => {
    let down = false;
    /** A store whose backend goes away: its driver's error carries an address and a password. */
    class FlakyStore extends MemorySessionStore {
      override async get(id: string) {
        if (down) throw new Error('ECONNREFUSED 10.0.0.7:6379 password=hunter2');
        return super.get(id);
      }
    }
    const engine = new SessionEngine({ secret: SESSION_SECRET, store: new FlakyStore() });
    const app = express();
    app.use(session(engine));
    app.get('/', (req, res) => res.json({ user: req.principal?.id ?? null }));
    app.post('/login', async (req, res, next) => {
      await req.bulwarkSession!.login({ id: 'alice' }).then(() => res.json({ ok: true }), next);
    });
    app.use(problemDetails({ log: () => undefined }));
    const b = new Browser();
    b.take(await request(app).post('/login'));
    down = true;
    const res = await request(app).get('/').set('Cookie', b.header);
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.text).not.toMatch(/hunter2|10\.0\.0\.7/);
    // Without a session cookie the store is not asked: anonymous pages keep working.
    expect((await request(app).get('/')).status).toBe(200);
  });
});
