import 'reflect-metadata';
import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { AuditLog, TokenService } from '@bulwark/core';
import { BulwarkModule, Public, clientIp, type TrustProxyOption } from '../src';
import { auditEntries, memoryAuditLog, tokenService } from './support/fixtures';

@Controller('whoami')
class WhoAmIController {
  @Public()
  @Get()
  who(@Req() req: object): { ip: string | null } {
    return { ip: clientIp(req) ?? null };
  }
}

/**
 * Issue 12, defect 9: the client address (audit, `context.ip`, `clientIp(req)` for brute-force
 * counters) honours BulwarkModule's `trustProxy` the same way as @bulwark/express and @bulwark/koa,
 * over real HTTP with a spoofed X-Forwarded-For; Express's own `trust proxy` is not consulted.
 * Issue 12, defect 11: a client's X-Request-Id is audited apart, never as the request id.
 */
describe.each<[string, TrustProxyOption | undefined, string]>([
  ['unset (the header is ignored)', undefined, '127.0.0.1'],
  ['a hop count of 1 (the proxy-appended entry)', 1, '203.0.113.7'],
  ['the proxy address (loopback)', ['127.0.0.1', '::1'], '203.0.113.7'],
  ['a range the peer is not in (the header is ignored)', ['10.0.0.0/8'], '127.0.0.1'],
])('BulwarkModule trustProxy %s', (_title, trustProxy, expected) => {
  let app: INestApplication;
  let log: AuditLog;
  let tokens: TokenService;

  beforeAll(async () => {
    tokens = tokenService();
    log = await memoryAuditLog();
    @Module({
      imports: [
        BulwarkModule.forRoot({
          tokens,
          auditLog: log,
          audit: { allRequests: true },
          ...(trustProxy !== undefined ? { trustProxy } : {}),
        }),
      ],
      controllers: [WhoAmIController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    // Express's own setting says "trust everything": Bulwark must not follow it.
    app.getHttpAdapter().getInstance().set('trust proxy', true);
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await log.close();
  });

  it('derives the client address from the socket and X-Forwarded-For with that setting', async () => {
    const before = (await auditEntries(log, 0)).length;
    const res = await request(app.getHttpServer())
      .get('/whoami')
      .set('X-Forwarded-For', '198.51.100.66, 203.0.113.7')
      .set('X-Request-Id', 'attacker-chosen')
      .expect(200);
    expect(res.body.ip).toBe(expected);
    const entries = await auditEntries(log, before + 1);
    const entry = entries[before]!;
    expect(entry.actor?.ip).toBe(expected);
    expect(entry.requestId).toBe(res.headers['x-request-id']);
    expect(entry.requestId).not.toBe('attacker-chosen');
    expect(entry.details).toMatchObject({ clientRequestId: 'attacker-chosen' });
  });
});

describe('BulwarkModule trustProxy validation', () => {
  it('refuses true and malformed ranges at start-up, naming the option', async () => {
    for (const bad of [true, 0, ['10.0.0.0/99']]) {
      @Module({ imports: [BulwarkModule.forRoot({ tokens: tokenService(), trustProxy: bad as never })] })
      class BadModule {}
      await expect(Test.createTestingModule({ imports: [BadModule] }).compile()).rejects.toThrow(
        /BulwarkModule.*trustProxy/,
      );
    }
  });
});
