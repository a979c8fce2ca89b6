/**
 * The HTTP adapter contract: what every Bulwark HTTP adapter does, written once and run against
 * each framework through a small driver (build an app from bundle options and a route table, start
 * it on a real port). `@bulwark/express` (on Express 4 and 5) and `@bulwark/koa` call
 * `adapterContract(driver)` from their own test file and keep only framework-specific tests there;
 * `@bulwark/nestjs` runs the sections that apply to it (no bundle, privacy router or brute-force step).
 * The client-address and body-abuse scenarios (client-address-scenarios.ts) are the same idea for
 * the `trustProxy` decision (NestJS holds to the same cases in its own client-address suite).
 */
import * as http from 'node:http';
import fc from 'fast-check';
import request from 'supertest';
import {
  BulwarkConfigError,
  ComplianceKit,
  DataSubjectRequests,
  ErrorCodes,
  evaluateControls,
  type CheckId,
  type EvidenceBundle,
} from '@bulwark/core';
import type { HttpAppEvidence } from '@bulwark/core/http';
import { testKit, type TestKit } from './http-test-kit';

/** What a route handler sees, whatever the framework. */
export interface ContractRequest {
  params: Record<string, string>;
  body: unknown;
  /** The authenticated principal, if any. */
  principal?: { id: string; roles?: readonly string[] };
  /** The bundle's CSRF token for this request (csrf enabled). */
  csrfToken(): string;
}

export interface ContractAnswer {
  status?: number;
  body: unknown;
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
  /** Returns (or resolves to) the JSON answer (status default 200), or throws (an app error). */
  handle(req: ContractRequest): ContractAnswer | Promise<ContractAnswer>;
}

/** The bundle options the contract uses; each adapter's own options extend these. */
export interface ContractOptions {
  csrf?: { secret: string };
  authenticate?: false | { publicPaths?: string[]; optional?: boolean; schemes?: string[] };
  inputGuard?: { maxBodyBytes?: number; maxDepth?: number };
  problemDetails?: { log?: (...args: unknown[]) => void };
  audit?: object;
}

/** The part of the bundle (`bulwark(kit, options)`) the contract drives directly. */
export interface ContractBundle {
  readonly order: readonly string[];
  evidence(): HttpAppEvidence;
  authorize(action: string, resource: string): unknown;
  requireConsent(purpose: string): unknown;
  close(): Promise<void>;
}

export interface RunningApp {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The running bundle (absent for adapters without one: NestJS). */
  bundle?: ContractBundle;
  close(): Promise<void>;
}

/** The parts of the contract; an adapter without a `bulwark()` bundle (NestJS) runs the ones that apply. */
export type ContractSection =
  'bundle' | 'privacyRouter' | 'authenticate' | 'requireConsent' | 'bruteForce' | 'inputGuard';

export interface AdapterDriver {
  /** The adapter's name in compliance evidence (`express`, `koa`). */
  name: string;
  /** Default: every section. */
  sections?: readonly ContractSection[];
  /** False when the adapter has no optional authentication (NestJS maps `optional` to @Public routes). */
  optionalAuthentication?: boolean;
  /** Required by the `bundle` section. */
  bulwark?(kit: TestKit['kit'] | Record<string, never>, options?: ContractOptions): ContractBundle;
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

/** The statuses of every control decided by `check` (one status when they agree). */
function statusOf(bundle: EvidenceBundle, check: CheckId): string {
  const statuses = new Set(
    evaluateControls(bundle, 'all')
      .controls.filter((c) => c.check === check)
      .map((c) => c.status),
  );
  return [...statuses].join('|');
}
const ALL_SECTIONS: readonly ContractSection[] = [
  'bundle',
  'privacyRouter',
  'authenticate',
  'requireConsent',
  'bruteForce',
  'inputGuard',
];

export function adapterContract(driver: AdapterDriver): void {
  const runs = (section: ContractSection) => (driver.sections ?? ALL_SECTIONS).includes(section);
  const bulwark = (...args: Parameters<NonNullable<AdapterDriver['bulwark']>>): ContractBundle => {
    if (driver.bulwark === undefined)
      throw new Error(`${driver.name}: the bundle section needs driver.bulwark`);
    return driver.bulwark(...args);
  };
  const section = (name: ContractSection, title: string, body: () => void) =>
    runs(name) ? describe(title, body) : undefined;

  section('bundle', `${driver.name}: bulwark() bundle (adapter contract)`, () => {
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
    const app = async () => {
      const running = await start(t.kit, options, routes);
      const { bundle } = running;
      if (bundle === undefined) throw new Error(`${driver.name}: the bundle section needs RunningApp.bundle`);
      return { ...running, bundle };
    };

    it('runs its steps in the documented order', () => {
      expect(bulwark(t.kit, options).order).toEqual([
        'requestId',
        'problemDetails',
        'securityHeaders',
        'audit',
        'fetchMetadata',
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

    it('reports what it did on real traffic as observed HttpAppEvidence (nothing before a request)', async () => {
      const idle = bulwark(t.kit, options).evidence();
      expect(idle.name).toBe(driver.name);
      expect(idle.csrf).toEqual({ enabled: true, method: 'signed-double-submit-cookie' });
      expect(idle.traffic?.requests).toBe(0);
      expect(idle.securityHeaders).toEqual({});
      const unused = await new ComplianceKit().registerHttpApp(bulwark(t.kit, options)).collectEvidence();
      expect(statusOf(unused, 'http.security-headers')).toBe('not-demonstrated');

      const { http, bundle } = await app();
      const auth = `Bearer ${await t.sign('bob', ['editor'])}`;
      const page = await http.get('/docs/1').set('Authorization', auth);
      const cookie = (page.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
      await http
        .post('/docs')
        .set('Authorization', auth)
        .set('Cookie', cookie)
        .set('x-csrf-token', page.body.csrf)
        .expect(201);
      await http.post('/docs').set('Authorization', auth).set('Cookie', cookie).expect(403);
      const evidence = bundle.evidence();
      expect(evidence.observedBy).toBe('traffic');
      expect(evidence.securityHeaders['strict-transport-security']).toBe(
        'max-age=63072000; includeSubDomains',
      );
      expect(evidence.traffic).toMatchObject({
        requests: 3,
        responses: 3,
        auth: { bearer: 3, cookie: 0, none: 0 },
        csrf: { accepted: 1, refused: 1 },
        tls: { direct: 0, forwarded: 0, plain: 3 },
      });
      expect(evidence.traffic!.headers['strict-transport-security']).toMatchObject({ responses: 3 });

      const bundleEvidence = await new ComplianceKit().registerHttpApp(bundle).collectEvidence();
      expect(bundleEvidence.http?.provenance).toBe('observed');
      expect(statusOf(bundleEvidence, 'http.security-headers')).toBe('pass');
      expect(statusOf(bundleEvidence, 'http.csrf')).toBe('pass');
      // Served over plain HTTP here: transmission security is not met, whatever HSTS says.
      expect(statusOf(bundleEvidence, 'http.transport-security')).toBe('fail');
    });

    it('validates its options at start-up', () => {
      expect(() => bulwark(t.kit, { csrf: { secret: 'short' } })).toThrow(BulwarkConfigError);
      expect(() => bulwark({}, { audit: {} })).toThrow(BulwarkConfigError);
      expect(() => bulwark({}).authorize('read', 'docs')).toThrow(BulwarkConfigError);
      expect(() => bulwark(t.kit).requireConsent('unknown-purpose')).toThrow(BulwarkConfigError);
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

  section('privacyRouter', `${driver.name}: privacyRouter (adapter contract)`, () => {
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

  describe(`${driver.name}: the bundle's steps (adapter contract)`, () => {
    let t: TestKit;
    beforeEach(async () => {
      t = await testKit();
    });
    afterEach(async () => {
      await t.close();
    });
    const start = serve(driver);
    const quiet = { log: () => undefined };
    const whoami: ContractRoute = {
      method: 'get',
      path: '/me',
      handle: (req) => ({ body: { id: req.principal?.id ?? null, roles: req.principal?.roles ?? [] } }),
    };

    section('authenticate', 'authenticate', () => {
      const app = async (optional = false, schemes?: string[]) =>
        (
          await start(
            t.kit,
            {
              authenticate: { optional, ...(schemes !== undefined ? { schemes } : {}) },
              problemDetails: quiet,
            },
            [whoami],
          )
        ).http;

      it('sets the principal from a valid bearer token', async () => {
        const res = await (
          await app()
        )
          .get('/me')
          .set('Authorization', `Bearer ${await t.sign('alice', ['editor'])}`);
        expect(res.body).toEqual({ id: 'alice', roles: ['editor'] });
      });

      it('answers 401 with a Bearer challenge: no credential, alg none, expired, forged, other issuer, malformed', async () => {
        const http = await app();
        const none = await http.get('/me');
        expect(none.status).toBe(401);
        expect(none.headers['www-authenticate']).toBe('Bearer realm="bulwark"');
        for (const header of [
          `Bearer ${t.attacks.algNone}`,
          `Bearer ${t.attacks.expired}`,
          `Bearer ${t.attacks.forged}`,
          `Bearer ${t.attacks.otherIssuer}`,
          'Bearer not.a.jwt',
          'Bearer a.b.c',
        ]) {
          const res = await http.get('/me').set('Authorization', header);
          expect(res.status).toBe(401);
          expect(res.headers['www-authenticate']).toBe('Bearer realm="bulwark", error="invalid_token"');
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        }
        const expired = await http.get('/me').set('Authorization', `Bearer ${t.attacks.expired}`);
        expect(expired.body.code).toBe(ErrorCodes.TOKEN_EXPIRED);
      });

      it('answers every invalid token but an expired one with the same problem, whichever check failed', async () => {
        const http = await app();
        const bodies = [];
        for (const header of [
          `Bearer ${t.attacks.algNone}`,
          `Bearer ${t.attacks.forged}`,
          `Bearer ${t.attacks.otherIssuer}`,
          'Bearer not.a.jwt',
          'Bearer a.b.c',
        ]) {
          const { requestId: _id, ...body } = (await http.get('/me').set('Authorization', header).expect(401))
            .body;
          bodies.push(body);
        }
        expect(bodies[0]).toEqual({
          type: 'https://bulwark.dev/problems/token-invalid',
          title: 'Invalid token',
          status: 401,
          detail: 'The access token is invalid.',
          code: ErrorCodes.TOKEN_INVALID,
        });
        for (const body of bodies) expect(body).toEqual(bodies[0]);
      });

      (driver.optionalAuthentication === false ? it.skip : it)(
        'lets anonymous requests through on optional routes but still refuses bad tokens',
        async () => {
          const http = await app(true);
          expect((await http.get('/me')).body).toEqual({ id: null, roles: [] });
          await http.get('/me').set('Authorization', `Bearer ${t.attacks.algNone}`).expect(401);
        },
      );

      it('answers another scheme as no credential (RFC 6750 §3: no error) and a malformed one with 400 invalid_request', async () => {
        const http = await app();
        for (const header of ['Basic YWxpY2U6c2VjcmV0', `Token ${await t.sign('alice')}`, 'eyJhbGciOi']) {
          const res = await http.get('/me').set('Authorization', header);
          expect(res.status).toBe(401);
          expect(res.headers['www-authenticate']).toBe('Bearer realm="bulwark"');
          expect(res.body.code).toBe(ErrorCodes.HTTP_AUTH_REQUIRED);
        }
        for (const header of ['Bearer', 'Bearer a b', 'Bearer a, Basic b', 'bearer realm="x"']) {
          const res = await http.get('/me').set('Authorization', header);
          expect(res.status).toBe(400);
          expect(res.headers['www-authenticate']).toBe('Bearer realm="bulwark", error="invalid_request"');
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(res.body).toMatchObject({ status: 400, code: ErrorCodes.HTTP_AUTH_MALFORMED });
        }
      });

      it("accepts the configured schemes (the app's own `Token`), case-insensitively, and challenges with the first", async () => {
        const http = await app(false, ['Token', 'Bearer']);
        const token = await t.sign('alice', ['editor']);
        for (const scheme of ['Token', 'token', 'Bearer', 'BEARER']) {
          const res = await http.get('/me').set('Authorization', `${scheme} ${token}`);
          expect({ scheme, status: res.status, body: res.body }).toEqual({
            scheme,
            status: 200,
            body: { id: 'alice', roles: ['editor'] },
          });
        }
        const none = await http.get('/me');
        expect(none.status).toBe(401);
        expect(none.headers['www-authenticate']).toBe('Token realm="bulwark"');
        const forged = await http.get('/me').set('Authorization', `Token ${t.attacks.forged}`);
        expect(forged.status).toBe(401);
        expect(forged.headers['www-authenticate']).toBe('Token realm="bulwark", error="invalid_token"');
        expect(forged.body.code).toBe(ErrorCodes.TOKEN_INVALID);
        const basic = await http.get('/me').set('Authorization', 'Basic YWxpY2U6c2VjcmV0');
        expect(basic.status).toBe(401);
        expect(basic.headers['www-authenticate']).toBe('Token realm="bulwark"');
      });

      it('refuses a scheme list that is not RFC 9110 tokens at start-up', async () => {
        for (const schemes of [[], ['Bearer', 'bearer'], ['To ken'], ['Token"']]) {
          await expect(app(false, schemes)).rejects.toThrow(/schemes/);
        }
      });

      (driver.optionalAuthentication === false ? it.skip : it)(
        'on optional (public) routes, ignores an Authorization header of another scheme or a malformed one',
        async () => {
          const http = await app(true);
          for (const header of [
            `Token ${await t.sign('alice')}`,
            'Basic YWxpY2U6c2VjcmV0',
            'Bearer a b',
            'Bearer',
          ]) {
            const res = await http.get('/me').set('Authorization', header);
            expect({ header, status: res.status, body: res.body }).toEqual({
              header,
              status: 200,
              body: { id: null, roles: [] },
            });
          }
          // A token of an accepted scheme is still verified: a forged one is never the anonymous view.
          await http.get('/me').set('Authorization', `Bearer ${t.attacks.forged}`).expect(401);
          expect((await http.get('/me').set('Authorization', `Bearer ${await t.sign('bob')}`)).body.id).toBe(
            'bob',
          );
        },
      );
    });

    section('requireConsent', 'requireConsent', () => {
      const app = async () =>
        (
          await start(t.kit, { problemDetails: quiet }, [
            {
              method: 'post',
              path: '/newsletter',
              consent: 'marketing',
              handle: () => ({ body: { sent: true } }),
            },
          ])
        ).http;

      it('refuses with 403 and the purpose id until the subject consents, and again after withdrawal', async () => {
        const http = await app();
        const auth = `Bearer ${await t.sign('carol')}`;
        const res = await http.post('/newsletter').set('Authorization', auth);
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({
          code: 'ERR_CONSENT_REQUIRED',
          purposeId: 'marketing',
          state: 'none',
        });
        await t.consent.grant('carol', 'marketing');
        await http.post('/newsletter').set('Authorization', auth).expect(200);
        await t.consent.withdraw('carol', 'marketing');
        await http.post('/newsletter').set('Authorization', auth).expect(403);
      });

      it('refuses consent to an outdated text version once the purpose requires renewal', async () => {
        await t.consent.grant('dave', 'marketing');
        t.consent.registerPurpose({
          id: 'marketing',
          name: 'Marketing e-mails',
          version: 2,
          text: 'New text.',
          minVersion: 2,
        });
        const res = await (
          await app()
        )
          .post('/newsletter')
          .set('Authorization', `Bearer ${await t.sign('dave')}`);
        expect(res.status).toBe(403);
        expect(res.body.state).toBe('outdated');
      });
    });

    section('bruteForce', 'bruteForce', () => {
      it('locks the account out after repeated 401s (429 + Retry-After) and a success clears the counter', async () => {
        const { http } = await start(t.kit, { authenticate: false, problemDetails: quiet }, [
          {
            method: 'post',
            path: '/login',
            bruteForce: true,
            handle: (req) => ({
              status: (req.body as { password?: string }).password === 'right' ? 200 : 401,
              body: {},
            }),
          },
        ]);
        const login = (password: string) => http.post('/login').send({ username: 'eve', password });
        await login('wrong').expect(401);
        await login('wrong').expect(401);
        await login('right').expect(200); // success resets the ip+account counter
        for (let i = 0; i < 3; i++) await login('wrong').expect(401);
        const locked = await login('right');
        expect(locked.status).toBe(429);
        expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
        expect(locked.headers['content-type']).toMatch(/^application\/problem\+json/);
      });

      it('counts a login whose client went away before the answer (the password may have been checked)', async () => {
        let entered: () => void = () => undefined;
        const { url, http: client } = await start(t.kit, { authenticate: false, problemDetails: quiet }, [
          {
            method: 'post',
            path: '/login',
            bruteForce: true,
            handle: async () => {
              entered();
              await new Promise((resolve) => setTimeout(resolve, 50));
              return { body: {} };
            },
          },
        ]);
        const { port } = new URL(url);
        // ipAccount allows 3 (test kit): three logins abandoned mid-check use them up.
        for (let i = 0; i < 3; i++) {
          const inHandler = new Promise<void>((resolve) => (entered = resolve));
          const req = http.request({
            host: '127.0.0.1',
            port: Number(port),
            method: 'POST',
            path: '/login',
            headers: { 'content-type': 'application/json' },
          });
          req.on('error', () => undefined);
          req.end(JSON.stringify({ username: 'eve', password: 'right' }));
          await inHandler;
          req.destroy();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const res = await client.post('/login').send({ username: 'eve', password: 'right' });
        expect(res.status).toBe(429);
        // Counted as failures (the third one started the 30 s lockout), not left holding the counter.
        expect(res.headers['retry-after']).toBe('30');
      });
    });

    section('inputGuard', 'inputGuard', () => {
      const echo = (method: 'get' | 'post', path: string): ContractRoute => ({
        method,
        path,
        handle: (req) => ({ body: { body: req.body ?? null } }),
      });
      const app = async () =>
        (
          await start(
            t.kit,
            { authenticate: false, inputGuard: { maxBodyBytes: 1024, maxDepth: 5 }, problemDetails: quiet },
            [echo('post', '/x'), echo('get', '/x'), echo('get', '/files/:name')],
          )
        ).http;

      it('parses JSON bodies within the limits', async () => {
        expect((await (await app()).post('/x').send({ a: { b: 1 } })).body).toEqual({
          body: { a: { b: 1 } },
        });
      });

      it.each([
        [
          'an oversized body',
          (r: request.Test) => r.send({ big: 'x'.repeat(2000) }),
          413,
          'ERR_HTTP_BODY_TOO_LARGE',
        ],
        [
          'deep JSON',
          (r: request.Test) => r.send(JSON.parse('['.repeat(10) + ']'.repeat(10))),
          422,
          'ERR_HTTP_INPUT_TOO_DEEP',
        ],
        [
          'a top-level __proto__ key',
          (r: request.Test) => r.set('Content-Type', 'application/json').send('{"__proto__":{"admin":true}}'),
          400,
          'ERR_HTTP_INPUT_FORBIDDEN_KEY',
        ],
        [
          'a nested __proto__ key',
          (r: request.Test) =>
            r.set('Content-Type', 'application/json').send('{"a":{"__proto__":{"admin":true}}}'),
          400,
          'ERR_HTTP_INPUT_FORBIDDEN_KEY',
        ],
        [
          'a constructor key',
          (r: request.Test) => r.send({ constructor: { prototype: { admin: true } } }),
          400,
          'ERR_HTTP_INPUT_FORBIDDEN_KEY',
        ],
        ['a NUL byte', (r: request.Test) => r.send({ name: 'a\u0000b' }), 400, 'ERR_HTTP_INPUT_NUL_BYTE'],
        [
          'malformed JSON',
          (r: request.Test) => r.set('Content-Type', 'application/json').send('{"a":'),
          400,
          'ERR_HTTP_MALFORMED_BODY',
        ],
      ])('refuses %s', async (_name, send, status, code) => {
        const res = await send((await app()).post('/x'));
        expect(res.status).toBe(status);
        expect(res.body.code).toBe(code);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      });

      it.each([
        ['/files/..%2f..%2fetc%2fpasswd', 'ERR_HTTP_PATH_TRAVERSAL'],
        ['/files/%252e%252e/secret', 'ERR_HTTP_PATH_TRAVERSAL'],
        ['/files/%252e%252e/x', 'ERR_HTTP_PATH_TRAVERSAL'],
        ['/files/a%5cb', 'ERR_HTTP_PATH_TRAVERSAL'],
        ['/files/x%00.txt', 'ERR_HTTP_INPUT_NUL_BYTE'],
        ['/x?a[__proto__][admin]=1', 'ERR_HTTP_INPUT_FORBIDDEN_KEY'],
        ['/x?constructor.prototype.admin=1', 'ERR_HTTP_INPUT_FORBIDDEN_KEY'],
        ['/x?q=%00', 'ERR_HTTP_INPUT_NUL_BYTE'],
      ])('refuses the URL %s', async (url, code) => {
        const res = await (await app()).get(url);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe(code);
      });
    });
  });
}
