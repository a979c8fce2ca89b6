/**
 * examples/koa-shop's browser sessions over real HTTP: server-side (Bulwark SessionEngine), a new
 * id at the form login (fixation), logout and revocation end them; with `redisUrl` they live in
 * Redis (what `npm start` does when REDIS_URL is set).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import request from 'supertest';
import { createShopApp, type ShopApp } from '../../examples/koa-shop/src/app';
import { describeWithService, SERVICE_URLS } from '../support/services';

const ALICE = { email: 'alice@shop.example', password: 'alice-demo-password' };
const COOKIE = 'shop.session';

const hiddenCsrf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

/** One browser: the cookies it holds, sent by hand (supertest's agent would hide what is sent). */
class Browser {
  readonly jar = new Map<string, string>();
  constructor(private readonly url: string) {}
  private take(res: request.Response): request.Response {
    for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const pair = line.split(';')[0]!;
      const name = pair.slice(0, pair.indexOf('='));
      if (/Max-Age=0/.test(line)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    return res;
  }
  get cookie(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  async get(route: string): Promise<request.Response> {
    return this.take(await request(this.url).get(route).set('Cookie', this.cookie));
  }
  async form(route: string, fields: Record<string, string>, from: string): Promise<request.Response> {
    const page = await this.get(from);
    const _csrf = hiddenCsrf(page.text);
    return this.take(
      await request(this.url)
        .post(route)
        .set('Cookie', this.cookie)
        .type('form')
        .send({ ...fields, _csrf }),
    );
  }
}

function journeys(
  start: () => Promise<ShopApp>,
  onStore?: (shop: ShopApp, cookie: string) => Promise<void>,
): void {
  let shop: ShopApp;
  beforeAll(async () => {
    shop = await start();
  });
  afterAll(async () => {
    await shop?.close();
  });

  it('form login: a server-side session in an HttpOnly, SameSite=Strict cookie, with a new id (fixation)', async () => {
    const browser = new Browser(shop.url);
    const planted = randomBytes(32).toString('base64url');
    browser.jar.set(COOKIE, planted);
    const res = await browser.form('/login', ALICE, '/login');
    expect(res.status).toBe(303);
    const line = ([] as string[]).concat(res.headers['set-cookie']).find((c) => c.startsWith(`${COOKIE}=`))!;
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(browser.jar.get(COOKIE)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(browser.jar.get(COOKIE)).not.toBe(planted);
    expect((await browser.get('/account')).text).toContain('Hello Alice Shopper');
    // The planted id opens nothing.
    const attacker = await request(shop.url).get('/account').set('Cookie', `${COOKIE}=${planted}`);
    expect(attacker.status).toBe(302);
    await onStore?.(shop, browser.jar.get(COOKIE)!);
  });

  it('logout deletes the session: the old cookie is refused afterwards', async () => {
    const browser = new Browser(shop.url);
    await browser.form('/login', ALICE, '/login');
    const old = browser.jar.get(COOKIE)!;
    expect((await browser.form('/logout', {}, '/account')).status).toBe(303);
    expect(browser.jar.has(COOKIE)).toBe(false);
    const replay = await request(shop.url).get('/account').set('Cookie', `${COOKIE}=${old}`);
    expect(replay.status).toBe(302);
    expect(replay.headers.location).toBe('/login');
  });

  it('revoking all of a customer’s sessions signs every browser out at once', async () => {
    const a = new Browser(shop.url);
    const b = new Browser(shop.url);
    await a.form('/login', ALICE, '/login');
    await b.form('/login', ALICE, '/login');
    const id = (await shop.service.authenticate(ALICE.email, ALICE.password))!.id;
    expect(
      await shop.sessions.engine.revokeAll(id, { by: { id: 'admin' }, reason: 'test' }),
    ).toBeGreaterThanOrEqual(2);
    for (const browser of [a, b]) expect((await browser.get('/account')).status).toBe(302);
  });

  it('PCI DSS 8.2.8 is automated and passes on the live engine and store', async () => {
    const pci = await shop.bulwark.compliance!.report('pci');
    const control = pci.controls.find((c) => c.id === 'pci-8.2.8')!;
    expect(control).toMatchObject({ kind: 'automated', status: 'pass' });
    expect(control.summary).toMatch(/900 s idle/);
  });

  it('a tampered session cookie is an anonymous visitor, never a 500', async () => {
    for (const value of ['x', '%00', 'A'.repeat(43), 'a'.repeat(5000)]) {
      const res = await request(shop.url).get('/api/products').set('Cookie', `${COOKIE}=${value}`);
      expect(res.status).toBe(200);
    }
  });
}

describe('koa-shop sessions in memory (no REDIS_URL)', () => {
  let dir: string;
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  journeys(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-shop-sess-'));
    const shop = await createShopApp({ dataDir: dir, allowInsecureHttp: true });
    expect(shop.sessions.store).toBe('memory');
    return shop;
  });
});

describeWithService('redis', 'koa-shop sessions in Redis (REDIS_URL; needs Redis)', () => {
  const prefix = `bw-test-shop-sess:${randomBytes(4).toString('hex')}:`;
  let dir: string;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(SERVICE_URLS.redis);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await fs.rm(dir, { recursive: true, force: true });
  });
  journeys(
    async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-shop-sess-redis-'));
      const shop = await createShopApp({
        dataDir: dir,
        allowInsecureHttp: true,
        redisUrl: SERVICE_URLS.redis,
        redisKeyPrefix: prefix,
      });
      expect(shop.sessions.store).toBe('redis');
      return shop;
    },
    async (_shop, cookie) => {
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.some((k) => k.startsWith(`${prefix}s:`))).toBe(true);
      // Redis holds the HMAC of the token, never the token or the customer's id in clear.
      const dump =
        JSON.stringify(keys) +
        JSON.stringify(await Promise.all(keys.filter((k) => k.includes(':s:')).map((k) => redis.hgetall(k))));
      expect(dump).not.toContain(cookie);
    },
  );
});
