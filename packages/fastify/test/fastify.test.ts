import * as http from 'node:http';
import * as net from 'node:net';
import { BulwarkError, ErrorCodes, PolicyEngine } from '@bulwark/core';
import { bulwark as expressBulwark, notFound as expressNotFound } from '@bulwark/express';
import express from 'express';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import request from 'supertest';
import { authorize, bulwark, clientErrorHandler, type BulwarkOptions } from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';
import { listen } from './support';

const PROBLEM = /^application\/problem\+json/;
const SECRET = 'a-csrf-secret-of-at-least-32-bytes!!';
const quiet = { log: () => undefined };

let t: TestKit;
const running: Array<{ close(): Promise<void> }> = [];

beforeEach(async () => {
  t = await testKit();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
  await t.close();
});

/** A Fastify app with the bundle, the routes `routes` adds, on a real port. */
async function start(
  options: BulwarkOptions,
  routes: (app: FastifyInstance, bw: ReturnType<typeof bulwark>) => void,
  server: FastifyServerOptions = {},
) {
  const bw = bulwark(t.kit, { production: false, problemDetails: quiet, ...options });
  const app = Fastify({ ...server, frameworkErrors: bw.frameworkErrors });
  await app.register(bw);
  routes(app, bw);
  const srv = await listen(app);
  running.push({ close: async () => (await srv.close(), await bw.close()) });
  return { url: srv.url, bw, app };
}

describe("Fastify's own refusals become 4xx problem+json", () => {
  it('with the guard reading bodies: malformed JSON, __proto__, unsupported media type, schema, oversize', async () => {
    const { url } = await start({ authenticate: false, inputGuard: { maxBodyBytes: 1024 } }, (app) => {
      app.post(
        '/people',
        {
          schema: {
            body: {
              type: 'object',
              required: ['name'],
              properties: { name: { type: 'string' } },
            },
          },
        },
        async (req) => ({ got: req.body }),
      );
    });
    const ok = await request(url).post('/people').send({ name: 'Ada' });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ got: { name: 'Ada' } });

    const malformed = await request(url)
      .post('/people')
      .set('Content-Type', 'application/json')
      .send('{"email":"alice@example.com",');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toMatch(PROBLEM);
    expect(malformed.body).toMatchObject({ code: ErrorCodes.HTTP_MALFORMED_BODY });
    expect(malformed.text).not.toContain('alice@example.com');

    const polluted = await request(url)
      .post('/people')
      .set('Content-Type', 'application/json')
      .send('{"name":"x","__proto__":{"admin":true}}');
    expect(polluted.status).toBe(400);
    expect(polluted.body.code).toBe(ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY);

    const xml = await request(url).post('/people').set('Content-Type', 'text/xml').send('<a/>');
    expect(xml.status).toBe(415);
    expect(xml.headers['content-type']).toMatch(PROBLEM);
    expect(xml.body.code).toBe(ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE);

    const invalid = await request(url)
      .post('/people')
      .send({ name: { first: 'Ada' } });
    expect(invalid.status).toBe(400);
    expect(invalid.headers['content-type']).toMatch(PROBLEM);
    expect(invalid.body).toMatchObject({
      code: ErrorCodes.HTTP_BAD_REQUEST,
      detail: 'body/name must be string',
    });

    const big = await request(url)
      .post('/people')
      .send({ name: 'x'.repeat(2048) });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe(ErrorCodes.HTTP_BODY_TOO_LARGE);
    // An application/*+json body is read by the guard too.
    const merge = await request(url)
      .post('/people')
      .set('Content-Type', 'application/merge-patch+json')
      .send('{"name":"Ada","a":{"__proto__":{}}}');
    expect(merge.status).toBe(400);
    expect(merge.body.code).toBe(ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY);
  });

  it("with Fastify's own parser (parseBody: false): bad JSON, bodyLimit, empty JSON body, still guarded", async () => {
    const { url } = await start(
      { authenticate: false, inputGuard: { parseBody: false, maxDepth: 3 } },
      (app) => {
        app.post('/x', async (req) => ({ got: req.body ?? null }));
      },
      { bodyLimit: 512 },
    );
    const malformed = await request(url)
      .post('/x')
      .set('Content-Type', 'application/json')
      .send('{"email":"alice@example.com",');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toMatch(PROBLEM);
    expect(malformed.body.code).toBe(ErrorCodes.HTTP_MALFORMED_BODY);
    expect(malformed.text).not.toContain('alice@example.com');

    const big = await request(url)
      .post('/x')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ a: 'x'.repeat(1024) }));
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(PROBLEM);
    expect(big.body.code).toBe(ErrorCodes.HTTP_BODY_TOO_LARGE);

    const empty = await request(url).post('/x').set('Content-Type', 'application/json').send('');
    expect(empty.status).toBeGreaterThanOrEqual(200);
    expect(empty.status).toBeLessThan(500);
    if (empty.status >= 400) expect(empty.headers['content-type']).toMatch(PROBLEM);

    // secure-json-parse refuses __proto__ itself; a deep body parsed by Fastify is still checked.
    const proto = await request(url)
      .post('/x')
      .set('Content-Type', 'application/json')
      .send('{"__proto__":{"admin":true}}');
    expect(proto.status).toBe(400);
    expect(proto.headers['content-type']).toMatch(PROBLEM);
    const deep = await request(url)
      .post('/x')
      .send({ a: { b: { c: { d: { e: 1 } } } } });
    expect(deep.status).toBe(422);
    expect(deep.body.code).toBe(ErrorCodes.HTTP_INPUT_TOO_DEEP);
  });

  it("honours Fastify's bodyLimit (server and route) for the bodies the guard reads: the lower limit wins", async () => {
    const { url } = await start(
      { authenticate: false, inputGuard: { maxBodyBytes: 2000 } },
      (app) => {
        app.post('/x', async (req) => ({ got: Object.keys(req.body as object) }));
        app.post('/small', { bodyLimit: 50 }, async (req) => ({ got: Object.keys(req.body as object) }));
        app.post('/large', { bodyLimit: 5000 }, async (req) => ({ got: Object.keys(req.body as object) }));
      },
      { bodyLimit: 100 },
    );
    const json = (size: number): string => JSON.stringify({ a: 'x'.repeat(size) });
    /** POSTs over real HTTP; `chunked`: no Content-Length, the body streamed in two chunks. */
    const post = (path: string, type: string, body: string, chunked: boolean) =>
      new Promise<{ status: number; type: string; body: { code?: string } }>((resolve, reject) => {
        const headers: Record<string, string | number> = { 'content-type': type };
        if (!chunked) headers['content-length'] = Buffer.byteLength(body);
        const req = http.request(`${url}${path}`, { method: 'POST', headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              type: String(res.headers['content-type']),
              body: JSON.parse(text),
            }),
          );
        });
        req.on('error', reject);
        if (chunked) req.write(body.slice(0, 10));
        req.end(chunked ? body.slice(10) : body);
      });
    const refused = async (path: string, type: string, body: string, chunked = false) => {
      const res = await post(path, type, body, chunked);
      expect([path, type, chunked, res.status]).toEqual([path, type, chunked, 413]);
      expect(res.type).toMatch(PROBLEM);
      expect(res.body.code).toBe(ErrorCodes.HTTP_BODY_TOO_LARGE);
    };
    // Under both limits: read.
    expect((await request(url).post('/small').send({ a: 1 })).body).toEqual({ got: ['a'] });
    expect(
      (
        await request(url)
          .post('/x')
          .send({ a: 'x'.repeat(60) })
      ).status,
    ).toBe(200);
    // Over the route's (50) or the server's (100) limit, under the guard's (2000): refused.
    await refused('/small', 'application/json', json(60));
    await refused('/small', 'application/json', json(60), true);
    await refused('/small', 'application/merge-patch+json', json(60));
    await refused('/small', 'application/x-www-form-urlencoded', `a=${'x'.repeat(60)}`);
    await refused('/x', 'application/json', json(1500));
    await refused('/x', 'application/json', json(1500), true);
    // A route limit above the guard's: the guard's limit still holds.
    expect(
      (await request(url).post('/large').send(json(1500)).set('Content-Type', 'application/json')).status,
    ).toBe(200);
    await refused('/large', 'application/json', json(2500));
  });

  it('answers a malformed URL and a request Node refuses (bad header) with 400 problem+json', async () => {
    const refused: string[] = [];
    const { url, app } = await start(
      { authenticate: false },
      (a) => {
        a.get('/docs/:id', async () => ({ ok: true }));
      },
      { clientErrorHandler: clientErrorHandler((code) => refused.push(code)) },
    );
    const badUrl = await request(url).get('/docs/%E0%A4%A');
    expect(badUrl.status).toBe(400);
    expect(badUrl.headers['content-type']).toMatch(PROBLEM);
    expect(badUrl.headers['x-request-id']).toBe(badUrl.body.requestId);
    expect(badUrl.headers['content-security-policy']).toContain("frame-ancestors 'none'");

    const { port } = app.server.address() as net.AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n');
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect(raw).toMatch(/content-type: application\/problem\+json/i);
    expect(raw).toContain(ErrorCodes.HTTP_BAD_REQUEST);
    expect(refused).toEqual([ErrorCodes.HTTP_BAD_REQUEST]);
  });

  it('answers route errors: Bulwark errors with their status, unknown errors 500 without leaking', async () => {
    const logged: unknown[] = [];
    const { url } = await start(
      { authenticate: false, problemDetails: { log: (e) => logged.push(e) } },
      (app) => {
        app.get('/denied', async () => {
          throw new BulwarkError(ErrorCodes.POLICY_DENIED, 'denied by rule secret-rule-7', {
            reasonId: 'outside_hours',
            ruleId: 'secret-rule-7',
          });
        });
        app.get('/boom', async () => {
          throw new Error('database password is hunter2 at /srv/db');
        });
      },
    );
    const denied = await request(url).get('/denied');
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({
      reasonId: 'outside_hours',
      requestId: denied.headers['x-request-id'],
    });
    expect(denied.text).not.toContain('secret-rule-7');
    const boom = await request(url).get('/boom');
    expect(boom.status).toBe(500);
    expect(boom.headers['content-type']).toMatch(PROBLEM);
    expect(boom.text).not.toMatch(/hunter2|\/srv|stack/);
    expect(logged).toHaveLength(1);
  });
});

describe('the same headers as the Express bundle', () => {
  it('sends byte-identical security headers for the same options', async () => {
    const options = {
      authenticate: false as const,
      securityHeaders: { referrerPolicy: { policy: 'same-origin' } },
    };
    const { url } = await start(options, (app) => {
      app.get('/', async () => ({ ok: true }));
    });
    const ex = express();
    const ebw = expressBulwark(t.kit, { production: false, ...options });
    ex.use(ebw);
    ex.get('/', (_req, res) => res.json({ ok: true }));
    ex.use(expressNotFound());
    const ours = await request(url).get('/');
    const theirs = await request(ex).get('/');
    // Every header but the per-request and per-framework ones must match, name and value.
    const perRequest = new Set([
      'date',
      'x-request-id',
      'etag',
      'connection',
      'keep-alive',
      'content-length',
    ]);
    const names = Object.keys(theirs.headers).filter((n) => !perRequest.has(n));
    expect(names).toEqual(expect.arrayContaining(['content-security-policy', 'strict-transport-security']));
    expect(
      Object.keys(ours.headers)
        .filter((n) => !perRequest.has(n))
        .sort(),
    ).toEqual(names.sort());
    for (const name of names)
      expect(`${name}: ${ours.headers[name]}`).toBe(`${name}: ${theirs.headers[name]}`);
    expect(ours.headers['referrer-policy']).toBe('same-origin');
    expect(ours.headers['x-powered-by']).toBeUndefined();
    await ebw.close();
  });
});

describe('csrf with a token endpoint', () => {
  async function app() {
    return start({ authenticate: false, csrf: { secret: SECRET } }, (a) => {
      a.get('/csrf-token', async (req) => ({ token: req.csrfToken!() }));
      a.post('/transfer', async (req) => ({ ok: true, body: req.body }));
    });
  }
  async function pair(url: string) {
    const res = await request(url).get('/csrf-token').expect(200);
    const cookie = (res.headers['set-cookie'] as unknown as string[])[0]!;
    expect(cookie).toMatch(/^__Host-bulwark\.csrf=.+; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    return { token: res.body.token as string, cookie: cookie.split(';')[0]! };
  }

  it('request.csrfToken mints once per request, also called unbound', async () => {
    const { url } = await start({ authenticate: false, csrf: { secret: SECRET } }, (a) => {
      a.get('/twice', async (req) => {
        const mint = req.csrfToken!;
        return { first: mint(), second: req.csrfToken!() };
      });
    });
    const res = await request(url).get('/twice').expect(200);
    expect(res.body.first).toEqual(expect.any(String));
    expect(res.body.second).toBe(res.body.first);
    expect(res.headers['set-cookie'] as unknown as string[]).toHaveLength(1);
  });

  it('accepts the token in a header or a _csrf form field, refuses missing and forged ones', async () => {
    const { url } = await app();
    const { token, cookie } = await pair(url);
    await request(url)
      .post('/transfer')
      .set('Cookie', cookie)
      .set('x-csrf-token', token)
      .send({})
      .expect(200);
    const form = await request(url)
      .post('/transfer')
      .set('Cookie', cookie)
      .type('form')
      .send({ _csrf: token, amount: '5' });
    expect(form.status).toBe(200);
    expect(form.body.body).toEqual({ _csrf: token, amount: '5' });
    const missing = await request(url).post('/transfer').set('Cookie', cookie).send({ amount: 5 });
    expect(missing.status).toBe(403);
    expect(missing.headers['content-type']).toMatch(PROBLEM);
    expect(missing.body).toMatchObject({ code: 'EBADCSRFTOKEN' });
    const forged = `${'A'.repeat(24)}.${'B'.repeat(43)}`;
    await request(url)
      .post('/transfer')
      .set('Cookie', `__Host-bulwark.csrf=${forged}`)
      .set('csrf-token', forged)
      .expect(403);
  });
});

describe('audit', () => {
  it('writes one event per request (refusals included) with the route pattern, and the chain verifies', async () => {
    const { url, bw } = await start({ csrf: { secret: SECRET } }, (app, b) => {
      app.get(
        '/docs/:id',
        { preHandler: b.authorize('read', (r) => ({ type: 'docs', id: (r.params as { id: string }).id })) },
        async () => ({ ok: true }),
      );
      app.post('/docs', { preHandler: b.authorize('write', 'docs') }, async () => ({ ok: true }));
    });
    const alice = `Bearer ${await t.sign('alice')}`;
    await request(url).get('/docs/7').set('Authorization', alice).set('X-Request-Id', 'r-1').expect(200);
    await request(url).get('/docs/7').set('Authorization', `Bearer ${t.attacks.forged}`).expect(401);
    await request(url).post('/docs').set('Authorization', alice).send({}).expect(403);
    await request(url).get('/nowhere').set('Authorization', alice).expect(404);
    await bw.close();
    const entries = await t.entries();
    expect(entries).toHaveLength(4);
    expect(entries[0]).toMatchObject({
      actor: { id: 'alice', type: 'user', ip: '127.0.0.1' },
      action: 'http.get',
      resource: { type: 'docs', id: '7' },
      outcome: 'success',
      details: { route: '/docs/:id', status: 200, reasonId: 'rule_allow', clientRequestId: 'r-1' },
    });
    expect(entries[1]).toMatchObject({ outcome: 'denied', details: { status: 401 } });
    // The CSRF refusal comes before authorization: the missing token is what the event records.
    expect(entries[2]).toMatchObject({
      outcome: 'denied',
      details: { status: 403, errorCode: 'EBADCSRFTOKEN' },
    });
    expect(entries[3]).toMatchObject({ details: { route: '/nowhere', status: 404 } });
    expect((await t.auditLog.verify()).ok).toBe(true);
  });

  it('sends X-Request-Id on a hijacked reply too, the id its audit event has', async () => {
    const { url, bw } = await start({ authenticate: false }, (app) => {
      app.get('/hijack', async (_request, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/plain' });
        reply.raw.end('raw');
      });
    });
    const res = await request(url).get('/hijack').expect(200);
    expect(res.text).toBe('raw');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    await bw.close();
    expect(JSON.stringify((await t.entries()).at(-1))).toContain(res.headers['x-request-id']);
  });
});

describe('registration order', () => {
  it('warns once when a refusal is answered by an error handler other than Bulwark (a plugin registered before it)', async () => {
    const lines: string[] = [];
    const bw = bulwark(t.kit, { production: false, problemDetails: quiet });
    const app = Fastify({
      logger: { level: 'warn', stream: { write: (line: string) => void lines.push(line) } },
    });
    await app.register(
      async (child) => {
        child.get('/early', async () => ({ ok: true }));
      },
      { prefix: '/pre' },
    );
    await app.register(bw);
    app.get('/late', async () => ({ ok: true }));
    const srv = await listen(app);
    running.push({ close: async () => (await srv.close(), await bw.close()) });
    // A route registered after the bundle: Bulwark's answer, nothing to say.
    const late = await request(srv.url).get('/late').expect(401);
    expect(late.headers['www-authenticate']).toBe('Bearer realm="bulwark"');
    expect(lines.filter((l) => l.includes('@bulwark/fastify'))).toEqual([]);
    // The child's refusal is still a refusal (the hooks apply), answered by Fastify's handler: warned, once.
    expect((await request(srv.url).get('/pre/early')).status).toBe(401);
    expect((await request(srv.url).get('/pre/early')).status).toBe(401);
    const warnings = lines.filter((l) => l.includes('another error handler'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('/pre/early');
  });
});

describe('authorize filterResponse', () => {
  const engine = new PolicyEngine({
    policy: {
      version: 1,
      roles: { reader: {} },
      policies: [
        {
          id: 'p',
          rules: [
            {
              id: 'own',
              effect: 'allow',
              roles: ['reader'],
              actions: ['read'],
              resources: ['docs/*'],
              when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
              fields: ['id', 'title'],
            },
          ],
        },
      ],
    },
  });
  const load = async () => ({ type: 'docs', id: '1', ownerId: 'alice', title: 'T', secret: 's' });

  it('keeps only the readable fields of the returned object, and fails closed without the plugin', async () => {
    const { url } = await start({ authenticate: { optional: true } }, (app) => {
      app.get(
        '/doc',
        { preHandler: authorize('read', load, { authorizer: engine, filterResponse: true }) },
        async (req) => req.authorizedResource,
      );
    });
    const res = await request(url)
      .get('/doc')
      .set('Authorization', `Bearer ${await t.sign('alice')}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: '1', title: 'T' });

    const bare = Fastify();
    bare.addHook('onRequest', async (req) => {
      req.principal = { id: 'alice', roles: ['reader'], type: 'user', claims: {} };
    });
    bare.get(
      '/doc',
      { preHandler: authorize('read', load, { authorizer: engine, filterResponse: true }) },
      async (req) => req.authorizedResource,
    );
    const srv = await listen(bare);
    running.push(srv);
    const unfiltered = await request(srv.url).get('/doc');
    expect(unfiltered.status).toBe(500);
    expect(unfiltered.text).not.toContain('"secret"');
  });
});

describe('privacy routes and consent through the bundle', () => {
  it('refuses a consent-gated route after the subject withdraws consent', async () => {
    const { url } = await start({}, (app, bw) => {
      app.get('/offers', { preHandler: bw.requireConsent('marketing') }, async () => ({ offers: [] }));
    });
    const alice = `Bearer ${await t.sign('alice')}`;
    const before = await request(url).get('/offers').set('Authorization', alice);
    expect(before.status).toBe(403);
    expect(before.body).toMatchObject({ purposeId: 'marketing' });
    await t.consent.grant('alice', 'marketing');
    await request(url).get('/offers').set('Authorization', alice).expect(200);
    await t.consent.withdraw('alice', 'marketing');
    const after = await request(url).get('/offers').set('Authorization', alice);
    expect(after.status).toBe(403);
    expect(after.headers['content-type']).toMatch(PROBLEM);
  });
});
