import { hash } from 'node:crypto';
import { BulwarkThreatError, ErrorCodes } from '../errors';
import { AttemptCounter, type CounterState } from '../threat/attempt-counter';
import type { BruteForceRedisClient } from '../threat/brute-force-guard';
import { clientAddressKey } from '../threat/client-address';
import { MemoryWindowCounter } from '../threat/memory-window-counter';
import { whenRedisReady } from '../threat/redis-readiness';
import { configError, intInRange, oneOf, positiveInt } from '../util/options';
import { BulwarkHttpError } from './bulwark-http-error';

/** One budget: `limit` requests per `windowSec` seconds (a fixed window). */
export interface RateLimitWindow {
  limit: number;
  windowSec: number;
}

export interface RateLimitOptions {
  /**
   * Name of the policy in the `RateLimit` headers and in store keys, so a route's own limit
   * (`rateLimit({ name: 'export', ... })`) counts apart from the app-wide one. Default `api`.
   */
  name?: string;
  /** Budget of each authenticated principal. Default 300 per 60 s; `false` turns it off. */
  perUser?: RateLimitWindow | false;
  /**
   * Budget of each client address (IPv6: per `/ipv6PrefixBits` prefix), counted for every request,
   * signed in or not. Size it for many users behind one NAT. Default 600 per 60 s; `false` turns it off.
   */
  perIp?: RateLimitWindow | false;
  /**
   * Shared counters for many instances (an ioredis or node-redis v4+ client; the app keeps it and
   * closes it). Default: in-process memory (each instance then allows the whole budget).
   */
  redis?: BruteForceRedisClient;
  /** Prefix of every store key. Default `bulwark:rl`. */
  keyPrefix?: string;
  /**
   * While the store fails: `'fail-closed'` (default) answers 503 (ERR_THREAT_STORE); `'fail-open'`
   * serves the request unlimited (weaker: a Redis outage lifts every limit) and reports to `onError`.
   */
  onStoreUnavailable?: 'fail-closed' | 'fail-open';
  /** Called with each store failure under `'fail-open'`. Default: a process warning. */
  onError?: (error: unknown) => void;
  /** With `redis`: how long the first request waits for the client to be ready. Default 5000 ms. */
  readyTimeoutMs?: number;
  /** IPv6 addresses are counted per prefix of this many bits. Default 64. */
  ipv6PrefixBits?: number;
  /** Config path used in error messages. Default `rateLimit`. */
  configPath?: string;
}

/** Who a request is counted for. */
export interface RateLimitSubject {
  /** The authenticated principal, if any. */
  principal?: { readonly type: string; readonly id: string };
  /** The client address (from TrustedProxies). */
  ip?: string;
}

/** The decision for an allowed request: the headers to send. */
export interface RateLimitOutcome {
  readonly headers: Readonly<Record<string, string>>;
}

interface Counter {
  readonly scope: 'user' | 'ip';
  readonly window: RateLimitWindow;
  /** Redis (rate-limiter-flexible, shared by every instance): asynchronous. */
  readonly counter?: AttemptCounter;
  /** In-process memory: synchronous. Exactly one of the two is set. */
  readonly memory?: MemoryWindowCounter;
  readonly policy: string;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

function budget(value: unknown, path: string, fallback: RateLimitWindow): RateLimitWindow | false {
  if (value === false) return false;
  if (value === undefined) return fallback;
  if (typeof value !== 'object' || value === null)
    throw configError(path, 'must be { limit, windowSec } or false');
  const w = value as Partial<RateLimitWindow>;
  return {
    limit: positiveInt(w.limit, `${path}.limit`),
    windowSec: intInRange(w.windowSec, `${path}.windowSec`, 1, 86_400),
  };
}

/**
 * General request rate limiting (ASVS 5.0 V2.4.1, OWASP API4:2023 "unrestricted resource
 * consumption"), per principal and per client address, in fixed windows: in this process's
 * memory (a Map, decided synchronously: `consumeNow`), or on Redis shared by every instance (the
 * brute-force guard's atomic counters, rate-limiter-flexible). Every
 * answer carries the IETF `RateLimit-Policy` and `RateLimit` fields
 * (draft-ietf-httpapi-ratelimit-headers-10: `"api-user";q=300;w=60` and `"api-user";r=42;t=18`,
 * the item closest to exhaustion); a request over a budget is refused with 429
 * ERR_HTTP_RATE_LIMITED and `Retry-After`. Principal ids are hashed in store keys.
 */
export class RequestRateLimiter {
  readonly name: string;
  readonly #counters: readonly Counter[];
  readonly #policyHeader: string;
  readonly #failOpen: boolean;
  readonly #onError: (error: unknown) => void;
  readonly #v6Bits: number;
  /** The shared store, if any (else the counters are in memory and synchronous). */
  readonly #redis: unknown;
  #ready: Promise<void> | undefined;

  constructor(options: RateLimitOptions = {}) {
    const path = options?.configPath ?? 'rateLimit';
    if (typeof options !== 'object' || options === null) throw configError(path, 'must be an object');
    const known = [
      'name',
      'perUser',
      'perIp',
      'redis',
      'keyPrefix',
      'onStoreUnavailable',
      'onError',
      'readyTimeoutMs',
      'ipv6PrefixBits',
      'configPath',
    ];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw configError(`${path}.${key}`, 'is not a known option');
    }
    const name = options.name ?? 'api';
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw configError(`${path}.name`, 'must be 1-32 lower-case letters, digits, _ or - (a header token)');
    }
    this.name = name;
    const redis = options.redis;
    if (redis !== undefined && typeof (redis as { multi?: unknown })?.multi !== 'function') {
      throw configError(`${path}.redis`, 'must be an ioredis or node-redis client');
    }
    const prefix = options.keyPrefix ?? 'bulwark:rl';
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 64) {
      throw configError(`${path}.keyPrefix`, 'must be a non-empty string of at most 64 characters');
    }
    const counters: Counter[] = [];
    const scopes = [
      ['user', budget(options.perUser, `${path}.perUser`, { limit: 300, windowSec: 60 })],
      ['ip', budget(options.perIp, `${path}.perIp`, { limit: 600, windowSec: 60 })],
    ] as const;
    for (const [scope, w] of scopes) {
      if (w === false) continue;
      counters.push(
        redis === undefined
          ? { scope, window: w, policy: `${name}-${scope}`, memory: new MemoryWindowCounter(w.windowSec) }
          : {
              scope,
              window: w,
              policy: `${name}-${scope}`,
              counter: new AttemptCounter({
                redis,
                keyPrefix: `${prefix}:${name}:${scope}`,
                points: w.limit,
                duration: w.windowSec,
              }),
            },
      );
    }
    if (counters.length === 0) throw configError(path, 'needs perUser or perIp (both are false)');
    this.#counters = counters;
    // RFC 8941 list of items: "<policy>";q=<quota>;w=<window seconds>.
    this.#policyHeader = counters
      .map((c) => `"${c.policy}";q=${c.window.limit};w=${c.window.windowSec}`)
      .join(', ');
    this.#failOpen =
      oneOf(
        options.onStoreUnavailable,
        `${path}.onStoreUnavailable`,
        ['fail-closed', 'fail-open'],
        'fail-closed',
      ) === 'fail-open';
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw configError(`${path}.onError`, 'must be a function');
    }
    this.#onError =
      options.onError ??
      ((e) =>
        process.emitWarning(`bulwark: rate-limit store failed, serving unlimited: ${(e as Error)?.message}`));
    this.#v6Bits = intInRange(options.ipv6PrefixBits, `${path}.ipv6PrefixBits`, 32, 128, 64);
    const readyMs = intInRange(options.readyTimeoutMs, `${path}.readyTimeoutMs`, 0, 60_000, 5000);
    this.#redis = redis;
    if (redis !== undefined) this.#ready = whenRedisReady(redis, readyMs);
  }

  /** The `RateLimit-Policy` field value (what every answer advertises). */
  get policy(): string {
    return this.#policyHeader;
  }

  /**
   * Counts the request against each budget that applies (per user when signed in, per address when
   * known). Resolves with the headers to send; throws 429 ERR_HTTP_RATE_LIMITED (with
   * `retryAfterSec` and the headers in `details.headers`) when a budget is spent, ERR_THREAT_STORE
   * (503) when the store fails and the policy fails closed.
   */
  async consume(subject: RateLimitSubject): Promise<RateLimitOutcome> {
    if (this.#redis === undefined) return this.#decide(this.#keys(subject), null);
    if (this.#ready !== undefined) {
      await this.#ready;
      this.#ready = undefined;
    }
    const keys = this.#keys(subject);
    if (keys.length === 0) return this.#decide(keys, null);
    let states: CounterState[];
    try {
      // One budget (per address, or per user alone): awaited without Promise.all.
      states =
        keys.length === 1
          ? [await keys[0]![0].counter!.take(keys[0]![1])]
          : await Promise.all(keys.map(([c, key]) => c.counter!.take(key)));
    } catch (error) {
      if (!this.#failOpen) {
        throw new BulwarkThreatError(
          ErrorCodes.THREAT_STORE,
          'the rate-limit store failed; refusing the request (fail closed)',
          undefined,
          { cause: error },
        );
      }
      this.#report(error);
      return { headers: {} };
    }
    return this.#decide(keys, states);
  }

  /**
   * `consume()` without a promise, for the in-memory store (no `redis`): the same outcome, or the
   * same 429 thrown synchronously. Undefined with Redis (counted nowhere; call `consume()`). Lets
   * an adapter go on to the next step in the same turn.
   */
  consumeNow(subject: RateLimitSubject): RateLimitOutcome | undefined {
    return this.#redis === undefined ? this.#decide(this.#keys(subject), null) : undefined;
  }

  /** The budgets that apply to the subject, with its key in each. */
  #keys(subject: RateLimitSubject): Array<[Counter, string]> {
    const keys: Array<[Counter, string]> = [];
    for (const c of this.#counters) {
      const key =
        c.scope === 'user' ? userKey(subject.principal) : clientAddressKey(subject.ip, this.#v6Bits);
      if (key !== undefined) keys.push([c, key]);
    }
    return keys;
  }

  /**
   * The headers for the counts (`states`, or taken now from the memory counters when null), or the
   * 429 when a budget is spent.
   */
  #decide(keys: Array<[Counter, string]>, taken: CounterState[] | null): RateLimitOutcome {
    if (keys.length === 0) return { headers: { 'ratelimit-policy': this.#policyHeader } };
    const states = taken ?? keys.map(([c, key]) => c.memory!.take(key));
    let tightest = 0;
    let remainingMin = Infinity;
    let retryAfterSec = 0;
    for (let i = 0; i < states.length; i++) {
      const state = states[i]!;
      const { window: w } = keys[i]![0];
      const remaining = Math.max(0, w.limit - state.count);
      const resetSec = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
      if (state.count > w.limit) retryAfterSec = Math.max(retryAfterSec, resetSec);
      if (remaining < remainingMin) {
        remainingMin = remaining;
        tightest = i;
      }
    }
    const [c] = keys[tightest]!;
    const reset = Math.max(1, Math.ceil(states[tightest]!.msBeforeNext / 1000));
    const headers = {
      'ratelimit-policy': this.#policyHeader,
      ratelimit: `"${c.policy}";r=${remainingMin};t=${retryAfterSec > 0 ? retryAfterSec : reset}`,
    };
    if (retryAfterSec > 0) {
      throw new BulwarkHttpError(ErrorCodes.HTTP_RATE_LIMITED, 429, 'Too many requests; retry later.', {
        retryAfterSec,
        headers,
      });
    }
    return { headers };
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // never reaches the request path
    }
  }
}

/** A principal as a store key: hashed, so ids (often e-mail addresses) never sit in Redis. */
function userKey(principal: RateLimitSubject['principal']): string | undefined {
  if (typeof principal?.id !== 'string' || principal.id.length === 0) return undefined;
  // Length-prefixed so no (type, id) pair can be re-split into another.
  const name = `${principal.type.length}:${principal.type}:${principal.id}`;
  // One-shot (Node >= 20.12; engines say >= 20.19): no Hash object per request.
  return hash('sha256', name, 'base64url').slice(0, 32);
}

/** The headers a refusal of `consume()` carries, for the adapter to set before answering. */
export function rateLimitHeaders(error: unknown): Readonly<Record<string, string>> | undefined {
  if (!(error instanceof BulwarkHttpError) || error.code !== ErrorCodes.HTTP_RATE_LIMITED) return undefined;
  const headers = error.details?.headers;
  return typeof headers === 'object' && headers !== null ? (headers as Record<string, string>) : undefined;
}
