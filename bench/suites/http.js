'use strict';

/**
 * HTTP middleware stacks: one operation = one GET /hello answered 200 by a hello-world route,
 * measured with autocannon against servers on 127.0.0.1.
 *
 * Server and load run in SEPARATE processes (the issue asks for it; on a 2-core machine one
 * event loop doing both would fold autocannon's own cost into every number): this file, when
 * started with BULWARK_HTTP_BENCH_SERVER=1, is the server process hosting all eight servers on
 * ephemeral ports; the suite (in the bench runner's process) drives them with autocannon's
 * programmatic API, interleaving implementations round by round like the other suites.
 *
 * Implementations per framework (case `express hello` / `koa hello`):
 * - bare        the framework and the route, nothing else
 * - helmet      + helmet() (Express) / koa-helmet (Koa), their defaults
 * - bulwark-headers  + Bulwark's securityHeaders() alone (helmet with Bulwark's stricter options;
 *               on Koa helmet called on ctx.req/ctx.res): the "headers alone" row
 * - peer-stack  what a user assembles from popular packages: helmet + JWT verification
 *               (express-jwt / koa-jwt, HS256) + a double-submit CSRF check (cookie vs header on
 *               unsafe methods; csrf-csrf is not installed here) + a rate limiter
 *               (express-rate-limit, memory store; Koa: an equivalent fixed-window memory counter,
 *               as no Koa limiter is installed)
 * - bulwark     the full bundle: bulwark(kit, { csrf }) (request id, problem details, strict
 *               headers via helmet, audit to a memory AuditLog, input guard, bearer authentication
 *               through TokenService, CSRF) + authorize('read', 'hello') (PolicyEngine) on the route
 *
 * Every request carries the same valid HS256 bearer token. Bulwark's authenticator remembers
 * verified tokens (exact-string key, <= 30 s, never past exp), so a client reusing its access
 * token pays for one signature check; the peer stack verifies on every request.
 *
 * Rows: { case, impl, opsPerSec, p99Ms } (plus the runner's usual columns). opsPerSec is the
 * median over rounds of requests/s; p99Ms the median over rounds of autocannon's p99 latency.
 */

const { fork } = require('node:child_process');
const http = require('node:http');

const IMPLS = ['bare', 'helmet', 'bulwark-headers', 'peer-stack', 'bulwark'];
const FRAMEWORKS = ['express', 'koa'];
const JWT_SECRET = 'http-bench-jwt-secret-0123456789abcdef'; // 38 bytes: HS256 needs >= 32
const CSRF_SECRET = 'http-bench-csrf-secret-0123456789abcdef';
const HELLO = 'hello';

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
  const core = require('@bulwark/core');
  const bwExpress = require('@bulwark/express');
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

  function csrfCheck(method, cookie, header) {
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return true;
    return typeof cookie === 'string' && cookie.length > 0 && cookie === header;
  }

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
    'peer-stack'() {
      const app = express();
      app.use(helmet());
      app.use(rateLimit({ windowMs: 60_000, limit: 1e9, standardHeaders: 'draft-7', legacyHeaders: false }));
      app.use(cookieParser());
      app.use(expressjwt({ secret: JWT_SECRET, algorithms: ['HS256'] }));
      app.use((req, res, next) => {
        if (csrfCheck(req.method, req.cookies['csrf'], req.headers['x-csrf-token'])) return next();
        res.status(403).send('bad csrf');
      });
      app.get('/hello', (_req, res) => res.send(HELLO));
      app.use((err, _req, res, _next) => res.status(err.status || 500).send(err.name));
      return app;
    },
    bulwark() {
      const bw = bwExpress.bulwark(
        { tokens, authorizer, auditLog: auditFor('express') },
        { csrf: { secret: CSRF_SECRET } },
      );
      const app = express();
      app.use(bw);
      app.get('/hello', bw.authorize('read', 'hello'), (_req, res) => res.send(HELLO));
      app.use(bw.problemDetails());
      return app;
    },
  };

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
    router.get('/hello', ...(extra ? [extra] : []), (ctx) => {
      ctx.body = HELLO;
    });
    return router.routes();
  };

  const koa_ = {
    bare() {
      return new Koa().use(helloRouter());
    },
    helmet() {
      return new Koa().use(koaHelmet.default ? koaHelmet.default() : koaHelmet()).use(helloRouter());
    },
    'bulwark-headers'() {
      return new Koa().use(bwKoa.securityHeaders()).use(helloRouter());
    },
    'peer-stack'() {
      const app = new Koa();
      app.use(koaHelmet.default ? koaHelmet.default() : koaHelmet());
      app.use(koaRateLimit(1e9, 60_000));
      app.use(koaJwt({ secret: JWT_SECRET, algorithms: ['HS256'] }));
      app.use((ctx, next) => {
        if (csrfCheck(ctx.method, ctx.cookies.get('csrf'), ctx.get('x-csrf-token'))) return next();
        ctx.status = 403;
        ctx.body = 'bad csrf';
        return undefined;
      });
      app.use(helloRouter());
      return app;
    },
    bulwark() {
      const bw = bwKoa.bulwark(
        { tokens, authorizer, auditLog: auditFor('koa') },
        { csrf: { secret: CSRF_SECRET } },
      );
      return new Koa().use(bw).use(helloRouter(bw.authorize('read', 'hello')));
    },
  };

  await freshLog('express');
  await freshLog('koa');
  const ports = {};
  const servers = [];
  for (const framework of FRAMEWORKS) {
    for (const impl of IMPLS) {
      const app = framework === 'express' ? express_[impl]() : koa_[impl]();
      const server = http.createServer(framework === 'express' ? app : app.callback());
      server.keepAliveTimeout = 60_000;
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      ports[`${framework}/${impl}`] = server.address().port;
      servers.push(server);
    }
  }
  process.on('message', async (msg) => {
    if (msg && msg.type === 'rotate-audit') {
      await freshLog('express');
      await freshLog('koa');
      process.send({ type: 'rotated', id: msg.id });
    } else if (msg && msg.type === 'stop') {
      for (const s of servers) s.close();
      await logs.express.close();
      await logs.koa.close();
      process.exit(0);
    }
  });
  process.send({ type: 'ready', ports, token });
}

// ---------------------------------------------------------------------------------------------
// Load side (bench runner process)

function startServerProcess() {
  const child = fork(module.filename, [], {
    env: { ...process.env, BULWARK_HTTP_BENCH_SERVER: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`http bench server exited with code ${code}`)));
    child.once('message', (msg) => {
      if (msg && msg.type === 'ready') resolve({ child, ports: msg.ports, token: msg.token });
    });
  });
}

function send(child, type) {
  const id = Math.random();
  return new Promise((resolve) => {
    const onMessage = (msg) => {
      if (msg && msg.id === id) {
        child.off('message', onMessage);
        resolve();
      }
    };
    child.on('message', onMessage);
    child.send({ type, id });
  });
}

function fetchOnce(port, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/hello', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

function cannon(port, token, { durationSec, amount, connections }) {
  const autocannon = require('autocannon');
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}/hello`,
        connections,
        pipelining: 1,
        headers: { authorization: `Bearer ${token}` },
        ...(amount ? { amount } : { duration: durationSec }),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Fails the suite (runner exit 1) when an implementation does not answer as it must. */
async function verify(framework, impl, port, token) {
  const ok = await fetchOnce(port, { authorization: `Bearer ${token}` });
  if (ok.status !== 200 || ok.body !== HELLO)
    throw new Error(`expected 200 ${HELLO}, got ${ok.status} ${ok.body}`);
  if (impl === 'bare') return;
  if (!ok.headers['x-content-type-options']) throw new Error('no security headers');
  if (impl === 'peer-stack' || impl === 'bulwark') {
    const anon = await fetchOnce(port);
    if (anon.status !== 401) throw new Error(`request without a token answered ${anon.status}, expected 401`);
    const forged = await fetchOnce(port, { authorization: `Bearer ${token.slice(0, -4)}AAAA` });
    if (forged.status !== 401) throw new Error(`forged token answered ${forged.status}, expected 401`);
  }
  if (impl === 'bulwark') {
    if (!(ok.headers['content-security-policy'] || '').includes("frame-ancestors 'none'")) {
      throw new Error('bulwark did not send its strict CSP');
    }
    if (!ok.headers['x-request-id']) throw new Error('bulwark did not send X-Request-Id');
  }
}

/**
 * Custom measurement (HTTP load does not fit the runner's per-call timing loop): correctness
 * first, a warm-up burst, then interleaved autocannon rounds, rotating the starting impl.
 */
function measureWith(server, quick, log) {
  return async function measureCase(suiteName, caseDef) {
    const framework = caseDef.framework;
    for (const impl of IMPLS) {
      try {
        await verify(framework, impl, server.ports[`${framework}/${impl}`], server.token);
      } catch (err) {
        throw new Error(
          `${suiteName} > ${caseDef.name} > ${impl}: correctness check failed: ${err.message}`,
          {
            cause: err,
          },
        );
      }
    }
    const rounds = quick ? 1 : 5;
    const load = { durationSec: quick ? 1 : 2, connections: 10 };
    // Warm-up: let V8 optimise every stack (and fill Bulwark's verified-token cache) before timing.
    for (const impl of IMPLS) {
      const port = server.ports[`${framework}/${impl}`];
      if (quick)
        for (let i = 0; i < 50; i++) await fetchOnce(port, { authorization: `Bearer ${server.token}` });
      else await cannon(port, server.token, { amount: 3000, connections: 10 });
    }
    const samples = Object.fromEntries(IMPLS.map((impl) => [impl, { ops: [], p99: [] }]));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < IMPLS.length; k++) {
        const impl = IMPLS[(round + k) % IMPLS.length];
        const result = await cannon(server.ports[`${framework}/${impl}`], server.token, load);
        if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
          throw new Error(
            `${suiteName} > ${caseDef.name} > ${impl}: ${result.non2xx} non-2xx, ${result.errors} errors while timing`,
          );
        }
        samples[impl].ops.push(result.requests.total / result.duration);
        samples[impl].p99.push(result.latency.p99);
      }
      await send(server.child, 'rotate-audit');
    }
    return IMPLS.map((impl) => {
      const ops = samples[impl].ops;
      const med = median(ops);
      const spread = med > 0 ? median(ops.map((o) => Math.abs(o - med))) / med : 0;
      const p99Ms = median(samples[impl].p99);
      log(`    ${caseDef.name} ${impl}: ${Math.round(med)} req/s, p99 ${p99Ms} ms`);
      return { impl, opsPerSec: med, p99Ms, samples: ops.length, spread, batch: 1, rounds: ops };
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
        parts.push(part);
      }
      return { met, detail: parts.join(', ') };
    },
  };
}

let server;

const suite = {
  name: 'http',
  title: 'GET /hello through each middleware stack (autocannon, 10 connections, server in its own process)',
  subject: 'bulwark',
  targets: [
    ratioTarget(
      "bulwark-headers (securityHeaders alone) within 5% of helmet's throughput",
      'bulwark-headers',
      'helmet',
      0.95,
      false,
    ),
    ratioTarget(
      'bulwark bundle >= 1.2x peer-stack throughput with p99 no worse',
      'bulwark',
      'peer-stack',
      1.2,
      true,
    ),
  ],
  async setup({ quick, log }) {
    server = await startServerProcess();
    server.child.removeAllListeners('exit');
    return {
      measureCase: measureWith(server, quick, log),
      cases: FRAMEWORKS.map((framework) => ({
        name: `${framework} hello`,
        framework,
        impls: IMPLS.map((impl) => ({ impl, run: () => HELLO })),
      })),
      async close() {
        server.child.send({ type: 'stop' });
        await new Promise((resolve) => server.child.once('exit', resolve));
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
