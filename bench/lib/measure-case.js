'use strict';

/**
 * Measures one benchmark case: every implementation is first checked for correctness, then
 * warmed up, calibrated, and timed in interleaved rounds.
 *
 * Why interleaved: the bench machine has 2 cores shared with other work, so throughput drifts
 * over seconds. Timing A for 2 s and then B for 2 s would fold that drift into the A/B ratio.
 * Running one short round of each implementation in turn (A,B,C, then B,C,A, ...) exposes all of
 * them to the same drift, and the median of the rounds discards the rounds a burst of noise hit.
 * The starting implementation rotates each round so none always follows the same neighbour.
 *
 * No forced GC between rounds: a full GC before each round was tried and it biased the results.
 * It shrinks the young generation (so allocation-heavy code then pays extra scavenges until it
 * grows back) and ages bytecode towards flushing, which doubled fernet's time per operation
 * while barely touching the others. Garbage is collected as the code runs, as in production;
 * the rotation spreads any spill-over of one implementation's GC into the next round evenly.
 */

class BenchCorrectnessError extends Error {
  constructor(message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BenchCorrectnessError';
  }
}

function isThenable(value) {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof value.then === 'function'
  );
}

/**
 * Each implementation gets its own compiled loop, so V8's inline cache at `fn()` stays
 * monomorphic for it instead of one shared loop going megamorphic and taxing whichever
 * implementation happens to run after the others.
 */
function compileLoop(isAsync) {
  const body = isAsync
    ? 'return (async () => { let out; for (let i = 0; i < n; i++) out = await fn(); return out; })();'
    : 'let out; for (let i = 0; i < n; i++) out = fn(); return out;';
  return new Function('fn', 'n', body);
}

async function timeBatch(entry, n) {
  const start = process.hrtime.bigint();
  const out = entry.isAsync ? await entry.loop(entry.run, n) : entry.loop(entry.run, n);
  const elapsedNs = Number(process.hrtime.bigint() - start);
  return { elapsedNs: Math.max(elapsedNs, 1), out };
}

function median(sorted) {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median and relative median absolute deviation (robust to the odd noisy round). */
function summarise(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const med = median(sorted);
  const deviations = sorted.map((s) => Math.abs(s - med)).sort((a, b) => a - b);
  return { median: med, spread: med > 0 ? median(deviations) / med : 0 };
}

async function checkOutput(caseDef, entry, out) {
  if (typeof caseDef.check === 'function') await caseDef.check(out, entry.impl);
}

/**
 * @param {string} suiteName
 * @param {{ name: string, check?: Function, impls: Array<{ impl: string, run: Function, verify?: Function }> }} caseDef
 * @param {{ warmupMs: number, roundMs: number, rounds: number }} settings
 * @returns {Promise<Array<{ impl: string, opsPerSec: number, samples: number, spread: number, batch: number,
 *   rounds: number[] }>>} `rounds` holds the ops/s of every timed round, in order
 */
async function measureCase(suiteName, caseDef, settings) {
  const where = (impl) => `${suiteName} > ${caseDef.name} > ${impl}`;
  if (!Array.isArray(caseDef.impls) || caseDef.impls.length === 0) {
    throw new BenchCorrectnessError(`${suiteName} > ${caseDef.name}: case has no implementations`);
  }

  // 1. Correctness before any timing: a fast wrong answer is not a result.
  const entries = [];
  for (const implDef of caseDef.impls) {
    try {
      const first = implDef.run();
      const isAsync = isThenable(first);
      const out = isAsync ? await first : first;
      await checkOutput(caseDef, implDef, out);
      if (typeof implDef.verify === 'function') await implDef.verify();
      entries.push({
        impl: implDef.impl,
        run: implDef.run,
        isAsync,
        loop: compileLoop(isAsync),
        samples: [],
      });
    } catch (err) {
      throw new BenchCorrectnessError(
        `${where(implDef.impl)}: correctness check failed: ${err.message}`,
        err,
      );
    }
  }

  const roundNs = settings.roundMs * 1e6;
  let current = entries[0];
  try {
    // 2. Warm-up: let V8 tier up each implementation's hot path before anything is recorded.
    for (const entry of entries) {
      current = entry;
      const until = process.hrtime.bigint() + BigInt(Math.round(settings.warmupMs * 1e6));
      let n = 1;
      while (process.hrtime.bigint() < until) {
        await timeBatch(entry, n);
        n = Math.min(n * 2, 1024);
      }
    }

    // 3. Calibration: pick a batch size per implementation so one round takes about roundMs.
    // The fastest of three probes sets it: on a shared machine contention only ever slows a
    // probe down, so the fastest one is the least disturbed.
    for (const entry of entries) {
      current = entry;
      let n = 1;
      for (;;) {
        const { elapsedNs } = await timeBatch(entry, n);
        if (elapsedNs >= roundNs / 4 || n >= 1e8) break;
        n *= elapsedNs < roundNs / 100 ? 10 : 2;
      }
      let fastestNs = Infinity;
      for (let probe = 0; probe < 3; probe++) {
        fastestNs = Math.min(fastestNs, (await timeBatch(entry, n)).elapsedNs);
      }
      entry.batch = Math.max(1, Math.round((n * roundNs) / fastestNs));
    }

    // 4. Interleaved timed rounds; the last output of every round is checked again, so the
    // numbers can only come from code that still returns the right answer.
    for (let round = 0; round < settings.rounds; round++) {
      for (let k = 0; k < entries.length; k++) {
        const entry = entries[(round + k) % entries.length];
        current = entry;
        const { elapsedNs, out } = await timeBatch(entry, entry.batch);
        entry.samples.push((entry.batch * 1e9) / elapsedNs);
        try {
          await checkOutput(caseDef, entry, out);
        } catch (err) {
          throw new BenchCorrectnessError(
            `${where(entry.impl)}: wrong output while timing: ${err.message}`,
            err,
          );
        }
      }
    }
  } catch (err) {
    if (err instanceof BenchCorrectnessError) throw err;
    throw new BenchCorrectnessError(`${where(current.impl)}: failed while timing: ${err.message}`, err);
  }

  return entries.map((entry) => {
    const { median: opsPerSec, spread } = summarise(entry.samples);
    return {
      impl: entry.impl,
      opsPerSec,
      samples: entry.samples.length,
      spread,
      batch: entry.batch,
      rounds: entry.samples,
    };
  });
}

module.exports = { measureCase, BenchCorrectnessError, summarise };
