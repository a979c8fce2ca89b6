'use strict';

/**
 * Sessions and the password policy: the per-request and per-sign-up costs they add.
 *
 * Case "open a signed-in session": one operation = `SessionEngine.open()` of a signed-in session
 * (cookie parse, HMAC of the token, one store read, the principal built), cycling over 1,000
 * stored sessions; the idle refresh is off (touchIntervalSec at its maximum) so every operation
 * is a read. Implementations: the memory store, and Redis when REDIS_URL (default
 * redis://127.0.0.1:6379) answers within a second. `check` rejects an anonymous result.
 *
 * Case "check a password": one operation = `PasswordPolicy.evaluate()` (NFKC, length, blocklist,
 * context words, zxcvbn-ts estimate) over 200 fixed passwords, against zxcvbn-ts' own `check()`
 * with the same dictionaries (the baseline: what the estimate alone costs). `check` compares the
 * score with the baseline's.
 */

const { randomBytes } = require('node:crypto');

const SECRET = 'bench session secret, 32 bytes or more!!';
const SESSIONS = 1_000;

async function redisClient(log) {
  const Redis = require('ioredis');
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    return redis;
  } catch {
    log('  sessions: Redis not reachable, the Redis implementation is skipped');
    redis.disconnect();
    return undefined;
  }
}

async function sessionImpl(impl, store) {
  const { SessionEngine } = require('@bulwark/core');
  const engine = new SessionEngine({ secret: SECRET, store, idleTimeoutSec: 3600, touchIntervalSec: 3599 });
  const cookies = [];
  for (let i = 0; i < SESSIONS; i++) {
    let cookie = '';
    const s = await engine.open({ cookieHeader: undefined, setCookie: (v) => (cookie = v.split(';')[0]) });
    await s.login({ id: `user-${i}`, roles: ['customer'] });
    cookies.push(`theme=dark; ${cookie}; other=1`);
  }
  let i = 0;
  return {
    impl,
    run: async () => {
      const s = await engine.open({ cookieHeader: cookies[i], setCookie: () => {} });
      i = i + 1 === SESSIONS ? 0 : i + 1;
      return s.userId;
    },
  };
}

function passwords() {
  const out = [];
  const words = ['lantern', 'marble', 'oyster', 'ferry', 'quartz', 'meadow', 'violet', 'harbor'];
  for (let i = 0; i < 100; i++)
    out.push(`${words[i % 8]} ${words[(i * 3) % 8]} ${words[(i * 5 + 1) % 8]} ${i}`);
  for (let i = 0; i < 100; i++) out.push(randomBytes(6 + (i % 12)).toString('base64url'));
  return out;
}

module.exports = {
  name: 'sessions',
  title: 'open a signed-in session; check a password against the NIST policy',
  settings: { rounds: 20, roundMs: 50, warmupMs: 300 },

  async setup({ log }) {
    const { MemorySessionStore, RedisSessionStore, PasswordPolicy } = require('@bulwark/core');
    const redis = await redisClient(log);
    const prefix = `bench:sess:${randomBytes(4).toString('hex')}:`;
    const sessionImpls = [await sessionImpl('bulwark memory store', new MemorySessionStore())];
    if (redis)
      sessionImpls.push(
        await sessionImpl('bulwark Redis store', new RedisSessionStore({ redis, keyPrefix: prefix })),
      );

    const policy = new PasswordPolicy();
    const list = passwords();
    const { ZxcvbnFactory } = require('@zxcvbn-ts/core');
    const common = require('@zxcvbn-ts/language-common');
    const zxcvbn = new ZxcvbnFactory({ dictionary: common.dictionary, graphs: common.adjacencyGraphs });
    const cycle = (fn) => {
      let i = 0;
      return () => {
        const out = fn(list[i], i);
        i = i + 1 === list.length ? 0 : i + 1;
        return out;
      };
    };
    const scores = list.map((p) => zxcvbn.check(p).score);
    return {
      cases: [
        {
          name: 'open a signed-in session',
          check: (userId) => typeof userId === 'string' && userId.startsWith('user-'),
          impls: sessionImpls,
        },
        {
          name: 'check a password',
          check: (ok) => ok === true,
          impls: [
            { impl: 'zxcvbn-ts check (baseline)', run: cycle((p, i) => zxcvbn.check(p).score === scores[i]) },
            { impl: 'bulwark PasswordPolicy', run: cycle((p, i) => policy.evaluate(p).score === scores[i]) },
          ],
        },
      ],
      async close() {
        if (redis) {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          redis.disconnect();
        }
      },
    };
  },
};
