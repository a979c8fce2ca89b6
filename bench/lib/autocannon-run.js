'use strict';

/**
 * The load side shared by the HTTP-load suites (http, adoption): fork a suite file as its own
 * server process, talk to it over IPC, drive it with autocannon's programmatic API, and time the
 * implementations in interleaved rounds (same rationale as measure-case.js: on a busy 2-core
 * machine, rotating the starting implementation exposes all of them to the same drift, and the
 * median over rounds discards the rounds a burst of noise hit).
 */

const { fork } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// ---------------------------------------------------------------------------------------------
// Server process side

/**
 * Answers the parent's IPC messages in a forked server process. `profile-start` / `profile-stop`
 * (the CPU profiler, started and stopped by the parent around a load run in profile mode) are
 * built in; `handlers[type](msg)` answers the suite's own messages and resolves with the reply's
 * fields (its `type` included; nothing for no reply).
 */
function answerParent(handlers) {
  let session;
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
    );
  process.on('message', async (msg) => {
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'profile-start') {
      const inspector = require('node:inspector');
      session = new inspector.Session();
      session.connect();
      await post('Profiler.enable');
      // 250 µs: ~4 samples per millisecond, enough to see a step that takes a few microseconds.
      await post('Profiler.setSamplingInterval', { interval: 250 });
      await post('Profiler.start');
      process.send({ type: 'profiling', id: msg.id });
    } else if (msg.type === 'profile-stop') {
      const { profile } = await post('Profiler.stop');
      await post('Profiler.disable');
      session.disconnect();
      fs.writeFileSync(msg.file, JSON.stringify(profile));
      process.send({ type: 'profiled', id: msg.id });
    } else if (Object.hasOwn(handlers, msg.type)) {
      const reply = await handlers[msg.type](msg);
      if (reply) process.send({ ...reply, id: msg.id });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Load side (bench runner process)

/**
 * Forks `file` with `env` added and resolves with the child and its first `{ type: 'ready' }`
 * message; rejects when the child fails to start or exits before it is ready.
 */
function forkServer(file, env, label) {
  const child = fork(file, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`${label} exited with code ${code}`));
    child.once('error', reject);
    child.once('exit', onExit);
    child.once('message', (msg) => {
      if (msg && msg.type === 'ready') {
        child.off('exit', onExit);
        resolve({ child, ready: msg });
      }
    });
  });
}

/** Sends `{ type, id, ...extra }` to the child and resolves with its reply carrying the same id. */
function send(child, type, extra = {}) {
  const id = Math.random();
  return new Promise((resolve) => {
    const onMessage = (msg) => {
      if (msg && msg.id === id) {
        child.off('message', onMessage);
        resolve(msg);
      }
    };
    child.on('message', onMessage);
    child.send({ ...extra, type, id });
  });
}

/** Asks the child to stop and resolves once it has exited. */
async function stopServer(child) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' });
  await exited;
}

/**
 * One autocannon run against `url`: a fixed `amount` of requests, or `durationSec` seconds. The
 * result gains `p99Exact`: the 99th percentile of every 2xx response's latency in ms, from
 * autocannon's own per-response time (a float). Its `latency.p99` comes from a histogram of whole
 * milliseconds, too coarse to compare stacks whose p99 is one to three milliseconds.
 */
function cannon(url, authorization, { durationSec, amount, connections }) {
  const autocannon = require('autocannon');
  const latencies = new LatencySamples();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        pipelining: 1,
        headers: { authorization },
        ...(amount ? { amount } : { duration: durationSec }),
      },
      (err, result) => (err ? reject(err) : resolve({ ...result, p99Exact: latencies.quantile(0.99) })),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.add(responseTime);
    });
  });
}

/** Response times of one run (ms), kept whole in a growing Float64Array for an exact quantile. */
class LatencySamples {
  #values = new Float64Array(1 << 16);
  #count = 0;

  add(ms) {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = ms;
  }

  /** The `q` quantile (nearest rank), rounded to the microsecond; undefined without samples. */
  quantile(q) {
    if (this.#count === 0) return undefined;
    const sorted = this.#values.subarray(0, this.#count).sort();
    const rank = Math.min(this.#count - 1, Math.max(0, Math.ceil(q * this.#count) - 1));
    return Math.round(sorted[rank] * 1000) / 1000;
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `cpuOf`'s answer as `{ all, main }` (a bare number is every thread's time). */
function cpuTimes(value) {
  return typeof value === 'number' ? { all: value, main: undefined } : value;
}

/**
 * CPU time of this process: every thread (`process.cpuUsage`) and, on Linux, the main thread
 * alone (its scheduler statistics in /proc, nanoseconds on a CPU), both in µs. Node 20 has no
 * per-thread call (process.threadCpuUsage came in 23.9). The split shows how much of a stack's
 * work ran beside the event loop (libuv's pool, V8's GC helpers) on a second core.
 */
function processCpuTimes() {
  const used = process.cpuUsage();
  let main;
  try {
    const stat = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8');
    const ns = Number(stat.split(' ')[0]);
    if (Number.isFinite(ns)) main = ns / 1000;
  } catch {
    // not Linux, or /proc without schedstat: every thread only
  }
  return { all: used.user + used.system, main };
}

/**
 * `rounds` interleaved autocannon rounds over `impls` (the starting impl rotates each round);
 * `target(impl)` gives `{ url, authorization }`, `afterRound()` (optional) runs between rounds.
 * Any non-2xx, error or timeout while timing fails the case. Returns the runner's result rows.
 */
async function timeRounds({ suiteName, caseName, impls, rounds, load, target, afterRound, log, cpuOf }) {
  const samples = Object.fromEntries(impls.map((impl) => [impl, { ops: [], p99: [], cpu: [], main: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(round + k) % impls.length];
      const { url, authorization } = target(impl);
      // `cpuOf(impl)`: the server process's CPU time so far (µs), read around each round: a number,
      // or `{ all, main }` where `main` is its main thread's alone (undefined where unknown).
      const cpuBefore = cpuOf ? cpuTimes(await cpuOf(impl)) : undefined;
      const result = await cannon(url, authorization, load);
      if (cpuBefore !== undefined) {
        const cpuAfter = cpuTimes(await cpuOf(impl));
        samples[impl].cpu.push((cpuAfter.all - cpuBefore.all) / result.requests.total);
        if (cpuAfter.main !== undefined && cpuBefore.main !== undefined) {
          samples[impl].main.push((cpuAfter.main - cpuBefore.main) / result.requests.total);
        }
      }
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
        throw new Error(
          `${suiteName} > ${caseName} > ${impl}: ${result.non2xx} non-2xx, ${result.errors} errors while timing`,
        );
      }
      samples[impl].ops.push(result.requests.total / result.duration);
      samples[impl].p99.push(result.p99Exact ?? result.latency.p99);
    }
    if (afterRound) await afterRound();
  }
  return impls.map((impl) => {
    const ops = samples[impl].ops;
    const med = median(ops);
    const spread = med > 0 ? median(ops.map((o) => Math.abs(o - med))) / med : 0;
    // Exact p99s (ms, to the µs): the median of two of them is rounded back to the µs.
    const p99Ms = Math.round(median(samples[impl].p99) * 1000) / 1000;
    const cpu = samples[impl].cpu.length > 0 ? median(samples[impl].cpu) : undefined;
    const mainCpu = samples[impl].main.length > 0 ? median(samples[impl].main) : undefined;
    log(
      `    ${caseName} ${impl}: ${Math.round(med)} req/s, p99 ${p99Ms} ms` +
        (cpu !== undefined ? `, server CPU ${Math.round(cpu)} µs/req` : '') +
        (mainCpu !== undefined ? ` (main thread ${Math.round(mainCpu)})` : ''),
    );
    return {
      impl,
      opsPerSec: med,
      p99Ms,
      samples: ops.length,
      spread,
      batch: 1,
      rounds: ops,
      ...(cpu !== undefined ? { cpuUsPerOp: cpu } : {}),
      ...(mainCpu !== undefined ? { mainCpuUsPerOp: mainCpu } : {}),
    };
  });
}

/**
 * `--profile` helper: the server process (which answers `profile-start` / `profile-stop`) samples
 * its CPU into `file` while autocannon loads `url` for `durationSec`; fails on any non-2xx or error.
 */
async function profileUnderLoad(child, url, authorization, { durationSec, file, label }) {
  await send(child, 'profile-start');
  const result = await cannon(url, authorization, { durationSec, connections: 10 });
  await send(child, 'profile-stop', { file });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${label}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return result;
}

/** Writes a `--profile` summary to bench/results/<name>-profile[.quick].json and says where. */
function writeProfileSummary(resultsDir, name, quick, profiles) {
  const out = path.join(resultsDir, `${name}-profile${quick ? '.quick' : ''}.json`);
  fs.writeFileSync(
    out,
    `${JSON.stringify({ generatedAt: new Date().toISOString(), quick, profiles }, null, 2)}\n`,
  );
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

module.exports = {
  answerParent,
  forkServer,
  send,
  stopServer,
  cannon,
  median,
  processCpuTimes,
  timeRounds,
  profileUnderLoad,
  writeProfileSummary,
};
