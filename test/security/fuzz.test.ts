/**
 * Bounded fuzzing of each running example over real HTTP (fast-check): random methods, paths
 * built from the app's real routes with hostile segments, hostile headers (tokens, cookies,
 * forwarded-for, request ids, content types), and hostile bodies (random JSON, deep nesting,
 * prototype keys, invalid UTF-8, oversize, chunked), sent anonymously and with a valid session.
 * Then raw bytes on a socket (malformed request lines and headers).
 *
 * The property: the process survives every request, never answers 5xx to client input, and never
 * shows a stack trace or internal path. On failure fast-check prints the seed and the first failing
 * request (no shrinking: the app is a live process with state, and a dead one fails every later
 * run); replay it with BULWARK_FUZZ_SEED=<seed>. BULWARK_FUZZ_RUNS sets the run count
 * (default 250 per app and property: seconds per app).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import fc from 'fast-check';
import { startExample, stillServing, type ExampleName, type ExampleProcess } from './support/example-process';

const RUNS = Number(process.env.BULWARK_FUZZ_RUNS ?? 250);
const SEED = process.env.BULWARK_FUZZ_SEED !== undefined ? Number(process.env.BULWARK_FUZZ_SEED) : undefined;
const TIME_LIMIT_MS = 60_000;

interface Target {
  routes: string[];
  /** Logs in a demo user; returns the Authorization header value. */
  login(url: string): Promise<string>;
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

const TARGETS: Record<ExampleName, Target> = {
  'express-clinic': {
    routes: [
      '/',
      '/health',
      '/me',
      '/auth/login',
      '/patients',
      '/patients/:id',
      '/patients/:id/notes',
      '/patients/search',
      '/privacy',
      '/privacy/requests/export',
      '/dsr/requests',
      '/audit/events',
      '/audit/verify',
      '/audit/checkpoint',
      '/compliance/report',
      '/research/cohort',
      '/research/questionnaire',
    ],
    async login(url) {
      const res = await postJson(`${url}/auth/login`, {
        username: 'dr.grey',
        password: 'grey-demo-password',
      });
      const body = (await res.json()) as { token: string };
      return `Bearer ${body.token}`;
    },
  },
  'koa-shop': {
    routes: [
      '/',
      '/health',
      '/login',
      '/logout',
      '/account',
      '/account/cards',
      '/account/marketing',
      '/account/orders',
      '/api/csrf',
      '/api/login',
      '/api/me',
      '/api/products',
      '/api/orders',
      '/api/cards',
      '/api/cards/:id',
      '/api/admin/orders',
      '/api/admin/audit/verify',
    ],
    async login(url) {
      const anon = await fetch(`${url}/api/csrf`);
      const cookie = (anon.headers.getSetCookie() ?? []).map((c) => c.split(';')[0]).join('; ');
      const { csrfToken } = (await anon.json()) as { csrfToken: string };
      const res = await postJson(
        `${url}/api/login`,
        { email: 'alice@shop.example', password: 'alice-demo-password' },
        { cookie, 'x-csrf-token': csrfToken },
      );
      const body = (await res.json()) as { token: string };
      return `Bearer ${body.token}`;
    },
  },
  'nestjs-hr': {
    routes: [
      '/health',
      '/auth/login',
      '/employees',
      '/employees/:id',
      '/employees/search',
      '/consents',
      '/consents/:id',
      '/surveys/wellbeing',
      '/surveys/wellbeing/summary',
      '/audit/events',
      '/audit/verify',
    ],
    async login(url) {
      const res = await postJson(`${url}/auth/login`, {
        email: 'hana@hr.example',
        password: 'hana-demo-password',
      });
      const body = (await res.json()) as { token?: string; accessToken?: string };
      return `Bearer ${body.token ?? body.accessToken}`;
    },
  },
};

// --- arbitraries ------------------------------------------------------------------------------

/** Characters Node's HTTP client accepts in a path (it refuses controls and spaces). */
const pathChar = fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c));
/** Characters Node's HTTP client accepts in a header value. */
const headerChar = fc.oneof(
  fc.constant('\t'),
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
);

const hostileSegment = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '..',
      '%2e%2e',
      '%2E%2E%2F',
      '..%2f..%2fetc%2fpasswd',
      '%00',
      '%',
      '%zz',
      '%c0%af',
      '%ff%fe',
      '__proto__',
      'constructor',
      '-1',
      '0',
      '9999999999999999999999',
      '1e309',
      'null',
      "'%20OR%201=1--",
      '%3Cscript%3E',
      ';',
      '~',
      '00000000-0000-0000-0000-000000000000',
    ),
  },
  { weight: 3, arbitrary: fc.string({ unit: pathChar, maxLength: 40 }).map((s) => s.replace(/[/?#]/g, '')) },
  { weight: 1, arbitrary: fc.constant('a'.repeat(3000)) },
);

function pathArb(routes: string[]): fc.Arbitrary<string> {
  const route = fc.constantFrom(...routes);
  const plausibleId = fc.oneof(
    fc.uuid(),
    fc.integer({ min: 0, max: 50 }).map(String),
    fc.constantFrom('1', 'emp-1', 'me'),
  );
  const filled = fc.oneof(
    // The real route with a plausible id: reaches the handlers and their validation.
    { weight: 3, arbitrary: fc.tuple(route, plausibleId).map(([r, id]) => r.replace(':id', id)) },
    // A hostile id or an extra hostile segment: reaches routing, decoding and not-found.
    {
      weight: 2,
      arbitrary: fc
        .tuple(route, hostileSegment, fc.boolean())
        .map(([r, seg, extra]) =>
          r.includes(':id') ? r.replace(':id', seg === '' ? 'x' : seg) : extra ? `${r}/${seg}` : r,
        ),
    },
  );
  const query = fc.oneof(
    { weight: 4, arbitrary: fc.constant('') },
    fc.constantFrom(
      '?cursor=%%%',
      '?cursor=AAAA',
      '?limit=-1',
      '?limit=1e9',
      '?q=',
      '?q[]=1&q[]=2',
      '?__proto__[x]=1',
      '?a[b][c][d][e][f]=1',
      '?from=not-a-date&to=2026-13-45',
      '?category=&outcome=&actor=',
    ),
    fc.string({ unit: pathChar, maxLength: 60 }).map((s) => `?${s.replace(/#/g, '')}`),
  );
  return fc.tuple(filled, query).map(([p, q]) => p + q);
}

const headerValue = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 80 }),
  fc.constantFrom(
    '',
    'Bearer ',
    'Bearer .',
    'Bearer a.b.c',
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.',
    'Basic YWRtaW46YWRtaW4=',
    'application/json; charset=utf-16',
    'application/json; charset=nope',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=',
    'text/plain',
    '1.2.3.4, 5.6.7.8, not-an-ip',
    '::ffff:127.0.0.1',
    '__Host-session=x; __proto__=1; =; ;;',
    'x'.repeat(6000),
  ),
);

const headersArb = fc.dictionary(
  fc.constantFrom(
    'authorization',
    'content-type',
    'cookie',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-real-ip',
    'x-request-id',
    'x-csrf-token',
    'origin',
    'referer',
    'accept',
    'accept-language',
    'user-agent',
    'if-none-match',
    'range',
    'x-http-method-override',
  ),
  headerValue,
  { maxKeys: 5 },
);

function deepJson(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A body that prints as a short preview in fast-check's counterexamples (some are megabytes). */
interface FuzzBody {
  readonly bytes: Buffer;
}

function fuzzBody(bytes: Buffer): FuzzBody {
  const body: FuzzBody & { [fc.toStringMethod]: () => string } = {
    bytes,
    [fc.toStringMethod]: () =>
      `<${bytes.length} bytes: ${JSON.stringify(bytes.subarray(0, 80).toString('latin1'))}${bytes.length > 80 ? '...' : ''}>`,
  };
  return body;
}

const rawBodyArb: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.json({ depthSize: 'small' }).map((s) => Buffer.from(s)),
  fc.anything({ maxDepth: 3 }).map((v) => {
    try {
      return Buffer.from(JSON.stringify(v) ?? 'null');
    } catch {
      return Buffer.from('null');
    }
  }),
  fc
    .constantFrom(
      '{"__proto__":{"isAdmin":true}}',
      '{"constructor":{"prototype":{"isAdmin":true}}}',
      '{"username":"dr.grey","password":{"$gt":""}}',
      '{"username":["a","b"],"password":null}',
      '{"a":"\\u0000"}',
      '{"a":1,"a":2}',
      '{',
      '[]',
      'null',
      '"string"',
      '1e999999',
      'a=1&a=2&__proto__[x]=1',
      'Asthma;=1+1',
    )
    .map((s) => Buffer.from(s)),
  fc.integer({ min: 50, max: 4000 }).map((d) => Buffer.from(deepJson(d))),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])), // invalid UTF-8
  fc.constant(Buffer.alloc(3 * 1024 * 1024, 0x61)),
);

const bodyArb: fc.Arbitrary<FuzzBody | undefined> = rawBodyArb.map((b) =>
  b === undefined ? undefined : fuzzBody(b),
);

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: FuzzBody | undefined;
  chunked: boolean;
  authenticated: boolean;
  /** Send the body as application/json (whatever the fuzzed headers say), so it reaches the parsers. */
  json: boolean;
}

function requestArb(routes: string[]): fc.Arbitrary<FuzzRequest> {
  return fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND'),
    path: pathArb(routes),
    headers: headersArb,
    body: bodyArb,
    chunked: fc.boolean(),
    authenticated: fc.boolean(),
    json: fc.boolean(),
  });
}

// --- sending ----------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: string;
}

function send(app: ExampleProcess, r: FuzzRequest, token: string): Promise<Answer | 'reset'> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...r.headers };
    if (r.authenticated) headers.authorization = token;
    if (r.json) headers['content-type'] = 'application/json';
    const req = http.request(
      {
        host: '127.0.0.1',
        port: app.port,
        method: r.method,
        path: r.path,
        headers,
        agent: false,
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', () => resolve('reset'));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within 20 s to ${r.method} ${r.path}`)));
    // A server may answer (413) and close before the client finished writing: that is a refusal,
    // not a failure; the process check below still runs.
    req.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' || err.code === 'EPIPE'
        ? resolve('reset')
        : reject(
            new Error(`${err.message} (${err.code}) on ${r.method} ${r.path.slice(0, 80)}`, { cause: err }),
          ),
    );
    if (r.body === undefined) {
      req.end();
    } else if (r.chunked) {
      // Node's client frames a body as chunked by default only for methods that usually carry one;
      // for GET, HEAD, DELETE, OPTIONS and TRACE it would write the bytes unframed after the head
      // (a malformed stream, which the raw-bytes property below covers). Ask for chunked framing.
      req.setHeader('transfer-encoding', 'chunked');
      const half = Math.floor(r.body.bytes.length / 2);
      req.write(r.body.bytes.subarray(0, half));
      req.end(r.body.bytes.subarray(half));
    } else {
      req.setHeader('content-length', String(r.body.bytes.length));
      req.end(r.body.bytes);
    }
  });
}

/** Sends raw bytes; returns the status line's code, or undefined when the server just closed. */
function sendRaw(app: ExampleProcess, bytes: Buffer): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: app.port });
    let data = '';
    const done = (): void => {
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : undefined);
    };
    socket.setTimeout(3000, done);
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      if (/\r\n\r\n/.test(data)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.end(bytes));
  });
}

const STACK_TRACE =
  /\bat [^\s]+ \(|node_modules|\/src\/[\w-]+\.[jt]s|TypeError|ReferenceError|SQLITE_|QueryFailedError/;

const rawArb = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 400 }).map((b) => Buffer.from(b)),
  fc
    .tuple(
      fc.constantFrom('GET', 'POST', 'G\0ET', '', 'CONNECT', 'GET GET'),
      fc.string({ unit: headerChar, maxLength: 60 }),
      fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1\r\nHost', ''),
      fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ unit: headerChar, maxLength: 40 })), {
        maxLength: 4,
      }),
      fc.constantFrom(
        '',
        'Content-Length: 10\r\nContent-Length: 5\r\n',
        'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n',
        'Transfer-Encoding: chunked\r\n',
        'Content-Length: -1\r\n',
        'Content-Length: 99999999999999999999\r\n',
        `X-Big: ${'b'.repeat(20_000)}\r\n`,
      ),
      fc.constantFrom('', 'zz\r\nxx\r\n0\r\n\r\n', '5\r\n{"a":\r\n', '{"a":1}'),
    )
    .map(([m, p, v, hs, extra, body]) =>
      Buffer.from(
        `${m} /${p.replace(/ /g, '')} ${v}\r\nHost: 127.0.0.1\r\n${hs.map(([k, val]) => `${k}: ${val}\r\n`).join('')}${extra}\r\n${body}`,
        'latin1',
      ),
    ),
);

describe.each(Object.keys(TARGETS) as ExampleName[])('fuzzing the running %s', (name) => {
  let app: ExampleProcess;
  let token: string;

  beforeAll(async () => {
    app = await startExample(name);
    token = await TARGETS[name].login(app.url);
  }, 90_000);

  afterAll(async () => {
    await app?.stop();
  });

  it('survives hostile HTTP requests and never answers 5xx or leaks internals', async () => {
    // A process may die just after answering: the request that killed it is among the last few.
    const recent: string[] = [];
    await fc.assert(
      fc.asyncProperty(requestArb(TARGETS[name].routes), async (r) => {
        recent.push(fc.stringify(r).slice(0, 400));
        if (recent.length > 3) recent.shift();
        if (!app.alive())
          throw new Error(`process died; last requests:\n${recent.join('\n')}\n${app.output().slice(-2000)}`);
        const answer = await send(app, r, token).catch((err: unknown) => {
          if (process.env.FUZZ_DEBUG) console.log('FAILED', fc.stringify(r).slice(0, 600));
          throw err;
        });
        if (process.env.FUZZ_DEBUG)
          console.log(
            r.method,
            r.path.slice(0, 60),
            r.body?.bytes.length,
            r.chunked,
            answer === 'reset' ? 'reset' : answer.status,
          );
        await new Promise((resolve) => setImmediate(resolve));
        if (!app.alive())
          throw new Error(`process died; last requests:\n${recent.join('\n')}\n${app.output().slice(-2000)}`);
        if (answer === 'reset') return;
        if (answer.status >= 500) throw new Error(`answered ${answer.status}: ${answer.body.slice(0, 500)}`);
        if (STACK_TRACE.test(answer.body))
          throw new Error(`answer leaks internals: ${answer.body.slice(0, 500)}`);
      }),
      {
        numRuns: RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        ...(SEED !== undefined ? { seed: SEED } : {}),
      },
    );
    expect(await stillServing(app, '/health')).toBeLessThan(500);
  }, 180_000);

  it('survives malformed bytes on the socket and never answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(rawArb, async (bytes) => {
        const status = await sendRaw(app, bytes);
        if (!app.alive())
          throw new Error(`process died: ${JSON.stringify(app.exit())}\n${app.output().slice(-2000)}`);
        if (status !== undefined && status >= 500) throw new Error(`answered ${status}`);
      }),
      {
        numRuns: RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        ...(SEED !== undefined ? { seed: SEED } : {}),
      },
    );
    expect(await stillServing(app, '/health')).toBeLessThan(500);
  }, 180_000);
});
