import 'reflect-metadata';
import {
  Catch,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  Module,
  Param,
  UseFilters,
  type ArgumentsHost,
  type CallHandler,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
  type Provider,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Observable } from 'rxjs';
import request from 'supertest';
import { BulwarkHttpError, ErrorCodes, type AuditEntry, type AuditLog } from '@bulwark/core';
import { Audited, Authorize, BulwarkModule } from '../src';
import { ROUTE_AUDIT_INTERCEPTOR } from '../src/bulwark-audit-interceptor';
import { auditEntries, memoryAuditLog, policyEngine, tokenService } from './support/fixtures';
import { PLATFORMS, type Platform } from './support/platform';

/**
 * An audited route runs without the audit interceptor when BulwarkModule's global filter is the
 * only one that can catch its errors and nothing intercepts them (no `@UseFilters` on the route or
 * its controller, no other global filter, no global interceptor): BulwarkExceptionFilter then notes
 * what the interceptor noted, the error as thrown. Every other configuration keeps the interceptor.
 * Either way, the audit events are the same: each thrown error's code, denials and auth failures.
 */

/** The app's own catch-all filter: answers 418 (Bulwark's filter never sees the error). */
@Catch()
class TeapotFilter implements ExceptionFilter {
  catch(_error: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<{
      status?: (code: number) => { json: (b: unknown) => void };
      code?: (code: number) => { send: (b: unknown) => void };
    }>();
    // Express: res.status(418).json(...); Fastify reply: reply.code(418).send(...)
    if (typeof res.code === 'function') res.code(418).send({ caught: true });
    else res.status!(418).json({ caught: true });
  }
}

/** An app interceptor that passes everything through (forces the audit interceptor to stay). */
class PassInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

type Setup =
  | 'no app filter'
  | 'a global interceptor'
  | 'a method filter'
  | 'a controller filter'
  | 'useGlobalFilters'
  | 'APP_FILTER';

const SETUPS: readonly Setup[] = [
  'no app filter',
  'a global interceptor',
  'a method filter',
  'a controller filter',
  'useGlobalFilters',
  'APP_FILTER',
];

/** A fresh controller class per application: route metadata is per class, shared by its applications. */
function auditedController(setup: Setup) {
  const methodFilter = setup === 'a method filter' ? [UseFilters(TeapotFilter)] : [];
  @Audited('thing.read')
  @Controller('things')
  class ThingsController {
    @Get('ok')
    ok(): { ok: true } {
      return { ok: true };
    }

    @Get('http')
    http(): never {
      throw new ConflictException('taken');
    }

    @Get('bulwark')
    bulwark(): never {
      throw new BulwarkHttpError(ErrorCodes.HTTP_BAD_REQUEST, 400, 'Refused by the handler.');
    }

    @Get('plain')
    plain(): never {
      throw new Error('boom');
    }

    /** The app wraps a Bulwark error in its own HttpException of the same status. */
    @Get('wrapped')
    wrapped(): never {
      throw new ForbiddenException('no', {
        cause: new BulwarkHttpError(ErrorCodes.POLICY_DENIED, 403, 'Denied.'),
      });
    }

    @Get('records/:id')
    @Authorize('read', (r) => ({ type: 'records', id: r.params.id! }))
    record(@Param('id') id: string): { id: string } {
      return { id };
    }
  }
  for (const decorate of methodFilter) {
    for (const name of ['ok', 'http', 'bulwark', 'plain', 'wrapped', 'record'] as const) {
      const descriptor = Object.getOwnPropertyDescriptor(ThingsController.prototype, name)!;
      decorate(ThingsController.prototype, name, descriptor);
    }
  }
  if (setup === 'a controller filter') UseFilters(TeapotFilter)(ThingsController);
  return ThingsController;
}

async function start(platform: Platform, setup: Setup, log: AuditLog) {
  const controller = auditedController(setup);
  const providers: Provider[] =
    setup === 'APP_FILTER' ? [{ provide: APP_FILTER, useClass: TeapotFilter }] : [];
  @Module({
    imports: [BulwarkModule.forRoot({ tokens: tokenService(), authorizer: policyEngine(), auditLog: log })],
    controllers: [controller],
    providers,
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app: INestApplication =
    platform === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  // Before init, as an app's main.ts does: BulwarkModule reads the global enhancers then.
  if (setup === 'useGlobalFilters') app.useGlobalFilters(new TeapotFilter());
  if (setup === 'a global interceptor') app.useGlobalInterceptors(new PassInterceptor());
  await app.init();
  if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return { app, controller };
}

const interceptorsOf = (method: unknown): unknown[] =>
  (Reflect.getMetadata('__interceptors__', method as object) as unknown[] | undefined) ?? [];

/** What one request's audit event says about its outcome. */
type Seen = Pick<AuditEntry, 'action' | 'outcome'> & {
  status: unknown;
  errorCode: unknown;
  reasonId: unknown;
};

describe.each(PLATFORMS)('%s: audited routes with and without the audit interceptor', (platform) => {
  const tokens = tokenService();
  let token: string;
  const seen = new Map<Setup, Record<string, Seen>>();

  beforeAll(async () => {
    token = await tokens.sign({ roles: ['reader'] }, { subject: 'alice' });
  });

  describe.each(SETUPS)('with %s', (setup) => {
    let log: AuditLog;
    let app: INestApplication;
    let controller: ReturnType<typeof auditedController>;

    beforeAll(async () => {
      log = await memoryAuditLog();
      ({ app, controller } = await start(platform, setup, log));
    });
    afterAll(async () => {
      await app.close();
      await log.close();
    });

    async function eventOf(
      path: string,
      authorization: string | undefined,
    ): Promise<Seen & { answered: number }> {
      const before = (await auditEntries(log, 0)).length;
      const call = request(app.getHttpServer()).get(path);
      const res = await (authorization === undefined ? call : call.set('Authorization', authorization));
      const entries = (await auditEntries(log, before + 1)).slice(before);
      expect(entries).toHaveLength(1);
      const [entry] = entries as [AuditEntry];
      const details = (entry.details ?? {}) as Record<string, unknown>;
      return {
        answered: res.status,
        action: entry.action,
        outcome: entry.outcome,
        status: details.status,
        errorCode: details.errorCode,
        reasonId: details.reasonId,
      };
    }

    it('keeps the interceptor only where something else could see the route’s errors first', () => {
      const expected = setup === 'no app filter' ? [] : [ROUTE_AUDIT_INTERCEPTOR];
      expect(interceptorsOf(controller.prototype.http)).toEqual(expected);
      expect(interceptorsOf(controller.prototype.record)).toEqual(expected);
    });

    it("records each thrown error's code, a denial and an auth failure", async () => {
      const bearer = `Bearer ${token}`;
      const results: Record<string, Seen> = {};
      const cases: [string, string, string | undefined, number, unknown][] = [
        ['ok', '/things/ok', bearer, 200, undefined],
        ['http', '/things/http', bearer, 409, 'ConflictException'],
        ['bulwark', '/things/bulwark', bearer, 400, ErrorCodes.HTTP_BAD_REQUEST],
        ['plain', '/things/plain', bearer, 500, 'Error'],
        // Noted as thrown (the interceptor's way), not as the Bulwark error it wraps.
        ['wrapped', '/things/wrapped', bearer, 403, 'ForbiddenException'],
        ['denied', '/things/records/locked', bearer, 403, ErrorCodes.POLICY_DENIED],
        ['no token', '/things/ok', undefined, 401, ErrorCodes.HTTP_AUTH_REQUIRED],
      ];
      for (const [name, path, authorization, status, errorCode] of cases) {
        const { answered, ...event } = await eventOf(path, authorization);
        // The app's catch-all filter answers every error itself (418); an APP_FILTER one competes
        // with Bulwark's (also an APP_FILTER), and Nest's order of the two decides.
        const expected =
          status < 400 || setup === 'no app filter' || setup === 'a global interceptor'
            ? [status]
            : setup === 'APP_FILTER'
              ? [status, 418]
              : [418];
        expect({ name, errorCode: event.errorCode }).toEqual({ name, errorCode });
        expect(expected).toContain(answered);
        expect(event.status).toBe(answered);
        expect(event.action).toBe('thing.read');
        results[name] = event;
      }
      expect(results.denied!.reasonId).toBe('record_locked');
      seen.set(setup, results);
    });
  });

  it('gives the same events without the interceptor as with it (a pass-through global interceptor)', () => {
    expect(seen.get('no app filter')).toBeDefined();
    expect(seen.get('no app filter')).toEqual(seen.get('a global interceptor'));
  });
});
