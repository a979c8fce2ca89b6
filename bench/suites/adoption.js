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

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
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
  answerParent({
    'audit-count': async () => ({ type: 'audit-counted', ...auditCount(dir) }),
    // CPU time of this server process so far (µs): per-request CPU is steadier than req/s on a
    // shared machine (see cpuPerRequest).
    'cpu-usage': async () => ({ type: 'cpu-used', ...processCpuTimes() }),
    async stop() {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    },
  });
  process.send({ type: 'ready', url: app.url, token: user.token });
}

/** Audit entries and commits (distinct batch ids) stored so far (mode after; zeros before). */
function auditCount(dir) {
  const file = path.join(dir, 'audit.sqlite');
  if (!fs.existsSync(file)) return { events: 0, commits: 0 };
  const Database = require('better-sqlite3');
  const db = new Database(file, { readonly: true });
  try {
    const row = db
      .prepare('SELECT COUNT(*) AS events, COUNT(DISTINCT "batch_id") AS commits FROM "bulwark_audit_entry"')
      .get();
    return { events: row.events, commits: row.commits };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Load side (bench runner process)

function startServer(impl) {
  return forkServer(
    module.filename,
    { BULWARK_ADOPT_BENCH_SERVER: MODE[impl] },
    `adoption bench server (${impl})`,
  ).then(({ child, ready }) => ({ child, url: ready.url, token: ready.token }));
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
      await cannon(s.url + caseDef.path, `Token ${s.token}`, { amount: quick ? 100 : 3000, connections: 10 });
    }
    return timeRounds({
      suiteName,
      caseName: caseDef.name,
      impls: IMPLS,
      rounds,
      load,
      target: (impl) => ({
        url: servers[impl].url + caseDef.path,
        authorization: `Token ${servers[impl].token}`,
      }),
      cpuOf: async (impl) => {
        const { all, main } = await send(servers[impl].child, 'cpu-usage');
        return { all, main };
      },
      log,
    }).then((rows) => {
      const [bare, own] = IMPLS.map((impl) => rows.find((r) => r.impl === impl));
      if (bare?.cpuUsPerOp && own?.cpuUsPerOp) {
        log(
          `    ${caseDef.name}: bulwark at ${(bare.cpuUsPerOp / own.cpuUsPerOp).toFixed(2)}x of bare by server CPU ` +
            `per request (steadier than req/s on a shared machine; the targets use req/s)`,
        );
      }
      return rows;
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

// ---------------------------------------------------------------------------------------------
// Profile mode

/**
 * Bulwark components of the adopted NestJS app, by the source file of a stack frame (checked in
 * this order; the first match names the frame). Frames of no component are `other`.
 */
const NEST_STEPS = [
  ['jose', (u) => u.includes('/node_modules/jose/')],
  ['sqlite (better-sqlite3)', (u) => u.includes('/node_modules/better-sqlite3/')],
  ['audit store (typeorm)', (u) => /\/packages\/typeorm\/dist\/(typeorm-audit-store|audit-)/.test(u)],
  ['decryption (typeorm subscriber)', (u) => /\/packages\/typeorm\/dist\//.test(u)],
  ['crypto / key ring (core)', (u) => /\/packages\/core\/dist\/(crypto|keys|kms|envelope)/.test(u)],
  ['audit (core)', (u) => /\/packages\/core\/dist\/audit\//.test(u)],
  ['authz (core)', (u) => /\/packages\/core\/dist\/authz\//.test(u)],
  ['tokens (core)', (u) => /\/packages\/core\/dist\/tokens\//.test(u)],
  ['http kernel (core)', (u) => /\/packages\/core\/dist\/http\//.test(u)],
  ['core other', (u) => /\/packages\/core\/dist\//.test(u)],
  [
    'nest middleware',
    (u) =>
      /\/packages\/nestjs\/dist\/(bulwark-http-middleware|platform-middleware|bulwark-http-steps|core-http|security-headers|input-guard|request-tracking|fetch-metadata|rate-limit|cors|csrf)\.js$/.test(
        u,
      ),
  ],
  [
    'nest guard',
    (u) =>
      /\/packages\/nestjs\/dist\/(bulwark-guard|bulwark-tokens|principal|authorize|authorize-metadata|resource-spec|authorized-resource)\.js$/.test(
        u,
      ),
  ],
  [
    'nest interceptors',
    (u) =>
      /\/packages\/nestjs\/dist\/(bulwark-audit-interceptor|bulwark-field-filter-interceptor|route-audit|audited|allow-fields)\.js$/.test(
        u,
      ),
  ],
  ['nest filter', (u) => /\/packages\/nestjs\/dist\/bulwark-exception-filter\.js$/.test(u)],
  ['nest other', (u) => /\/packages\/nestjs\/dist\//.test(u)],
  ['app', (u) => /\/examples\/nestjs-adopt\/dist\//.test(u)],
  ['rxjs', (u) => u.includes('/node_modules/rxjs/')],
  ['typeorm', (u) => u.includes('/node_modules/typeorm/')],
  ['nestjs framework', (u) => u.includes('/node_modules/@nestjs/')],
  [
    'express',
    (u) =>
      /\/node_modules\/(express|router|body-parser|send|finalhandler|on-finished|qs|path-to-regexp|type-is|content-type|raw-body|iconv-lite|debug|statuses|etag|fresh|accepts|negotiator|mime-types|mime-db|parseurl|vary|cookie|proxy-addr)\//.test(
        u,
      ),
  ],
  ['node_modules other', (u) => u.includes('/node_modules/')],
];

/**
 * `--profile`: each app under load on each case while its server process samples its CPU; prints
 * self/total time per component (bare: for comparison, the same table of the app as found).
 */
async function profile({ quick, log }) {
  const { attributeProfile, formatStepTable } = require('../lib/profile-steps');
  const resultsDir = path.join(__dirname, '..', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const durationSec = quick ? 1 : 5;
  const srv = {};
  for (const impl of IMPLS) srv[impl] = await startServer(impl);
  const summary = [];
  try {
    for (const c of CASES) {
      await verify(srv, c);
      for (const impl of IMPLS) {
        const s = srv[impl];
        await cannon(s.url + c.path, `Token ${s.token}`, { amount: quick ? 200 : 3000, connections: 10 });
        const slug = c.name.replace(/\s+/g, '-');
        const file = path.join(resultsDir, `adoption-${slug}-${impl}${quick ? '.quick' : ''}.cpuprofile`);
        const before = await send(s.child, 'audit-count');
        const result = await profileUnderLoad(s.child, s.url + c.path, `Token ${s.token}`, {
          durationSec,
          file,
          label: `adoption profile > ${c.name} ${impl}`,
        });
        const after = await send(s.child, 'audit-count');
        const events = after.events - before.events;
        const commits = after.commits - before.commits;
        const steps = attributeProfile(JSON.parse(fs.readFileSync(file, 'utf8')), NEST_STEPS);
        const reqs = result.requests.total;
        console.log(
          `\n-- ${c.name} ${impl}: ${reqs} requests in ${result.duration} s ` +
            `(${Math.round(reqs / result.duration)} req/s while profiled, load ${os.loadavg()[0].toFixed(1)}), ` +
            path.relative(process.cwd(), file),
        );
        console.log(formatStepTable(steps, reqs));
        const audit =
          commits > 0
            ? {
                events,
                commits,
                commitsPerSec: commits / result.duration,
                eventsPerCommit: events / commits,
              }
            : undefined;
        if (audit) {
          console.log(
            `audit: ${events} events in ${commits} SQLite commits (${Math.round(audit.commitsPerSec)} commits/s, ` +
              `${audit.eventsPerCommit.toFixed(1)} events per commit; 6 statements per commit: BEGIN IMMEDIATE, ` +
              `head, tail check, INSERT, head UPDATE, COMMIT)`,
          );
        }
        summary.push({ case: c.name, impl, requests: reqs, durationSec: result.duration, steps, audit });
        log(`  profiled ${c.name} ${impl}`);
      }
    }
  } finally {
    for (const impl of IMPLS) await stopServer(srv[impl].child);
  }
  writeProfileSummary(resultsDir, 'adoption', quick, summary);
}

let servers;

const suite = {
  name: 'adoption',
  describeTiming: (_settings, quick) =>
    quick
      ? '1 round of 1 s of load per impl after 100 warm-up requests, req/s'
      : '6 interleaved rounds of 3 s of load per impl after 3,000 warm-up requests, median req/s',
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
  profile,
  async setup({ quick, log }) {
    servers = {};
    for (const impl of IMPLS) servers[impl] = await startServer(impl);
    return {
      measureCase: measureWith(servers, quick, log),
      cases: CASES.map((c) => ({ ...c, impls: IMPLS.map((impl) => ({ impl, run: () => c.path })) })),
      async close() {
        for (const impl of IMPLS) await stopServer(servers[impl].child);
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
