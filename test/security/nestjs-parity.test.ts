/**
 * Issue 12, defect 10: NestJS had none of the request-level protections of the Express and Koa
 * adapters. nestjs-hr accepted `__proto__` keys and 3,000-deep JSON, echoed body-parser messages
 * (which quote the body) and answered unmatched routes with `Cannot GET /path`. Each attack is
 * replayed here over real HTTP against the built nestjs-hr, started as its own process, which must
 * refuse it with RFC 9457 problem+json and keep serving.
 */
import fc from 'fast-check';
import { rawExchange } from './support/raw-http';
import { startExample, stillServing, type ExampleProcess } from './support/example-process';

const PROBLEM = /^application\/problem\+json/;
const EVE = { email: 'eve@hr.example', password: 'eve-demo-password' };

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

const head = (path: string, extra: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n${extra}\r\n`;

describe('nestjs-hr over HTTP: the protections Express and Koa have (issue 12, defect 10)', () => {
  let app: ExampleProcess;
  let eve: string;

  async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: the assertions on `text` say what it was
    }
    return { status: res.status, headers: res.headers, text, body: parsed } satisfies Answer;
  }

  const expectProblem = (res: Answer, status: number, code: string): void => {
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect(res.body.status).toBe(status);
    expect(typeof res.body.requestId).toBe('string');
  };

  beforeAll(async () => {
    app = await startExample('nestjs-hr');
    const login = await send('POST', '/auth/login', JSON.stringify(EVE));
    expect(login.status).toBe(200);
    eve = `Bearer ${login.body.token as string}`;
  }, 90_000);

  afterAll(async () => {
    await app?.stop();
  }, 30_000);

  afterEach(() => {
    // Every attack leaves the process alive.
    expect(app.alive()).toBe(true);
  });

  describe('input guard', () => {
    it('refuses a __proto__ key in a JSON body (400) before the login handler sees it', async () => {
      const res = await send(
        'POST',
        '/auth/login',
        '{"email":"eve@hr.example","password":"x","__proto__":{"isAdmin":true}}',
      );
      expectProblem(res, 400, 'ERR_HTTP_INPUT_FORBIDDEN_KEY');
    });

    it('refuses constructor.prototype keys on an authenticated route (400)', async () => {
      const res = await send(
        'POST',
        '/surveys/wellbeing',
        '{"score":4,"constructor":{"prototype":{"x":1}}}',
        {
          authorization: eve,
        },
      );
      expectProblem(res, 400, 'ERR_HTTP_INPUT_FORBIDDEN_KEY');
    });

    it('refuses 3,000-deep JSON (422)', async () => {
      const deep = '{"a":'.repeat(3_000) + '1' + '}'.repeat(3_000);
      const res = await send('POST', '/auth/login', deep);
      expectProblem(res, 422, 'ERR_HTTP_INPUT_TOO_DEEP');
    });

    it("answers malformed JSON with a fixed 400 that echoes neither the body nor the parser's message", async () => {
      const res = await send('POST', '/auth/login', '{"email":"eve@hr.example","password":"s3cret-Pa55", }');
      expectProblem(res, 400, 'ERR_HTTP_MALFORMED_BODY');
      expect(res.text).not.toMatch(/s3cret|eve@hr|Unexpected|position|JSON at/);
    });

    it('refuses a body over 100 KiB (413)', async () => {
      const res = await send('POST', '/auth/login', JSON.stringify({ email: 'x'.repeat(200 * 1024) }));
      expectProblem(res, 413, 'ERR_HTTP_BODY_TOO_LARGE');
    });

    it('refuses path traversal and NUL bytes before authentication (400)', async () => {
      // fetch resolves a bare `%2e%2e` segment itself; an encoded slash inside one reaches the server.
      expectProblem(await send('GET', '/employees/%2e%2e%2faudit%2fverify'), 400, 'ERR_HTTP_PATH_TRAVERSAL');
      const raw = await rawExchange(app, (s) =>
        s.write(
          'GET /employees/%2e%2e/audit/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
        ),
      );
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toContain('ERR_HTTP_PATH_TRAVERSAL');
      expectProblem(await send('GET', '/employees/search?nationalId=a%00b'), 400, 'ERR_HTTP_INPUT_NUL_BYTE');
    });

    it('still accepts a well-formed body', async () => {
      const res = await send('POST', '/auth/login', JSON.stringify(EVE));
      expect(res.status).toBe(200);
      expect(res.body.tokenType).toBe('Bearer');
    });
  });

  describe('not found', () => {
    it.each(['GET', 'POST', 'DELETE'])(
      'answers %s on an unmatched route with a fixed 404 problem, not "Cannot GET /path"',
      async (method) => {
        const res = await send(method, '/nope/%3Cscript%3E', method === 'POST' ? '{}' : undefined);
        expectProblem(res, 404, 'ERR_HTTP_NOT_FOUND');
        expect(res.body.detail).toBe('No resource at this URL.');
        expect(res.text).not.toMatch(/Cannot|nope|script/i);
      },
    );
  });

  describe('security headers', () => {
    it.each([
      ['a public answer', 'GET', '/health', 200],
      ['a 401', 'GET', '/employees', 401],
      ['a 404', 'GET', '/nope', 404],
      ['a refused body', 'POST', '/auth/login', 400],
    ])('are sent on %s', async (_what, method, path, status) => {
      const res = await send(method, path, method === 'POST' ? '{' : undefined);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('strict-transport-security')).toBe('max-age=63072000; includeSubDomains');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(res.headers.get('x-powered-by')).toBeNull();
    });
  });

  describe('CSRF', () => {
    // nestjs-hr authenticates with bearer tokens only: no ambient credential for a cross-site
    // request to ride on. CSRF for cookie-authenticated Nest apps is proven in
    // packages/nestjs/test/bulwark-http-protection.e2e.test.ts.
    it('sets no cookie at login, and a cookie carrying the token does not authenticate', async () => {
      const login = await send('POST', '/auth/login', JSON.stringify(EVE));
      expect(login.headers.get('set-cookie')).toBeNull();
      const token = eve.slice('Bearer '.length);
      const res = await send('GET', '/employees', undefined, {
        cookie: `token=${token}; access_token=${token}`,
      });
      expectProblem(res, 401, 'ERR_HTTP_AUTH_REQUIRED');
    });
  });

  describe('bounded fuzz: client input never gets a 5xx', () => {
    const answered = (res: Answer): void => {
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(500);
      if (res.status >= 400) expect(res.headers.get('content-type')).toMatch(PROBLEM);
    };

    it('JSON-ish bodies on a public and an authenticated route', async () => {
      const body = fc.oneof(
        fc.json({ depthSize: 'medium' }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc
          .jsonValue()
          .map((v) => `{"__proto__":${JSON.stringify(v)},"email":${JSON.stringify(v)},"password":"x"}`),
      );
      await fc.assert(
        fc.asyncProperty(body, fc.boolean(), async (text, authenticated) => {
          const res = authenticated
            ? await send('POST', '/surveys/wellbeing', text, { authorization: eve })
            : await send('POST', '/auth/login', text);
          answered(res);
        }),
        { numRuns: 40 },
      );
    }, 120_000);

    it('paths and query strings', async () => {
      const segment = fc.string({ unit: 'binary', minLength: 1, maxLength: 30 });
      await fc.assert(
        fc.asyncProperty(segment, segment, fc.boolean(), async (a, q, authenticated) => {
          const path = `/employees/${encodeURIComponent(a)}?nationalId=${encodeURIComponent(q)}`;
          answered(await send('GET', path, undefined, authenticated ? { authorization: eve } : {}));
          answered(await send('GET', `/${encodeURIComponent(a)}/${encodeURIComponent(q)}`));
        }),
        { numRuns: 60 },
      );
    }, 120_000);
  });

  describe('survives body attacks and keeps answering', () => {
    it('a chunked body over the limit: 413, then the next request is served', async () => {
      const answer = await rawExchange(app, (s) => {
        s.write(head('/auth/login', 'Transfer-Encoding: chunked\r\n'));
        const frame = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
        s.write('1\r\n{\r\n');
        for (let i = 0; i < 12; i++) s.write(frame);
        s.write('0\r\n\r\n');
      });
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain('ERR_HTTP_BODY_TOO_LARGE');
      expect(await stillServing(app, '/health')).toBe(200);
    });

    it('a chunked upload that never ends: refused, and others are served meanwhile', async () => {
      const upload = rawExchange(
        app,
        (s) => {
          s.write(head('/auth/login', 'Transfer-Encoding: chunked\r\n'));
          const frame = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
          const timer = setInterval(() => (s.writable ? s.write(frame) : clearInterval(timer)), 5);
          s.on('close', () => clearInterval(timer));
        },
        2_000,
      );
      expect(await stillServing(app, '/health')).toBe(200);
      const answer = await upload;
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(await stillServing(app, '/health')).toBe(200);
    });

    it('clients that hang up mid-body', async () => {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          rawExchange(
            app,
            (s) => {
              const extra = i % 2 === 0 ? 'Content-Length: 5000\r\n' : 'Transfer-Encoding: chunked\r\n';
              s.write(head('/auth/login', extra) + (i % 2 === 0 ? '{"email":"' : '400\r\n{"email":"'));
              setTimeout(() => s.destroy(), 30);
            },
            1_000,
          ),
        ),
      );
      expect(await stillServing(app, '/health')).toBe(200);
      expect((await send('POST', '/auth/login', JSON.stringify(EVE))).status).toBe(200);
    });

    it('a body shorter than its Content-Length, then the client half-closes', async () => {
      const answer = await rawExchange(
        app,
        (s) => {
          s.write(head('/auth/login', 'Content-Length: 400\r\n') + JSON.stringify(EVE));
          s.end();
        },
        2_000,
      );
      expect(answer).not.toMatch(/^HTTP\/1\.1 5/);
      expect(await stillServing(app, '/health')).toBe(200);
    });

    it('an audited route whose client hangs up mid-body', async () => {
      await rawExchange(
        app,
        (s) => {
          s.write(
            head('/surveys/wellbeing', `Authorization: ${eve}\r\nContent-Length: 1000\r\n`) + '{"score":',
          );
          setTimeout(() => s.destroy(), 30);
        },
        1_000,
      );
      expect(await stillServing(app, '/health')).toBe(200);
    });
  });
});
