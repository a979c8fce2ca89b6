'use strict';

/* global fetch */ // Node >= 18 (the bench config's globals predate it)

/**
 * The cost of adopting Bulwark in an existing app: examples/nestjs-adopt (NestJS 12 + TypeORM on
 * SQLite, its own `Token` JWTs) measured as found (`bare`: mode before, the app's own guard) and
 * with Bulwark adopted (`bulwark`: mode after, BulwarkModule, encrypted e-mail and bio migrated by
 * encryptExistingRows), on the same seeded data, in one run, interleaved.
 *
 * Each app runs in its OWN server process (this file with BULWARK_ADOPT_BENCH_SERVER=before|after),
 * as the http suite does, so neither's event loop, heap or JIT state touches the other's and
 * autocannon's cost (in the runner's process) is not folded into either.
 *
 * Cases (every request carries the same valid `Authorization: Token <jwt>` of user ann):
 * - `detail`: GET /articles/starter-care. No Bulwark decorator. After: one author bio decrypted.
 * - `list`: GET /articles?limit=20, twenty articles by twenty authors. No Bulwark decorator.
 *   After: twenty author bios decrypted per request.
 * - `decorated read`: GET /user, the caller's own e-mail and bio. After: @Authorize (policy
 *   decision) + @Audited (an event appended to the SQLite audit chain) + two decryptions.
 * In both modes the token is verified on every route (the app's guard with jose each time;
 * Bulwark's authenticator with its verified-token cache, <= 30 s).
 *
 * Needs the built example (`npm run build` builds examples/nestjs-adopt/dist).
 */

const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const IMPLS = ['bare', 'bulwark'];
const MODE = { bare: 'before', bulwark: 'after' };
const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'nestjs-adopt', 'dist');
const CASES = [
  { name: 'detail', path: '/articles/starter-care' },
  { name: 'list', path: '/articles?limit=20' },
  { name: 'decorated read', path: '/user' },
];

// ---------------------------------------------------------------------------------------------
// Server process

async function serve(mode) {
  const { createAdoptApp } = require(path.join(EXAMPLE, 'app.js'));
  const { seedDatabase } = require(path.join(EXAMPLE, 'seed.js'));
  const { adoptDatabase } = require(path.join(EXAMPLE, 'adopt', 'adopt-database.js'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bulwark-bench-adopt-${mode}-`));
  await seedDatabase(dir, { bulkUsers: 200, articlesPerUser: 1 });
  if (mode === 'after') {
    const report = await adoptDatabase(dir);
    if (!report.ok) throw new Error('the encryption migration did not verify');
  }
  const app = await createAdoptApp({ mode, dataDir: dir, logger: ['error'] });
  const login = await fetch(`${app.url}/users/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: { email: 'ann.archer@example.com', password: 'ann-password-1' } }),
  });
  const { user } = await login.json();
  process.on('message', async (msg) => {
    if (msg && msg.type === 'stop') {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.send({ type: 'ready', url: app.url, token: user.token });
}

// ---------------------------------------------------------------------------------------------
// Load side (bench runner process)

function startServer(impl) {
  const child = fork(module.filename, [], {
    env: { ...process.env, BULWARK_ADOPT_BENCH_SERVER: MODE[impl] },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`adoption bench server (${impl}) exited with code ${code}`));
    child.once('error', reject);
    child.once('exit', onExit);
    child.once('message', (msg) => {
      if (msg && msg.type === 'ready') {
        child.off('exit', onExit);
        resolve({ child, url: msg.url, token: msg.token });
      }
    });
  });
}

function cannon(url, token, { durationSec, amount, connections }) {
  const autocannon = require('autocannon');
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        pipelining: 1,
        headers: { authorization: `Token ${token}` },
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

/** Both apps answer the case alike (same status, same body) before anything is timed. */
async function verify(servers, caseDef) {
  const answers = {};
  for (const impl of IMPLS) {
    const s = servers[impl];
    const res = await fetch(s.url + caseDef.path, { headers: { authorization: `Token ${s.token}` } });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`${impl} answered ${res.status}`);
    if (body.user) body.user.token = '<jwt>';
    answers[impl] = JSON.stringify(body);
  }
  if (answers.bare !== answers.bulwark) throw new Error('bare and bulwark answer differently');
  if (caseDef.name === 'list' && JSON.parse(answers.bare).articles.length !== 20) {
    throw new Error('the list page does not hold 20 articles');
  }
  const anon = await fetch(servers.bulwark.url + '/user');
  if (anon.status !== 401) throw new Error(`bulwark answered ${anon.status} without a token, expected 401`);
}

function measureWith(servers, quick, log) {
  return async function measureCase(suiteName, caseDef) {
    try {
      await verify(servers, caseDef);
    } catch (err) {
      throw new Error(`${suiteName} > ${caseDef.name}: correctness check failed: ${err.message}`, {
        cause: err,
      });
    }
    const rounds = quick ? 1 : 6;
    const load = { durationSec: quick ? 1 : 3, connections: 10 };
    for (const impl of IMPLS) {
      const s = servers[impl];
      await cannon(s.url + caseDef.path, s.token, { amount: quick ? 100 : 3000, connections: 10 });
    }
    const samples = Object.fromEntries(IMPLS.map((impl) => [impl, { ops: [], p99: [] }]));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < IMPLS.length; k++) {
        const impl = IMPLS[(round + k) % IMPLS.length];
        const s = servers[impl];
        const result = await cannon(s.url + caseDef.path, s.token, load);
        if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
          throw new Error(
            `${suiteName} > ${caseDef.name} > ${impl}: ${result.non2xx} non-2xx, ${result.errors} errors while timing`,
          );
        }
        samples[impl].ops.push(result.requests.total / result.duration);
        samples[impl].p99.push(result.latency.p99);
      }
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

/** bulwark keeps at least `min` of bare's throughput at each of `cases`. */
function throughputTarget(description, cases, min) {
  return {
    description,
    evaluate(rows) {
      let met = true;
      const parts = [];
      for (const c of cases) {
        const own = rows.find((r) => r.case === c && r.impl === 'bulwark');
        const ref = rows.find((r) => r.case === c && r.impl === 'bare');
        if (!own || !ref) {
          met = false;
          parts.push(`${c}: not measured`);
          continue;
        }
        const ratio = own.opsPerSec / ref.opsPerSec;
        if (ratio < min) met = false;
        parts.push(`${c}: ${ratio.toFixed(2)}x`);
      }
      return { met, detail: parts.join(', ') };
    },
  };
}

let servers;

const suite = {
  name: 'adoption',
  title:
    'examples/nestjs-adopt as found vs with Bulwark adopted (autocannon, 10 connections, each app in its own process)',
  subject: 'bulwark',
  targets: [
    throughputTarget(
      'undecorated routes cost <= 5% throughput (bulwark >= 0.95x bare)',
      ['detail', 'list'],
      0.95,
    ),
    throughputTarget(
      'decorated read (decryption + authz + audit) costs <= 25% throughput (bulwark >= 0.75x bare)',
      ['decorated read'],
      0.75,
    ),
  ],
  async setup({ quick, log }) {
    servers = {};
    for (const impl of IMPLS) servers[impl] = await startServer(impl);
    return {
      measureCase: measureWith(servers, quick, log),
      cases: CASES.map((c) => ({ ...c, impls: IMPLS.map((impl) => ({ impl, run: () => c.path })) })),
      async close() {
        for (const impl of IMPLS) {
          const { child } = servers[impl];
          child.send({ type: 'stop' });
          await new Promise((resolve) => child.once('exit', resolve));
        }
      },
    };
  },
};

if (process.env.BULWARK_ADOPT_BENCH_SERVER) {
  serve(process.env.BULWARK_ADOPT_BENCH_SERVER).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  module.exports = suite;
}
