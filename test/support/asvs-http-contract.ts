/**
 * The ASVS 5.0 request-path steps (issue 23), as one contract both bundle adapters (Express,
 * Koa) must pass over real HTTP: mass assignment (V15.3.3), CORS (V3.4.2), Fetch Metadata with
 * CSRF (V3.5.3, V3.2.1), private responses (V14.3.1, V14.3.2), general rate limiting (V2.4.1),
 * CSP `base-uri 'none'` (V3.4.3), the CSRF token kept out of URLs (V14.2.1), duplicate parameters
 * (V15.3.7) and the bundle's production preset (V13.3.1). NestJS has its own e2e suite
 * (packages/nestjs/test/asvs-http.e2e.test.ts) with the same attacks.
 */
import { BulwarkConfigError, ErrorCodes, type HttpPrincipal } from '@bulwark/core';
import type { BodyAllowlistOptions, BulwarkHttpKit, RateLimitOptions } from '@bulwark/core/http';
import request from 'supertest';
import { testKit, type TestKit } from './http-test-kit';

export interface AsvsRoute {
  method: 'get' | 'post' | 'put';
  path: string;
  /** Applied as the adapter's `allowFields(fields, options)` before the handler. */
  allowFields?: { fields: readonly string[]; options?: BodyAllowlistOptions };
  /** Applied as the adapter's route-level `rateLimit(options)`. */
  rateLimit?: RateLimitOptions;
  /** Applied as the adapter's `clearSiteData()`. */
  clearSiteData?: boolean;
  handle(req: { body: unknown; principal?: HttpPrincipal; csrfToken?: () => string }): {
    status?: number;
    body?: unknown;
    headers?: Record<string, string>;
  };
}

export interface AsvsDriver {
  name: string;
  /** Builds the adapter's bundle alone (for option errors). */
  bulwark(kit: BulwarkHttpKit, options: Record<string, unknown>): unknown;
  /** A running app: the bundle with `options`, then `routes`; answers on `url`. */
  start(
    kit: BulwarkHttpKit,
    options: Record<string, unknown>,
    routes: AsvsRoute[],
  ): Promise<{ url: string; close(): Promise<void> }>;
}

const PROBLEM = /^application\/problem\+json/;
const APP = 'https://app.example.com';
const PARTNER = 'https://partner.example.org';
const CSRF = { secret: 'a-csrf-secret-of-at-least-32-bytes!!', cookie: { secure: false } };
const PRODUCTION_OFF = { production: false };

const echo: AsvsRoute['handle'] = (req) => ({
  body: { body: req.body ?? null, who: req.principal?.id ?? null },
});

export function asvsHttpContract(driver: AsvsDriver): void {
  let t: TestKit;
  let running: { url: string; close(): Promise<void> } | undefined;

  beforeEach(async () => {
    t = await testKit();
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await t.close();
  });

  async function start(options: Record<string, unknown>, routes: AsvsRoute[]): Promise<string> {
    running = await driver.start(t.kit, { ...PRODUCTION_OFF, ...options }, routes);
    return running.url;
  }

  /** A CSRF token and its cookie, from a page of the app (anonymous binding). */
  async function csrfPair(url: string): Promise<{ token: string; cookie: string }> {
    const res = await request(url).get('/form').expect(200);
    const setCookie = res.headers['set-cookie'] as unknown as string[];
    return { token: (res.body as { token: string }).token, cookie: setCookie[0]!.split(';')[0]! };
  }

  const form: AsvsRoute = {
    method: 'get',
    path: '/form',
    handle: (req) => ({ body: { token: req.csrfToken!() } }),
  };

  describe(`${driver.name}: mass assignment (ASVS V15.3.3)`, () => {
    const routes: AsvsRoute[] = [
      {
        method: 'put',
        path: '/profile',
        allowFields: { fields: ['name', 'address.city', 'tags'] },
        handle: echo,
      },
      {
        method: 'put',
        path: '/profile-strip',
        allowFields: { fields: ['name', 'items.qty'], options: { unknown: 'strip' } },
        handle: echo,
      },
    ];

    it('refuses a body with a field outside the route allowlist (a role escalation), naming the fields', async () => {
      const url = await start({ authenticate: false }, routes);
      const ok = await request(url)
        .put('/profile')
        .send({ name: 'Ann', address: { city: 'Oslo' } })
        .expect(200);
      expect(ok.body.body).toEqual({ name: 'Ann', address: { city: 'Oslo' } });
      const attack = await request(url)
        .put('/profile')
        .send({ name: 'Ann', role: 'admin', address: { city: 'Oslo', owner: 'x' } });
      expect(attack.status).toBe(400);
      expect(attack.headers['content-type']).toMatch(PROBLEM);
      expect(attack.body).toMatchObject({ code: ErrorCodes.HTTP_UNKNOWN_FIELD, status: 400 });
      expect(attack.body.detail).toContain('role');
      expect(attack.body.detail).toContain('address.owner');
      const deep = await request(url)
        .put('/profile')
        .send({ name: 'Ann', address: [[{ city: 'Oslo', owner: 'x' }]] });
      expect(deep.status).toBe(400);
      expect(deep.body.detail).toContain('address[0][0].owner');
      // A body that is not an object has no field list to check against.
      const array = await request(url)
        .put('/profile')
        .send([{ role: 'admin' }]);
      expect(array.status).toBe(400);
      expect(array.body.code).toBe(ErrorCodes.HTTP_MALFORMED_BODY);
    });

    it('strips unknown fields (nested and in arrays) when the route asks for it', async () => {
      const url = await start({ authenticate: false }, routes);
      const res = await request(url)
        .put('/profile-strip')
        .send({ name: 'Ann', isAdmin: true, items: [{ qty: 2, price: 0 }] })
        .expect(200);
      expect(res.body.body).toEqual({ name: 'Ann', items: [{ qty: 2 }] });
      // An array of arrays is walked too: nothing unlisted rides one level deeper.
      const nested = await request(url)
        .put('/profile-strip')
        .send({ name: 'Ann', items: [[{ qty: 1, isAdmin: true }]] })
        .expect(200);
      expect(nested.body.body).toEqual({ name: 'Ann', items: [[{ qty: 1 }]] });
    });
  });

  describe(`${driver.name}: CORS by exact-match allowlist (ASVS V3.4.2)`, () => {
    const cors = {
      origins: [APP],
      credentials: true,
      headers: ['content-type', 'x-csrf-token'],
      maxAge: 300,
    };
    const routes: AsvsRoute[] = [{ method: 'get', path: '/data', handle: echo }];

    it('answers an allowed origin with its own origin, credentials and Vary: Origin; others get no CORS header', async () => {
      const url = await start({ authenticate: false, cors }, routes);
      const allowed = await request(url).get('/data').set('Origin', APP).expect(200);
      expect(allowed.headers['access-control-allow-origin']).toBe(APP);
      expect(allowed.headers['access-control-allow-credentials']).toBe('true');
      expect(allowed.headers.vary).toMatch(/\bOrigin\b/);
      for (const origin of [
        'https://evil.example',
        `${APP}.evil.test`, // suffix trick
        'https://evil-app.example.com',
        `${APP}/`, // not an origin serialisation
        'HTTPS://APP.EXAMPLE.COM',
        'null', // sandboxed iframes and file: pages send this
        `https://${'a'.repeat(5000)}.example`, // oversized
      ]) {
        const res = await request(url).get('/data').set('Origin', origin).expect(200);
        expect({ origin: origin.slice(0, 40), acao: res.headers['access-control-allow-origin'] }).toEqual({
          origin: origin.slice(0, 40),
          acao: undefined,
        });
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
        expect(res.headers.vary).toMatch(/\bOrigin\b/);
      }
    });

    it('answers an allowed preflight 204 and refuses other origins, methods and headers with 403 problem+json', async () => {
      const url = await start({ authenticate: false, cors }, routes);
      const ok = await request(url)
        .options('/data')
        .set('Origin', APP)
        .set('Access-Control-Request-Method', 'PUT')
        .set('Access-Control-Request-Headers', 'Content-Type, X-CSRF-Token')
        .expect(204);
      expect(ok.headers['access-control-allow-origin']).toBe(APP);
      expect(ok.headers['access-control-allow-methods']).toContain('PUT');
      expect(ok.headers['access-control-allow-headers']).toBe('content-type, x-csrf-token');
      expect(ok.headers['access-control-max-age']).toBe('300');
      expect(ok.headers.vary).toMatch(/Origin.*Access-Control-Request-Method/);
      const refusals: Array<Record<string, string>> = [
        { Origin: 'null', 'Access-Control-Request-Method': 'PUT' },
        { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
        { Origin: APP, 'Access-Control-Request-Method': 'TRACE' },
        { Origin: APP, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'x-admin' },
        {
          Origin: APP,
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Headers': 'a,'.repeat(2000),
        },
      ];
      for (const headers of refusals) {
        const res = await request(url).options('/data').set(headers);
        expect(res.status).toBe(403);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe(ErrorCodes.HTTP_CORS_REFUSED);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
      }
    });

    it("refuses '*' with credentials, the null origin, patterns and paths at start-up", () => {
      for (const bad of [
        { origins: '*', credentials: true },
        { origins: ['null'] },
        { origins: ['https://*.example.com'] },
        { origins: ['https://app.example.com/path'] },
        { origins: [] },
      ]) {
        expect(() => driver.bulwark(t.kit, { ...PRODUCTION_OFF, cors: bad })).toThrow(BulwarkConfigError);
      }
    });
  });

  describe(`${driver.name}: Fetch Metadata in front of the CSRF token (ASVS V3.5.3, V3.2.1)`, () => {
    const transfer: AsvsRoute = {
      method: 'post',
      path: '/transfer',
      handle: () => ({ body: { done: true } }),
    };
    const webhook: AsvsRoute = {
      method: 'post',
      path: '/hooks/payment',
      handle: () => ({ body: { hook: true } }),
    };
    const page: AsvsRoute = { method: 'get', path: '/page', handle: () => ({ body: { page: true } }) };
    const options = {
      authenticate: false,
      csrf: CSRF,
      fetchMetadata: { allowCrossSite: ['/hooks/*'] },
      cors: { origins: [PARTNER] },
    };

    it('refuses a cross-site POST even with a valid CSRF token; same-origin needs the token too', async () => {
      const url = await start(options, [form, transfer]);
      const { token, cookie } = await csrfPair(url);
      const crossSite = await request(url)
        .post('/transfer')
        .set('Cookie', cookie)
        .set('x-csrf-token', token)
        .set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty' });
      expect(crossSite.status).toBe(403);
      expect(crossSite.body.code).toBe(ErrorCodes.HTTP_CROSS_SITE_REFUSED);
      const sameOrigin = {
        'Sec-Fetch-Site': 'same-origin',
        'Sec-Fetch-Mode': 'cors',
        'Sec-Fetch-Dest': 'empty',
      };
      const noToken = await request(url).post('/transfer').set('Cookie', cookie).set(sameOrigin);
      expect(noToken.status).toBe(403);
      expect(noToken.body.code).toBe(ErrorCodes.CSRF_INVALID);
      await request(url)
        .post('/transfer')
        .set('Cookie', cookie)
        .set('x-csrf-token', token)
        .set(sameOrigin)
        .expect(200);
      // No Fetch Metadata (an old browser, a server-to-server client): the CSRF token decides.
      await request(url).post('/transfer').set('Cookie', cookie).set('x-csrf-token', token).expect(200);
      expect((await request(url).post('/transfer').set('Cookie', cookie)).status).toBe(403);
    });

    it('lets top-level navigations, allow-listed paths and CORS-trusted origins through; refuses embeds and odd values', async () => {
      const url = await start(options, [form, transfer, webhook, page]);
      const { token, cookie } = await csrfPair(url);
      await request(url)
        .get('/page')
        .set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' })
        .expect(200);
      for (const headers of [
        { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors', 'Sec-Fetch-Dest': 'image' }, // XSSI / leak probe
        { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'embed' },
        { 'Sec-Fetch-Site': 'cross-site, same-origin' }, // repeated header: fail closed
        { 'Sec-Fetch-Site': 'x'.repeat(4000) },
      ]) {
        const res = await request(url).get('/page').set(headers);
        expect(res.status).toBe(403);
        expect(res.body.code).toBe(ErrorCodes.HTTP_CROSS_SITE_REFUSED);
      }
      const crossSite = {
        'Sec-Fetch-Site': 'cross-site',
        'Sec-Fetch-Mode': 'cors',
        'Sec-Fetch-Dest': 'empty',
      };
      await request(url)
        .post('/hooks/payment')
        .set('Cookie', cookie)
        .set('x-csrf-token', token)
        .set(crossSite)
        .expect(200);
      await request(url)
        .post('/transfer')
        .set('Cookie', cookie)
        .set('x-csrf-token', token)
        .set('Origin', PARTNER)
        .set(crossSite)
        .expect(200);
    });
  });

  describe(`${driver.name}: private responses (ASVS V14.3.2, V14.3.1)`, () => {
    const routes: AsvsRoute[] = [
      { method: 'get', path: '/me', handle: echo },
      {
        method: 'get',
        path: '/avatar',
        handle: () => ({ body: {}, headers: { 'Cache-Control': 'private, max-age=60' } }),
      },
      {
        method: 'post',
        path: '/logout',
        clearSiteData: true,
        handle: () => ({ status: 200, body: { bye: true } }),
      },
    ];

    it('marks authenticated responses no-store unless the handler chose its own; logout clears site data', async () => {
      const url = await start({ authenticate: { optional: true } }, routes);
      const token = await t.sign('alice');
      const me = await request(url).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
      expect(me.headers['cache-control']).toBe('no-store');
      const anonymous = await request(url).get('/me').expect(200);
      expect(anonymous.headers['cache-control']).toBeUndefined();
      const avatar = await request(url).get('/avatar').set('Authorization', `Bearer ${token}`).expect(200);
      expect(avatar.headers['cache-control']).toBe('private, max-age=60');
      const logout = await request(url).post('/logout').set('Authorization', `Bearer ${token}`).expect(200);
      expect(logout.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
    });
  });

  describe(`${driver.name}: general rate limiting per user and per IP (ASVS V2.4.1)`, () => {
    const routes: AsvsRoute[] = [
      { method: 'get', path: '/me', handle: echo },
      {
        method: 'post',
        path: '/export',
        rateLimit: { name: 'export', perUser: { limit: 1, windowSec: 60 }, perIp: false },
        handle: () => ({ body: { exported: true } }),
      },
    ];
    const rateLimit = { perUser: { limit: 3, windowSec: 60 }, perIp: { limit: 5, windowSec: 60 } };

    it('advertises the policies, counts per user, then per IP, and answers 429 problem+json with Retry-After', async () => {
      const url = await start({ authenticate: { optional: true }, rateLimit }, routes);
      const alice = `Bearer ${await t.sign('alice')}`;
      const bob = `Bearer ${await t.sign('bob')}`;
      const first = await request(url).get('/me').set('Authorization', alice).expect(200);
      expect(first.headers['ratelimit-policy']).toBe('"api-user";q=3;w=60, "api-ip";q=5;w=60');
      expect(first.headers.ratelimit).toMatch(/^"api-user";r=2;t=\d+$/);
      await request(url).get('/me').set('Authorization', alice).expect(200);
      await request(url).get('/me').set('Authorization', alice).expect(200);
      const limited = await request(url).get('/me').set('Authorization', alice);
      expect(limited.status).toBe(429);
      expect(limited.headers['content-type']).toMatch(PROBLEM);
      expect(limited.body).toMatchObject({ code: ErrorCodes.HTTP_RATE_LIMITED, status: 429 });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers.ratelimit).toMatch(/^"api-user";r=0;t=\d+$/);
      // Another user has a budget of their own, until the address's budget (5) is spent.
      await request(url).get('/me').set('Authorization', bob).expect(200);
      const ipLimited = await request(url).get('/me');
      expect(ipLimited.status).toBe(429);
      expect(ipLimited.headers.ratelimit).toMatch(/^"api-ip";r=0;/);
    });

    it("counts a route's own limit apart from the app-wide one", async () => {
      const url = await start({ authenticate: { optional: true } }, routes);
      const alice = `Bearer ${await t.sign('alice')}`;
      const ok = await request(url).post('/export').set('Authorization', alice).expect(200);
      expect(ok.headers['ratelimit-policy']).toBe('"export-user";q=1;w=60');
      expect((await request(url).post('/export').set('Authorization', alice)).status).toBe(429);
      await request(url)
        .post('/export')
        .set('Authorization', `Bearer ${await t.sign('bob')}`)
        .expect(200);
    });
  });

  describe(`${driver.name}: small ones (ASVS V3.4.3, V14.2.1, V15.3.7, V13.3.1)`, () => {
    it("sends CSP base-uri 'none' by default", async () => {
      const url = await start({ authenticate: false }, [{ method: 'get', path: '/page', handle: echo }]);
      const res = await request(url).get('/page').expect(200);
      expect(res.headers['content-security-policy']).toContain("base-uri 'none'");
    });

    it('does not read the CSRF token from the query string unless allowTokenInQuery is set', async () => {
      const url = await start({ authenticate: false, csrf: CSRF }, [
        form,
        { method: 'post', path: '/transfer', handle: echo },
      ]);
      const { token, cookie } = await csrfPair(url);
      const res = await request(url).post(`/transfer?_csrf=${token}`).set('Cookie', cookie);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe(ErrorCodes.CSRF_INVALID);
    });

    it('refuses duplicate query and form parameters with rejectDuplicateParams (HTTP parameter pollution)', async () => {
      const url = await start({ authenticate: false, inputGuard: { rejectDuplicateParams: true } }, [
        { method: 'get', path: '/search', handle: echo },
        { method: 'post', path: '/search', handle: echo },
      ]);
      const dup = await request(url).get('/search?role=user&role=admin');
      expect(dup.status).toBe(400);
      expect(dup.body.code).toBe(ErrorCodes.HTTP_DUPLICATE_PARAMETER);
      expect(dup.body.detail).toContain('"role"');
      await request(url).get('/search?tag[]=a&tag[]=b&q=x').expect(200);
      const form = await request(url).post('/search').type('form').send('role=user&role=admin');
      expect(form.status).toBe(400);
      expect(form.body.code).toBe(ErrorCodes.HTTP_DUPLICATE_PARAMETER);
    });

    it('refuses demo-grade bundle settings under the production preset, listing each', () => {
      let error: unknown;
      try {
        driver.bulwark(t.kit, { production: true, securityHeaders: false });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(BulwarkConfigError);
      expect((error as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_NOT_PRODUCTION_READY);
      expect((error as BulwarkConfigError).details?.problems).toEqual([
        expect.objectContaining({ path: 'csrf' }),
        expect.objectContaining({ path: 'securityHeaders' }),
      ]);
      expect(() => driver.bulwark(t.kit, { production: true, csrf: false })).not.toThrow();
    });
  });
}
