'use strict';

/**
 * Command line of `node bench/run.js [suite...] [--quick] [--rounds=N] [--round-ms=N] [--warmup-ms=N] [--profile]`.
 *
 * Usage errors throw a `BenchUsageError` so run.js can exit 2 (the CLI convention of the repo:
 * 0 ok, 1 check failed, 2 usage) instead of printing a stack trace.
 */

class BenchUsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

const USAGE = `Usage: node bench/run.js [suite...] [options]

Runs the named benchmark suites (default: every file in bench/suites/).

Options:
  --quick            smoke run: tiny iteration counts, still checks every implementation
                     (also enabled by BENCH_QUICK=1); writes bench/results/<suite>.quick.json
  --rounds=N         timed rounds per implementation (default 20, quick 3; suites may set their own)
  --round-ms=N       target duration of one timed round in ms (default 50, quick 5)
  --warmup-ms=N      warm-up time per implementation in ms (default 300, quick 5)
  --debug            print every round's ops/s to stderr (also BENCH_DEBUG=1)
  --profile          instead of timing, CPU-profile the suite's subject under load and print the
                     time per step (suites with a profiler: http); with --quick, a 1 s profile
  --case=TEXT        run only the cases whose name contains TEXT (repeatable); their rows
                     replace the same cases' rows in the results file, the others are kept
  --list             print the available suites and exit
  -h, --help         print this help`;

function positiveInt(flag, raw) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new BenchUsageError(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * @param {string[]} argv process.argv.slice(2)
 * @param {NodeJS.ProcessEnv} env
 */
function parseArgs(argv, env) {
  const quickEnv = env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0';
  const debugEnv = env.BENCH_DEBUG !== undefined && env.BENCH_DEBUG !== '' && env.BENCH_DEBUG !== '0';
  const options = {
    suites: [],
    quick: quickEnv,
    debug: debugEnv,
    help: false,
    list: false,
    profile: false,
    overrides: {},
    cases: [],
  };
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true;
    else if (arg === '-h' || arg === '--help') options.help = true;
    else if (arg === '--list') options.list = true;
    else if (arg === '--debug') options.debug = true;
    else if (arg === '--profile') options.profile = true;
    else if (arg.startsWith('--rounds=')) options.overrides.rounds = positiveInt('--rounds', arg.slice(9));
    else if (arg.startsWith('--round-ms='))
      options.overrides.roundMs = positiveInt('--round-ms', arg.slice(11));
    else if (arg.startsWith('--warmup-ms='))
      options.overrides.warmupMs = positiveInt('--warmup-ms', arg.slice(12));
    else if (arg.startsWith('--case=')) {
      if (arg.length === 7) throw new BenchUsageError('--case needs a part of a case name');
      options.cases.push(arg.slice(7));
    } else if (arg.startsWith('-')) throw new BenchUsageError(`unknown option ${arg}\n\n${USAGE}`);
    else options.suites.push(arg);
  }
  return options;
}

module.exports = { parseArgs, BenchUsageError, USAGE };
