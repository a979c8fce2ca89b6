import type { BearerRevocationCheck } from '@bulwark/core/http';
import request from 'supertest';
import { testKit, type TestKit } from './http-test-kit';

/**
 * The bundle's fast paths for requests that need less work (issue 21) must not weaken it: the CSRF
 * step skips building its check only for exempt methods (and still issues tokens on them), the
 * input guard answers a request without a body synchronously but still reads and checks a GET
 * that carries one, and the path check's shortcut for plain paths refuses what the full check does.
 * Shared by the Express and Koa suites, over real HTTP.
 */
export interface HotPathServer {
  /** A Node request listener (supertest starts and stops it per request). */
  readonly handler: Parameters<typeof request>[0];
}

export interface HotPathDriver {
  name: string;
  /**
   * The full bundle (`bulwark(kit, options)`) with ONE route on every method: `/hello`, behind
   * `authorize('read', 'hello')`, answering 200 JSON `{ token: <the request's csrfToken()>, body: <parsed body or null> }`.
   */
  start(
    kit: TestKit['kit'] & { revocation?: BearerRevocationCheck },
    options: Record<string, unknown>,
  ): HotPathServer;
}

const CSRF_SECRET = 'a-csrf-secret-of-at-least-32-bytes!!';
const TOKEN_RE = /^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{43}$/;

export function hotPathScenarios(driver: HotPathDriver): void {
  describe(`${driver.name}: the bundle's fast paths keep every check`, () => {
    let t: TestKit;
    let bearer: string;
    beforeEach(async () => {
      t = await testKit();
      bearer = `Bearer ${await t.sign('alice')}`;
    });
    afterEach(async () => {
      await t.close();
    });

    const start = (csrf: Record<string, unknown> = {}) =>
      driver.start(t.kit, {
        csrf: { secret: CSRF_SECRET, ...csrf },
        authenticate: { cacheTtlSec: 0 },
        problemDetails: { log: () => undefined },
      }).handler;

    it('a GET is not CSRF-checked yet still gets a token; unsafe methods need it', async () => {
      const app = start();
      const got = await request(app).get('/hello').set('Authorization', bearer).expect(200);
      expect(got.body.token).toMatch(TOKEN_RE);
      const setCookie = ([] as string[]).concat(got.headers['set-cookie'] ?? []);
      const cookie = setCookie.find((c) => c.startsWith('__Host-bulwark.csrf='));
      expect(cookie).toBeDefined();
      const pair = cookie!.split(';')[0]!;
      await request(app).head('/hello').set('Authorization', bearer).expect(200);

      for (const method of ['post', 'put', 'patch', 'delete'] as const) {
        const refused = await request(app)[method]('/hello').set('Authorization', bearer);
        expect(refused.status).toBe(403);
        expect(refused.body).toMatchObject({ code: 'EBADCSRFTOKEN' });
        // A cookie without the echoed token, and a token from another binding, are refused too.
        await request(app)[method]('/hello').set('Authorization', bearer).set('Cookie', pair).expect(403);
      }
      await request(app)
        .post('/hello')
        .set('Authorization', bearer)
        .set('Cookie', pair)
        .set('csrf-token', got.body.token)
        .expect(200);
      const bob = `Bearer ${await t.sign('bob')}`;
      await request(app)
        .post('/hello')
        .set('Authorization', bob)
        .set('Cookie', pair)
        .set('csrf-token', got.body.token)
        .expect(403);
    });

    it('ignoreMethods decides what is exempt: a GET outside the list is checked', async () => {
      const app = start({ ignoreMethods: ['HEAD', 'OPTIONS'] });
      const refused = await request(app).get('/hello').set('Authorization', bearer);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ code: 'EBADCSRFTOKEN' });
    });

    it('a GET that carries a body has it read and checked; one without a body passes', async () => {
      const app = start();
      const polluted = await request(app)
        .get('/hello')
        .set('Authorization', bearer)
        .set('Content-Type', 'application/json')
        .send('{"__proto__":{"admin":true}}');
      expect(polluted.status).toBe(400);
      expect(polluted.body).toMatchObject({ code: 'ERR_HTTP_INPUT_FORBIDDEN_KEY' });
      const withBody = await request(app)
        .get('/hello')
        .set('Authorization', bearer)
        .set('Content-Type', 'application/json')
        .send('{"a":1}')
        .expect(200);
      expect(withBody.body.body).toEqual({ a: 1 });
      const plain = await request(app).get('/hello').set('Authorization', bearer).expect(200);
      expect(plain.body.body).toBeNull();
    });

    it('a plainly valid token is answered without awaiting verify(); every refused token still is a 401', async () => {
      const app = start();
      const verify = jest.spyOn(t.tokens, 'verify');
      const sync = jest.spyOn(t.tokens, 'tryVerifySync');
      try {
        await request(app).get('/hello').set('Authorization', bearer).expect(200);
        await request(app).get('/hello').set('Authorization', bearer).expect(200);
        expect(sync).toHaveBeenCalledTimes(2); // the token cache is off: checked on each request
        expect(verify).not.toHaveBeenCalled();
        for (const attack of Object.values(t.attacks)) {
          const res = await request(app).get('/hello').set('Authorization', `Bearer ${attack}`);
          expect(res.status).toBe(401);
        }
        // Each attack (alg none, expired, forged, another issuer) went on to verify(), which refused it.
        expect(verify).toHaveBeenCalledTimes(Object.keys(t.attacks).length);
      } finally {
        verify.mockRestore();
        sync.mockRestore();
      }
    });

    it('with a revocation check configured, every token is awaited through verify() and the check', async () => {
      const check = jest.fn(async () => undefined);
      const app = driver.start(
        { ...t.kit, revocation: { check } },
        {
          csrf: { secret: CSRF_SECRET },
          authenticate: { cacheTtlSec: 0 },
          problemDetails: { log: () => undefined },
        },
      ).handler;
      const verify = jest.spyOn(t.tokens, 'verify');
      const sync = jest.spyOn(t.tokens, 'tryVerifySync');
      try {
        await request(app).get('/hello').set('Authorization', bearer).expect(200);
        expect(sync).not.toHaveBeenCalled();
        expect(verify).toHaveBeenCalledTimes(1);
        expect(check).toHaveBeenCalledTimes(1);
      } finally {
        verify.mockRestore();
        sync.mockRestore();
      }
    });

    it('authorize decides alike with a synchronous, an async and a thenable authorizer', async () => {
      // PolicyEngine answers synchronously and is decided without a promise; the others are awaited.
      const engine = t.kit.authorizer;
      type Check = typeof engine.check;
      const variants: Record<string, { check: (...args: Parameters<Check>) => unknown }> = {
        sync: engine,
        async: { check: async (...args) => engine.check(...args) },
        thenable: {
          check: (...args) => ({ then: (ok: (d: unknown) => void) => ok(engine.check(...args)) }),
        },
        throws: {
          check: () => {
            throw new Error('authorizer down');
          },
        },
        rejects: { check: async () => Promise.reject(new Error('authorizer down')) },
      };
      const carol = `Bearer ${await t.sign('carol', [])}`;
      const seen: Record<string, unknown> = {};
      for (const [name, authorizer] of Object.entries(variants)) {
        const app = driver.start(
          { ...t.kit, authorizer: authorizer as typeof engine },
          {
            csrf: { secret: CSRF_SECRET },
            authenticate: { cacheTtlSec: 0 },
            problemDetails: { log: () => undefined },
          },
        ).handler;
        const strip = (res: request.Response) => ({
          status: res.status,
          body: { ...res.body, requestId: undefined, token: undefined },
        });
        seen[name] = [
          strip(await request(app).get('/hello').set('Authorization', bearer)),
          strip(await request(app).get('/hello').set('Authorization', carol)),
          strip(await request(app).get('/hello')),
        ];
      }
      expect(seen.async).toEqual(seen.sync);
      expect(seen.thenable).toEqual(seen.sync);
      expect(seen.rejects).toEqual(seen.throws);
      const [allowed, denied, anonymous] = seen.sync as { status: number; body: Record<string, unknown> }[];
      expect(allowed!.status).toBe(200);
      expect(denied).toMatchObject({ status: 403, body: { code: 'ERR_POLICY_DENIED' } });
      expect(anonymous!.status).toBe(401);
      expect((seen.throws as { status: number }[]).map((r) => r.status)).toEqual([500, 500, 401]);
      // Each denial's audit event carries the decision's reason id and the resource, whichever path.
      const denials = (await t.entries()).filter((e) => e.outcome === 'denied' && e.actor?.id === 'carol');
      expect(denials).toHaveLength(3);
      for (const e of denials) {
        expect(e.details).toMatchObject({ reasonId: expect.any(String) });
        expect(e.resource).toEqual({ type: 'hello' });
      }
    });

    it('the plain-path shortcut refuses what the full path check refuses', async () => {
      const app = start();
      for (const [path, code] of [
        ['/a/%2e%2e/hello', 'ERR_HTTP_PATH_TRAVERSAL'],
        ['/a/%2E%2E%2Fhello', 'ERR_HTTP_PATH_TRAVERSAL'],
        ['/hello/%00', 'ERR_HTTP_INPUT_NUL_BYTE'],
        ['/a/%5C/hello', 'ERR_HTTP_PATH_TRAVERSAL'],
      ]) {
        const res = await request(app).get(path!).set('Authorization', bearer);
        expect([path, res.status, res.body.code]).toEqual([path, 400, code]);
      }
      // Dots inside a name are not traversal: a 404 from the router, not a 400 from the guard.
      const dotted = await request(app).get('/hello/.well-known.json').set('Authorization', bearer);
      expect(dotted.status).toBe(404);
    });
  });
}
