'use strict';

/**
 * Runs the real `bulwark` CLI (packages/cli/bin/bulwark.js) as a child process and reports its
 * wall time and peak resident set size: what an operator's `bulwark audit verify` costs, Node's
 * start-up and module loading included.
 *
 * Peak RSS is the kernel's ru_maxrss of the CLI process itself: read through GNU time
 * (`/usr/bin/time -f %M`) when it is installed, otherwise through a preload that writes
 * `process.resourceUsage().maxRSS` when the CLI process exits (same kernel counter, no extra tool).
 */

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CLI = path.join(__dirname, '..', '..', 'packages', 'cli', 'bin', 'bulwark.js');
const GNU_TIME = '/usr/bin/time';
const PRELOAD = path.join(__dirname, 'max-rss-preload.js');
const hasGnuTime = (() => {
  try {
    fs.accessSync(GNU_TIME, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

/** How peak RSS is read (printed with the results, so a reader knows what the number is). */
const rssSource = hasGnuTime ? `${GNU_TIME} -f %M` : 'process.resourceUsage().maxRSS at exit';

/**
 * The child's environment: this process's, minus anything that would change what the CLI does
 * or loads (a default log or database, preloaded modules, inspector flags).
 */
function cleanEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const name of Object.keys(env)) {
    if (name.startsWith('BULWARK_AUDIT_') || name === 'NODE_OPTIONS') delete env[name];
  }
  return env;
}

/**
 * Runs `node <argv>` (argv[0] is a script path or a node flag) and resolves with its exit code,
 * output, wall time in ms and peak RSS in bytes. Rejects only when the process cannot be started
 * or the peak RSS cannot be read; a non-zero exit is the caller's to judge.
 */
function runNode(argv, { env, cwd } = {}) {
  const rssFile = path.join(
    os.tmpdir(),
    `bulwark-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  const command = hasGnuTime ? GNU_TIME : process.execPath;
  const args = hasGnuTime
    ? ['-f', '%M', '-o', rssFile, process.execPath, ...argv]
    : ['--require', PRELOAD, ...argv];
  const childEnv = cleanEnv(hasGnuTime ? env : { ...env, BULWARK_BENCH_RSS_FILE: rssFile });
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env: childEnv, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      let kib;
      try {
        // GNU time writes "Command exited with non-zero status N" before the number on failure.
        const text = fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop();
        kib = Number(text);
      } catch (readErr) {
        reject(new Error(`cannot read the child's peak RSS (${readErr.message})`));
        return;
      } finally {
        fs.rmSync(rssFile, { force: true });
      }
      if (!Number.isFinite(kib) || kib <= 0) {
        reject(new Error('the child reported no peak RSS'));
        return;
      }
      resolve({
        code: signal ? 128 : code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        wallMs,
        peakRssBytes: kib * 1024,
      });
    });
  });
}

/** `bulwark <args...>` through runNode. */
function runCli(args, options) {
  return runNode([CLI, ...args], options);
}

module.exports = { CLI, runCli, runNode, rssSource };
