import 'reflect-metadata';
import {
  Body,
  Controller,
  HttpCode,
  Module,
  Post,
  Req,
  UnauthorizedException,
  type INestApplication,
} from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { AuditLog } from '@bulwark/core';
import { Audited, BulwarkModule, Public, auditActor } from '../src';
import { auditEntries, memoryAuditLog, tokenService } from './support/fixtures';

// An app's own login route audited with @Audited: the principal appears only after the handler
// checked the password, and the event names that account (its id), never the e-mail or password.
@Controller('auth')
class LoginController {
  @Post('login')
  @Public()
  @HttpCode(200)
  @Audited('auth.login')
  login(@Body() body: { email?: string; password?: string }, @Req() req: unknown): { ok: true } {
    if (body.email !== 'eve@example.test' || body.password !== 'correct horse battery') {
      throw new UnauthorizedException('bad credentials');
    }
    auditActor(req, 'u-42');
    return { ok: true };
  }
}

// On platform-fastify `@Req()` is the FastifyRequest; the request state lives on its `.raw`.
describe.each(['express', 'fastify'] as const)('auditActor on an @Audited login route (%s)', (platform) => {
  let app: INestApplication;
  let log: AuditLog;
  beforeAll(async () => {
    log = await memoryAuditLog();
    @Module({
      imports: [BulwarkModule.forRoot({ tokens: tokenService(), auditLog: log })],
      controllers: [LoginController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    if (platform === 'fastify') {
      app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
        logger: false,
      });
      await app.init();
      await app.getHttpAdapter().getInstance().ready();
    } else {
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
    }
  });
  afterAll(async () => {
    await app.close();
    await log.close();
  });

  it('records the account that signed in, and anonymous for a refused attempt', async () => {
    await request(app.getHttpServer())
      .post('/auth/login')
      .send({ email: 'eve@example.test', password: 'correct horse battery' })
      .expect(200);
    await request(app.getHttpServer())
      .post('/auth/login')
      .send({ email: 'eve@example.test', password: 'x' })
      .expect(401);
    const logins = (await auditEntries(log, 2)).filter((e) => e.action === 'auth.login');
    expect(logins.map((e) => [e.actor?.id, e.actor?.type, e.outcome])).toEqual([
      ['u-42', 'user', 'success'],
      ['anonymous', 'anonymous', 'denied'],
    ]);
    expect(JSON.stringify(logins)).not.toMatch(/eve@example|correct horse/);
  });
});
