import 'reflect-metadata';
import { Controller, Get, Module, Req, UnauthorizedException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { BulwarkModule, BulwarkOidcModule, Public } from '../src';
import { tokenService } from './support/fixtures';
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
