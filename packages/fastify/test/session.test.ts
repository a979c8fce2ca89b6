import { SessionEngine } from '@bulwark/core';
import Fastify from 'fastify';
import request from 'supertest';
import { bulwark, session } from '../src';
import { listen } from './support';

const COOKIE = '__Host-bulwark.sid';
const CSRF_COOKIE = '__Host-bulwark.csrf';

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

describe('session() with the bundle (Fastify)', () => {
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const engine = new SessionEngine({
      secret: 'a-session-secret-of-at-least-32-bytes',
      idleTimeoutSec: 600,
    });
    const bw = bulwark(
      {},
      {
        csrf: { secret: 'a-csrf-secret-of-at-least-32-bytes!!' },
        production: false,
        problemDetails: { log: () => undefined },
      },
    );
    const app = Fastify();
    app.addHook('onRequest', session(engine));
    await app.register(bw);
    app.get('/me', async (req) => ({
      user: req.principal?.id ?? null,
      method: req.principal?.authentication?.method ?? null,
    }));
    app.get('/csrf', async (req) => ({ token: req.csrfToken!() }));
    app.post('/login', async (req) => {
      await req.bulwarkSession!.login({ id: String((req.body as { user: string }).user) });
      return { ok: true };
    });
    app.post('/transfer', async () => ({ done: true }));
    const srv = await listen(app);
    url = srv.url;
    close = srv.close;
  });
  afterAll(() => close());

  const header = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

  async function signIn(): Promise<{ jar: Map<string, string>; before: string }> {
    const jar = new Map<string, string>();
    const page = await request(url).get('/csrf').expect(200);
    for (const [k, v] of cookiesOf(page)) jar.set(k, v);
    expect(jar.has(CSRF_COOKIE)).toBe(true);
    const before = page.body.token as string;
    const res = await request(url)
      .post('/login')
      .set('Cookie', header(jar))
      .set('csrf-token', before)
      .send({ user: 'alice' });
    expect(res.status).toBe(200);
    for (const [k, v] of cookiesOf(res)) jar.set(k, v);
    expect(jar.get(COOKIE)).toMatch(/^.{20,}$/);
    return { jar, before };
  }

  it('signs in through the session cookie, which authenticates later requests', async () => {
    const { jar } = await signIn();
    const me = await request(url).get('/me').set('Cookie', header(jar)).expect(200);
    expect(me.body).toEqual({ user: 'alice', method: 'session' });
    // A forged session cookie is a fresh anonymous session, never an error.
    const forged = await request(url)
      .get('/me')
      .set('Cookie', `${COOKIE}=${'x'.repeat(43)}`)
      .expect(200);
    expect(forged.body.user).toBeNull();
  });

  it('refuses a CSRF token minted before sign-in (bound to the rotated session) and accepts a fresh one', async () => {
    const { jar, before } = await signIn();
    const stale = await request(url).post('/transfer').set('Cookie', header(jar)).set('csrf-token', before);
    expect(stale.status).toBe(403);
    expect(stale.body.code).toBe('EBADCSRFTOKEN');
    const page = await request(url).get('/csrf').set('Cookie', header(jar)).expect(200);
    for (const [k, v] of cookiesOf(page)) jar.set(k, v);
    await request(url)
      .post('/transfer')
      .set('Cookie', header(jar))
      .set('csrf-token', page.body.token)
      .expect(200);
  });
});
