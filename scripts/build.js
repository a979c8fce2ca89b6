#!/usr/bin/env node
/**
 * `npm start`'s build: `turbo run build` with a line per package as it starts or is found up to
 * date, and the compiler's output in full when a package fails. (`npm run build` stays quiet:
 * turbo's errors-only output, for tests and CI.)
 */
'use strict';

const { spawn } = require('node:child_process');
const readline = require('node:readline');

const task = /^(\S+):build: ?(.*)$/;

/** What to print for one line of turbo's output (undefined: nothing). */
function describe(line) {
  const m = task.exec(line);
  if (m === null) {
    // turbo's own header and summary: keep the failures, drop the banner
    return /ERROR|Failed|failed/.test(line) ? line : undefined;
  }
  const [, pkg, text] = m;
  if (text.startsWith('cache miss')) return `  building ${pkg}`;
  if (text.startsWith('cache hit')) return `  ${pkg} is up to date`;
  // npm's echo of the script and blank lines are noise; anything else is the compiler talking
  if (text.trim() === '' || text.startsWith('> ')) return undefined;
  return `  ${pkg}: ${text}`;
}

function main() {
  const turbo = require.resolve('turbo/bin/turbo');
  const started = Date.now();
  console.log('Building the packages and examples (about 40 s on a fresh clone; a second run is cached)');
  // new-only: the output of every task that runs (tsc prints nothing when it succeeds), none for
  // cache hits; the lines are "<package>:build: <text>".
  const child = spawn(process.execPath, [turbo, 'run', 'build', '--output-logs=new-only'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const text = describe(line);
    if (text !== undefined) console.log(text);
  });
  child.on('close', (code, signal) => {
    if (code === 0) console.log(`Built in ${Math.round((Date.now() - started) / 1000)} s\n`);
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

module.exports = { describe };
if (require.main === module) main();
