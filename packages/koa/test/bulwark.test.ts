import { BulwarkConfigError } from '@bulwark/core';
import Router from '@koa/router';
import Koa from 'koa';
import fc from 'fast-check';
import request from 'supertest';
import { bulwark, type BulwarkState } from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

const SECRET = 'a-csrf-secret-of-at-least-32-bytes!!';
let t: TestKit;

beforeEach(async () => {
  t = await testKit();
});
afterEach(async () => {
  await t.close();
});

function app() {
  const bw = bulwark(t.kit, {
    csrf: { secret: SECRET },
    authenticate: { publicPaths: ['/login', '/public/*'] },
    inputGuard: { maxBodyBytes: 4096 },
    problemDetails: { log: () => undefined },
  });
  const koa = new Koa<BulwarkState>();
  koa.silent = true;
  koa.use(bw);
  const router = new Router<BulwarkState>();
  router.get('/public/ping', (ctx) => {
    ctx.body = { pong: true };
  });
  router.post('/login', bw.bruteForce(), (ctx) => {
    ctx.status = (ctx.request as { body?: { password?: string } }).body?.password === 'right' ? 200 : 401;
    ctx.body = {};
  });
  router.get(
    '/docs/:id',
    bw.authorize('read', (ctx) => ({ type: 'docs', id: String(ctx.params.id) })),
    (ctx) => {
      ctx.body = { id: ctx.params.id, csrf: ctx.state.csrfToken!() };
    },
  );
  router.post('/docs', bw.authorize('write', 'docs'), (ctx) => {
    ctx.status = 201;
    ctx.body = {};
  });
  router.post('/newsletter', bw.requireConsent('marketing'), (ctx) => {
    ctx.body = {};
  });
  router.get('/crash', () => {
    throw new Error('secret internals');
  });
  koa.use(router.routes());
  return { a: koa.callback(), bw };
}

describe('bulwark() bundle', () => {
  it('runs its steps in the documented order', () => {
    expect(app().bw.order).toEqual([
      'requestId',
      'problemDetails',
      'securityHeaders',
      'audit',
      'inputGuard',
      'authenticate',
      'csrf',
    ]);
  });

  it('serves an authorized request with security headers and a request id', async () => {
    const { a, bw } = app();
    const res = await request(a)
      .get('/docs/1')
      .set('Authorization', `Bearer ${await t.sign('alice')}`);
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    await bw.close();
    const [entry] = await t.entries();
    expect(entry).toMatchObject({
      actor: { id: 'alice' },
      resource: { type: 'docs', id: '1' },
      outcome: 'success',
    });
  });

  it('answers refusals of its own steps as problem+json with headers set and the attempt audited', async () => {
    const { a, bw } = app();
    const unauth = await request(a).get('/docs/1').set('X-Request-Id', 'abc-1');
    expect(unauth.status).toBe(401);
    expect(unauth.headers['content-type']).toMatch(/^application\/problem\+json/);
    // securityHeaders runs before authenticate: even a 401 carries them
    expect(unauth.headers['strict-transport-security']).toBeDefined();
    expect(unauth.body.requestId).toBe(unauth.headers['x-request-id']);
    expect(unauth.body.requestId).not.toBe('abc-1');
    const bad = await request(a)
      .post('/docs')
      .set('Content-Type', 'application/json')
      .send('{"__proto__":{"x":1}}');
    expect(bad.status).toBe(400);
    // csrf runs after authenticate: an editor without a CSRF token is refused
    const noCsrf = await request(a)
      .post('/docs')
      .set('Authorization', `Bearer ${await t.sign('bob', ['editor'])}`);
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.code).toBe('EBADCSRFTOKEN');
    await bw.close();
    const entries = await t.entries();
    expect(entries.map((e) => [e.outcome, e.details?.status, e.details?.errorCode])).toEqual([
      ['denied', 401, 'ERR_HTTP_AUTH_REQUIRED'],
      ['failure', 400, 'ERR_HTTP_INPUT_FORBIDDEN_KEY'],
      ['denied', 403, 'EBADCSRFTOKEN'],
    ]);
  });

  it('completes a CSRF round trip for a principal-bound token', async () => {
    const { a } = app();
    const auth = `Bearer ${await t.sign('bob', ['editor'])}`;
    const page = await request(a).get('/docs/1').set('Authorization', auth);
    const cookie = (page.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    await request(a)
      .post('/docs')
      .set('Authorization', auth)
      .set('Cookie', cookie)
      .set('x-csrf-token', page.body.csrf)
      .expect(201);
    // the same token does not work for another principal
    await request(a)
      .post('/docs')
      .set('Authorization', `Bearer ${await t.sign('carol', ['editor'])}`)
      .set('Cookie', cookie)
      .set('x-csrf-token', page.body.csrf)
      .expect(403);
  });

  it('skips authentication on public paths and hides internals of route errors', async () => {
    const { a } = app();
    await request(a).get('/public/ping').expect(200);
    const crash = await request(a)
      .get('/crash')
      .set('Authorization', `Bearer ${await t.sign('alice')}`);
    expect(crash.status).toBe(500);
    expect(JSON.stringify(crash.body)).not.toContain('secret internals');
  });

  it('describes its protections as HttpAppEvidence', () => {
    const evidence = app().bw.evidence();
    expect(evidence.name).toBe('koa');
    expect(evidence.csrf).toEqual({ enabled: true, method: 'signed-double-submit-cookie' });
    expect(evidence.securityHeaders['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
  });

  it('validates its options at start-up', () => {
    expect(() => bulwark(t.kit, { csrf: { secret: 'short' } })).toThrow(BulwarkConfigError);
    expect(() => bulwark({}, { audit: {} })).toThrow(BulwarkConfigError);
    expect(() => bulwark({}).authorize('read', 'docs')).toThrow(BulwarkConfigError);
    expect(() => bulwark(t.kit).requireConsent('unknown-purpose')).toThrow(BulwarkConfigError);
  });

  it('survives huge headers and bodies without a 5xx or a crash', async () => {
    const { a } = app();
    const huge = await request(a).get('/docs/1').set('X-Filler', 'x'.repeat(20_000));
    expect(huge.status).toBe(431); // refused by Node's HTTP parser before any middleware
    const big = await request(a)
      .post('/docs')
      .set('Content-Type', 'application/json')
      .send(`{"a":"${'x'.repeat(100_000)}"}`);
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(a).get('/public/ping').expect(200); // still serving
  });

  it('never answers bad input with a 5xx (fuzz)', async () => {
    const { a, bw } = app();
    const good = await t.sign('alice');
    const token = fc.constantFrom(
      undefined,
      `Bearer ${good}`,
      `Bearer ${t.attacks.algNone}`,
      `Bearer ${t.attacks.expired}`,
      `Bearer ${t.attacks.forged}`,
      'Bearer ',
      'Bearer a.b.c',
      'Basic x',
    );
    const segment = fc.oneof(
      fc.constantFrom(
        '..',
        '%2e%2e',
        '..%2f',
        '%252e%252e',
        'a%5cb',
        '%00',
        '%',
        '%zz',
        '1',
        'x'.repeat(300),
      ),
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
    );
    const path = fc.oneof(
      segment.map((s) => `/docs/${s}`),
      fc.constantFrom('/docs', '/newsletter', '/login', '/unknown'),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        '{"a":',
        '{"__proto__":{"p":1}}',
        '{"constructor":{"prototype":{}}}',
        '['.repeat(200),
        '"\u0000"',
        'x'.repeat(5000),
      ),
      fc.json({ maxDepth: 4 }),
    );
    const csrfHeader = fc.constantFrom(undefined, 'forged', `${'A'.repeat(24)}.${'B'.repeat(43)}`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST'),
        path,
        token,
        body,
        csrfHeader,
        async (method, p, auth, b, c) => {
          let r = method === 'GET' ? request(a).get(p) : request(a).post(p);
          if (auth !== undefined) r = r.set('Authorization', auth);
          if (c !== undefined) r = r.set('x-csrf-token', c);
          if (b !== undefined && method === 'POST') r = r.set('Content-Type', 'application/json').send(b);
          const res = await r;
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          }
        },
      ),
      { numRuns: 150 },
    );
    await bw.close();
    expect((await t.entries()).length).toBeGreaterThan(100);
  });
});
