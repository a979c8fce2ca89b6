import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { SessionEngine, type HttpPrincipal, type HttpSession } from '@bulwark/core';
import { BulwarkModule, CsrfToken, Principal, Public, Session } from '../src';
import { tokenService } from './support/fixtures';
import { PLATFORMS, createApp, type Platform } from './support/platform';

const COOKIE = '__Host-bulwark.sid';

@Controller()
class AccountController {
  @Public()
  @Post('login')
  @HttpCode(200)
  async login(@Session() session: HttpSession, @Body() body: { user: string }): Promise<{ ok: true }> {
    await session.login({
      id: body.user,
      roles: ['member'],
      authentication: { method: 'password', factors: ['password'] },
    });
    return { ok: true };
  }

  @Public()
  @Get('csrf')
  csrf(@CsrfToken() token: string): { token: string } {
    return { token };
  }

  /** Not @Public: needs a principal, from a bearer token or a signed-in session. */
  @Get('me')
  me(@Principal() me: HttpPrincipal): { id: string; authentication: unknown } {
    return { id: me.id, authentication: me.authentication };
  }
}

async function start(platform: Platform, clock: { t: number }): Promise<INestApplication> {
  const sessions = new SessionEngine({
    secret: 'a-session-secret-of-at-least-32-bytes',
    idleTimeoutSec: 600,
    now: () => clock.t,
  });
  @Module({
    imports: [
      BulwarkModule.forRoot({
        tokens: tokenService(),
        sessions,
        csrf: { secret: 'a-csrf-secret-of-at-least-32-bytes!!' },
      }),
    ],
    controllers: [AccountController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  return createApp(platform, moduleRef);
}

function cookies(res: request.Response, jar: Map<string, string>): void {
  for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    const pair = line.split(';')[0]!;
    jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
  }
}

describe.each(PLATFORMS)('BulwarkModule sessions option on %s', (platform) => {
  const clock = { t: Date.now() };
  let app: INestApplication;
  beforeAll(async () => {
    app = await start(platform, clock);
  });
  afterAll(async () => {
    await app.close();
  });

  it('signs in through the session: the guard accepts it on a protected route with principal.authentication', async () => {
    const jar = new Map<string, string>();
    jar.set(COOKIE, 'A'.repeat(43)); // planted before login
    const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const form = await request(app.getHttpServer()).get('/csrf').set('Cookie', header());
    cookies(form, jar);
    const login = await request(app.getHttpServer())
      .post('/login')
      .set('Cookie', header())
      .set('x-csrf-token', form.body.token)
      .send({ user: 'nina' });
    expect(login.status).toBe(200);
    cookies(login, jar);
    expect(jar.get(COOKIE)).not.toBe('A'.repeat(43));
    const me = await request(app.getHttpServer()).get('/me').set('Cookie', header());
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      id: 'nina',
      authentication: { method: 'session', factors: ['password'] },
    });
    // Without the session (or after its idle time-out) the route needs a bearer token.
    expect((await request(app.getHttpServer()).get('/me')).status).toBe(401);
    clock.t += 601_000;
    expect((await request(app.getHttpServer()).get('/me').set('Cookie', header())).status).toBe(401);
  });

  it('refuses a login POST without the CSRF token bound to the session', async () => {
    const res = await request(app.getHttpServer()).post('/login').send({ user: 'eve' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('EBADCSRFTOKEN');
  });
});
