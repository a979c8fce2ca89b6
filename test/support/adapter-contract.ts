/**
 * The HTTP adapter contract: what every Bulwark HTTP adapter does, written once and run against
 * each framework through a small driver (build an app from bundle options and a route table, start
 * it on a real port). `@bulwark/express` (on Express 4 and 5) and `@bulwark/koa` call
 * `adapterContract(driver)` from their own test file and keep only framework-specific tests there.
 * The client-address and body-abuse scenarios (client-address-scenarios.ts) are the same idea for
 * the `trustProxy` decision and also run against NestJS.
 */
import fc from 'fast-check';
import request from 'supertest';
import { BulwarkConfigError, DataSubjectRequests } from '@bulwark/core';
import { testKit, type TestKit } from './http-test-kit';

/** What a route handler sees, whatever the framework. */
export interface ContractRequest {
  params: Record<string, string>;
  body: unknown;
  /** The bundle's CSRF token for this request (csrf enabled). */
  csrfToken(): string;
}

export interface ContractRoute {
  method: 'get' | 'post';
  /** `/docs/:id` style (both routers read it). */
  path: string;
  authorize?: {
    action: string;
    resource: string | ((params: Record<string, string>) => { type: string; id: string });
  };
  consent?: string;
  bruteForce?: boolean;
  /** Returns the JSON answer (status default 200) or throws (an app error). */
  handle(req: ContractRequest): { status?: number; body: unknown };
}

/** The bundle options the contract uses; each adapter's own options extend these. */
export interface ContractOptions {
  csrf?: { secret: string };
  authenticate?: false | { publicPaths?: string[]; optional?: boolean };
  inputGuard?: { maxBodyBytes?: number };
  problemDetails?: { log?: (...args: unknown[]) => void };
  audit?: object;
}

/** The part of the bundle (`bulwark(kit, options)`) the contract drives directly. */
export interface ContractBundle {
  readonly order: readonly string[];
  evidence(): { name: string; csrf: unknown; securityHeaders: Record<string, string | undefined> };
  authorize(action: string, resource: string): unknown;
  requireConsent(purpose: string): unknown;
  close(): Promise<void>;
}

export interface RunningApp {
  /** `http://127.0.0.1:<port>` */
  url: string;
  bundle: ContractBundle;
  close(): Promise<void>;
}

export interface AdapterDriver {
  /** The adapter's name in compliance evidence (`express`, `koa`). */
  name: string;
  bulwark(kit: TestKit['kit'] | Record<string, never>, options?: ContractOptions): ContractBundle;
  /**
   * Starts an app on 127.0.0.1:0: the bundle, then `routes` (each with its route-level steps in the
   * order authorize, requireConsent, bruteForce), then the privacy router at /privacy when `kit.dsr`
   * is given, then the adapter's not-found and error handlers (the app's own errors as problem+json).
   */
  start(
    kit: TestKit['kit'] & { dsr?: DataSubjectRequests },
    options: ContractOptions,
    routes: ContractRoute[],
  ): Promise<RunningApp>;
}

/** Starts the app and closes it (server and bundle) after the test. */
function serve(driver: AdapterDriver) {
  const running: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.close()));
  });
  return async (...args: Parameters<AdapterDriver['start']>) => {
    const app = await driver.start(...args);
    running.push(app);
    return { ...app, http: request(app.url) };
  };
}

const SECRET = 'a-csrf-secret-of-at-least-32-bytes!!';

export function adapterContract(driver: AdapterDriver): void {
  describe(`${driver.name}: bulwark() bundle (adapter contract)`, () => {
    let t: TestKit;
    beforeEach(async () => {
      t = await testKit();
    });
    afterEach(async () => {
      await t.close();
    });
    const start = serve(driver);

    const options: ContractOptions = {
      csrf: { secret: SECRET },
      authenticate: { publicPaths: ['/login', '/public/*'] },
      inputGuard: { maxBodyBytes: 4096 },
      problemDetails: { log: () => undefined },
    };
    const routes: ContractRoute[] = [
      { method: 'get', path: '/public/ping', handle: () => ({ body: { pong: true } }) },
      {
        method: 'post',
        path: '/login',
        bruteForce: true,
        handle: (req) => ({
          status: (req.body as { password?: string } | undefined)?.password === 'right' ? 200 : 401,
          body: {},
        }),
      },
      {
        method: 'get',
        path: '/docs/:id',
        authorize: { action: 'read', resource: (params) => ({ type: 'docs', id: String(params.id) }) },
        handle: (req) => ({ body: { id: req.params.id, csrf: req.csrfToken() } }),
      },
      {
        method: 'post',
        path: '/docs',
        authorize: { action: 'write', resource: 'docs' },
        handle: () => ({ status: 201, body: {} }),
      },
      { method: 'post', path: '/newsletter', consent: 'marketing', handle: () => ({ body: {} }) },
      {
        method: 'get',
        path: '/crash',
        handle: () => {
          throw new Error('secret internals');
        },
      },
    ];
    const app = () => start(t.kit, options, routes);

    it('runs its steps in the documented order', () => {
      expect(driver.bulwark(t.kit, options).order).toEqual([
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
      const { http, bundle } = await app();
      const res = await http.get('/docs/1').set('Authorization', `Bearer ${await t.sign('alice')}`);
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      await bundle.close();
      const [entry] = await t.entries();
      expect(entry).toMatchObject({
        actor: { id: 'alice' },
        resource: { type: 'docs', id: '1' },
        outcome: 'success',
      });
    });

    it('answers refusals of its own steps as problem+json with headers set and the attempt audited', async () => {
      const { http, bundle } = await app();
      const unauth = await http.get('/docs/1').set('X-Request-Id', 'abc-1');
      expect(unauth.status).toBe(401);
      expect(unauth.headers['content-type']).toMatch(/^application\/problem\+json/);
      // securityHeaders runs before authenticate: even a 401 carries them
      expect(unauth.headers['strict-transport-security']).toBeDefined();
      expect(unauth.body.requestId).toBe(unauth.headers['x-request-id']);
      expect(unauth.body.requestId).not.toBe('abc-1');
      const bad = await http
        .post('/docs')
        .set('Content-Type', 'application/json')
        .send('{"__proto__":{"x":1}}');
      expect(bad.status).toBe(400);
      // csrf runs after authenticate: an editor without a CSRF token is refused
      const noCsrf = await http
        .post('/docs')
        .set('Authorization', `Bearer ${await t.sign('bob', ['editor'])}`);
      expect(noCsrf.status).toBe(403);
      expect(noCsrf.body.code).toBe('EBADCSRFTOKEN');
      await bundle.close();
      const entries = await t.entries();
      expect(entries.map((e) => [e.outcome, e.details?.status, e.details?.errorCode])).toEqual([
        ['denied', 401, 'ERR_HTTP_AUTH_REQUIRED'],
        ['failure', 400, 'ERR_HTTP_INPUT_FORBIDDEN_KEY'],
        ['denied', 403, 'EBADCSRFTOKEN'],
      ]);
    });

    it('completes a CSRF round trip for a principal-bound token', async () => {
      const { http } = await app();
      const auth = `Bearer ${await t.sign('bob', ['editor'])}`;
      const page = await http.get('/docs/1').set('Authorization', auth);
      const cookie = (page.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
      await http
        .post('/docs')
        .set('Authorization', auth)
        .set('Cookie', cookie)
        .set('x-csrf-token', page.body.csrf)
        .expect(201);
      // the same token does not work for another principal
      await http
        .post('/docs')
        .set('Authorization', `Bearer ${await t.sign('carol', ['editor'])}`)
        .set('Cookie', cookie)
        .set('x-csrf-token', page.body.csrf)
        .expect(403);
    });

    it('skips authentication on public paths and hides internals of route errors', async () => {
      const { http } = await app();
      await http.get('/public/ping').expect(200);
      const crash = await http.get('/crash').set('Authorization', `Bearer ${await t.sign('alice')}`);
      expect(crash.status).toBe(500);
      expect(crash.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(crash.body)).not.toContain('secret internals');
    });

    it('answers an unmatched URL with a 404 problem+json', async () => {
      const { http } = await app();
      const res = await http.get('/public/nothing-here');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.requestId).toBe(res.headers['x-request-id']);
    });

    it('describes its protections as HttpAppEvidence', () => {
      const evidence = driver.bulwark(t.kit, options).evidence();
      expect(evidence.name).toBe(driver.name);
      expect(evidence.csrf).toEqual({ enabled: true, method: 'signed-double-submit-cookie' });
      expect(evidence.securityHeaders['strict-transport-security']).toBe(
        'max-age=63072000; includeSubDomains',
      );
    });

    it('validates its options at start-up', () => {
      expect(() => driver.bulwark(t.kit, { csrf: { secret: 'short' } })).toThrow(BulwarkConfigError);
      expect(() => driver.bulwark({}, { audit: {} })).toThrow(BulwarkConfigError);
      expect(() => driver.bulwark({}).authorize('read', 'docs')).toThrow(BulwarkConfigError);
      expect(() => driver.bulwark(t.kit).requireConsent('unknown-purpose')).toThrow(BulwarkConfigError);
    });

    it('survives huge headers and bodies without a 5xx or a crash', async () => {
      const { http } = await app();
      const huge = await http.get('/docs/1').set('X-Filler', 'x'.repeat(20_000));
      expect(huge.status).toBe(431); // refused by Node's HTTP parser before any middleware
      const big = await http
        .post('/docs')
        .set('Content-Type', 'application/json')
        .send(`{"a":"${'x'.repeat(100_000)}"}`);
      expect(big.status).toBe(413);
      expect(big.headers['content-type']).toMatch(/^application\/problem\+json/);
      await http.get('/public/ping').expect(200); // still serving
    });

    it('never answers bad input with a 5xx (fuzz)', async () => {
      const { http, bundle } = await app();
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
            let r = method === 'GET' ? http.get(p) : http.post(p);
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
      await bundle.close();
      expect((await t.entries()).length).toBeGreaterThan(100);
    });
  });

  describe(`${driver.name}: privacyRouter (adapter contract)`, () => {
    let t: TestKit;
    let dsr: DataSubjectRequests;
    beforeEach(async () => {
      t = await testKit();
      dsr = new DataSubjectRequests({
        verifyIdentity: ({ evidence }) => (evidence as { method?: string })?.method === 'bearer-token',
      });
      dsr.registerSource({
        id: 'users',
        describe: 'Your account',
        export: (subjectId) => [
          { type: 'User', id: subjectId, fields: { email: `${subjectId}@example.com` } },
        ],
      });
    });
    afterEach(async () => {
      await t.close();
    });
    const start = serve(driver);
    const app = async () =>
      (
        await start(
          { ...t.kit, dsr },
          { authenticate: { optional: true }, problemDetails: { log: () => undefined } },
          [],
        )
      ).http;

    it('grants, lists and withdraws consent for the authenticated subject, audited', async () => {
      const http = await app();
      const auth = `Bearer ${await t.sign('alice')}`;
      const granted = await http.post('/privacy/consents/marketing').set('Authorization', auth);
      expect(granted.status).toBe(201);
      expect(granted.body).toMatchObject({ purposeId: 'marketing', granted: true });
      expect((await t.consent.check('alice', 'marketing')).granted).toBe(true);
      const list = await http.get('/privacy/consents').set('Authorization', auth);
      expect(list.body).toEqual([
        expect.objectContaining({ purposeId: 'marketing', granted: true, name: 'Marketing e-mails' }),
      ]);
      await http.delete('/privacy/consents/marketing').set('Authorization', auth).expect(200);
      expect((await t.consent.check('alice', 'marketing')).state).toBe('withdrawn');
      const actions = (await t.entries()).map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining(['privacy.consent.grant', 'privacy.consent.list', 'privacy.consent.withdraw']),
      );
    });

    it('refuses unauthenticated calls, unknown purposes and path tricks with problem+json 4xx, audited', async () => {
      const http = await app();
      await http.get('/privacy/consents').expect(401);
      const auth = `Bearer ${await t.sign('alice')}`;
      const unknown = await http.post('/privacy/consents/no-such-purpose').set('Authorization', auth);
      expect(unknown.status).toBe(404);
      expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((await http.post('/privacy/consents/..%2fx').set('Authorization', auth)).status).toBe(400);
      const entries = await t.entries();
      // the router audits its own refusals; the path trick is already stopped (and audited) by the bundle's inputGuard
      expect(entries.filter((e) => e.category === 'privacy').map((e) => e.outcome)).toEqual([
        'denied',
        'failure',
      ]);
      expect(entries.filter((e) => e.details?.errorCode === 'ERR_HTTP_PATH_TRAVERSAL')).toHaveLength(1);
    });

    it.each([
      ['json', /^application\/json/, '"alice@example.com"'],
      ['csv', /^text\/csv/, 'alice@example.com'],
      ['xml', /^application\/xml/, 'alice@example.com'],
    ])('exports the subject data as %s', async (format, type, needle) => {
      const http = await app();
      const res = await http
        .post('/privacy/requests/export')
        .set('Authorization', `Bearer ${await t.sign('alice')}`)
        .send({ format });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(type);
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename=/);
      expect(res.text).toContain(needle);
    });

    it('logs an erasure request whose status only its subject can read', async () => {
      const http = await app();
      const res = await http
        .post('/privacy/requests/erasure')
        .set('Authorization', `Bearer ${await t.sign('alice')}`);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ type: 'erasure', status: 'identity-verified' });
      await http
        .get(`/privacy/requests/${res.body.id}`)
        .set('Authorization', `Bearer ${await t.sign('alice')}`)
        .expect(200);
      await http
        .get(`/privacy/requests/${res.body.id}`)
        .set('Authorization', `Bearer ${await t.sign('mallory')}`)
        .expect(404);
      const bad = await http
        .post('/privacy/requests/export')
        .set('Authorization', `Bearer ${await t.sign('alice')}`)
        .send({ format: 'pdf' });
      expect(bad.status).toBe(400);
    });
  });
}
