'use strict';

/**
 * Attributes a V8 CPU profile (.cpuprofile, from node:inspector's Profiler) of a Bulwark bundle
 * server to the bundle's steps, by the source file of each stack frame.
 *
 * - self:  samples whose INNERMOST recognised frame belongs to the step (a sample inside jose
 *          called by the token service counts to `jose`, not to `auth`; a sample in Node's
 *          setHeader called by the headers step counts to `headers`).
 * - total: samples with ANY frame of the step on their stack (auth's total includes jose).
 *
 * Idle samples are left out; percentages are of the busy (non-idle) samples. Frames of no step
 * (Node's HTTP internals, timers, autocannon-free event loop work) are `other`; `gc` is V8's
 * garbage collector.
 */

const path = require('node:path');

/** Step name -> predicate on a frame's normalised url (forward slashes). Checked in this order. */
const STEPS = [
  ['jose', (u) => u.includes('/node_modules/jose/')],
  ['request id', (u) => /\/(request-id|request-arrival)\.js$/.test(u)],
  [
    'headers',
    (u) =>
      /\/(security-headers|security-header-options|clear-site-data)\.js$/.test(u) ||
      u.includes('/node_modules/helmet/'),
  ],
  [
    'audit',
    (u) =>
      /\/(audit|request-audit|request-auditor|request-audit-hold|watch-request-audit|audit-log)\.js$/.test(
        u,
      ) || /\/packages\/core\/dist\/audit\//.test(u),
  ],
  ['fetch metadata', (u) => /\/fetch-metadata(-policy)?\.js$/.test(u)],
  ['input guard', (u) => /\/(input-guard|body-allowlist|read-bounded-body)\.js$/.test(u)],
  [
    'auth',
    (u) =>
      /\/(authenticate|bearer-authenticator|token-authentication|http-principal)\.js$/.test(u) ||
      /\/packages\/core\/dist\/tokens\//.test(u) ||
      /\/packages\/core\/dist\/lib\/jose\.js$/.test(u),
  ],
  [
    'rate limit',
    (u) => /\/(rate-limit|request-rate-limiter)\.js$/.test(u) || /\/packages\/core\/dist\/threat\//.test(u),
  ],
  ['csrf', (u) => /\/(csrf|csrf-protection|csrf-tokens|cookies)\.js$/.test(u)],
  [
    'authorize',
    (u) =>
      /\/(authorize|authorize-request|authorize-fields)\.js$/.test(u) ||
      /\/packages\/core\/dist\/authz\//.test(u),
  ],
  ['problem details', (u) => /\/(problem-details|bulwark-http-error|handle-client-errors)\.js$/.test(u)],
  [
    'bundle glue',
    (u) =>
      /\/packages\/(express|koa)\/dist\/(bulwark|request-state)\.js$/.test(u) ||
      /\/packages\/core\/dist\/http\//.test(u) ||
      /\/packages\/core\/dist\//.test(u),
  ],
  [
    'framework',
    (u) =>
      /\/node_modules\/(express|router|koa|@koa\/router|koa-compose|send|finalhandler|on-finished|statuses|content-type|type-is|mime-types|cookies|accepts|fresh|etag|parseurl|path-to-regexp|qs|vary|depd|http-errors|delegates|only|encodeurl|escape-html|range-parser|proxy-addr|forwarded|ipaddr\.js|content-disposition|negotiator|media-typer|destroy|koa-convert|cache-content-type|ylru|mime-db|debug|ms)\//.test(
        u,
      ),
  ],
];
/**
 * Wrappers that only pass a call through to Node (the audit hold's writeHead/write/end once it has
 * decided not to hold): transparent, so the socket write below them is charged to whoever called
 * end() (the framework), not to the audit step.
 */
const PASS_THROUGH = /\/request-audit-hold\.js$/;
const PASS_THROUGH_FNS = new Set(['call', 'r.writeHead', 'r.write', 'r.end', 'r.flushHeaders']);

const STEP_NAMES = [...STEPS.map(([name]) => name), 'gc', 'other'];

function normalise(url) {
  if (!url) return '';
  let u = url.startsWith('file://') ? url.slice(7) : url;
  if (path.sep === '\\') u = u.replace(/\\/g, '/');
  return u;
}

function stepOfUrl(url, steps = STEPS) {
  const u = normalise(url);
  if (u === '') return undefined;
  for (const [name, test] of steps) if (test(u)) return name;
  return undefined;
}

/**
 * @param {{ nodes: { id: number, callFrame: { functionName: string, url: string }, children?: number[] }[],
 *           samples: number[], timeDeltas: number[], startTime: number, endTime: number }} profile
 * @returns {{ busyMs: number, idleMs: number, steps: Record<string, { selfMs: number, totalMs: number }> }}
 */
function attributeProfile(profile, stepTable = STEPS) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Per node: its innermost step (self) and the set of steps on its stack (total), memoised.
  const memo = new Map();
  function classify(id) {
    let hit = memo.get(id);
    if (hit !== undefined) return hit;
    const node = byId.get(id);
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') hit = { self: 'idle', all: new Set() };
    else if (fn === '(garbage collector)') hit = { self: 'gc', all: new Set(['gc']) };
    else {
      const passThrough = PASS_THROUGH_FNS.has(fn) && PASS_THROUGH.test(normalise(node.callFrame.url));
      const own = passThrough ? undefined : stepOfUrl(node.callFrame.url, stepTable);
      const up = parent.has(id) ? classify(parent.get(id)) : { self: 'other', all: new Set() };
      const all = new Set(up.all);
      if (own !== undefined) all.add(own);
      hit = { self: own ?? (up.self === 'idle' ? 'other' : up.self), all };
    }
    memo.set(id, hit);
    return hit;
  }
  const names = stepTable === STEPS ? STEP_NAMES : [...stepTable.map(([name]) => name), 'gc', 'other'];
  const steps = Object.fromEntries(names.map((n) => [n, { selfMs: 0, totalMs: 0 }]));
  let busyMs = 0;
  let idleMs = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the sample stands for the interval after it.
    const ms = (i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0) / 1000;
    const c = classify(samples[i]);
    if (c.self === 'idle') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    steps[c.self].selfMs += ms;
    if (c.self === 'other') steps.other.totalMs += ms;
    for (const s of c.all) steps[s].totalMs += ms;
  }
  return { busyMs, idleMs, steps };
}

/** A text table: step, self ms, self %, µs per request, total ms, total %. */
function formatStepTable({ busyMs, idleMs, steps }, requests) {
  const pct = (ms) => (busyMs > 0 ? ((100 * ms) / busyMs).toFixed(1) : '0.0');
  const perReq = (ms) => (requests > 0 ? ((1000 * ms) / requests).toFixed(1) : '-');
  const rows = [['step', 'self ms', 'self %', 'self µs/req', 'total ms', 'total %']];
  const ordered = Object.entries(steps)
    .filter(([, v]) => v.selfMs > 0 || v.totalMs > 0)
    .sort((a, b) => b[1].selfMs - a[1].selfMs);
  for (const [name, v] of ordered) {
    rows.push([
      name,
      v.selfMs.toFixed(0),
      pct(v.selfMs),
      perReq(v.selfMs),
      v.totalMs.toFixed(0),
      pct(v.totalMs),
    ]);
  }
  rows.push(['(busy)', busyMs.toFixed(0), '100.0', perReq(busyMs), '', '']);
  rows.push(['(idle)', idleMs.toFixed(0), '', '', '', '']);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i])))
        .join('  '),
    )
    .join('\n');
}

module.exports = { attributeProfile, formatStepTable, stepOfUrl, STEP_NAMES };
