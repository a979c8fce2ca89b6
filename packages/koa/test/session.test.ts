import { randomBytes } from 'node:crypto';
import { SessionEngine } from '@bulwark/core';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import { csrf, problemDetails, session } from '../src';

const COOKIE = '__Host-bulwark.sid';

function cookiesOf(res: request.Response): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    const pair = line.split(';')[0]!;
    out.set(
      pair.slice(0, pair.indexOf('=')),
      /Max-Age=0/.test(line) ? '' : pair.slice(pair.indexOf('=') + 1),
    );
  }
  return out;
}

function build(cookie?: { sameSite?: 'Lax' | 'Strict' }) {
  const clock = { t: Date.now() };
  const engine = new SessionEngine({
    secret: 'a-session-secret-of-at-least-32-bytes',
    idleTimeoutSec: 600,
    now: () => clock.t,
    ...(cookie ? { cookie } : {}),
  });
  const app = new Koa();
  app.use(problemDetails({ log: () => undefined }));
  app.use(bodyParser());
  app.use(session(engine));
  app.use(csrf({ secret: 'a-csrf-secret-of-at-least-32-bytes!!' }));
  const router = new Router();
  router.get('/me', (ctx) => {
    ctx.body = { user: ctx.state.principal?.id ?? null, auth: ctx.state.principal?.authentication ?? null };
  });
  router.get('/csrf', (ctx) => {
    ctx.body = { token: ctx.state.csrfToken() };
  });
  router.post('/login', async (ctx) => {
    await ctx.state.session.login({ id: String((ctx.request as { body: { user: string } }).body.user) });
    ctx.body = { ok: true };
  });
  app.use(router.routes());
  return { app: app.callback(), clock };
}

async function login(app: ReturnType<typeof build>['app'], preset?: string): Promise<Map<string, string>> {
  const jar = new Map<string, string>();
  if (preset !== undefined) jar.set(COOKIE, preset);
  const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await request(app).get('/csrf').set('Cookie', header());
  for (const [k, v] of cookiesOf(form)) jar.set(k, v);
  const res = await request(app)
    .post('/login')
    .set('Cookie', header())
    .set('x-csrf-token', form.body.token)
    .send({ user: 'alice' });
  expect(res.status).toBe(200);
  for (const [k, v] of cookiesOf(res)) jar.set(k, v);
  return jar;
}

describe('koa session() over HTTP', () => {
  it('signs in with a new server-chosen id, a __Host- cookie, and principal.authentication on ctx.state', async () => {
    const { app } = build();
    const planted = randomBytes(32).toString('base64url');
    const jar = await login(app, planted);
    expect(jar.get(COOKIE)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(jar.get(COOKIE)).not.toBe(planted);
    const me = await request(app)
      .get('/me')
      .set('Cookie', `${COOKIE}=${jar.get(COOKIE)}`);
    expect(me.body.user).toBe('alice');
    expect(me.body.auth).toMatchObject({ method: 'session', factors: ['password'] });
    expect((await request(app).get('/me').set('Cookie', `${COOKIE}=${planted}`)).body.user).toBeNull();
  });

  it('uses SameSite=Strict when asked', async () => {
    const { app } = build({ sameSite: 'Strict' });
    const form = await request(app).get('/csrf');
    const res = await request(app)
      .post('/login')
      .set('Cookie', [...cookiesOf(form)].map(([k, v]) => `${k}=${v}`).join('; '))
      .set('x-csrf-token', form.body.token)
      .send({ user: 'alice' });
    const line = ([] as string[]).concat(res.headers['set-cookie']).find((c) => c.startsWith(COOKIE));
    expect(line).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
  });

  it('expires after the idle time-out and answers tampered cookies with an anonymous session, not a 500', async () => {
    const { app, clock } = build();
    const jar = await login(app);
    const good = jar.get(COOKIE)!;
    for (const bad of [good.slice(1) + 'A', 'zz', '%%%', good + good]) {
      const res = await request(app).get('/me').set('Cookie', `${COOKIE}=${bad}`);
      expect(res.status).toBe(200);
      expect(res.body.user).toBeNull();
    }
    clock.t += 601_000;
    expect((await request(app).get('/me').set('Cookie', `${COOKIE}=${good}`)).body.user).toBeNull();
  });

  it('binds the CSRF token to the session: a token minted before login is refused after it', async () => {
    const { app } = build();
    const form = await request(app).get('/csrf');
    const jar = cookiesOf(form);
    const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const before = form.body.token as string;
    const login = await request(app)
      .post('/login')
      .set('Cookie', header())
      .set('x-csrf-token', before)
      .send({ user: 'alice' });
    expect(login.status).toBe(200);
    for (const [k, v] of cookiesOf(login)) jar.set(k, v);
    // The pre-login token (and its cookie) against the signed-in session.
    const stale = await request(app)
      .post('/login')
      .set('Cookie', header())
      .set('x-csrf-token', before)
      .send({ user: 'alice' });
    expect(stale.status).toBe(403);
    expect(stale.body.code).toBe('EBADCSRFTOKEN');
    const fresh = await request(app).get('/csrf').set('Cookie', header());
    for (const [k, v] of cookiesOf(fresh)) jar.set(k, v);
    const ok = await request(app)
      .post('/login')
      .set('Cookie', header())
      .set('x-csrf-token', fresh.body.token)
      .send({ user: 'alice' });
    expect(ok.status).toBe(200);
  });
});
