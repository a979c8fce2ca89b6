import { BulwarkConfigError, BulwarkError, ErrorCodes } from '@bulwark/core';
import express, { type Express } from 'express';
import helmet from 'helmet';
import request from 'supertest';
import {
  audit,
  authenticate,
  authorize,
  csrf,
  inputGuard,
  notFound,
  problemDetails,
  requestId,
  requireConsent,
  securityHeaders,
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

function withErrors(app: Express): Express {
  app.use(problemDetails(quiet));
  return app;
}

describe('notFound', () => {
  it('answers unmatched URLs with a 404 problem+json carrying the request id, not an HTML page', async () => {
    const app = express();
    app.use(requestId());
    app.get('/known', (_req, res) => {
      res.json({ ok: true });
    });
    app.use(notFound(quiet));
    withErrors(app);
    expect((await request(app).get('/known')).status).toBe(200);
    const res = await request(app).get('/nope/../etc').set('X-Request-Id', 'req-404');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    // The client's X-Request-Id is never adopted: the answer carries the server's own id.
    expect(res.body).toMatchObject({ status: 404, requestId: res.headers['x-request-id'] });
    expect(res.body.requestId).not.toBe('req-404');
    expect(res.text).not.toMatch(/<html|Cannot GET/i);
  });
});

describe('problemDetails', () => {
  it('answers Bulwark errors with their 4xx status and unknown errors with a 500 that leaks nothing', async () => {
    const app = express();
    app.use(requestId());
    app.get('/denied', () => {
      throw new BulwarkError(ErrorCodes.POLICY_DENIED, 'denied by rule secret-rule-7', {
        reasonId: 'outside_hours',
        ruleId: 'secret-rule-7',
      });
    });
    app.get('/boom', () => {
      throw new Error('database password is hunter2 at /srv/db');
    });
    app.get('/config', () => {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'keys.masterKey at /etc/secret is unreadable');
    });
    withErrors(app);

    const denied = await request(app).get('/denied').set('X-Request-Id', 'req-123');
    expect(denied.status).toBe(403);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(denied.body).toMatchObject({
      type: 'https://bulwark.dev/problems/policy-denied',
      status: 403,
      reasonId: 'outside_hours',
      requestId: denied.headers['x-request-id'],
    });
    expect(JSON.stringify(denied.body)).not.toContain('secret-rule-7');

    for (const path of ['/boom', '/config']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const text = JSON.stringify(res.body);
      expect(text).not.toMatch(/hunter2|\/srv|\/etc|masterKey|stack/);
      expect(res.body.detail).toBe('The server could not complete the request.');
    }
  });

  it('maps body-parser errors (malformed JSON) to 400 without quoting the body', async () => {
    const app = express();
    app.use(express.json());
    app.post('/x', (_req, res) => res.json({ ok: true }));
    withErrors(app);
    const res = await request(app)
      .post('/x')
      .set('Content-Type', 'application/json')
      .send('{"email":"alice@example.com",');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(res.body)).not.toContain('alice@example.com');
  });
});

describe('securityHeaders', () => {
  it('sets strict defaults: CSP frame-ancestors none, HSTS, nosniff, no-referrer, COOP/CORP, no X-Powered-By', async () => {
    const app = express();
    app.use(securityHeaders());
    app.get('/', (_req, res) => res.send('ok'));
    const res = await request(app).get('/');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('sends exactly what helmet sends with the same options, and exposes them as evidence', async () => {
    const mw = securityHeaders({ referrerPolicy: { policy: 'same-origin' } });
    const ours = express()
      .use(mw)
      .get('/', (_req, res) => res.send('ok'));
    const res = await request(ours).get('/');
    expect(res.headers['referrer-policy']).toBe('same-origin');
    expect(mw.headers['referrer-policy']).toBe('same-origin');
    expect(mw.headers['content-security-policy']).toBe(res.headers['content-security-policy']);
    const plain = express()
      .use(helmet())
      .get('/', (_req, r) => r.send('ok'));
    const theirs = await request(plain).get('/');
    expect(theirs.headers['x-content-type-options']).toBe(res.headers['x-content-type-options']);
  });

  it('rejects bad options at start-up', () => {
    expect(() => securityHeaders({ notAHeader: true })).toThrow(BulwarkConfigError);
    expect(() =>
      securityHeaders({ contentSecurityPolicy: { directives: { 'default-src': ['https:; script-src *'] } } }),
    ).toThrow(BulwarkConfigError);
  });
});

describe('csrf (csurf-compatible signed double submit)', () => {
  function app(options: Parameters<typeof csrf>[0] = { secret: SECRET }) {
    const a = express();
    a.use(express.urlencoded({ extended: false }));
    a.use(csrf(options));
    a.get('/form', (req, res) => res.json({ token: req.csrfToken!() }));
    a.post('/transfer', (_req, res) => res.json({ ok: true }));
    // a csurf-era error handler keeps working: it branches on err.code
    a.use(
      (err: { code?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
        if (err.code === 'EBADCSRFTOKEN') return res.status(403).json({ csurf: 'form tampered with' });
        next(err);
      },
    );
    return a;
  }

  async function tokenAndCookie(a: Express) {
    const res = await request(a).get('/form');
    const setCookie = res.headers['set-cookie'] as unknown as string[];
    expect(setCookie[0]).toMatch(/^__Host-bulwark\.csrf=.+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    return { token: res.body.token as string, cookie: setCookie[0]!.split(';')[0]! };
  }

  it('req.csrfToken mints once per request, also called unbound (res.locals.csrfToken = req.csrfToken)', async () => {
    const a = express();
    a.use(csrf({ secret: SECRET }));
    a.get('/form', (req, res) => {
      res.locals.csrfToken = req.csrfToken;
      const mint = res.locals.csrfToken as () => string;
      res.json({ first: mint(), second: req.csrfToken!() });
    });
    const res = await request(a).get('/form').expect(200);
    expect(res.body.first).toEqual(expect.any(String));
    expect(res.body.second).toBe(res.body.first);
    expect(res.headers['set-cookie'] as unknown as string[]).toHaveLength(1);
  });

  it('passes safe methods and accepts the token from each csurf location (the query only on opt-in)', async () => {
    const a = app();
    const { token, cookie } = await tokenAndCookie(a);
    for (const header of ['csrf-token', 'xsrf-token', 'x-csrf-token', 'x-xsrf-token']) {
      await request(a).post('/transfer').set('Cookie', cookie).set(header, token).expect(200);
    }
    await request(a).post('/transfer').set('Cookie', cookie).type('form').send({ _csrf: token }).expect(200);
    // ASVS V14.2.1: a token in the URL leaks through logs and Referer, so the query is read only on opt-in.
    await request(a).post(`/transfer?_csrf=${token}`).set('Cookie', cookie).expect(403);
    const legacy = app({ secret: SECRET, allowTokenInQuery: true });
    const fromLegacy = await tokenAndCookie(legacy);
    await request(legacy)
      .post(`/transfer?_csrf=${fromLegacy.token}`)
      .set('Cookie', fromLegacy.cookie)
      .expect(200);
  });

  it('refuses missing, forged, mismatched and foreign-session tokens with EBADCSRFTOKEN', async () => {
    const a = app();
    const { token, cookie } = await tokenAndCookie(a);
    const missing = await request(a).post('/transfer').set('Cookie', cookie);
    expect(missing.status).toBe(403);
    expect(missing.body).toEqual({ csurf: 'form tampered with' });
    const forged = `${'A'.repeat(24)}.${'B'.repeat(43)}`;
    await request(a)
      .post('/transfer')
      .set('Cookie', `__Host-bulwark.csrf=${forged}`)
      .set('csrf-token', forged)
      .expect(403);
    await request(a).post('/transfer').set('Cookie', cookie).set('csrf-token', forged).expect(403);
    // A token minted for another session (e.g. planted through a sibling subdomain) does not verify here.
    const bound = app({ secret: SECRET, binding: (req) => String(req.headers['x-session']) });
    const theirs = await request(bound).get('/form').set('x-session', 'attacker');
    const theirCookie = (theirs.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    await request(bound)
      .post('/transfer')
      .set('x-session', 'victim')
      .set('Cookie', theirCookie)
      .set('csrf-token', theirs.body.token)
      .expect(403);
    await request(bound)
      .post('/transfer')
      .set('x-session', 'attacker')
      .set('Cookie', theirCookie)
      .set('csrf-token', theirs.body.token)
      .expect(200);
    expect(token).not.toBe(theirs.body.token);
  });

  it('answers problem+json 403 through problemDetails and accepts tokens of a rotated-out secret', async () => {
    const old = app({ secret: SECRET });
    const { token, cookie } = await tokenAndCookie(old);
    const rotated = express();
    rotated.use(csrf({ secret: 'a-brand-new-csrf-secret-32-bytes-long!', previousSecrets: [SECRET] }));
    rotated.post('/transfer', (_req, res) => res.json({ ok: true }));
    withErrors(rotated);
    await request(rotated).post('/transfer').set('Cookie', cookie).set('csrf-token', token).expect(200);
    const res = await request(rotated).post('/transfer');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      code: 'EBADCSRFTOKEN',
      type: 'https://bulwark.dev/problems/bad-csrf-token',
    });
  });

  it('rejects weak secrets and insecure __Host- cookies at start-up', () => {
    expect(() => csrf({ secret: 'short' })).toThrow(BulwarkConfigError);
    expect(() => csrf({ secret: SECRET, cookie: { name: '__Host-x', secure: false } })).toThrow(
      BulwarkConfigError,
    );
  });
});

describe('authorize', () => {
  function app() {
    const a = express();
    a.use(authenticate({ tokens: t.tokens, optional: true }));
    a.get(
      '/docs/:id',
      authorize('read', (req) => ({ type: 'docs', id: String(req.params.id) }), {
        authorizer: t.kit.authorizer,
      }),
      (_req, res) => res.json({ ok: true }),
    );
    a.post('/docs', authorize('write', 'docs', { authorizer: t.kit.authorizer }), (_req, res) =>
      res.json({ ok: true }),
    );
    return withErrors(a);
  }

  it('allows what the policy allows and answers 403 with only the reason id otherwise', async () => {
    const reader = `Bearer ${await t.sign('alice', ['reader'])}`;
    await request(app()).get('/docs/42').set('Authorization', reader).expect(200);
    const denied = await request(app()).post('/docs').set('Authorization', reader);
    expect(denied.status).toBe(403);
    expect(denied.body.reasonId).toBe('default_deny');
    expect(JSON.stringify(denied.body)).not.toMatch(/write-docs|read-docs|policyId|ruleId/);
    await request(app())
      .post('/docs')
      .set('Authorization', `Bearer ${await t.sign('bob', ['editor'])}`)
      .expect(200);
  });

  it('answers 401 without a principal and 400 for path tricks in the resource id', async () => {
    await request(app()).get('/docs/42').expect(401);
    const reader = `Bearer ${await t.sign('alice', ['reader'])}`;
    for (const id of ['..%2f..%2fadmin', '%2e%2e', 'a%5c..%5cb', 'x%00y']) {
      const res = await request(app()).get(`/docs/${id}`).set('Authorization', reader);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('validates its arguments at start-up', () => {
    expect(() => authorize('', 'docs')).toThrow(BulwarkConfigError);
    expect(() => authorize('read', 'docs', { authorizer: {} as never })).toThrow(BulwarkConfigError);
  });
});

describe('audit', () => {
  it('writes one event per request with actor, route, resource, outcome, latency and request id', async () => {
    const a = express();
    const mw = audit({ log: t.auditLog });
    a.use(requestId(), mw, authenticate({ tokens: t.tokens, optional: true }));
    a.get(
      '/docs/:id',
      authorize('read', (req) => ({ type: 'docs', id: String(req.params.id) }), {
        authorizer: t.kit.authorizer,
      }),
      (_req, res) => res.json({}),
    );
    a.get('/fail', () => {
      throw new Error('x');
    });
    withErrors(a);
    await request(a)
      .get('/docs/7')
      .set('Authorization', `Bearer ${await t.sign('alice')}`)
      .set('X-Request-Id', 'r-1')
      .expect(200);
    await request(a).get('/docs/7').expect(401);
    await request(a).get('/fail').expect(500);
    const wrongIssuer = await request(a)
      .get('/docs/7')
      .set('Authorization', `Bearer ${t.attacks.otherIssuer}`)
      .expect(401);
    expect(wrongIssuer.body.code).toBe(ErrorCodes.TOKEN_INVALID);
    await mw.close();
    const entries = await t.entries();
    expect(entries).toHaveLength(4);
    // The response says only "invalid token"; the audit trail keeps which check failed.
    expect(entries[3]).toMatchObject({
      outcome: 'denied',
      details: { status: 401, errorCode: ErrorCodes.TOKEN_CLAIM_INVALID, errorReason: 'iss.check_failed' },
    });
    expect(entries[0]).toMatchObject({
      actor: { id: 'alice', type: 'user' },
      action: 'http.get',
      resource: { type: 'docs', id: '7' },
      outcome: 'success',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      category: 'http',
      details: { route: '/docs/:id', status: 200, reasonId: 'rule_allow', clientRequestId: 'r-1' },
    });
    expect(typeof entries[0]!.details!.latencyMs).toBe('number');
    expect(entries[1]).toMatchObject({
      actor: { id: 'anonymous', type: 'anonymous' },
      outcome: 'denied',
      details: { status: 401, errorCode: 'ERR_HTTP_AUTH_REQUIRED' },
    });
    expect(entries[2]).toMatchObject({ outcome: 'failure', details: { status: 500 } });
  });

  it('does not hold the response while the audit store is stalled', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const appended: unknown[] = [];
    const stalled = { append: (e: unknown) => gate.then(() => appended.push(e)), flush: () => gate };
    const mw = audit({ log: stalled });
    const a = express()
      .use(mw)
      .get('/', (_req, res) => res.send('ok'));
    await request(a).get('/').expect(200);
    expect(appended).toHaveLength(0);
    release();
    await mw.close();
    expect(appended).toHaveLength(1);
  });

  it('reports store failures to onError instead of failing requests', async () => {
    const errors: unknown[] = [];
    const mw = audit({
      log: { append: () => Promise.reject(new Error('disk full')) },
      onError: (e) => errors.push(e),
    });
    await request(
      express()
        .use(mw)
        .get('/', (_req, res) => res.send('ok')),
    )
      .get('/')
      .expect(200);
    await mw.close();
    expect(errors).toHaveLength(1);
    expect(mw.auditor.failed).toBe(1);
  });
});

describe('requireConsent', () => {
  it('rejects an unknown purpose at start-up', () => {
    expect(() => requireConsent('no-such-purpose', { consent: t.consent })).toThrow(BulwarkConfigError);
  });
});

describe('inputGuard', () => {
  function app(options = {}) {
    const a = express();
    a.use(inputGuard({ maxBodyBytes: 1024, maxDepth: 5, ...options }));
    a.use(express.json()); // sees the body as already read
    a.use((req, res) => res.json({ body: req.body ?? null }));
    return withErrors(a);
  }

  it('parses JSON and urlencoded bodies within the limits', async () => {
    expect(
      (
        await request(app())
          .post('/x')
          .send({ a: { b: 1 } })
      ).body,
    ).toEqual({ body: { a: { b: 1 } } });
    expect((await request(app()).post('/x').type('form').send('a=1&a=2&b=x')).body).toEqual({
      body: { a: ['1', '2'], b: 'x' },
    });
  });

  it('validates options at start-up', () => {
    expect(() => inputGuard({ maxBodyBytes: -1 })).toThrow(BulwarkConfigError);
    expect(() => inputGuard({ maxDepht: 3 } as never)).toThrow(BulwarkConfigError);
  });
});
