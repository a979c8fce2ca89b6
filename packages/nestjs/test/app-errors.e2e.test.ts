import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpException,
  HttpStatus,
  Module,
  Post,
  ServiceUnavailableException,
  UnprocessableEntityException,
  ValidationPipe,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsEmail, IsString, MinLength } from 'class-validator';
import request from 'supertest';
import { BulwarkError, ErrorCodes, type AuditLog } from '@bulwark/core';
import { Audited, BulwarkModule, Public } from '../src';
import { auditEntries, memoryAuditLog, tokenService } from './support/fixtures';

/**
 * The application's own errors are its API: with BulwarkModule installed, its HttpExceptions
 * answer exactly what Nest answers without it (status, body, content type), while Bulwark's errors
 * and unknown crashes are problem+json, and the app's crashes are logged as Nest logs them.
 */

class SignUpDto {
  @IsEmail()
  email!: string;

  @IsString()
  @MinLength(8)
  password!: string;
}

@Public()
@Controller('app')
class AppErrorsController {
  @Post('users')
  @Audited('user.create')
  create(@Body() dto: SignUpDto): { ok: true } {
    if (dto.email === 'taken@example.test') {
      throw new UnprocessableEntityException({ errors: { email: ['taken'] } });
    }
    return { ok: true };
  }

  @Get('string')
  string(): never {
    throw new HttpException('Teapot says no', HttpStatus.I_AM_A_TEAPOT);
  }

  @Get('array')
  array(): never {
    throw new HttpException(['first', { nested: true }], HttpStatus.CONFLICT);
  }

  @Get('down')
  down(): never {
    throw new ServiceUnavailableException('replica lag on db-7');
  }

  @Get('crash')
  crash(): never {
    throw new Error('connect ECONNREFUSED db:5432 password=hunter2');
  }

  @Get('bulwark')
  bulwark(): never {
    throw new BulwarkError(ErrorCodes.POLICY_DENIED, 'denied', { reasonId: 'not_owner' });
  }
}

/** Records what reaches the app's logger, by context. */
class CapturingLogger implements LoggerService {
  readonly calls: { level: string; args: unknown[] }[] = [];
  log(...args: unknown[]): void {
    this.calls.push({ level: 'log', args });
  }
  error(...args: unknown[]): void {
    this.calls.push({ level: 'error', args });
  }
  warn(...args: unknown[]): void {
    this.calls.push({ level: 'warn', args });
  }
  debug(): void {}
  verbose(): void {}
}

async function start(withBulwark: boolean, logger: LoggerService, log?: AuditLog): Promise<INestApplication> {
  @Module({
    imports: withBulwark
      ? [BulwarkModule.forRoot({ tokens: tokenService(), ...(log ? { auditLog: log } : {}) })]
      : [],
    controllers: [AppErrorsController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger });
  app.useGlobalPipes(new ValidationPipe());
  await app.init();
  return app;
}

describe("BulwarkExceptionFilter leaves the app's own errors alone", () => {
  // Nest's Logger is process-wide (the last app's logger wins): one capture for both apps.
  const logger = new CapturingLogger();
  let bare: INestApplication;
  let app: INestApplication;
  let log: AuditLog;

  beforeAll(async () => {
    log = await memoryAuditLog();
    bare = await start(false, logger);
    app = await start(true, logger, log);
  });
  afterAll(async () => {
    await bare.close();
    await app.close();
    await log.close();
  });

  const cases: [string, (r: request.Agent | ReturnType<typeof request>) => request.Test][] = [
    [
      'a field-level errors object',
      (r) => r.post('/app/users').send({ email: 'taken@example.test', password: 'long-enough' }),
    ],
    [
      'a ValidationPipe refusal',
      (r) => r.post('/app/users').send({ email: 'not-an-email', password: 'short' }),
    ],
    ['a string body', (r) => r.get('/app/string')],
    ['an array body', (r) => r.get('/app/array')],
    ['a 5xx HttpException the app wrote', (r) => r.get('/app/down')],
  ];

  it.each(cases)('answers %s exactly as Nest does without Bulwark', async (_name, send) => {
    const expected = await send(request(bare.getHttpServer()));
    const actual = await send(request(app.getHttpServer()));
    expect(expected.status).toBeGreaterThanOrEqual(400);
    expect({ status: actual.status, type: actual.headers['content-type'], body: actual.body }).toEqual({
      status: expected.status,
      type: expected.headers['content-type'],
      body: expected.body,
    });
    expect(actual.headers['content-type']).not.toMatch(/problem/);
    // Bulwark's response headers are still there.
    expect(actual.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(actual.headers['x-content-type-options']).toBe('nosniff');
  });

  it('keeps the field-level errors and the validation messages a client needs', async () => {
    const taken = await request(app.getHttpServer())
      .post('/app/users')
      .send({ email: 'taken@example.test', password: 'long-enough' })
      .expect(422);
    expect(taken.body).toEqual({ errors: { email: ['taken'] } });
    const invalid = await request(app.getHttpServer())
      .post('/app/users')
      .send({ email: 'not-an-email', password: 'short' })
      .expect(400);
    expect(invalid.body).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.arrayContaining(['email must be an email']),
    });
  });

  it("audits the app's refusal on an @Audited route by the status it answered", async () => {
    const before = (await auditEntries(log, 0)).length;
    await request(app.getHttpServer())
      .post('/app/users')
      .send({ email: 'taken@example.test', password: 'long-enough' })
      .expect(422);
    const entries = await auditEntries(log, before + 1);
    expect(entries.at(-1)).toMatchObject({
      action: 'user.create',
      outcome: 'failure',
      details: { status: 422, errorCode: 'UnprocessableEntityException' },
    });
    expect(JSON.stringify(entries.at(-1))).not.toContain('taken@example.test');
  });

  it('answers Bulwark errors and unknown crashes as problem+json', async () => {
    const denied = await request(app.getHttpServer()).get('/app/bulwark').expect(403);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(denied.body).toMatchObject({ status: 403, code: ErrorCodes.POLICY_DENIED, reasonId: 'not_owner' });
    const crash = await request(app.getHttpServer()).get('/app/crash').expect(500);
    expect(crash.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(crash.text).not.toMatch(/hunter2|ECONNREFUSED|db:5432/);
  });

  it("logs the app's crash under Nest's ExceptionsHandler, as Nest does, never under [Bulwark]", async () => {
    const errors = async (server: INestApplication) => {
      logger.calls.length = 0;
      await request(server.getHttpServer()).get('/app/crash').expect(500);
      return logger.calls.filter((c) => c.level === 'error');
    };
    const withoutBulwark = await errors(bare);
    const withBulwark = await errors(app);
    expect(withoutBulwark.map((c) => c.args.at(-1))).toEqual(['ExceptionsHandler']);
    // The same log call: the error itself (message and stack for the operator), same context.
    expect(withBulwark.map((c) => c.args.at(-1))).toEqual(['ExceptionsHandler']);
    expect(String(withBulwark[0]!.args[0])).toContain('ECONNREFUSED');
    expect(logger.calls.some((c) => c.args.includes('Bulwark'))).toBe(false);
    // The app's own 4xx / 5xx HttpExceptions are not logged, as without Bulwark.
    logger.calls.length = 0;
    await request(app.getHttpServer()).get('/app/down').expect(503);
    await request(app.getHttpServer()).get('/app/string').expect(418);
    expect(logger.calls.filter((c) => c.level === 'error')).toEqual([]);
  });
});

describe("appErrors: 'problem'", () => {
  let app: INestApplication;
  let log: AuditLog;
  beforeAll(async () => {
    log = await memoryAuditLog();
    @Module({
      imports: [BulwarkModule.forRoot({ tokens: tokenService(), auditLog: log, appErrors: 'problem' })],
      controllers: [AppErrorsController],
    })
    class ProblemModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ProblemModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useGlobalPipes(new ValidationPipe());
    await app.init();
  });
  afterAll(async () => {
    await app.close();
  });

  it("answers the app's HttpExceptions as problem+json, keeping field-level errors and validation messages", async () => {
    const taken = await request(app.getHttpServer())
      .post('/app/users')
      .send({ email: 'taken@example.test', password: 'long-enough' })
      .expect(422);
    expect(taken.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(taken.body).toMatchObject({ status: 422, errors: { email: ['taken'] } });
    const invalid = await request(app.getHttpServer())
      .post('/app/users')
      .send({ email: 'x', password: 'short' })
      .expect(400);
    expect(invalid.body).toMatchObject({
      status: 400,
      errors: expect.arrayContaining(['email must be an email']),
    });
    const down = await request(app.getHttpServer()).get('/app/down').expect(503);
    expect(down.body).toMatchObject({ status: 503, title: 'Service Unavailable' });
    expect(down.text).not.toContain('db-7');
  });

  it('refuses another value at start-up', async () => {
    await expect(async () =>
      Test.createTestingModule({
        imports: [BulwarkModule.forRoot({ tokens: tokenService(), appErrors: 'html' as 'nest' })],
      }).compile(),
    ).rejects.toThrow(/appErrors/);
  });
});
