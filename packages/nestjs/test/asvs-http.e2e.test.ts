import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Module,
  Post,
  Put,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import {
  AllowFields,
  BulwarkModule,
  BulwarkRuntime,
  ClearSiteData,
  CsrfToken,
  Principal,
  Public,
  RateLimit,
  type BulwarkModuleOptions,
  type HttpPrincipal,
} from '../src';
import { tokenService } from './support/fixtures';

// The ASVS 5.0 request-path steps of issue 23 on NestJS over real HTTP: the same attacks as the
// Express / Koa contract (test/support/asvs-http-contract.ts), through BulwarkModule's middleware
// (CORS, Fetch Metadata) and BulwarkGuard (@AllowFields, rate limits, no-store, @ClearSiteData).

const PROBLEM = /^application\/problem\+json/;
const APP = 'https://app.example.com';
const CSRF = { secret: 'a-csrf-secret-of-at-least-32-bytes!!', cookie: { secure: false } };

@Controller()
@Public()
class PublicController {
  @Put('profile')
  @AllowFields(['name', 'address.city'])
  profile(@Body() body: unknown): { body: unknown } {
    return { body };
  }

  @Put('profile-strip')
  @AllowFields(['name', 'items.qty'], { unknown: 'strip' })
  strip(@Body() body: unknown): { body: unknown } {
    return { body };
  }

  @Get('data')
  data(): { ok: true } {
    return { ok: true };
  }

  @Get('form')
  form(@CsrfToken() token: string): { token: string } {
    return { token };
  }

  @Post('transfer')
  @HttpCode(200)
  transfer(): { done: true } {
    return { done: true };
  }

  @Get('search')
  search(): { ok: true } {
    return { ok: true };
  }

  @Get('health')
  @RateLimit(false)
  health(): { ok: true } {
    return { ok: true };
  }
}

@Controller()
class PrivateController {
  @Get('me')
  me(@Principal() me: HttpPrincipal): { id: string } {
    return { id: me.id };
  }

  @Get('avatar')
  @Header('Cache-Control', 'private, max-age=60')
  avatar(): { ok: true } {
    return { ok: true };
  }

  @Post('logout')
  @HttpCode(200)
  @ClearSiteData()
  logout(): { bye: true } {
    return { bye: true };
  }

  @Post('export')
  @HttpCode(200)
  @RateLimit({ name: 'export', perUser: { limit: 1, windowSec: 60 }, perIp: false })
  export(): { exported: true } {
    return { exported: true };
  }
}

let app: INestApplication | undefined;

async function start(options: Partial<BulwarkModuleOptions> = {}): Promise<ReturnType<typeof request>> {
  @Module({
    imports: [BulwarkModule.forRoot({ tokens: tokenService(), production: false, ...options })],
    controllers: [PublicController, PrivateController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return request(app.getHttpServer());
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

const bearer = async (sub: string): Promise<string> =>
  `Bearer ${await tokenService().sign({ roles: ['reader'] }, { subject: sub })}`;

describe('NestJS: mass assignment with @AllowFields (ASVS V15.3.3)', () => {
  it('refuses unknown fields with 400 naming them, or strips them, before the handler sees the body', async () => {
    const http = await start();
    expect((await http.put('/profile').send({ name: 'Ann', address: { city: 'Oslo' } })).body).toEqual({
      body: { name: 'Ann', address: { city: 'Oslo' } },
    });
    const attack = await http.put('/profile').send({ name: 'Ann', role: 'admin', address: { owner: 'x' } });
    expect(attack.status).toBe(400);
    expect(attack.headers['content-type']).toMatch(PROBLEM);
    expect(attack.body.code).toBe(ErrorCodes.HTTP_UNKNOWN_FIELD);
    expect(attack.body.detail).toMatch(/role.*address\.owner/);
    const stripped = await http
      .put('/profile-strip')
      .send({ name: 'Ann', isAdmin: true, items: [{ qty: 1, price: 0 }] });
    expect(stripped.body).toEqual({ body: { name: 'Ann', items: [{ qty: 1 }] } });
  });

  it('refuses a bad field list when the class is defined', () => {
    expect(() => AllowFields(['__proto__'])).toThrow(BulwarkConfigError);
    expect(() => AllowFields([])).toThrow(BulwarkConfigError);
  });
});

describe('NestJS: CORS (ASVS V3.4.2)', () => {
  it('allows the listed origin only, answers its preflight 204 and refuses other preflights 403', async () => {
    const http = await start({ cors: { origins: [APP], credentials: true } });
    const ok = await http.get('/data').set('Origin', APP).expect(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    expect(ok.headers.vary).toMatch(/\bOrigin\b/);
    for (const origin of [
      'https://evil.example',
      'null',
      `${APP}.evil.test`,
      `https://${'a'.repeat(5000)}.x`,
    ]) {
      const res = await http.get('/data').set('Origin', origin).expect(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
    const preflight = await http
      .options('/data')
      .set('Origin', APP)
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'content-type')
      .expect(204);
    expect(preflight.headers['access-control-allow-methods']).toContain('PUT');
    const refused = await http
      .options('/data')
      .set('Origin', 'null')
      .set('Access-Control-Request-Method', 'PUT');
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toMatch(PROBLEM);
    expect(refused.body.code).toBe(ErrorCodes.HTTP_CORS_REFUSED);
  });

  it("refuses '*' with credentials at start-up", async () => {
    await expect(start({ cors: { origins: '*', credentials: true } })).rejects.toThrow(BulwarkConfigError);
  });
});

describe('NestJS: Fetch Metadata in front of the CSRF token (ASVS V3.5.3, V3.2.1)', () => {
  it('refuses cross-site non-navigation requests even with a valid token, and still checks the token', async () => {
    const http = await start({ csrf: CSRF });
    const page = await http.get('/form').expect(200);
    const cookie = (page.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const token = page.body.token as string;
    const crossSite = await http
      .post('/transfer')
      .set('Cookie', cookie)
      .set('x-csrf-token', token)
      .set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.code).toBe(ErrorCodes.HTTP_CROSS_SITE_REFUSED);
    const sameOrigin = { 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' };
    expect((await http.post('/transfer').set('Cookie', cookie).set(sameOrigin)).body.code).toBe(
      ErrorCodes.CSRF_INVALID,
    );
    await http.post('/transfer').set('Cookie', cookie).set('x-csrf-token', token).set(sameOrigin).expect(200);
    // Old browsers and non-browser clients fall back to the token alone.
    await http.post('/transfer').set('Cookie', cookie).set('x-csrf-token', token).expect(200);
    // The token is not read from the URL by default (ASVS V14.2.1).
    expect((await http.post(`/transfer?_csrf=${token}`).set('Cookie', cookie)).status).toBe(403);
    await http.get('/data').set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' }).expect(200);
    const probe = await http
      .get('/data')
      .set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors', 'Sec-Fetch-Dest': 'script' });
    expect(probe.status).toBe(403);
  });
});

describe('NestJS: private responses (ASVS V14.3.2, V14.3.1)', () => {
  it('marks authenticated responses no-store unless the handler chose its own; @ClearSiteData on logout', async () => {
    const http = await start();
    const alice = await bearer('alice');
    expect((await http.get('/me').set('Authorization', alice).expect(200)).headers['cache-control']).toBe(
      'no-store',
    );
    expect((await http.get('/data').expect(200)).headers['cache-control']).toBeUndefined();
    expect((await http.get('/avatar').set('Authorization', alice).expect(200)).headers['cache-control']).toBe(
      'private, max-age=60',
    );
    const logout = await http.post('/logout').set('Authorization', alice).expect(200);
    expect(logout.headers['clear-site-data']).toBe('"cache", "cookies", "storage"');
  });
});

describe('NestJS: rate limiting per user and per IP, @RateLimit (ASVS V2.4.1)', () => {
  it('counts the app-wide budget per user then per IP, with RateLimit headers and 429 problem+json', async () => {
    const http = await start({
      rateLimit: { perUser: { limit: 2, windowSec: 60 }, perIp: { limit: 4, windowSec: 60 } },
    });
    const alice = await bearer('alice');
    const first = await http.get('/me').set('Authorization', alice).expect(200);
    expect(first.headers['ratelimit-policy']).toBe('"api-user";q=2;w=60, "api-ip";q=4;w=60');
    expect(first.headers.ratelimit).toMatch(/^"api-user";r=1;t=\d+$/);
    await http.get('/me').set('Authorization', alice).expect(200);
    const limited = await http.get('/me').set('Authorization', alice);
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toMatch(PROBLEM);
    expect(limited.body.code).toBe(ErrorCodes.HTTP_RATE_LIMITED);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await http
      .get('/me')
      .set('Authorization', await bearer('bob'))
      .expect(200);
    expect((await http.get('/data')).status).toBe(429); // the address's budget of 4 is spent
    await http.get('/health').expect(200); // @RateLimit(false)
  });

  it("counts a @RateLimit route's own budget apart", async () => {
    const http = await start();
    const alice = await bearer('alice');
    const ok = await http.post('/export').set('Authorization', alice).expect(200);
    expect(ok.headers['ratelimit-policy']).toBe('"export-user";q=1;w=60');
    expect((await http.post('/export').set('Authorization', alice)).status).toBe(429);
    await http
      .post('/export')
      .set('Authorization', await bearer('bob'))
      .expect(200);
  });
});

describe('NestJS: small ones (ASVS V3.4.3, V15.3.7, V13.3.1)', () => {
  it("sends CSP base-uri 'none' and refuses duplicate parameters with rejectDuplicateParams", async () => {
    const http = await start({ inputGuard: { rejectDuplicateParams: true } });
    const res = await http.get('/search?q=a').expect(200);
    expect(res.headers['content-security-policy']).toContain("base-uri 'none'");
    const dup = await http.get('/search?role=user&role=admin');
    expect(dup.status).toBe(400);
    expect(dup.body.code).toBe(ErrorCodes.HTTP_DUPLICATE_PARAMETER);
  });

  it('refuses demo-grade module settings under the production preset', () => {
    let error: unknown;
    try {
      new BulwarkRuntime({ tokens: tokenService(), production: true, inputGuard: false });
    } catch (err) {
      error = err;
    }
    expect((error as BulwarkConfigError).code).toBe(ErrorCodes.CONFIG_NOT_PRODUCTION_READY);
    expect((error as BulwarkConfigError).details?.problems).toEqual([
      expect.objectContaining({ path: 'csrf' }),
      expect.objectContaining({ path: 'inputGuard' }),
    ]);
    expect(() => new BulwarkRuntime({ tokens: tokenService(), production: true, csrf: false })).not.toThrow();
  });
});
