import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { SignJWT, base64url } from 'jose';
import type { AuditLog, TokenService } from '@bulwark/core';
import {
  BULWARK_AUDIT_LOG,
  BULWARK_AUTHORIZER,
  BULWARK_CONSENT_MANAGER,
  BULWARK_TOKEN_SERVICE,
  BulwarkModule,
} from '../src';
import {
  AUDIENCE,
  ISSUER,
  MeController,
  OffersController,
  PublicController,
  RecordsController,
  SECRET,
  auditEntries,
  consentManager,
  memoryAuditLog,
  policyEngine,
  tokenService,
} from './support/fixtures';
import type { ConsentManager } from '@bulwark/core';
import { PLATFORMS, createApp } from './support/platform';

const PROBLEM = /^application\/problem\+json/;

describe.each(PLATFORMS)('BulwarkModule on @nestjs/platform-%s', (platform) => {
  let app: INestApplication;
  let tokens: TokenService;
  let log: AuditLog;
  let consent: ConsentManager;
  let reader: string;
  let editor: string;

  beforeAll(async () => {
    tokens = tokenService();
    log = await memoryAuditLog();
    consent = await consentManager();
    const authorizer = policyEngine();
    @Module({
      imports: [BulwarkModule.forRoot({ tokens, authorizer, auditLog: log, consent })],
      controllers: [RecordsController, PublicController, OffersController, MeController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = await createApp(platform, moduleRef);
    reader = await tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
    editor = await tokens.sign({ roles: ['editor'] }, { subject: 'bob' });
  });

  afterAll(async () => {
    await app.close();
    await log.close();
  });

  const server = () => app.getHttpServer();
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  /** Entries written after `since` entries existed. */
  const newEntries = async (since: number, count: number) =>
    (await auditEntries(log, since + count)).slice(since);

  it('exposes the configured services under their tokens', () => {
    expect(app.get(BULWARK_TOKEN_SERVICE)).toBe(tokens);
    expect(app.get(BULWARK_AUDIT_LOG)).toBe(log);
    expect(app.get(BULWARK_CONSENT_MANAGER)).toBe(consent);
    expect(typeof app.get(BULWARK_AUTHORIZER).check).toBe('function');
  });

  describe('authentication', () => {
    it('lets a valid bearer token through and hands the principal to the handler', async () => {
      const res = await request(server()).get('/me').set(auth(reader)).expect(200);
      expect(res.body).toEqual({ id: 'alice', roles: ['reader'] });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('refuses a request without a token with 401 and a plain Bearer challenge', async () => {
      const res = await request(server()).get('/me').set('X-Request-Id', 'req-123').expect(401);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="bulwark"');
      // A client's X-Request-Id is never adopted as the request id.
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body).toMatchObject({
        status: 401,
        code: 'ERR_HTTP_AUTH_REQUIRED',
        requestId: res.headers['x-request-id'],
      });
    });

    it('answers a non-Bearer scheme as no credential: 401 with a plain challenge', async () => {
      const res = await request(server()).get('/me').set('Authorization', 'Basic YWxpY2U6cHc=').expect(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="bulwark"');
      expect(res.body).toMatchObject({ status: 401, code: 'ERR_HTTP_AUTH_REQUIRED' });
    });

    const badTokens: [string, () => Promise<string>, string][] = [
      ['a malformed token', async () => 'not.a.jwt', 'ERR_TOKEN_INVALID'],
      [
        'an unsigned token (alg none)',
        async () => {
          const enc = (o: object) => base64url.encode(JSON.stringify(o));
          const now = Math.floor(Date.now() / 1000);
          return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'mallory', roles: ['editor'], iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 })}.`;
        },
        'ERR_TOKEN_INVALID',
      ],
      [
        'an expired token',
        () =>
          tokenService({ clock: () => new Date(Date.now() - 3_600_000) }).sign(
            { roles: ['reader'] },
            { subject: 'alice' },
          ),
        'ERR_TOKEN_EXPIRED',
      ],
      [
        'a token from another issuer',
        () => tokenService({ issuer: 'https://evil.test' }).sign({ roles: ['editor'] }, { subject: 'alice' }),
        'ERR_TOKEN_INVALID',
      ],
      [
        'a token signed with another key',
        () =>
          new SignJWT({ roles: ['editor'] })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject('alice')
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(Buffer.from(SECRET).reverse()),
        'ERR_TOKEN_INVALID',
      ],
    ];

    it.each(badTokens)(
      'refuses %s with 401 problem+json and error="invalid_token"',
      async (_name, make, code) => {
        const token = await make();
        const header = `Bearer ${token}`;
        const res = await request(server()).get('/records').set('Authorization', header).expect(401);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="bulwark", error="invalid_token"');
        expect(res.body).toMatchObject({ status: 401, title: 'Invalid token', code });
        // Nothing of the token (or of who it claims to be) comes back.
        expect(JSON.stringify(res.body)).not.toContain('mallory');
        expect(JSON.stringify(res.body)).not.toContain(token);
      },
    );
  });

  describe('@Public', () => {
    it('serves a public route without a token', async () => {
      await request(server()).get('/public').expect(200, { hello: 'anonymous' });
    });

    it('still verifies a token sent to a public route (good: principal, bad: 401)', async () => {
      await request(server()).get('/public').set(auth(reader)).expect(200, { hello: 'alice' });
      await request(server()).get('/public').set('Authorization', 'Bearer x.y.z').expect(401);
    });

    it('@Public(false) on a method overrides @Public() on its class', async () => {
      await request(server()).get('/public/private').expect(401);
      await request(server()).get('/public/private').set(auth(reader)).expect(200, { me: 'alice' });
    });
  });

  describe('@Authorize', () => {
    it('allows what the policy allows', async () => {
      await request(server()).get('/records/7').set(auth(reader)).expect(200, { id: '7', by: 'alice' });
      await request(server())
        .post('/records')
        .set(auth(editor))
        .send({ title: 't' })
        .expect(201, { title: 't' });
    });

    it('answers a denial with 403 carrying only the reason id', async () => {
      const res = await request(server()).post('/records').set(auth(reader)).send({ title: 't' }).expect(403);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toEqual({
        type: 'https://bulwark.dev/problems/policy-denied',
        title: 'Forbidden',
        status: 403,
        detail: 'You are not allowed to perform this action.',
        requestId: expect.any(String),
        reasonId: 'default_deny',
        code: 'ERR_POLICY_DENIED',
      });
    });

    it("reports a deny rule's own reason id, never the policy or rule id", async () => {
      const res = await request(server()).get('/records/locked').set(auth(editor)).expect(403);
      expect(res.body.reasonId).toBe('record_locked');
      expect(JSON.stringify(res.body)).not.toMatch(/"locked"|records\b.*rule|policyId|ruleId/);
    });

    it('method-level @Authorize overrides the class-level one', async () => {
      // Class level says read on records (readers pass); the method says delete (nobody may).
      await request(server()).get('/records').set(auth(reader)).expect(200, { by: 'alice' });
      const res = await request(server()).delete('/records/7').set(auth(editor)).expect(403);
      expect(res.body.reasonId).toBe('default_deny');
    });

    it('refuses a resource id that walks out of its collection', async () => {
      const res = await request(server()).get('/records/..%2F..%2Fadmin').set(auth(editor)).expect(400);
      expect(res.body.code).toBe('ERR_HTTP_PATH_TRAVERSAL');
    });
  });

  describe('@RequireConsent', () => {
    it('refuses without consent: 403 with the purpose id, then allows once granted', async () => {
      const carol = await tokens.sign({ roles: ['reader'] }, { subject: 'carol' });
      const res = await request(server()).get('/offers').set(auth(carol)).expect(403);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ code: 'ERR_CONSENT_REQUIRED', purposeId: 'marketing', state: 'none' });

      await consent.grant('carol', 'marketing', { version: 1 });
      await request(server()).get('/offers').set(auth(carol)).expect(200);

      await consent.withdraw('carol', 'marketing', { version: 1 });
      const again = await request(server()).get('/offers').set(auth(carol)).expect(403);
      expect(again.body).toMatchObject({ purposeId: 'marketing', state: 'withdrawn' });
    });
  });

  describe('@Audited', () => {
    it('records a success with actor, action, resource, outcome and request id', async () => {
      const before = (await auditEntries(log, 0)).length;
      await request(server())
        .get('/records/42')
        .set(auth(reader))
        .set('X-Request-Id', 'audit-ok-1')
        .expect(200);
      const [entry] = await newEntries(before, 1);
      expect(entry).toMatchObject({
        actor: { id: 'alice', type: 'user' },
        action: 'records.read',
        resource: { type: 'records', id: '42' },
        outcome: 'success',
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        category: 'http',
        details: { method: 'GET', route: '/records/:id', status: 200, clientRequestId: 'audit-ok-1' },
      });
    });

    it('uses the class-level @Audited when the method has none', async () => {
      const before = (await auditEntries(log, 0)).length;
      await request(server()).get('/records').set(auth(reader)).expect(200);
      const [entry] = await newEntries(before, 1);
      expect(entry).toMatchObject({
        action: 'records.access',
        resource: { type: 'records' },
        outcome: 'success',
      });
    });

    it('records a refusal by the guard as denied, with the reason id', async () => {
      const before = (await auditEntries(log, 0)).length;
      await request(server()).post('/records').set(auth(reader)).send({ title: 't' }).expect(403);
      await request(server()).get('/records/9').expect(401);
      const [denied, anonymous] = await newEntries(before, 2);
      expect(denied).toMatchObject({
        actor: { id: 'alice' },
        action: 'records.create',
        outcome: 'denied',
        details: { status: 403, errorCode: 'ERR_POLICY_DENIED', reasonId: 'default_deny' },
      });
      expect(anonymous).toMatchObject({
        actor: { id: 'anonymous', type: 'anonymous' },
        action: 'records.read',
        resource: { type: 'records', id: '9' },
        outcome: 'denied',
        details: { status: 401, errorCode: 'ERR_HTTP_AUTH_REQUIRED' },
      });
    });

    it('records which token check failed, although the client is only told "invalid token"', async () => {
      const before = (await auditEntries(log, 0)).length;
      const foreign = await tokenService({ issuer: 'https://evil.test' }).sign(
        { roles: ['editor'] },
        { subject: 'alice' },
      );
      const res = await request(server()).get('/records/9').set(auth(foreign)).expect(401);
      expect(res.body.code).toBe('ERR_TOKEN_INVALID');
      const [refused] = await newEntries(before, 1);
      expect(refused).toMatchObject({
        actor: { id: 'anonymous' },
        outcome: 'denied',
        details: { status: 401, errorCode: 'ERR_TOKEN_CLAIM_INVALID', errorReason: 'iss.check_failed' },
      });
    });

    it('records a thrown exception as a failure; the client gets a generic 500', async () => {
      const before = (await auditEntries(log, 0)).length;
      const res = await request(server()).get('/records/boom').set(auth(reader)).expect(500);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toEqual({
        type: 'https://bulwark.dev/problems/internal',
        title: 'Internal Server Error',
        status: 500,
        detail: 'The server could not complete the request.',
        requestId: expect.any(String),
      });
      expect(JSON.stringify(res.body)).not.toMatch(/hunter2|db:|10\.0\.0\.5|stack|refused/);
      const [entry] = await newEntries(before, 1);
      expect(entry).toMatchObject({
        action: 'records.read',
        outcome: 'failure',
        details: { status: 500, errorCode: 'Error' },
      });
      expect(JSON.stringify(entry)).not.toContain('hunter2');
    });

    it('records an HttpException by the status it is answered with', async () => {
      const before = (await auditEntries(log, 0)).length;
      const res = await request(server()).get('/records/missing').set(auth(reader)).expect(404);
      expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'No record with this id.' });
      const [entry] = await newEntries(before, 1);
      expect(entry).toMatchObject({
        outcome: 'failure',
        details: { status: 404, errorCode: 'NotFoundException' },
      });
    });

    it('leaves routes without @Audited out of the log', async () => {
      const before = (await auditEntries(log, 0)).length;
      await request(server()).get('/me').set(auth(reader)).expect(200);
      await request(server()).get('/records/1').set(auth(reader)).expect(200);
      const entries = await newEntries(before, 1);
      expect(entries.map((e) => e.action)).toEqual(['records.read']);
    });

    it('keeps one request id from middleware to audit event and problem body, and the chain verifies', async () => {
      const before = (await auditEntries(log, 0)).length;
      const denied = await request(server()).get('/records/9').expect(401);
      expect(denied.headers['content-type']).toMatch(PROBLEM);
      // Middleware (raw request) and guard / filter (the platform's request) share the request's state.
      expect(denied.body.requestId).toBe(denied.headers['x-request-id']);
      const [entry] = await newEntries(before, 1);
      expect(entry).toMatchObject({ outcome: 'denied', requestId: denied.headers['x-request-id'] });
      expect((await log.verify()).ok).toBe(true);
    });
  });

  describe('exception filter', () => {
    it("leaves the app's own HttpExceptions as Nest sends them (validation messages included)", async () => {
      const res = await request(server()).post('/records').set(auth(editor)).send({}).expect(400);
      expect(res.headers['content-type']).not.toMatch(PROBLEM);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: ['title must be a string', 'title is required'],
      });
      const pipe = await request(server()).get('/records/n/abc').set(auth(reader)).expect(400);
      expect(pipe.body.message).toMatch(/numeric string is expected/);
    });

    it("keeps the status and body of the app's 5xx HttpException (the app wrote it)", async () => {
      const res = await request(server()).get('/records/down').set(auth(reader)).expect(503);
      expect(res.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'replica lag on db-7',
      });
    });

    it('answers unknown routes with a 404 problem', async () => {
      const res = await request(server()).get('/nope').set(auth(reader)).expect(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.status).toBe(404);
    });
  });
});
