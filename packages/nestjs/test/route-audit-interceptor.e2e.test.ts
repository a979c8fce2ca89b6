import 'reflect-metadata';
import {
  Catch,
  Controller,
  Get,
  Module,
  Param,
  UseFilters,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Observable } from 'rxjs';
import request from 'supertest';
import type { AuditEntry, AuditLog, TokenService } from '@bulwark/core';
import { Audited, BulwarkModule, Public } from '../src';
import { ROUTE_AUDIT_INTERCEPTOR } from '../src/bulwark-audit-interceptor';
import { auditEntries, memoryAuditLog, tokenService } from './support/fixtures';
import { createApp, PLATFORMS, type Platform } from './support/platform';

/**
 * BulwarkModule puts its audit interceptor on the audited routes only (at start-up, not as a global
 * APP_INTERCEPTOR): an undecorated route runs its handler without an interceptor chain, an audited
 * one still records its event, including the code of an error that only the interceptor sees (the
 * app's own filter answers it, so Bulwark's exception filter never does). `audit.allRequests` (a
 * module-wide setting) puts it on every route.
 */

/** The app's own error, answered by the app's own filter with 409. */
class StockError extends Error {
  override name = 'StockError';
}

@Catch(StockError)
class StockFilter implements ExceptionFilter {
  catch(_error: StockError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<{
      status?: (code: number) => { send?: (b: unknown) => void; json?: (b: unknown) => void };
      code?: (code: number) => { send: (b: unknown) => void };
    }>();
    // Express: res.status(409).json(...); Fastify reply: reply.code(409).send(...)
    if (typeof res.code === 'function') res.code(409).send({ error: 'out of stock' });
    else res.status!(409).json!({ error: 'out of stock' });
  }
}

/** The app's own interceptor on a method: it stays, after (inside) the audit interceptor. */
class TagInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

@Public()
@UseFilters(StockFilter)
@Controller('items')
class ItemsController {
  @Get(':id')
  read(@Param('id') id: string): { id: string } {
    if (id === 'gone') throw new StockError('no stock');
    return { id };
  }

  @Get(':id/buy')
  @Audited('item.buy')
  @UseInterceptors(TagInterceptor)
  buy(@Param('id') id: string): { id: string } {
    if (id === 'gone') throw new StockError('no stock');
    return { id };
  }
}

/** A controller audited as a whole: each of its routes gets the interceptor. */
@Public()
@UseFilters(StockFilter)
@Audited('orders.any')
@Controller('orders')
class OrdersController {
  @Get(':id')
  read(@Param('id') id: string): { id: string } {
    if (id === 'gone') throw new StockError('no stock');
    return { id };
  }
}

/** Undecorated; used by an `audit.allRequests` application and by one without it. */
@Public()
@UseFilters(StockFilter)
@Controller('stock')
class StockController {
  @Get(':id')
  read(@Param('id') id: string): { id: string } {
    if (id === 'gone') throw new StockError('no stock');
    return { id };
  }
}

const interceptorsOf = (method: unknown): unknown[] =>
  (Reflect.getMetadata('__interceptors__', method as object) as unknown[] | undefined) ?? [];

async function start(
  platform: Platform,
  controllers: NonNullable<Parameters<typeof Module>[0]>['controllers'],
  options: { log?: AuditLog; tokens: TokenService; allRequests?: boolean; bulwark?: boolean },
): Promise<INestApplication> {
  @Module({
    imports:
      options.bulwark === false
        ? []
        : [
            BulwarkModule.forRoot({
              tokens: options.tokens,
              ...(options.log !== undefined ? { auditLog: options.log } : {}),
              ...(options.allRequests === true ? { audit: { allRequests: true } } : {}),
            }),
          ],
    controllers,
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  return createApp(platform, moduleRef);
}

describe.each(PLATFORMS)('%s: the audit interceptor on audited routes only', (platform) => {
  let log: AuditLog;
  let app: INestApplication;
  const tokens = tokenService();

  beforeAll(async () => {
    log = await memoryAuditLog();
    app = await start(platform, [ItemsController, OrdersController], { log, tokens });
  });
  afterAll(async () => {
    await app.close();
    await log.close();
  });

  async function entriesAfter(send: () => Promise<unknown>): Promise<AuditEntry[]> {
    const before = (await auditEntries(log, 0)).length;
    await send();
    // A 20 ms pause lets a (wrong) event be queued; then read what arrived since `before`.
    await new Promise((resolve) => setTimeout(resolve, 20));
    return (await auditEntries(log, before)).slice(before);
  }

  it('an undecorated route gets no interceptor; an audited one gets it first, the app’s own kept', () => {
    expect(interceptorsOf(ItemsController.prototype.read)).toEqual([]);
    expect(interceptorsOf(ItemsController.prototype.buy)).toEqual([ROUTE_AUDIT_INTERCEPTOR, TagInterceptor]);
    expect(interceptorsOf(OrdersController.prototype.read)).toEqual([ROUTE_AUDIT_INTERCEPTOR]);
  });

  it('an undecorated route answers as before and records nothing', async () => {
    const entries = await entriesAfter(async () => {
      await request(app.getHttpServer()).get('/items/7').expect(200, { id: '7' });
      await request(app.getHttpServer()).get('/items/gone').expect(409, { error: 'out of stock' });
    });
    expect(entries).toEqual([]);
  });

  it("an audited route records its event, with the code of an error the app's own filter answered", async () => {
    const ok = await entriesAfter(() => request(app.getHttpServer()).get('/items/7/buy').expect(200));
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ action: 'item.buy', outcome: 'success', details: { status: 200 } });

    const failed = await entriesAfter(() =>
      request(app.getHttpServer()).get('/items/gone/buy').expect(409, { error: 'out of stock' }),
    );
    expect(failed).toHaveLength(1);
    // Only the interceptor sees StockError: the app's StockFilter answers it, not Bulwark's filter.
    expect(failed[0]).toMatchObject({
      action: 'item.buy',
      outcome: 'failure',
      details: { status: 409, errorCode: 'StockError' },
    });
  });

  it("a controller's @Audited audits its routes, errors included", async () => {
    const failed = await entriesAfter(() => request(app.getHttpServer()).get('/orders/gone').expect(409));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      action: 'orders.any',
      details: { status: 409, errorCode: 'StockError' },
    });
  });

  it('a second application over the same controllers adds no second interceptor', async () => {
    const other = await start(platform, [ItemsController], { log, tokens });
    try {
      expect(interceptorsOf(ItemsController.prototype.buy)).toEqual([
        ROUTE_AUDIT_INTERCEPTOR,
        TagInterceptor,
      ]);
      const entries = await entriesAfter(() =>
        request(other.getHttpServer()).get('/items/8/buy').expect(200),
      );
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ action: 'item.buy' });
    } finally {
      await other.close();
    }
  });

  it('without an audit log no route gets the interceptor', async () => {
    @Public()
    @Controller('plain')
    class PlainController {
      @Get(':id')
      @Audited('plain.read')
      read(@Param('id') id: string): { id: string } {
        return { id };
      }
    }
    // @Audited without an audit log fails the boot (a missing service); the interceptor was not put on.
    await expect(start(platform, [PlainController], { tokens })).rejects.toThrow(/options\.auditLog/);
    expect(interceptorsOf(PlainController.prototype.read)).toEqual([]);
  });
});

describe.each(PLATFORMS)('%s: audit.allRequests puts the interceptor on every route', (platform) => {
  let log: AuditLog;
  let all: INestApplication;
  const tokens = tokenService();

  beforeAll(async () => {
    log = await memoryAuditLog();
    all = await start(platform, [StockController], { log, tokens, allRequests: true });
  });
  afterAll(async () => {
    await all.close();
    await log.close();
  });

  it("an undecorated route's event carries the code of an error the app's own filter answered", async () => {
    expect(interceptorsOf(StockController.prototype.read)).toEqual([ROUTE_AUDIT_INTERCEPTOR]);
    const before = (await auditEntries(log, 0)).length;
    await request(all.getHttpServer()).get('/stock/gone').expect(409);
    const [entry] = (await auditEntries(log, before + 1)).slice(before);
    expect(entry).toMatchObject({ outcome: 'failure', details: { status: 409, errorCode: 'StockError' } });
  });

  it('an application sharing the controller without allRequests, or without Bulwark, is unaffected', async () => {
    const quietLog = await memoryAuditLog();
    const quiet = await start(platform, [StockController], { log: quietLog, tokens });
    const bare = await start(platform, [StockController], { tokens, bulwark: false });
    try {
      await request(quiet.getHttpServer()).get('/stock/gone').expect(409);
      await request(quiet.getHttpServer()).get('/stock/3').expect(200, { id: '3' });
      await request(bare.getHttpServer()).get('/stock/gone').expect(409, { error: 'out of stock' });
      await request(bare.getHttpServer()).get('/stock/3').expect(200, { id: '3' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await auditEntries(quietLog, 0)).toEqual([]);
    } finally {
      await quiet.close();
      await bare.close();
      await quietLog.close();
    }
  });
});
