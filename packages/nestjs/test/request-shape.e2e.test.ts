import 'reflect-metadata';
import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { BulwarkModule, Public } from '../src';
import { policyEngine, tokenService } from './support/fixtures';
import { createApp, PLATFORMS, type Platform } from './support/platform';
import { hasFastProperties } from '../../../test/support/v8-shape';

/**
 * On platform-express, BulwarkModule switches the Express request and its response to dictionary
 * properties when it first meets them (core's express-object-shape.ts: Express gives each request
 * hidden classes of its own). On platform-fastify the Node request shares one hidden class with
 * every other request, and is left as it is. Checked in the handler, with V8's own answer.
 */

@Controller('shape')
class ShapeController {
  @Get()
  @Public()
  shape(@Req() req: { raw?: object; res?: object }): { reqFast: boolean; resFast: boolean | null } {
    const node = req.raw ?? req; // Fastify's request wraps the Node one
    const res = (node as { res?: object }).res ?? null;
    return { reqFast: hasFastProperties(node), resFast: res === null ? null : hasFastProperties(res) };
  }
}

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function start(platform: Platform, withBulwark: boolean): Promise<INestApplication> {
  @Module({
    imports: withBulwark
      ? [BulwarkModule.forRoot({ authorizer: policyEngine(), tokens: tokenService() })]
      : [],
    controllers: [ShapeController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = await createApp(platform, moduleRef);
  apps.push(app);
  return app;
}

describe.each(PLATFORMS)('the request shape (%s)', (platform) => {
  it(platform === 'express' ? 'is switched to dictionary mode' : 'is left in fast mode', async () => {
    const res = await request((await start(platform, true)).getHttpServer()).get('/shape');
    expect(res.status).toBe(200);
    expect(res.body.reqFast).toBe(platform !== 'express');
    if (platform === 'express') expect(res.body.resFast).toBe(false);
  });

  it('control: without BulwarkModule it is in fast mode', async () => {
    const res = await request((await start(platform, false)).getHttpServer()).get('/shape');
    expect(res.status).toBe(200);
    expect(res.body.reqFast).toBe(true);
  });
});
