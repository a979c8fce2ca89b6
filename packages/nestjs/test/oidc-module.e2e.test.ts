import 'reflect-metadata';
import { Controller, Get, Module, Req, UnauthorizedException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { BulwarkModule, BulwarkOidcModule, Public } from '../src';
import request from 'supertest';
import { BulwarkIdentityError, ErrorCodes, type AuditLog } from '@bulwark/core';
import { auditEntries, memoryAuditLog, tokenService } from './support/fixtures';
import { oidcAdapterScenarios, type TestSessions } from '../../../test/support/oidc-adapter-scenarios';
import type { OidcRelyingParty } from '@bulwark/identity/oidc';

oidcAdapterScenarios('NestJS', async (rp: OidcRelyingParty, sessions: TestSessions) => {
  // With BulwarkModule's global guard: the OIDC routes are public, everything else needs a principal.
  @Public()
  @Controller('me')
  class MeController {
    @Get()
    me(@Req() req: IncomingMessage): unknown {
      const principal = sessions.principal(req.headers.cookie);
      if (principal === undefined) throw new UnauthorizedException();
      return principal;
    }
  }
  @Module({
    imports: [
      BulwarkModule.forRoot({ tokens: tokenService() }),
      BulwarkOidcModule.forRoot({
        relyingParty: rp,
        onSignIn: (_principal, { res, signIn }) => {
          (res as ServerResponse).appendHeader('Set-Cookie', sessions.create(signIn));
        },
        onLogout: ({ req }) => sessions.end(req.headers.cookie),
      }),
    ],
    controllers: [MeController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app.getHttpAdapter().getInstance() as RequestListener;
});

describe('BulwarkOidcModule failures go through the exception filter', () => {
  // A relying party whose callback refuses (a bad state) or breaks (a bug): what the module does
  // with the error, not what the relying party checks (oidcAdapterScenarios covers that).
  let outcome: 'refused' | 'broken' = 'refused';
  const rp = {
    clearCookie: () => 'bulwark-oidc=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax',
    callback: async () => {
      if (outcome === 'refused') {
        throw new BulwarkIdentityError(ErrorCodes.SIGNIN_FAILED, 'The sign-in was refused.', {
          provider: 'oidc',
          reason: 'invalid_state',
        });
      }
      throw new Error('db password=hunter2 at 10.0.0.7');
    },
  } as unknown as OidcRelyingParty;
  const logged: string[] = [];
  let log: AuditLog;
  let server: RequestListener;
  let close: () => Promise<void>;

  beforeAll(async () => {
    log = await memoryAuditLog();
    @Module({
      imports: [
        BulwarkModule.forRoot({ tokens: tokenService(), auditLog: log, audit: { allRequests: true } }),
        BulwarkOidcModule.forRoot({ relyingParty: rp, onSignIn: () => undefined }),
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const capture = (...args: unknown[]): void => void logged.push(args.map(String).join(' '));
    const app = moduleRef.createNestApplication({
      logger: { log: () => undefined, warn: () => undefined, error: capture, fatal: capture },
    });
    await app.init();
    server = app.getHttpAdapter().getInstance() as RequestListener;
    close = () => app.close();
  });
  afterAll(async () => {
    await close?.();
    await log?.close();
  });

  it('answers a refusal as problem+json with the clear cookie, and the audit event has its code and reason', async () => {
    outcome = 'refused';
    const res = await request(server).get('/auth/oidc/callback?state=x&code=y');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe(ErrorCodes.SIGNIN_FAILED);
    expect(String(res.headers['set-cookie'])).toContain('bulwark-oidc=;');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const entries = await auditEntries(log, 1);
    expect(entries.at(-1)!.details).toMatchObject({
      status: 401,
      errorCode: ErrorCodes.SIGNIN_FAILED,
      errorReason: 'invalid_state',
    });
  });

  it('answers a crash as a bare 500 and logs it server-side', async () => {
    outcome = 'broken';
    const res = await request(server).get('/auth/oidc/callback?state=x&code=y');
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect(logged.join('\n')).toContain('hunter2');
  });
});

describe('BulwarkOidcModule options', () => {
  const rp = { callback: () => undefined } as unknown as OidcRelyingParty;

  it('refuses a missing relying party, a missing onSignIn and a bad path at module definition', () => {
    expect(() =>
      BulwarkOidcModule.forRoot({ relyingParty: {} as OidcRelyingParty, onSignIn: () => undefined }),
    ).toThrow(/BulwarkOidcModule.relyingParty must be an OidcRelyingParty/);
    expect(() => BulwarkOidcModule.forRoot({ relyingParty: rp } as never)).toThrow(
      /onSignIn must be a function/,
    );
    expect(() =>
      BulwarkOidcModule.forRoot({ relyingParty: rp, onSignIn: () => undefined, path: '/x//' }),
    ).toThrow(/path must be a path like auth\/oidc/);
  });

  it('resolves forRootAsync options from the factory and checks them', async () => {
    @Module({
      imports: [
        BulwarkOidcModule.forRootAsync({
          path: 'sso',
          useFactory: () => ({ relyingParty: {} as OidcRelyingParty, onSignIn: () => undefined }),
        }),
      ],
    })
    class BadModule {}
    await expect(Test.createTestingModule({ imports: [BadModule] }).compile()).rejects.toThrow(
      /relyingParty/,
    );
  });
});
