import { BulwarkConfigError, BulwarkError, ErrorCodes } from '@bulwark/core';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import helmet from 'helmet';
import Koa from 'koa';
import request from 'supertest';
import {
  audit,
  authenticate,
  authorize,
  csrf,
  inputGuard,
  problemDetails,
  requestId,
  requireConsent,
  securityHeaders,
  type BulwarkState,
} from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

const quiet = { log: () => undefined };
const SECRET = 'a-csrf-secret-of-at-least-32-bytes!!';
let t: TestKit;

beforeEach(async () => {
  t = await testKit();
});
afterEach(async () => {
  await t.close();
});

type App = Koa<BulwarkState>;
const server = (app: App) => app.callback();
function newApp(): App {
  const app = new Koa<BulwarkState>();
  app.silent = true;
  app.use(problemDetails(quiet));
  return app;
}

describe('problemDetails', () => {
  it('answers Bulwark errors with their 4xx status, unknown errors with a 500 that leaks nothing, and 404 as problem+json', async () => {
    const app = newApp();
    app.use(requestId());
    const router = new Router();
    router.get('/denied', () => {
      throw new BulwarkError(ErrorCodes.POLICY_DENIED, 'denied by rule secret-rule-7', {
        reasonId: 'outside_hours',
        ruleId: 'secret-rule-7',
      });
    });
    router.get('/boom', () => {
      throw new Error('database password is hunter2 at /srv/db');
    });
    app.use(router.routes());
    const denied = await request(server(app)).get('/denied').set('X-Request-Id', 'req-123');
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(denied.body).toMatchObject({
      type: 'https://bulwark.dev/problems/policy-denied',
      reasonId: 'outside_hours',
      requestId: denied.headers['x-request-id'],
    });
    expect(JSON.stringify(denied.body)).not.toContain('secret-rule-7');
    const boom = await request(server(app)).get('/boom');
    expect(boom.status).toBe(500);
    expect(JSON.stringify(boom.body)).not.toMatch(/hunter2|\/srv|stack/);
    const missing = await request(server(app)).get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('maps @koa/bodyparser errors (malformed JSON) to 400 without quoting the body', async () => {
    const app = newApp();
    app.use(bodyParser());
    app.use((ctx) => {
      ctx.body = { ok: true };
    });
    const res = await request(server(app))
      .post('/x')
      .set('Content-Type', 'application/json')
      .send('{"email":"alice@example.com",');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(res.body)).not.toContain('alice@example.com');
  });
});

describe('securityHeaders', () => {
  it('sets the same strict headers as the Express adapter (helmet itself, on ctx.req/ctx.res)', async () => {
    const app = newApp();
    const mw = securityHeaders();
    app.use(mw);
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const res = await request(server(app)).get('/');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    for (const [name, value] of Object.entries(mw.headers)) expect(res.headers[name]).toBe(value);
  });

  it('matches helmet for an override and rejects bad options at start-up', async () => {
    const mw = securityHeaders({ contentSecurityPolicy: false });
    expect(mw.headers['content-security-policy']).toBeUndefined();
    const stub: Record<string, string> = {};
    helmet({ contentSecurityPolicy: false })(
      {} as never,
      { setHeader: (n: string, v: string) => (stub[n.toLowerCase()] = v), removeHeader: () => {} } as never,
      () => {},
    );
    expect(stub['x-content-type-options']).toBe(mw.headers['x-content-type-options']);
    expect(() => securityHeaders({ notAHeader: true })).toThrow(BulwarkConfigError);
  });
});

describe('csrf', () => {
  function app(options: Parameters<typeof csrf>[0] = { secret: SECRET }) {
    const a = newApp();
    a.use(bodyParser());
    a.use(csrf(options));
    const router = new Router<BulwarkState>();
    router.get('/form', (ctx) => {
      ctx.body = { token: ctx.state.csrfToken!() };
    });
    router.post('/transfer', (ctx) => {
      ctx.body = { ok: true };
    });
    a.use(router.routes());
    return a;
  }

  async function tokenAndCookie(a: App) {
    const res = await request(server(a)).get('/form');
    const setCookie = res.headers['set-cookie'] as unknown as string[];
    expect(setCookie[0]).toMatch(/^__Host-bulwark\.csrf=.+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    return { token: res.body.token as string, cookie: setCookie[0]!.split(';')[0]! };
  }

  it('ctx.state.csrfToken mints once per request, also called unbound (as templates do)', async () => {
    const a = newApp();
    a.use(csrf({ secret: SECRET }));
    a.use((ctx) => {
      const mint = ctx.state.csrfToken!;
      ctx.body = { first: mint(), second: ctx.state.csrfToken!() };
    });
    const res = await request(server(a)).get('/form').expect(200);
    expect(res.body.first).toEqual(expect.any(String));
    expect(res.body.second).toBe(res.body.first);
    expect(res.headers['set-cookie'] as unknown as string[]).toHaveLength(1);
    // Each request its own token holder: a second request mints again (a new cookie).
    const again = await request(server(a)).get('/form').expect(200);
    expect(again.headers['set-cookie'] as unknown as string[]).toHaveLength(1);
  });

  it('accepts the token from each csurf location (the query only on opt-in)', async () => {
    const a = app();
    const { token, cookie } = await tokenAndCookie(a);
    for (const header of ['csrf-token', 'xsrf-token', 'x-csrf-token', 'x-xsrf-token']) {
      await request(server(a)).post('/transfer').set('Cookie', cookie).set(header, token).expect(200);
    }
    await request(server(a))
      .post('/transfer')
      .set('Cookie', cookie)
      .type('form')
      .send({ _csrf: token })
      .expect(200);
    // ASVS V14.2.1: a token in the URL leaks through logs and Referer, so the query is read only on opt-in.
    await request(server(a)).post(`/transfer?_csrf=${token}`).set('Cookie', cookie).expect(403);
    const legacy = app({ secret: SECRET, allowTokenInQuery: true });
    const fromLegacy = await tokenAndCookie(legacy);
    await request(server(legacy))
      .post(`/transfer?_csrf=${fromLegacy.token}`)
      .set('Cookie', fromLegacy.cookie)
      .expect(200);
  });

  it('refuses missing, forged and foreign-session tokens with EBADCSRFTOKEN as problem+json', async () => {
    const a = app();
    const { cookie } = await tokenAndCookie(a);
    const missing = await request(server(a)).post('/transfer').set('Cookie', cookie);
    expect(missing.status).toBe(403);
    expect(missing.body).toMatchObject({
      code: 'EBADCSRFTOKEN',
      type: 'https://bulwark.dev/problems/bad-csrf-token',
    });
    const forged = `${'A'.repeat(24)}.${'B'.repeat(43)}`;
    await request(server(a))
      .post('/transfer')
      .set('Cookie', `__Host-bulwark.csrf=${forged}`)
      .set('csrf-token', forged)
      .expect(403);
    const bound = app({ secret: SECRET, binding: (ctx) => String(ctx.get('x-session')) });
    const theirs = await request(server(bound)).get('/form').set('x-session', 'attacker');
    const theirCookie = (theirs.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    await request(server(bound))
      .post('/transfer')
      .set('x-session', 'victim')
      .set('Cookie', theirCookie)
      .set('csrf-token', theirs.body.token)
      .expect(403);
    await request(server(bound))
      .post('/transfer')
      .set('x-session', 'attacker')
      .set('Cookie', theirCookie)
      .set('csrf-token', theirs.body.token)
      .expect(200);
  });

  it('rejects weak secrets at start-up', () => {
    expect(() => csrf({ secret: 'short' })).toThrow(BulwarkConfigError);
  });
});

describe('authenticate and authorize', () => {
  function app(optional = false) {
    const a = newApp();
    a.use(authenticate({ tokens: t.tokens, optional }));
    const router = new Router<BulwarkState>();
    router.get('/me', (ctx) => {
      ctx.body = { id: ctx.state.principal?.id ?? null };
    });
    router.get(
      '/docs/:id',
      authorize('read', (ctx) => ({ type: 'docs', id: String(ctx.params.id) }), {
        authorizer: t.kit.authorizer,
      }),
      (ctx) => {
        ctx.body = { ok: true };
      },
    );
    router.post('/docs', authorize('write', 'docs', { authorizer: t.kit.authorizer }), (ctx) => {
      ctx.body = { ok: true };
    });
    a.use(router.routes());
    return a;
  }

  it('answers 403 with only the reason id, and 400 for path tricks in the resource id', async () => {
    const reader = `Bearer ${await t.sign('alice', ['reader'])}`;
    await request(server(app())).get('/docs/42').set('Authorization', reader).expect(200);
    const denied = await request(server(app())).post('/docs').set('Authorization', reader);
    expect(denied.status).toBe(403);
    expect(denied.body.reasonId).toBe('default_deny');
    expect(JSON.stringify(denied.body)).not.toMatch(/write-docs|ruleId|policyId/);
    for (const id of ['..%2f..%2fadmin', '%2e%2e', 'a%5c..%5cb']) {
      const res = await request(server(app())).get(`/docs/${id}`).set('Authorization', reader);
      expect(res.status).toBe(400);
    }
  });
});

describe('audit', () => {
  it('writes one event per request with actor, route, resource, outcome and request id', async () => {
    const a = newApp();
    const mw = audit({ log: t.auditLog });
    a.use(requestId())
      .use(mw)
      .use(authenticate({ tokens: t.tokens, optional: true }));
    const router = new Router<BulwarkState>();
    router.get(
      '/docs/:id',
      authorize('read', (ctx) => ({ type: 'docs', id: String(ctx.params.id) }), {
        authorizer: t.kit.authorizer,
      }),
      (ctx) => {
        ctx.body = {};
      },
    );
    a.use(router.routes());
    await request(server(a))
      .get('/docs/7')
      .set('Authorization', `Bearer ${await t.sign('alice')}`)
      .set('X-Request-Id', 'r-1')
      .expect(200);
    await request(server(a)).get('/docs/7').expect(401);
    await request(server(a)).get('/docs/7').set('Authorization', `Bearer ${t.attacks.forged}`).expect(401);
    await mw.close();
    const entries = await t.entries();
    expect(entries).toHaveLength(3);
    // The response says only "invalid token"; the audit trail keeps which check failed.
    expect(entries[2]).toMatchObject({
      outcome: 'denied',
      details: { status: 401, errorCode: ErrorCodes.TOKEN_SIGNATURE_INVALID },
    });
    expect(entries[0]).toMatchObject({
      actor: { id: 'alice', type: 'user' },
      resource: { type: 'docs', id: '7' },
      outcome: 'success',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      details: { route: '/docs/:id', status: 200, clientRequestId: 'r-1' },
    });
    expect(entries[1]).toMatchObject({
      outcome: 'denied',
      details: { status: 401, errorCode: 'ERR_HTTP_AUTH_REQUIRED' },
    });
  });

  it('does not hold the response while the audit store is stalled', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const appended: unknown[] = [];
    const mw = audit({ log: { append: (e) => gate.then(() => appended.push(e)), flush: () => gate } });
    const a = newApp()
      .use(mw)
      .use((ctx) => {
        ctx.body = 'ok';
      });
    await request(server(a)).get('/').expect(200);
    expect(appended).toHaveLength(0);
    release();
    await mw.close();
    expect(appended).toHaveLength(1);
  });
});

describe('requireConsent', () => {
  it('rejects an unknown purpose at start-up', () => {
    expect(() => requireConsent('no-such-purpose', { consent: t.consent })).toThrow(BulwarkConfigError);
  });
});

describe('inputGuard', () => {
  function app() {
    const a = newApp();
    a.use(inputGuard({ maxBodyBytes: 1024, maxDepth: 5 }));
    a.use(bodyParser()); // sees the body as already parsed
    a.use((ctx) => {
      ctx.body = { body: (ctx.request as { body?: unknown }).body ?? null };
    });
    return a;
  }

  it('parses JSON bodies within the limits', async () => {
    expect(
      (
        await request(server(app()))
          .post('/x')
          .send({ a: { b: 1 } })
      ).body,
    ).toEqual({ body: { a: { b: 1 } } });
  });
});
