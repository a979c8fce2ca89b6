import 'reflect-metadata';
import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ErrorCodes } from '@bulwark/core';
import { BulwarkModule, Public } from '../src';
import { tokenService } from './support/fixtures';
import { PLATFORMS, createApp, type Platform } from './support/platform';

/**
 * The input guard passes a request without a body (no Transfer-Encoding, no Content-Length above
 * 0: most GETs) on at once, without reading it; every other request is read and checked as before,
 * whatever its method, and the head checks (path traversal, NUL bytes, query, declared length)
 * apply to all.
 */

@Controller('probe')
@Public()
class ProbeController {
  @Get()
  probe(@Req() req: { body?: unknown }): { body: unknown } {
    return { body: req.body ?? null };
  }
}

async function start(platform: Platform): Promise<INestApplication> {
  @Module({
    imports: [BulwarkModule.forRoot({ tokens: tokenService(), inputGuard: { maxBodyBytes: 1024 } })],
    controllers: [ProbeController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  // Nest's own body parser off: the guard reads bodies itself (on Express).
  return createApp(platform, moduleRef, { bodyParser: false });
}

describe.each(PLATFORMS)('%s: the input guard on requests without a body', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await start(platform);
  });
  afterAll(async () => {
    await app.close();
  });

  it('passes a GET without a body, or with Content-Length 0, to the handler with no body', async () => {
    await request(app.getHttpServer()).get('/probe').expect(200, { body: null });
    await request(app.getHttpServer()).get('/probe').set('Content-Length', '0').expect(200, { body: null });
  });

  it('still refuses bad heads of bodiless requests', async () => {
    const server = app.getHttpServer();
    const refused = async (path: string, code: string) => {
      const res = await request(server).get(path);
      expect([res.status, res.body.code]).toEqual([400, code]);
    };
    await refused('/probe/%2e%2e/x', ErrorCodes.HTTP_PATH_TRAVERSAL);
    await refused('/probe/a%00b', ErrorCodes.HTTP_INPUT_NUL_BYTE);
    await refused('/probe?a[__proto__][x]=1', ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY);
  });

  if (platform === 'express')
    it('reads and checks a GET that does carry a body, as any other', async () => {
      const server = app.getHttpServer();
      await request(server)
        .get('/probe')
        .set('Content-Type', 'application/json')
        .send('{"a":1}')
        .expect(200, { body: { a: 1 } });
      const refused = await request(server)
        .get('/probe')
        .set('Content-Type', 'application/json')
        .send('{"__proto__":{"x":1}}');
      expect([refused.status, refused.body.code]).toEqual([400, ErrorCodes.HTTP_INPUT_FORBIDDEN_KEY]);
    });
});
