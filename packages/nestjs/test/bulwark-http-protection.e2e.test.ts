import 'reflect-metadata';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Module,
  Post,
  Req,
  Res,
  type INestApplication,
  type RawBodyRequest,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { BulwarkConfigError, ComplianceKit, type AuditLog } from '@bulwark/core';
import { readCookie } from '@bulwark/core/http';
import { BulwarkModule, BulwarkRuntime, CsrfToken, Public, type BulwarkModuleOptions } from '../src';
import type { MiddlewareRequest } from '../src';
import { auditEntries, memoryAuditLog, tokenService } from './support/fixtures';
import {
  PLATFORMS,
  createApp,
  setResponseHeader,
  type FastifyOptions,
  type Platform,
} from './support/platform';

const PROBLEM = /^application\/problem\+json/;
const SECRET_IN_BODY = 'hunter2-in-the-body';

@Controller('echo')
@Public()
class EchoController {
  static calls = 0;

  @Post()
  @HttpCode(200)
  echo(@Body() body: unknown): { keys: string[] } {
    EchoController.calls++;
    return { keys: typeof body === 'object' && body !== null ? Object.keys(body) : [] };
  }

  @Get()
  ok(): { ok: true } {
    return { ok: true };
  }
}

/** A webhook checks a signature over the exact bytes received (Nest's `rawBody: true`). */
@Controller('hook')
@Public()
class HookController {
  @Post()
  @HttpCode(200)
  hook(@Req() req: RawBodyRequest<{ body: unknown }>): { raw: string | null; keys: string[] } {
    const body = req.body;
    return {
      raw: req.rawBody === undefined ? null : req.rawBody.toString('utf8'),
      keys: typeof body === 'object' && body !== null ? Object.keys(body) : [],
    };
  }
}

/** A cookie-authenticated app: the session cookie is the ambient credential CSRF rides on. */
@Controller('session')
@Public()
class SessionController {
  static transfers = 0;

  @Post('login')
  @HttpCode(204)
  login(@Res({ passthrough: true }) res: unknown): void {
    // Express's response or Fastify's reply.
    setResponseHeader(
      res,
      'Set-Cookie',
      `sid=s-${Math.random().toString(36).slice(2)}; Path=/; HttpOnly; SameSite=Lax`,
    );
  }

  @Get('csrf')
  token(@CsrfToken() csrfToken: string): { csrfToken: string } {
    return { csrfToken };
  }

  @Post('transfer')
  @HttpCode(200)
  transfer(@Req() req: MiddlewareRequest): { done: boolean } {
    if (readCookie(req.headers.cookie, 'sid') === undefined) return { done: false };
    SessionController.transfers++;
    return { done: true };
  }
}

const CSRF = {
  secret: 'a-csrf-secret-of-at-least-32-bytes!!',
  cookie: { secure: false },
  binding: (req: MiddlewareRequest) => readCookie(req.headers.cookie, 'sid'),
};

async function start(
  platform: Platform,
  options: Partial<BulwarkModuleOptions> = {},
  appOptions: { bodyParser?: boolean; rawBody?: boolean } = {},
  fastifyOptions?: FastifyOptions,
): Promise<INestApplication> {
  @Module({
    imports: [BulwarkModule.forRoot({ tokens: tokenService(), ...options })],
    controllers: [EchoController, SessionController, HookController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  return createApp(platform, moduleRef, appOptions, fastifyOptions);
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Sends raw bytes and resolves with what the server answered (or '' when it closed without answering). */
function raw(
  server: Server,
  write: (socket: ReturnType<typeof connect>) => void,
  waitMs = 5_000,
): Promise<string> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    };
    const timer = setTimeout(done, waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => write(socket));
  });
}

const jsonHead = (extra: string): string =>
  `POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n${extra}\r\n`;

/** The same attacks whether Nest's body parser read the body (default) or Bulwark's input guard did. */
const BODY_SETUPS: [string, { bodyParser?: boolean }, boolean][] = [
  ["Nest's body parser on (the default)", {}, false],
  ['bodyParser: false (Bulwark reads the body)', { bodyParser: false }, false],
  ['bodyParser: false, every request audited', { bodyParser: false }, true],
  ['parser on, every request audited', {}, true],
];

describe.each(PLATFORMS.flatMap((platform) => BODY_SETUPS.map((setup) => [platform, ...setup] as const)))(
  'BulwarkModule HTTP protections on %s, %s',
  (platform, _title, appOptions, auditAll) => {
    let app: INestApplication;
    let server: Server;
    let log: AuditLog | undefined;

    beforeAll(async () => {
      log = auditAll ? await memoryAuditLog() : undefined;
      app = await start(platform, log ? { auditLog: log, audit: { allRequests: true } } : {}, appOptions);
      await app.listen(0, '127.0.0.1');
      server = app.getHttpServer() as Server;
    });
    afterAll(async () => {
      await app.close();
      await log?.close();
    });

    const post = (body: string) =>
      request(server).post('/echo').set('Content-Type', 'application/json').send(body);

    it('refuses a __proto__ key before the handler sees it (400 ERR_HTTP_INPUT_FORBIDDEN_KEY)', async () => {
      const before = EchoController.calls;
      const res = await post('{"name":"x","__proto__":{"isAdmin":true}}').expect(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ status: 400, code: 'ERR_HTTP_INPUT_FORBIDDEN_KEY' });
      expect(EchoController.calls).toBe(before);
    });

    it('refuses constructor.prototype keys (400)', async () => {
      const res = await post('{"constructor":{"prototype":{"isAdmin":true}}}').expect(400);
      expect(res.body.code).toBe('ERR_HTTP_INPUT_FORBIDDEN_KEY');
    });

    it('refuses 3,000-deep JSON (422 ERR_HTTP_INPUT_TOO_DEEP)', async () => {
      const res = await post(nested(3_000)).expect(422);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toBe('ERR_HTTP_INPUT_TOO_DEEP');
    });

    it('answers malformed JSON with a fixed 400 that echoes neither the body nor the parser message', async () => {
      const res = await post(`{"password":"${SECRET_IN_BODY}", oops}`).expect(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ status: 400, code: 'ERR_HTTP_MALFORMED_BODY' });
      expect(res.text).not.toContain(SECRET_IN_BODY);
      expect(res.text).not.toMatch(/Unexpected|position|JSON at/);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    });

    it('refuses a body over 100 KiB with 413 ERR_HTTP_BODY_TOO_LARGE', async () => {
      const res = await post(JSON.stringify({ big: 'x'.repeat(150 * 1024) })).expect(413);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toBe('ERR_HTTP_BODY_TOO_LARGE');
    });

    it('refuses path traversal and NUL bytes (400)', async () => {
      const dots = await request(server).get('/echo/%2e%2e/secret').expect(400);
      expect(dots.body.code).toBe('ERR_HTTP_PATH_TRAVERSAL');
      const nul = await request(server).get('/echo?name=a%00b').expect(400);
      expect(nul.body.code).toBe('ERR_HTTP_INPUT_NUL_BYTE');
    });

    it('answers an unmatched route with a fixed 404 problem, not "Cannot GET /path"', async () => {
      const res = await request(server).get('/nope/<script>').expect(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({
        status: 404,
        code: 'ERR_HTTP_NOT_FOUND',
        detail: 'No resource at this URL.',
      });
      expect(res.text).not.toMatch(/Cannot|script|nope/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('sends the strict security headers on answers and refusals alike', async () => {
      for (const res of [await request(server).get('/echo').expect(200), await post('{').expect(400)]) {
        expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
        expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['referrer-policy']).toBe('no-referrer');
        expect(res.headers['x-powered-by']).toBeUndefined();
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    if (platform === 'fastify')
      it("answers Fastify's own refusals (unsupported media type) as problem+json with the headers, audited", async () => {
        const before = log === undefined ? 0 : (await auditEntries(log, 0)).length;
        // Not here: Fastify's router refusals (a bad URL 400, an over-long parameter 414), which Fastify
        // answers with its default handler, before any hook or Nest's error handler (README, "On Fastify").
        const refusals = [
          [
            await request(server).post('/echo').set('Content-Type', 'text/xml').send('<a/>').expect(415),
            'ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
          ],
        ] as const;
        for (const [res, code] of refusals) {
          expect(res.headers['content-type']).toMatch(PROBLEM);
          expect(res.body).toMatchObject({ code, requestId: res.headers['x-request-id'] });
          // Not Nest's `{"statusCode":415,"message":"Unsupported Media Type"}`.
          expect(res.body.statusCode).toBeUndefined();
          expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
          expect(res.headers['x-content-type-options']).toBe('nosniff');
        }
        if (log !== undefined) {
          const events = (await auditEntries(log, before + refusals.length)).slice(before);
          expect(events.map((e) => e.details?.errorCode)).toEqual(refusals.map(([, code]) => code));
        }
      });

    it('still passes a valid body to the handler', async () => {
      const res = await post('{"name":"x","tags":["a"]}').expect(200);
      expect(res.body).toEqual({ keys: ['name', 'tags'] });
    });

    describe('survives body attacks and keeps answering', () => {
      it('a chunked body over the limit: 413, and the process keeps serving', async () => {
        const answer = await raw(server, (s) => {
          s.write(jsonHead('Transfer-Encoding: chunked\r\n'));
          const chunk = 'x'.repeat(16 * 1024);
          const frame = `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
          s.write(`1\r\n{\r\n`);
          for (let i = 0; i < 16; i++) s.write(frame);
          s.write('0\r\n\r\n');
        });
        expect(answer).toMatch(/^HTTP\/1\.1 413 /);
        expect(answer).toContain('ERR_HTTP_BODY_TOO_LARGE');
        await request(server).get('/echo').expect(200);
      });

      it('a chunked upload that never ends: the process keeps serving others meanwhile', async () => {
        const upload = raw(
          server,
          (s) => {
            s.write(jsonHead('Transfer-Encoding: chunked\r\n'));
            const frame = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
            const timer = setInterval(() => (s.writable ? s.write(frame) : clearInterval(timer)), 5);
            s.on('close', () => clearInterval(timer));
          },
          1_000,
        );
        await request(server).get('/echo').expect(200);
        const answer = await upload;
        expect(answer).not.toMatch(/^HTTP\/1\.1 5/);
        await request(server).get('/echo').expect(200);
      });

      it('a client that hangs up mid-body', async () => {
        await raw(
          server,
          (s) => {
            s.write(jsonHead('Content-Length: 5000\r\n') + '{"name":"' + 'x'.repeat(1000));
            setTimeout(() => s.destroy(), 50);
          },
          1_000,
        );
        await request(server).get('/echo').expect(200);
        await post('{"a":1}').expect(200);
      });

      it('a body shorter than its Content-Length, then the client half-closes', async () => {
        const answer = await raw(
          server,
          (s) => {
            s.write(jsonHead('Content-Length: 100\r\n') + '{"a":1}');
            s.end();
          },
          2_000,
        );
        expect(answer).not.toMatch(/^HTTP\/1\.1 5/);
        await request(server).get('/echo').expect(200);
      });

      it('many hang-ups in a row', async () => {
        await Promise.all(
          Array.from({ length: 20 }, () =>
            raw(
              server,
              (s) => {
                s.write(jsonHead('Transfer-Encoding: chunked\r\n') + '400\r\n' + 'y'.repeat(512));
                setTimeout(() => s.destroy(), 20);
              },
              500,
            ),
          ),
        );
        await request(server).get('/echo').expect(200);
      });
    });
  },
);

describe.each(PLATFORMS)('BulwarkModule HTTP protections: options, on %s', (platform) => {
  it('reads the body under inputGuard.maxBodyBytes when Nest does not parse it', async () => {
    const app = await start(platform, { inputGuard: { maxBodyBytes: 1_000 } }, { bodyParser: false });
    try {
      const server = app.getHttpServer();
      const res = await request(server)
        .post('/echo')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ s: 'x'.repeat(2_000) }))
        .expect(413);
      expect(res.body.code).toBe('ERR_HTTP_BODY_TOO_LARGE');
      await request(server).post('/echo').set('Content-Type', 'application/json').send('{"a":1}').expect(200);
    } finally {
      await app.close();
    }
  });

  it('checks bodies of +json types that Nest parser leaves unread', async () => {
    const app = await start(platform);
    try {
      const res = await request(app.getHttpServer())
        .post('/echo')
        .set('Content-Type', 'application/merge-patch+json')
        .send('{"__proto__":{"isAdmin":true}}')
        .expect(400);
      expect(res.body.code).toBe('ERR_HTTP_INPUT_FORBIDDEN_KEY');
    } finally {
      await app.close();
    }
  });

  if (platform === 'fastify')
    it("honours Fastify's bodyLimit when it is below inputGuard.maxBodyBytes (the lower limit wins)", async () => {
      const app = await start(platform, {}, {}, { bodyLimit: 200 });
      try {
        const server = app.getHttpServer();
        for (const type of ['application/json', 'application/merge-patch+json']) {
          const res = await request(server)
            .post('/echo')
            .set('Content-Type', type)
            .send(JSON.stringify({ s: 'x'.repeat(1_000) }))
            .expect(413);
          expect(res.headers['content-type']).toMatch(PROBLEM);
          expect(res.body.code).toBe('ERR_HTTP_BODY_TOO_LARGE');
        }
        await request(server)
          .post('/echo')
          .type('form')
          .send(`s=${'x'.repeat(1_000)}`)
          .expect(413);
        await request(server)
          .post('/echo')
          .set('Content-Type', 'application/json')
          .send('{"a":1}')
          .expect(200);
      } finally {
        await app.close();
      }
    });

  it("keeps the exact body bytes as req.rawBody with Nest's rawBody: true (the guard parsed the body)", async () => {
    const app = await start(platform, {}, { rawBody: true });
    try {
      const server = app.getHttpServer();
      // Spacing and key order a re-serialised body would lose: a signature is over these bytes.
      const sent = '{ "b":1,  "a" : [2] }';
      const json = await request(server).post('/hook').set('Content-Type', 'application/json').send(sent);
      expect(json.status).toBe(200);
      expect(json.body).toEqual({ raw: sent, keys: ['b', 'a'] });
      const form = await request(server).post('/hook').type('form').send('x=1&y=%20');
      expect(form.body).toEqual({ raw: 'x=1&y=%20', keys: ['x', 'y'] });
      // Refusals are unchanged.
      await request(server)
        .post('/hook')
        .set('Content-Type', 'application/json')
        .send('{"__proto__":{"admin":true}}')
        .expect(400);
    } finally {
      await app.close();
    }
  });

  it('turns parts off only when told: securityHeaders false, inputGuard false, notFound false', async () => {
    const app = await start(platform, { securityHeaders: false, inputGuard: false, notFound: false });
    try {
      const server = app.getHttpServer();
      const ok = await request(server).get('/echo').expect(200);
      expect(ok.headers['content-security-policy']).toBeUndefined();
      // With the guard off, a 40-deep body (the guard's limit is 32) reaches the handler.
      const deep = await request(server)
        .post('/echo')
        .set('Content-Type', 'application/json')
        .send(nested(40))
        .expect(200);
      expect(deep.body.keys).toEqual(['a']);
      if (platform === 'express') {
        // So does a __proto__ key on Express (Fastify's own parser refuses it: secure-json-parse).
        const proto = await request(server)
          .post('/echo')
          .set('Content-Type', 'application/json')
          .send('{"__proto__":{"x":1}}')
          .expect(200);
        expect(proto.body.keys).toEqual(['__proto__']);
      }
      const miss = await request(server).get('/nope').expect(404);
      // Nest's own answer, as without Bulwark.
      expect(miss.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /nope' });
    } finally {
      await app.close();
    }
  });

  it('overrides one header and keeps the others', async () => {
    const app = await start(platform, { securityHeaders: { xFrameOptions: { action: 'sameorigin' } } });
    try {
      const res = await request(app.getHttpServer()).get('/echo').expect(200);
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(app.get(BulwarkRuntime).http.order).toEqual([
        'requestId',
        'securityHeaders',
        'fetchMetadata',
        'inputGuard',
      ]);
    } finally {
      await app.close();
    }
  });

  it.each([
    ['inputGuard', { inputGuard: { maxDepth: -1 } }, /inputGuard\.maxDepth must be a positive integer/],
    ['inputGuard', { inputGuard: { maxDepht: 3 } }, /inputGuard\.maxDepht is not a known option/],
    ['securityHeaders', { securityHeaders: { xFrameOption: false } }, /securityHeaders\.xFrameOption/],
    ['securityHeaders', { securityHeaders: 'on' }, /securityHeaders must be an options object or false/],
    ['csrf', { csrf: { secret: 'short' } }, /csrf\.secret must be a secret of at least 32 bytes/],
    ['notFound', { notFound: 'yes' }, /notFound must be a boolean/],
  ])('refuses a bad %s option when the application is created', async (_name, options, message) => {
    const err = await start(platform, options as Partial<BulwarkModuleOptions>).then(
      (app) => app.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BulwarkConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it('reports what its steps did on real traffic as observed compliance evidence', async () => {
    const app = await start(platform, { csrf: CSRF });
    try {
      const runtime = app.get(BulwarkRuntime);
      expect(runtime.http.evidence().traffic?.requests).toBe(0);
      const agent = request.agent(app.getHttpServer());
      const anonymous = (await agent.get('/session/csrf').expect(200)).body as { csrfToken: string };
      await agent.post('/session/login').set('csrf-token', anonymous.csrfToken).expect(204);
      await agent.post('/session/transfer').expect(403);
      const evidence = runtime.http.evidence();
      expect(evidence.name).toBe('nestjs');
      expect(evidence.observedBy).toBe('traffic');
      expect(evidence.securityHeaders['content-security-policy']).toContain("default-src 'self'");
      expect(evidence.csrf).toEqual({ enabled: true, method: 'signed-double-submit-cookie' });
      expect(evidence.traffic).toMatchObject({
        requests: 3,
        responses: 3,
        csrf: { unsafeWithCookies: 2, accepted: 1, refused: 1 },
      });
      const bundle = await new ComplianceKit()
        .registerHttpApp(() => runtime.http.evidence())
        .collectEvidence();
      expect(bundle.http?.provenance).toBe('observed');
      expect(app.get(BulwarkRuntime).http.order).toEqual([
        'requestId',
        'securityHeaders',
        'fetchMetadata',
        'inputGuard',
        'csrf',
      ]);
    } finally {
      await app.close();
    }
  });
});

describe.each(PLATFORMS)('BulwarkModule CSRF for a cookie-authenticated app, on %s', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await start(platform, { csrf: CSRF });
  });
  afterAll(() => app.close());

  async function session() {
    const agent = request.agent(app.getHttpServer());
    // Logging in is a state change too (login CSRF): the anonymous token first, then the session's.
    const anonymous = (await agent.get('/session/csrf').expect(200)).body as { csrfToken: string };
    await agent.post('/session/login').set('csrf-token', anonymous.csrfToken).expect(204);
    const { body } = await agent.get('/session/csrf').expect(200);
    return { agent, token: (body as { csrfToken: string }).csrfToken };
  }

  it('refuses a cross-site style POST riding on the session cookie without a token (403 EBADCSRFTOKEN)', async () => {
    const { agent } = await session();
    const before = SessionController.transfers;
    const res = await agent.post('/session/transfer').send({ to: 'mallory' }).expect(403);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 403, code: 'EBADCSRFTOKEN' });
    expect(SessionController.transfers).toBe(before);
  });

  it('accepts the token in a csrf-token header or a _csrf body field', async () => {
    const { agent, token } = await session();
    await agent.post('/session/transfer').set('csrf-token', token).expect(200, { done: true });
    await agent.post('/session/transfer').type('form').send({ _csrf: token }).expect(200, { done: true });
  });

  it("refuses another session's token (bound to the session cookie)", async () => {
    const victim = await session();
    const attacker = await session();
    await victim.agent.post('/session/transfer').set('csrf-token', attacker.token).expect(403);
  });

  it('leaves safe methods alone', async () => {
    await request(app.getHttpServer()).get('/echo').expect(200);
  });
});
