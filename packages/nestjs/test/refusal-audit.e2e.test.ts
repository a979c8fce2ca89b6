import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  Put,
  RequestMethod,
  UnauthorizedException,
  type CanActivate,
  type MiddlewareConsumer,
  type NestMiddleware,
  type NestModule,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ErrorCodes, type AuditEntry, type AuditLog, type TokenService } from '@bulwark/core';
import { readCookie } from '@bulwark/core/http';
import { Audited, Authorize, BulwarkModule, type MiddlewareRequest } from '../src';
import { auditEntries, memoryAuditLog, policyEngine, tokenService } from './support/fixtures';

/**
 * A request to an @Audited route is audited under the route's action whatever refuses it: the
 * app's own global guard (which runs before Bulwark's), Bulwark's authentication, authorization,
 * and Bulwark's middleware (CSRF, input guard) — without `audit.allRequests`. On Express and on
 * @nestjs/platform-fastify (where CSRF and the input guard run in Fastify's own stages).
 */

type Platform = 'express' | 'fastify';

/** The app's own auth: `x-app-key: ok` passes, `x-app-key: no` is refused by returning false. */
@Injectable()
class AppAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const key = context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-app-key'];
    if (key === undefined) throw new UnauthorizedException({ errors: { auth: ['app key required'] } });
    return key === 'ok';
  }
}

/** The app's own auth middleware (passport-style): `x-block: 1` is refused before any guard. */
@Injectable()
class AppAuthMiddleware implements NestMiddleware {
  use(req: { headers: Record<string, string> }, _res: unknown, next: (error?: unknown) => void): void {
    if (req.headers['x-block'] === '1') throw new UnauthorizedException();
    next();
  }
}

@Controller('users')
class UsersController {
  @Put(':id')
  @Audited('user.update', { resource: 'users' })
  update(@Param('id') id: string, @Body() _body: unknown): { id: string } {
    return { id };
  }

  @Get(':id')
  read(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Audited('records.any')
@Controller('records')
class RecordsController {
  @Get(':id')
  @Authorize('read', (r) => ({ type: 'records', id: r.params.id! }))
  read(@Param('id') id: string): { id: string } {
    return { id };
  }
}

async function start(
  platform: Platform,
  log: AuditLog,
  tokens: TokenService,
  csrf: boolean,
): Promise<INestApplication> {
  @Module({
    imports: [
      BulwarkModule.forRoot({
        tokens,
        authorizer: policyEngine(),
        auditLog: log,
        ...(csrf
          ? {
              csrf: {
                secret: 'a-csrf-secret-of-at-least-32-bytes!!',
                cookie: { secure: false },
                binding: (req: MiddlewareRequest) => readCookie(req.headers.cookie, 'sid'),
              },
            }
          : {}),
      }),
    ],
    controllers: [UsersController, RecordsController],
  })
  class AppModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(AppAuthMiddleware).forRoutes({ path: '*path', method: RequestMethod.ALL });
    }
  }
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app =
    platform === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  // The app's guard is global and registered by the app: Nest runs it before Bulwark's.
  app.useGlobalGuards(new AppAuthGuard());
  await app.init();
  if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

describe.each<Platform>(['express', 'fastify'])(
  '%s: refusals on @Audited routes are audited with the route action',
  (platform) => {
    let app: INestApplication;
    let csrfApp: INestApplication;
    let log: AuditLog;
    let tokens: TokenService;
    let token: string;

    beforeAll(async () => {
      log = await memoryAuditLog();
      tokens = tokenService();
      app = await start(platform, log, tokens, false);
      csrfApp = await start(platform, log, tokens, true);
      token = await tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
    });
    afterAll(async () => {
      await app.close();
      await csrfApp.close();
      await log.close();
    });

    async function lastEntry(send: () => Promise<unknown>): Promise<AuditEntry | undefined> {
      const before = (await auditEntries(log, 0)).length;
      await send();
      // Events are queued when the response closes: wait for one, or make sure none came.
      try {
        return (await auditEntries(log, before + 1)).at(-1);
      } catch {
        return undefined;
      }
    }
    const http = () => request(app.getHttpServer());

    it("audits a refusal by the app's own guard (exception and `false`) under the route's action", async () => {
      const thrown = await lastEntry(() =>
        http().put('/users/7').set('Authorization', `Bearer ${token}`).send({ name: 'x' }).expect(401),
      );
      expect(thrown).toMatchObject({
        action: 'user.update',
        outcome: 'denied',
        details: { status: 401, errorCode: 'UnauthorizedException' },
      });
      const refused = await lastEntry(() =>
        http()
          .put('/users/7')
          .set('x-app-key', 'no')
          .set('Authorization', `Bearer ${token}`)
          .send({})
          .expect(403),
      );
      expect(refused).toMatchObject({
        action: 'user.update',
        outcome: 'denied',
        details: { status: 403, errorCode: 'ForbiddenException' },
      });
    });

    // On Fastify, Nest middleware gets the Node request: the module links the route's @Audited to it
    // in the adapter's request hook, which runs before middleware.
    it("audits a refusal by the app's own auth middleware (before any guard) under the route's action", async () => {
      const entry = await lastEntry(() => http().put('/users/7').set('x-block', '1').send({}).expect(401));
      expect(entry).toMatchObject({
        action: 'user.update',
        outcome: 'denied',
        details: { status: 401, errorCode: 'UnauthorizedException' },
      });
    });

    it("audits Bulwark's Fetch Metadata refusal (a middleware step) under the route's action", async () => {
      const entry = await lastEntry(() =>
        http()
          .put('/users/7')
          .set('Sec-Fetch-Site', 'cross-site')
          .set('Sec-Fetch-Mode', 'cors')
          .set('x-app-key', 'ok')
          .set('Authorization', `Bearer ${token}`)
          .send({})
          .expect(403),
      );
      expect(entry).toMatchObject({
        action: 'user.update',
        outcome: 'denied',
        details: { status: 403, errorCode: ErrorCodes.HTTP_CROSS_SITE_REFUSED },
      });
    });

    it('leaves a middleware refusal on a route without @Audited out of the log', async () => {
      const entry = await lastEntry(() => http().get('/users/7').set('x-block', '1').expect(401));
      expect(entry).toBeUndefined();
    });

    it("audits Bulwark's authentication refusal with its code", async () => {
      const entry = await lastEntry(() =>
        http()
          .put('/users/7')
          .set('x-app-key', 'ok')
          .set('Authorization', 'Bearer forged.token.x')
          .send({})
          .expect(401),
      );
      expect(entry).toMatchObject({
        action: 'user.update',
        outcome: 'denied',
        details: { status: 401, errorCode: ErrorCodes.TOKEN_MALFORMED },
      });
    });

    it("audits Bulwark's middleware refusals (CSRF, input guard) under the route's action", async () => {
      const csrf = await lastEntry(() =>
        request(csrfApp.getHttpServer())
          .put('/users/7')
          .set('x-app-key', 'ok')
          .set('Authorization', `Bearer ${token}`)
          .set('Cookie', 'sid=session-1')
          .send({ name: 'x' })
          .expect(403),
      );
      expect(csrf).toMatchObject({
        action: 'user.update',
        outcome: 'denied',
        details: { status: 403, errorCode: ErrorCodes.CSRF_INVALID },
      });
      const input = await lastEntry(() =>
        http()
          .put('/users/7')
          .set('x-app-key', 'ok')
          .set('Authorization', `Bearer ${token}`)
          .set('Content-Type', 'application/json')
          .send('{"__proto__":{"admin":true}}')
          .expect(400),
      );
      expect(input).toMatchObject({
        action: 'user.update',
        outcome: 'failure',
        details: { status: 400, errorCode: ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY },
      });
    });

    it("audits a controller-level @Audited route refused by the app's guard and by Bulwark authorize", async () => {
      const byApp = await lastEntry(() => http().get('/records/1').expect(401));
      expect(byApp).toMatchObject({ action: 'records.any', outcome: 'denied' });
      const denied = await lastEntry(() =>
        http()
          .get('/records/locked')
          .set('x-app-key', 'ok')
          .set('Authorization', `Bearer ${token}`)
          .expect(403),
      );
      expect(denied).toMatchObject({
        action: 'records.any',
        outcome: 'denied',
        details: { status: 403, errorCode: ErrorCodes.POLICY_DENIED, reasonId: 'record_locked' },
      });
      const served = await lastEntry(() =>
        http().get('/records/2').set('x-app-key', 'ok').set('Authorization', `Bearer ${token}`).expect(200),
      );
      expect(served).toMatchObject({ action: 'records.any', outcome: 'success', actor: { id: 'alice' } });
    });

    it('leaves refusals on routes without @Audited out of the log (no allRequests)', async () => {
      expect(await lastEntry(() => http().get('/users/7').expect(401))).toBeUndefined();
      expect(
        await lastEntry(() => http().get('/nowhere').set('x-app-key', 'ok').expect(404)),
      ).toBeUndefined();
    });
  },
);

describe('fastify: the request hook an app set on the adapter before start-up', () => {
  it('still runs, and the module links the route for its middleware too', async () => {
    const log = await memoryAuditLog();
    @Module({
      imports: [BulwarkModule.forRoot({ tokens: tokenService(), auditLog: log })],
      controllers: [UsersController],
    })
    class AppModule implements NestModule {
      configure(consumer: MiddlewareConsumer): void {
        consumer.apply(AppAuthMiddleware).forRoutes({ path: '*path', method: RequestMethod.ALL });
      }
    }
    const adapter = new FastifyAdapter();
    const seen: string[] = [];
    adapter.setOnRequestHook((req, _reply, done) => {
      seen.push(req.url);
      done();
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    try {
      await request(app.getHttpServer()).put('/users/9').set('x-block', '1').send({}).expect(401);
      expect(seen).toEqual(['/users/9']);
      const [entry] = await auditEntries(log, 1);
      expect(entry).toMatchObject({ action: 'user.update', outcome: 'denied', details: { status: 401 } });
    } finally {
      await app.close();
      await log.close();
    }
  });
});
