import 'reflect-metadata';
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Fastify from 'fastify';
import request from 'supertest';
import type { AuditEntry, AuditLog } from '@bulwark/core';
import { BulwarkModule, Public, bulwarkFrameworkErrors } from '../src';
import { memoryAuditLog, tokenService } from './support/fixtures';
import { PLATFORMS, createApp, type Platform } from './support/platform';

const PROBLEM = /^application\/problem\+json/;

@Controller('items')
@Public()
class ItemsController {
  static calls = 0;

  @Get(':id')
  one(@Param('id') id: string): { id: string } {
    ItemsController.calls++;
    return { id };
  }
}

/**
 * URLs a router refuses before any route runs: a route parameter that is not valid
 * percent-encoding (Express's router and Fastify's), a parameter longer than Fastify's
 * `maxParamLength`. Answered as Bulwark's refusals: problem+json with a fixed detail that never
 * quotes the URL, the request id and security headers, and an audit event with `allRequests`.
 */
describe.each(PLATFORMS)('router refusals on %s', (platform: Platform) => {
  let app: INestApplication;
  let log: AuditLog;

  beforeAll(async () => {
    log = await memoryAuditLog();
    @Module({
      imports: [
        BulwarkModule.forRoot({ tokens: tokenService(), auditLog: log, audit: { allRequests: true } }),
      ],
      controllers: [ItemsController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = await createApp(platform, moduleRef, {}, { frameworkErrors: bulwarkFrameworkErrors });
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    ItemsController.calls = 0;
  });

  /** The audit entry of the response with this request id (events are stored when it closes). */
  async function entryFor(requestId: string): Promise<AuditEntry> {
    for (let i = 0; i < 200; i++) {
      await log.flush();
      const found = (await log.query({ limit: 1000 })).entries.find((e) => e.requestId === requestId);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no audit entry for request ${requestId}`);
  }

  it('answers a parameter that is not valid percent-encoding with a 400 problem that does not quote it', async () => {
    const res = await request(app.getHttpServer()).get('/items/%zz-secret-looking').expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toBeDefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
    expect(res.body.status).toBe(400);
    // Express's router says "Failed to decode param '%zz-secret-looking'", Fastify's quotes the URL.
    expect(res.text).not.toContain('secret-looking');
    expect(res.text).not.toContain('%zz');
    expect(res.body.location).toBe('path');
    expect(ItemsController.calls).toBe(0);
    const entry = await entryFor(res.headers['x-request-id'] as string);
    expect(entry.outcome).toBe('failure');
    expect(entry.details).toMatchObject({ status: 400, errorCode: res.body.code });
  });

  it('lets a step refuse first: a traversal in the parameter is the input guard answer', async () => {
    const res = await request(app.getHttpServer()).get('/items/%2e%2e%2fetc').expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.code).toBe('ERR_HTTP_PATH_TRAVERSAL');
    expect(ItemsController.calls).toBe(0);
  });

  it('serves the route as before for a valid URL', async () => {
    await request(app.getHttpServer()).get('/items/a%20b').expect(200, { id: 'a b' });
    expect(ItemsController.calls).toBe(1);
  });

  if (platform === 'fastify') {
    it("answers a parameter over Fastify's maxParamLength with a 400 problem, not Fastify's 414 that quotes the URL", async () => {
      const long = `x${'a'.repeat(150)}`;
      const res = await request(app.getHttpServer()).get(`/items/${long}`).expect(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.headers['x-request-id']).toBe(res.body.requestId);
      expect(res.headers['content-security-policy']).toBeDefined();
      expect(res.body).toMatchObject({ code: 'ERR_HTTP_BAD_REQUEST', location: 'path' });
      expect(res.text).not.toContain(long);
      expect(ItemsController.calls).toBe(0);
      const entry = await entryFor(res.headers['x-request-id'] as string);
      expect(entry.details).toMatchObject({ status: 400, errorCode: 'ERR_HTTP_BAD_REQUEST' });
    });
  }
});

describe('bulwarkFrameworkErrors on a Fastify instance without BulwarkModule', () => {
  it('still answers problem+json with a fixed detail, never the URL', async () => {
    const app = Fastify({ frameworkErrors: bulwarkFrameworkErrors });
    app.get('/items/:id', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const bad = await request(app.server).get('/items/%zz-secret-looking').expect(400);
      expect(bad.headers['content-type']).toMatch(PROBLEM);
      expect(bad.headers['cache-control']).toBe('no-store');
      expect(bad.body).toMatchObject({ status: 400, code: 'ERR_HTTP_BAD_REQUEST', location: 'path' });
      expect(bad.text).not.toContain('secret-looking');
      const long = await request(app.server)
        .get(`/items/${'a'.repeat(150)}`)
        .expect(400);
      expect(long.body).toMatchObject({ detail: 'A URL parameter is too long.' });
      expect(long.text).not.toContain('a'.repeat(150));
      await request(app.server).get('/items/1').expect(200, { ok: true });
    } finally {
      await app.close();
    }
  });
});
