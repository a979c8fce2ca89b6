'use strict';

/**
 * HTTP middleware stacks: one operation = one GET /hello answered 200 by a hello-world route,
 * measured with autocannon against servers on 127.0.0.1.
 *
 * Server and load run in SEPARATE processes (on a 2-core machine one event loop doing both would
 * fold autocannon's own cost into every number): this file, when started with
 * BULWARK_HTTP_BENCH_SERVER=1, is the server process hosting every server on ephemeral ports; the
 * suite (in the bench runner's process) drives them with autocannon's programmatic API,
 * interleaving implementations round by round like the other suites.
 *
 * Implementations per framework (case `express hello` / `koa hello`):
 * - bare        the framework and the route, nothing else
 * - helmet      + helmet() (Express) / koa-helmet (Koa), their defaults
 * - bulwark-headers  + Bulwark's securityHeaders() alone (helmet with Bulwark's stricter options;
 *               on Koa helmet called on ctx.req/ctx.res): the "headers alone" row
 * - peer-jose   the fair peer stack, each library set up as its docs recommend: helmet
 *               (koa-helmet), express-rate-limit (Koa: koa-ratelimit, memory driver), one pino line
 *               per request to an asynchronous /dev/null destination, jose `jwtVerify` (HS256) with
 *               the key imported ONCE into a CryptoKey at start-up, csrf-csrf's double-submit check
 *               bound to the token's subject (Koa: csrf-csrf's validateRequest on ctx.req), and an
 *               @casl/ability check on the route with abilities cached per role set
 * - peer-jose-shaped  (Express only) peer-jose with one middleware first that switches req and res
 *               to dictionary properties, as Bulwark's first step does (core's express-object-shape.ts:
 *               Express gives each request hidden classes of its own, which makes every property
 *               access on them slow). Not a target's peer: it shows how much of the bundle's lead
 *               comes from that switch, which speeds up Express's own work after it as well.
 * - peer-expressjwt  the older popular stack: helmet + express-jwt / koa-jwt (jsonwebtoken,
 *               HS256) + a hand-written double-submit CSRF comparison + a rate limiter
 *               (express-rate-limit / a fixed-window memory counter)
 * - bulwark     the full bundle: bulwark(kit, { csrf, rateLimit }) (request id, problem details,
 *               strict headers via helmet, audit to a memory AuditLog, fetch metadata, input
 *               guard, bearer authentication through TokenService, per-IP rate limit, CSRF) +
 *               authorize('read', 'hello') (PolicyEngine) on the route; verified-token cache on
 *               (the default: exact-string key, <= 30 s, never past exp)
 * - bulwark-nocache  the same bundle with `authenticate: { cacheTtlSec: 0 }`: a signature check
 *               on every request, like the peers
 *
 * Every request carries the same valid HS256 bearer token. Rate limits are set far above the load
 * (every stack still counts every request).
 *
 * Rows: { case, impl, opsPerSec, p99Ms } (plus the runner's usual columns). opsPerSec is the
 * median over rounds of requests/s; p99Ms the median over rounds of each round's exact p99 latency
 * (every 2xx response's time, to the µs: autocannon's own p99 is in whole milliseconds).
 *
 * `node bench/run.js http --profile` instead runs the bundle servers (with and without the token
 * cache; `PROFILE_IMPLS=peer-jose,bulwark-nocache` for others) under load with the V8 CPU profiler
 * on in the server process, writes each
 * .cpuprofile under bench/results/ and prints the time per bundle step (bench/lib/profile-steps.js).
 */

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { createSecretKey, webcrypto } = require('node:crypto');
const {
  answerParent,
  forkServer,
  send,
  stopServer,
  cannon,
  processCpuTimes,
  timeRounds,
  profileUnderLoad,
  writeProfileSummary,
} = require('../lib/autocannon-run');

const IMPLS = [
  'bare',
  'helmet',
  'bulwark-headers',
  'peer-expressjwt',
  'peer-jose',
  'peer-jose-shaped',
  'bulwark',
  'bulwark-nocache',
];
const FRAMEWORKS = ['express', 'koa'];
/** Koa's ctx.req is a plain Node request, one hidden class for all: the switch has nothing to fix there. */
const EXPRESS_ONLY = ['peer-jose-shaped'];
const implsOf = (framework) =>
  framework === 'express' ? IMPLS : IMPLS.filter((impl) => !EXPRESS_ONLY.includes(impl));
const JWT_SECRET = 'http-bench-jwt-secret-0123456789abcdef'; // 38 bytes: HS256 needs >= 32
// express-jwt and koa-jwt hand `secret` straight to jsonwebtoken's verify(). Given a string,
// jsonwebtoken 9 first tries createPublicKey(secret) and catches the throw on every request, which
// costs ~50x the HMAC itself; a KeyObject made once is how an expert sets the peer up.
const JWT_KEY_OBJECT = createSecretKey(Buffer.from(JWT_SECRET));
const CSRF_SECRET = 'http-bench-csrf-secret-0123456789abcdef';
const HELLO = 'hello';
/** Far above any load this bench generates: the limiters count every request but never refuse. */
const RATE_LIMIT = 1_000_000_000;
const BULWARK_IMPLS = ['bulwark', 'bulwark-nocache'];
const WITH_AUTH = ['peer-expressjwt', 'peer-jose', ...EXPRESS_ONLY, ...BULWARK_IMPLS];

// ---------------------------------------------------------------------------------------------
// Server process

async function buildServers() {
  const express = require('express');
  const helmet = require('helmet');
  const { expressjwt } = require('express-jwt');
  const cookieParser = require('cookie-parser');
  const Koa = require('koa');
  const Router = require('@koa/router');
  const koaHelmet = require('koa-helmet');
  const koaJwt = require('koa-jwt');
  const koaRatelimit = require('koa-ratelimit');
  const pino = require('pino');
  const { doubleCsrf } = require('csrf-csrf');
  const { createMongoAbility } = require('@casl/ability');
  const jose = require('jose');
  const core = require('@bulwark/core');
  const bwExpress = require('@bulwark/express');
  const { detachExpressRequestShape } = require('@bulwark/core/http');
  const bwKoa = require('@bulwark/koa');
  const { rateLimit } = await import('express-rate-limit');

  // Audit logs are swapped between rounds (the parent asks), so a long run never accumulates
  // hundreds of thousands of entries in one memory store.
  const logs = {};
  async function freshLog(name) {
    const old = logs[name];
    logs[name] = await core.AuditLog.open({ store: new core.MemoryAuditStore() });
    if (old) await old.close();
  }
  const auditFor = (name) => ({
    append: (event) => logs[name].append(event),
    flush: () => logs[name].flush(),
  });
  const AUDIT_NAMES = FRAMEWORKS.flatMap((f) => BULWARK_IMPLS.map((impl) => `${f}/${impl}`));

  const tokens = new core.TokenService({
    algorithms: ['HS256'],
    signingKey: { key: Buffer.from(JWT_SECRET) },
  });
  const authorizer = new core.PolicyEngine({
    policy: {
      version: 1,
      roles: { user: {} },
      policies: [
        {
          id: 'hello',
          rules: [
            { id: 'read-hello', effect: 'allow', roles: ['user'], actions: ['read'], resources: ['hello'] },
          ],
        },
      ],
    },
  });
  const token = await tokens.sign({ roles: ['user'] }, { subject: 'bench-user', ttlSec: 3600 });

  // --- peer-jose building blocks, made once at start-up as each library's docs recommend ---
  // jose: the HMAC key imported into WebCrypto once (a Uint8Array or a secret KeyObject would be
  // re-imported by jwtVerify on every call).
  const joseKey = await webcrypto.subtle.importKey(
    'raw',
    Buffer.from(JWT_SECRET),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  const joseOptions = { algorithms: ['HS256'], requiredClaims: ['exp', 'iat', 'sub'] };
  const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
  /** The verified claims of a request, or undefined (the caller answers 401). */
  async function verifyBearer(header) {
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (match === null) return undefined;
    try {
      return (await jose.jwtVerify(match[1], joseKey, joseOptions)).payload;
    } catch {
      return undefined;
    }
  }
  // CASL: rules per role, one ability per distinct role set, cached (CASL's docs: build an
  // ability once per user/role and reuse it rather than per request).
  const ROLE_RULES = { user: [{ action: 'read', subject: 'hello' }] };
  const abilities = new Map();
  function abilityFor(roles) {
    const list = Array.isArray(roles) ? roles.filter((r) => typeof r === 'string') : [];
    const key = list.join(' ');
    let ability = abilities.get(key);
    if (ability === undefined) {
      ability = createMongoAbility(list.flatMap((r) => ROLE_RULES[r] ?? []));
      abilities.set(key, ability);
    }
    return ability;
  }
  // csrf-csrf: signed double-submit cookie bound to the token's subject (GET is exempt).
  const { doubleCsrfProtection, validateRequest } = doubleCsrf({
    getSecret: () => CSRF_SECRET,
    getSessionIdentifier: (req) => req.auth?.sub ?? '',
    cookieName: '__Host-peer.x-csrf-token',
  });
  const CSRF_IGNORED = new Set(['GET', 'HEAD', 'OPTIONS']);
  // pino: one structured line per request, written asynchronously to /dev/null (the sink costs
  // next to nothing, like Bulwark's in-memory audit store).
  const logger = pino(
    { base: undefined },
    pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 }),
  );

  function csrfCheck(method, cookie, header) {
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return true;
    return typeof cookie === 'string' && cookie.length > 0 && cookie === header;
  }

  const bulwarkOptions = (impl) => ({
    csrf: { secret: CSRF_SECRET },
    rateLimit: { perIp: { limit: RATE_LIMIT, windowSec: 60 }, perUser: false },
    ...(impl === 'bulwark-nocache' ? { authenticate: { cacheTtlSec: 0 } } : {}),
  });

  const express_ = {
    bare() {
      const app = express();
      app.get('/hello', (_req, res) => res.send(HELLO));
      return app;
    },
    helmet() {
      const app = express();
      app.use(helmet());
      app.get('/hello', (_req, res) => res.send(HELLO));
      return app;
    },
    'bulwark-headers'() {
      const app = express();
      app.use(bwExpress.securityHeaders());
      app.get('/hello', (_req, res) => res.send(HELLO));
      return app;
    },
    'peer-expressjwt'() {
      const app = express();
      app.use(helmet());
      app.use(
        rateLimit({ windowMs: 60_000, limit: RATE_LIMIT, standardHeaders: 'draft-7', legacyHeaders: false }),
      );
      app.use(cookieParser());
      app.use(expressjwt({ secret: JWT_KEY_OBJECT, algorithms: ['HS256'] }));
      app.use((req, res, next) => {
        if (csrfCheck(req.method, req.cookies['csrf'], req.headers['x-csrf-token'])) return next();
        res.status(403).send('bad csrf');
      });
      app.get('/hello', (_req, res) => res.send(HELLO));
      app.post('/hello', (_req, res) => res.send(HELLO));
      app.use((err, _req, res, _next) => res.status(err.status || 500).send(err.name));
      return app;
    },
    'peer-jose'(shaped = false) {
      const app = express();
      if (shaped) {
        app.use((req, _res, next) => {
          detachExpressRequestShape(req);
          next();
        });
      }
      app.use(helmet());
      app.use((req, res, next) => {
        const started = performance.now();
        res.once('finish', () => {
          logger.info(
            {
              method: req.method,
              url: req.originalUrl,
              status: res.statusCode,
              sub: req.auth?.sub,
              ms: performance.now() - started,
            },
            'request',
          );
        });
        next();
      });
      app.use(
        rateLimit({ windowMs: 60_000, limit: RATE_LIMIT, standardHeaders: 'draft-7', legacyHeaders: false }),
      );
      app.use(cookieParser());
      app.use(async (req, res, next) => {
        const claims = await verifyBearer(req.headers.authorization);
        if (claims === undefined) return void res.status(401).send('unauthorized');
        req.auth = claims;
        next();
      });
      app.use(doubleCsrfProtection);
      const can = (action, subject) => (req, res, next) =>
        abilityFor(req.auth.roles).can(action, subject) ? next() : void res.status(403).send('forbidden');
      app.get('/hello', can('read', 'hello'), (_req, res) => res.send(HELLO));
      app.post('/hello', can('read', 'hello'), (_req, res) => res.send(HELLO));
      app.use((err, _req, res, _next) => res.status(err.status || 500).send(err.code || err.name));
      return app;
    },
    'peer-jose-shaped'() {
      return express_['peer-jose'](true);
    },
    bulwark: bulwarkExpress('bulwark'),
    'bulwark-nocache': bulwarkExpress('bulwark-nocache'),
  };

  function bulwarkExpress(impl) {
    return () => {
      const bw = bwExpress.bulwark(
        { tokens, authorizer, auditLog: auditFor(`express/${impl}`) },
        bulwarkOptions(impl),
      );
      const app = express();
      app.use(bw);
      app.get('/hello', bw.authorize('read', 'hello'), (_req, res) => res.send(HELLO));
      app.post('/hello', bw.authorize('read', 'hello'), (_req, res) => res.send(HELLO));
      app.use(bw.problemDetails());
      return app;
    };
  }

  function koaRateLimit(limit, windowMs) {
    const hits = new Map();
    let windowStart = Date.now();
    return (ctx, next) => {
      const now = Date.now();
      if (now - windowStart >= windowMs) {
        hits.clear();
        windowStart = now;
      }
      const n = (hits.get(ctx.ip) ?? 0) + 1;
      hits.set(ctx.ip, n);
      ctx.set('RateLimit', `limit=${limit}, remaining=${Math.max(0, limit - n)}`);
      if (n > limit) {
        ctx.status = 429;
        return undefined;
      }
      return next();
    };
  }

  const helloRouter = (extra) => {
    const router = new Router();
    const mw = extra ? [extra] : [];
    const hello = (ctx) => {
      ctx.body = HELLO;
    };
    router.get('/hello', ...mw, hello);
    router.post('/hello', ...mw, hello);
    return router.routes();
  };
  const koaHelmetMw = () => (koaHelmet.default ? koaHelmet.default() : koaHelmet());

  const koa_ = {
    bare() {
      return new Koa().use(helloRouter());
    },
    helmet() {
      return new Koa().use(koaHelmetMw()).use(helloRouter());
    },
    'bulwark-headers'() {
      return new Koa().use(bwKoa.securityHeaders()).use(helloRouter());
    },
    'peer-expressjwt'() {
      const app = new Koa();
      app.use(koaHelmetMw());
      app.use(koaRateLimit(RATE_LIMIT, 60_000));
      app.use(koaJwt({ secret: JWT_KEY_OBJECT, algorithms: ['HS256'] }));
      app.use((ctx, next) => {
        if (csrfCheck(ctx.method, ctx.cookies.get('csrf'), ctx.get('x-csrf-token'))) return next();
        ctx.status = 403;
        ctx.body = 'bad csrf';
        return undefined;
      });
      app.use(helloRouter());
      return app;
    },
    'peer-jose'() {
      const app = new Koa();
      app.use(koaHelmetMw());
      app.use(async (ctx, next) => {
        const started = performance.now();
        try {
          await next();
        } finally {
          logger.info(
            {
              method: ctx.method,
              url: ctx.originalUrl,
              status: ctx.status,
              sub: ctx.state.auth?.sub,
              ms: performance.now() - started,
            },
            'request',
          );
        }
      });
      app.use(
        koaRatelimit({
          driver: 'memory',
          db: new Map(),
          duration: 60_000,
          max: RATE_LIMIT,
          id: (ctx) => ctx.ip,
        }),
      );
      app.use(async (ctx, next) => {
        const claims = await verifyBearer(ctx.get('authorization'));
        if (claims === undefined) {
          ctx.status = 401;
          ctx.body = 'unauthorized';
          return;
        }
        ctx.state.auth = claims;
        await next();
      });
      // csrf-csrf's core check on the Node request, the cookie read by Koa (no Express needed).
      const cookieName = '__Host-peer.x-csrf-token';
      app.use((ctx, next) => {
        if (CSRF_IGNORED.has(ctx.method)) return next();
        const cookie = ctx.cookies.get(cookieName);
        ctx.req.cookies = cookie === undefined ? {} : { [cookieName]: cookie };
        ctx.req.auth = ctx.state.auth;
        if (validateRequest(ctx.req)) return next();
        ctx.status = 403;
        ctx.body = 'invalid csrf token';
        return undefined;
      });
      const can = (action, subject) => (ctx, next) => {
        if (abilityFor(ctx.state.auth.roles).can(action, subject)) return next();
        ctx.status = 403;
        ctx.body = 'forbidden';
        return undefined;
      };
      app.use(helloRouter(can('read', 'hello')));
      return app;
    },
    bulwark: bulwarkKoa('bulwark'),
    'bulwark-nocache': bulwarkKoa('bulwark-nocache'),
  };

  function bulwarkKoa(impl) {
    return () => {
      const bw = bwKoa.bulwark(
        { tokens, authorizer, auditLog: auditFor(`koa/${impl}`) },
        bulwarkOptions(impl),
      );
      return new Koa().use(bw).use(helloRouter(bw.authorize('read', 'hello')));
    };
  }

  for (const name of AUDIT_NAMES) await freshLog(name);
  const ports = {};
  const servers = [];
  for (const framework of FRAMEWORKS) {
    for (const impl of implsOf(framework)) {
      const app = framework === 'express' ? express_[impl]() : koa_[impl]();
      const server = http.createServer(framework === 'express' ? app : app.callback());
      server.keepAliveTimeout = 60_000;
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      ports[`${framework}/${impl}`] = server.address().port;
      servers.push(server);
    }
  }

  answerParent({
    // CPU time of this server process so far (µs, every thread: libuv's pool runs jose's HMAC for
    // the peer): read around each round, it gives server CPU per request next to req/s.
    'cpu-usage': async () => ({ type: 'cpu-used', ...processCpuTimes() }),
    async 'rotate-audit'() {
      for (const name of AUDIT_NAMES) await freshLog(name);
      return { type: 'rotated' };
    },
    async stop() {
      for (const s of servers) s.close();
      for (const name of AUDIT_NAMES) await logs[name].close();
      logger.flush();
      process.exit(0);
    },
  });
  process.send({ type: 'ready', ports, token });
}

// ---------------------------------------------------------------------------------------------
// Load side (bench runner process)

function startServerProcess() {
  return forkServer(module.filename, { BULWARK_HTTP_BENCH_SERVER: '1' }, 'http bench server').then(
    ({ child, ready }) => ({ child, ports: ready.ports, token: ready.token }),
  );
}

function fetchOnce(port, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/hello', method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const helloUrl = (port) => `http://127.0.0.1:${port}/hello`;

/** Fails the suite (runner exit 1) when an implementation does not answer as it must. */
async function verify(framework, impl, port, token) {
  const bearer = { authorization: `Bearer ${token}` };
  const ok = await fetchOnce(port, bearer);
  if (ok.status !== 200 || ok.body !== HELLO)
    throw new Error(`expected 200 ${HELLO}, got ${ok.status} ${ok.body}`);
  if (impl === 'bare') return;
  if (!ok.headers['x-content-type-options']) throw new Error('no security headers');
  if (WITH_AUTH.includes(impl)) {
    const anon = await fetchOnce(port);
    if (anon.status !== 401) throw new Error(`request without a token answered ${anon.status}, expected 401`);
    const forged = await fetchOnce(port, { authorization: `Bearer ${token.slice(0, -4)}AAAA` });
    if (forged.status !== 401) throw new Error(`forged token answered ${forged.status}, expected 401`);
    // Every stack checks CSRF on unsafe methods: a POST with a valid token but no CSRF token is refused.
    const post = await fetchOnce(port, bearer, 'POST');
    if (post.status !== 403)
      throw new Error(`POST without a CSRF token answered ${post.status}, expected 403`);
    if (!ok.headers['ratelimit'] && !ok.headers['ratelimit-policy'] && !ok.headers['x-ratelimit-remaining']) {
      throw new Error('no rate limit headers');
    }
  }
  if (BULWARK_IMPLS.includes(impl)) {
    if (!(ok.headers['content-security-policy'] || '').includes("frame-ancestors 'none'")) {
      throw new Error('bulwark did not send its strict CSP');
    }
    if (!ok.headers['x-request-id']) throw new Error('bulwark did not send X-Request-Id');
  }
}

async function verifyAll(server, suiteName, caseName, framework, impls) {
  for (const impl of impls) {
    try {
      await verify(framework, impl, server.ports[`${framework}/${impl}`], server.token);
    } catch (err) {
      throw new Error(`${suiteName} > ${caseName} > ${impl}: correctness check failed: ${err.message}`, {
        cause: err,
      });
    }
  }
}

/**
 * Custom measurement (HTTP load does not fit the runner's per-call timing loop): correctness
 * first, a warm-up burst, then interleaved autocannon rounds, rotating the starting impl.
 */
function measureWith(server, quick, log) {
  return async function measureCase(suiteName, caseDef, settings) {
    const framework = caseDef.framework;
    const impls = implsOf(framework);
    await verifyAll(server, suiteName, caseDef.name, framework, impls);
    // 5 rounds of 2 s per impl by default (suite.settings); `--rounds=N` asks for more on a busy machine.
    const rounds = quick ? 1 : settings.rounds;
    const load = { durationSec: quick ? 1 : 2, connections: 10 };
    // Warm-up: let V8 optimise every stack (and fill Bulwark's verified-token cache) before timing.
    for (const impl of impls) {
      const port = server.ports[`${framework}/${impl}`];
      if (quick)
        for (let i = 0; i < 50; i++) await fetchOnce(port, { authorization: `Bearer ${server.token}` });
      else await cannon(helloUrl(port), `Bearer ${server.token}`, { amount: 3000, connections: 10 });
    }
    return timeRounds({
      suiteName,
      caseName: caseDef.name,
      impls,
      rounds,
      load,
      target: (impl) => ({
        url: helloUrl(server.ports[`${framework}/${impl}`]),
        authorization: `Bearer ${server.token}`,
      }),
      afterRound: () => send(server.child, 'rotate-audit'),
      cpuOf: async () => {
        const { all, main } = await send(server.child, 'cpu-usage');
        return { all, main };
      },
      log,
    });
  };
}

function ratioTarget(description, impl, peer, min, withP99) {
  return {
    description,
    evaluate(rows) {
      let met = true;
      const parts = [];
      for (const c of FRAMEWORKS.map((f) => `${f} hello`)) {
        const own = rows.find((r) => r.case === c && r.impl === impl);
        const ref = rows.find((r) => r.case === c && r.impl === peer);
        if (!own || !ref) {
          met = false;
          parts.push(`${c}: not measured`);
          continue;
        }
        const ratio = own.opsPerSec / ref.opsPerSec;
        if (ratio < min) met = false;
        let part = `${c}: ${ratio.toFixed(2)}x`;
        if (withP99 && own.p99Ms !== undefined) {
          if (own.p99Ms > ref.p99Ms) met = false;
          part += ` (p99 ${own.p99Ms} vs ${ref.p99Ms} ms)`;
        }
        // Informational: server CPU per request (every thread, then the main thread alone), steadier
        // than req/s here.
        if (own.cpuUsPerOp !== undefined && ref.cpuUsPerOp !== undefined) {
          part += ` [CPU ${Math.round(own.cpuUsPerOp)} vs ${Math.round(ref.cpuUsPerOp)} µs/req`;
          if (own.mainCpuUsPerOp !== undefined && ref.mainCpuUsPerOp !== undefined) {
            part += `, main thread ${Math.round(own.mainCpuUsPerOp)} vs ${Math.round(ref.mainCpuUsPerOp)}`;
          }
          part += ']';
        }
        parts.push(part);
      }
      return { met, detail: parts.join(', ') };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Profile mode

/**
 * `--profile`: for each framework, the bundle without and with the token cache under autocannon
 * load while the server process samples its CPU; prints self/total time per bundle step.
 */
async function profile({ quick, log }) {
  const { attributeProfile, formatStepTable } = require('../lib/profile-steps');
  const resultsDir = path.join(__dirname, '..', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const durationSec = quick ? 1 : 5;
  // PROFILE_IMPLS=peer-jose,bulwark-nocache profiles the stacks named (a peer's busy µs/req beside
  // the bundle's); default: the bundle without and with the token cache.
  const chosen = (process.env.PROFILE_IMPLS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const unknown = chosen.filter((impl) => !IMPLS.includes(impl));
  if (unknown.length > 0)
    throw new Error(`PROFILE_IMPLS: unknown impl(s) ${unknown.join(', ')} (known: ${IMPLS.join(', ')})`);
  const profiled = chosen.length > 0 ? chosen : ['bulwark-nocache', 'bulwark'];
  const srv = await startServerProcess();
  const summary = [];
  try {
    for (const framework of FRAMEWORKS) {
      const impls = profiled.filter((impl) => implsOf(framework).includes(impl));
      await verifyAll(srv, 'http', `${framework} hello (profile)`, framework, impls);
      for (const impl of impls) {
        const port = srv.ports[`${framework}/${impl}`];
        // Warm-up outside the profile: optimised code, a filled token cache.
        await cannon(helloUrl(port), `Bearer ${srv.token}`, { amount: quick ? 200 : 3000, connections: 10 });
        await send(srv.child, 'rotate-audit');
        const file = path.join(resultsDir, `http-${framework}-${impl}${quick ? '.quick' : ''}.cpuprofile`);
        const result = await profileUnderLoad(srv.child, helloUrl(port), `Bearer ${srv.token}`, {
          durationSec,
          file,
          label: `http profile > ${framework} ${impl}`,
        });
        const steps = attributeProfile(JSON.parse(fs.readFileSync(file, 'utf8')));
        const reqs = result.requests.total;
        console.log(
          `\n-- ${framework} ${impl}: ${reqs} requests in ${result.duration} s ` +
            `(${Math.round(reqs / result.duration)} req/s while profiled), ${path.relative(process.cwd(), file)}`,
        );
        console.log(formatStepTable(steps, reqs));
        summary.push({ framework, impl, requests: reqs, durationSec: result.duration, steps });
        log(`  profiled ${framework} ${impl}`);
      }
    }
  } finally {
    await stopServer(srv.child);
  }
  writeProfileSummary(resultsDir, 'http', quick, summary);
}

let server;

const suite = {
  name: 'http',
  title: 'GET /hello through each middleware stack (autocannon, 10 connections, server in its own process)',
  subject: 'bulwark',
  settings: { rounds: 5 },
  describeTiming: (settings, quick) =>
    quick
      ? '1 round of 1 s of load per impl after 50 warm-up requests, req/s'
      : `${settings.rounds} interleaved rounds of 2 s of load per impl after 3,000 warm-up requests, median req/s`,
  targets: [
    ratioTarget(
      "bulwark-headers (securityHeaders alone) within 5% of helmet's throughput",
      'bulwark-headers',
      'helmet',
      0.95,
      false,
    ),
    ratioTarget(
      'bulwark bundle without the token cache >= 1.0x peer-jose throughput with p99 no worse',
      'bulwark-nocache',
      'peer-jose',
      1.0,
      true,
    ),
    ratioTarget(
      'bulwark bundle (token cache on) >= 1.5x peer-jose throughput with p99 no worse',
      'bulwark',
      'peer-jose',
      1.5,
      true,
    ),
    ratioTarget(
      'bulwark bundle without the token cache >= 1.2x peer-expressjwt throughput with p99 no worse',
      'bulwark-nocache',
      'peer-expressjwt',
      1.2,
      true,
    ),
    ratioTarget(
      'bulwark bundle (token cache on) >= 1.2x peer-expressjwt throughput with p99 no worse',
      'bulwark',
      'peer-expressjwt',
      1.2,
      true,
    ),
  ],
  profile,
  async setup({ quick, log }) {
    server = await startServerProcess();
    return {
      measureCase: measureWith(server, quick, log),
      cases: FRAMEWORKS.map((framework) => ({
        name: `${framework} hello`,
        framework,
        impls: implsOf(framework).map((impl) => ({ impl, run: () => HELLO })),
      })),
      async close() {
        await stopServer(server.child);
      },
    };
  },
};

if (process.env.BULWARK_HTTP_BENCH_SERVER === '1') {
  // This process is the server side: host the servers, answer the parent over IPC.
  buildServers().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  module.exports = suite;
}
