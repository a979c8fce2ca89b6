/**
 * The guard's cached-token path: a token BulwarkModule's authenticator verified moments ago is
 * answered from its cache without a promise (BearerAuthenticator.cachedPrincipal), and a route that
 * needs nothing asynchronous afterwards (no rate limit, `@Authorize` or `@RequireConsent`) passes
 * synchronously. Every check still runs on that path: a denial, a rate limit, a step-up refusal, a
 * revoked token; refusals keep their code in the audit event.
 */
import 'reflect-metadata';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  ErrorCodes,
  MemoryRevocationStore,
  PolicyEngine,
  TokenRevocation,
  type TokenService,
} from '@bulwark/core';
import {
  Audited,
  Authorize,
  BulwarkGuard,
  BulwarkModule,
  RequireRecentAuth,
  type BulwarkModuleOptions,
} from '../src';
import {
  auditEntries,
  MeController,
  memoryAuditLog,
  policyEngine,
  RecordsController,
  tokenService,
} from './support/fixtures';
import { createApp, PLATFORMS, type Platform } from './support/platform';

@Controller('fresh')
class FreshController {
  @Get()
  @RequireRecentAuth(300)
  @Audited('fresh.read')
  read(): { ok: true } {
    return { ok: true };
  }
}

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function start(platform: Platform, options: BulwarkModuleOptions): Promise<INestApplication> {
  @Module({
    imports: [BulwarkModule.forRoot({ authorizer: policyEngine(), ...options })],
    controllers: [MeController, RecordsController, FreshController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = await createApp(platform, moduleRef);
  apps.push(app);
  return app;
}

/**
 * Counts the signature checks the authenticator asks for, by either path: `verify()` or the
 * synchronous `tryVerifySync()` that answers plain tokens (a token it is not sure of goes on to
 * `verify()` and counts twice; the tokens here are plain).
 */
function counted(tokens: TokenService): { calls: () => number } {
  const spy = jest.spyOn(tokens, 'verify');
  const sync = jest.spyOn(tokens, 'tryVerifySync');
  return { calls: () => spy.mock.calls.length + sync.mock.calls.length };
}

describe.each(PLATFORMS)('the guard on a cached token (%s)', (platform) => {
  it('verifies a token once and still refuses, audits and rate-limits its later requests', async () => {
    const tokens = tokenService();
    const verify = counted(tokens);
    const auditLog = await memoryAuditLog();
    const app = await start(platform, {
      tokens,
      authorizer: policyEngine(),
      auditLog,
      rateLimit: { perUser: { limit: 4, windowSec: 60 } },
    });
    const server = app.getHttpServer();
    const token = await tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
    const get = (path: string) => request(server).get(path).set('Authorization', `Bearer ${token}`);

    const first = await get('/me');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ id: 'alice', roles: ['reader'] });
    expect(first.headers['cache-control']).toBe('no-store');
    const second = await get('/me');
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ id: 'alice', roles: ['reader'] });
    expect(second.headers['cache-control']).toBe('no-store');
    expect(second.headers['ratelimit-remaining'] ?? second.headers['ratelimit']).toBeDefined();
    expect(verify.calls()).toBe(1);

    // A hard deny on a cached token: 403 with the policy's reason, audited with the code.
    const locked = await get('/records/locked');
    expect(locked.status).toBe(403);
    expect(locked.body.reasonId).toBe('record_locked');
    // The fourth request of the window passes, the fifth is refused.
    expect((await get('/records/a')).status).toBe(200);
    const limited = await get('/records/b');
    expect(limited.status).toBe(429);
    expect(verify.calls()).toBe(1);

    const entries = await auditEntries(auditLog, 3);
    const of = (id: string) => entries.find((e) => e.resource?.id === id);
    expect(of('locked')).toMatchObject({
      action: 'records.read',
      outcome: 'denied',
      actor: { type: 'user', id: 'alice' },
      details: { status: 403, errorCode: ErrorCodes.POLICY_DENIED, reasonId: 'record_locked' },
    });
    expect(of('a')).toMatchObject({ action: 'records.read', outcome: 'success', details: { status: 200 } });
    expect(of('b')).toMatchObject({
      action: 'records.read',
      outcome: 'failure',
      details: { status: 429, errorCode: ErrorCodes.HTTP_RATE_LIMITED },
    });
  });

  it('refuses a step-up route on a cached token without recent authentication, and audits the refusal', async () => {
    const tokens = tokenService();
    const verify = counted(tokens);
    const auditLog = await memoryAuditLog();
    const app = await start(platform, { tokens, auditLog });
    const server = app.getHttpServer();
    // Signed in an hour ago: too long for @RequireRecentAuth(300).
    const token = await tokens.sign(
      { roles: ['reader'], auth_time: Math.floor(Date.now() / 1000) - 3600 },
      { subject: 'bob' },
    );
    expect((await request(server).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const refused = await request(server).get('/fresh').set('Authorization', `Bearer ${token}`);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe(ErrorCodes.MFA_STEP_UP_REQUIRED);
    expect(verify.calls()).toBe(1);
    const [entry] = await auditEntries(auditLog, 1);
    expect(entry).toMatchObject({
      action: 'fresh.read',
      outcome: 'denied',
      actor: { type: 'user', id: 'bob' },
      details: { status: 401, errorCode: ErrorCodes.MFA_STEP_UP_REQUIRED },
    });
  });

  it('never answers from the cache when a revocation check is configured', async () => {
    const tokens = tokenService();
    const verify = counted(tokens);
    const revocation = new TokenRevocation({ store: new MemoryRevocationStore(), tokens });
    const app = await start(platform, { tokens, revocation, auditLog: await memoryAuditLog() });
    const server = app.getHttpServer();
    const token = await tokens.sign({ roles: ['reader'] }, { subject: 'carol' });
    const me = () => request(server).get('/me').set('Authorization', `Bearer ${token}`);
    expect((await me()).status).toBe(200);
    expect((await me()).status).toBe(200);
    expect(verify.calls()).toBe(1);
    await revocation.revoke(token);
    const before = verify.calls(); // revoke() reads the token's claims through the service
    const refused = await me();
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe(ErrorCodes.TOKEN_INVALID);
    expect(verify.calls()).toBe(before);
  });
});

describe('BulwarkGuard.canActivate', () => {
  it('returns a boolean, not a promise, for a cached or plainly valid token on a route with nothing asynchronous left', async () => {
    const tokens = tokenService();
    const app = await start('express', { tokens, auditLog: await memoryAuditLog() });
    const guard = app.get(BulwarkGuard);
    const token = await tokens.sign({ roles: ['reader'] }, { subject: 'dave' });
    const proto = MeController.prototype as unknown as Record<string, object>;
    const call = (authorization: string | undefined) => {
      const req = new IncomingMessage(new Socket());
      req.method = 'GET';
      req.url = '/me';
      if (authorization !== undefined) req.headers.authorization = authorization;
      const res = new ServerResponse(req);
      const context = new ExecutionContextHost([req, res], MeController, proto.me as () => unknown);
      context.setType('http');
      return { result: guard.canActivate(context), req: req as IncomingMessage & { principal?: unknown } };
    };

    const verified = jest.spyOn(tokens, 'tryVerifySync');
    const first = call(`Bearer ${token}`);
    expect(first.result).toBe(true); // a plain token: verified now, synchronously (tryVerifySync)
    expect(verified).toHaveBeenCalledTimes(1);
    const cached = call(`Bearer ${token}`);
    expect(cached.result).toBe(true); // answered from the cache, synchronously
    expect(cached.req.principal).toMatchObject({ id: 'dave', roles: ['reader'] });
    expect(verified).toHaveBeenCalledTimes(1); // the second answer came from the cache

    // Anything else still goes through authenticate(): no token, a forged one.
    await expect(call(undefined).result).rejects.toMatchObject({ code: ErrorCodes.HTTP_AUTH_REQUIRED });
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const refused = call(`Bearer ${forged}`);
    expect(refused.result).toBeInstanceOf(Promise);
    await expect(refused.result).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_TOKEN_/) });
  });
});

describe('fixed resources (Express)', () => {
  /** An Express app over RecordsController whose query parser counts its calls. */
  async function recordsApp(authzContext?: BulwarkModuleOptions['authzContext']) {
    const tokens = tokenService();
    const auditLog = await memoryAuditLog();
    @Module({
      imports: [
        BulwarkModule.forRoot({
          tokens,
          authorizer: policyEngine(),
          auditLog,
          ...(authzContext !== undefined ? { authzContext } : {}),
        }),
      ],
      controllers: [RecordsController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    const counter = { parsed: 0 };
    // Express 5 parses the query string on every read of `req.query`.
    app.set('query parser', (query: string) => {
      counter.parsed++;
      return Object.fromEntries(new URLSearchParams(query));
    });
    await app.init();
    apps.push(app);
    const token = await tokens.sign({ roles: ['reader'] }, { subject: 'erin' });
    const get = (path: string) =>
      request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);
    return { get, auditLog, counter };
  }

  // GET /records: @Authorize('read', 'records') and @Audited(..., { resource: 'records' }), fixed.
  it('never builds the request view for a fixed @Authorize / @Audited resource', async () => {
    const { get, auditLog, counter } = await recordsApp();
    expect((await get('/records?page=2')).status).toBe(200);
    const [entry] = await auditEntries(auditLog, 1);
    expect(entry).toMatchObject({
      action: 'records.access',
      resource: { type: 'records' },
      outcome: 'success',
    });
    expect(counter.parsed).toBe(0);
  });

  it('builds it once when authzContext or a resolver reads it', async () => {
    const queries: unknown[] = [];
    const { get, auditLog, counter } = await recordsApp((view) => {
      queries.push(view.query);
      return {};
    });
    expect((await get('/records?page=2')).status).toBe(200);
    await auditEntries(auditLog, 1);
    expect(queries).toEqual([{ page: '2' }]);
    expect(counter.parsed).toBe(1);
    // A resolver of the request (GET /records/:id reads params): resolved in the guard and again
    // for the audit event.
    expect((await get('/records/7?x=1')).status).toBe(200);
    const entries = await auditEntries(auditLog, 2);
    expect(entries[1]).toMatchObject({ action: 'records.read', resource: { type: 'records', id: '7' } });
  });
});

describe.each(PLATFORMS)('the decided context on filterResponse routes (%s)', (platform) => {
  @Controller('notes')
  class NotesController {
    @Get()
    @Authorize('read', 'notes', { filterResponse: true })
    read(): { title: string; secret: string } {
      return { title: 't', secret: 's' };
    }
  }

  it("filters the response with the context the guard decided on (authzContext's values)", async () => {
    const tokens = tokenService();
    const authorizer = new PolicyEngine({
      policy: {
        version: 1,
        roles: { reader: {} },
        policies: [
          {
            id: 'notes',
            rules: [
              { id: 'read', effect: 'allow', roles: ['reader'], actions: ['read'], resources: ['notes'] },
              {
                id: 'secret-inside-only',
                effect: 'deny',
                roles: ['*'],
                actions: ['read'],
                resources: ['notes'],
                fields: ['secret'],
                when: { not: { attr: 'context.inside', eq: true } },
              },
            ],
          },
        ],
      },
    });
    @Module({
      imports: [
        BulwarkModule.forRoot({
          tokens,
          authorizer,
          authzContext: (view) => ({ inside: view.headers['x-inside'] === 'yes' }),
        }),
      ],
      controllers: [NotesController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = await createApp(platform, moduleRef);
    apps.push(app);
    const token = await tokens.sign({ roles: ['reader'] }, { subject: 'fay' });
    const get = () => request(app.getHttpServer()).get('/notes').set('Authorization', `Bearer ${token}`);
    expect((await get().set('x-inside', 'yes')).body).toEqual({ title: 't', secret: 's' });
    expect((await get()).body).toEqual({ title: 't' });
  });
});
