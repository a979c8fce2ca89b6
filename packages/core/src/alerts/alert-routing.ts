import { compileTimeWindow, parseClockTime, zoneFormatter, WEEKDAYS } from '../authz/time-window';
import type { TimeWindowDefinition } from '../authz/policy-document';
import { configError, positiveInt } from '../util/options';
import { ALERT_SEVERITIES, severityRank, type AlertInput, type AlertSeverity } from './alert';
import type { AlertDedupeStore } from './alert-dedupe-store';

/** Which alerts go to which channels: every criterion given must match. */
export interface AlertRoute {
  /** Channel names. */
  channels: readonly string[];
  /** At least this severity. */
  minSeverity?: AlertSeverity;
  /** Only these rules (`failed-login-burst`, `integrity.audit-write-failure`, …). */
  rules?: readonly string[];
  /** Only these categories (`detection`, `integrity`, …). */
  categories?: readonly string[];
  /** At least this risk score (0-100; alerts without a score never match). */
  minRisk?: number;
}

export interface AlertRoutingOptions {
  /** Default: one route sending `medium` and above to every channel. */
  routes?: readonly AlertRoute[];
  /** Repeats of one key (rule + subject) within this many seconds are suppressed. Default 300. */
  dedupeSec?: number;
  /** At most `max` alerts per rule per `windowSec` (critical alerts are exempt). Default 20 per 3600 s. */
  rateLimit?: { max: number; windowSec: number };
  /** Local hours when alerts below `critical` are dropped (recorded, not delivered). Critical always goes. */
  quietHours?: TimeWindowDefinition;
  /** Keys remembered for de-duplication and rate limiting (least recently used evicted). Default 10 000. */
  maxKeys?: number;
  /**
   * De-duplication and rate limits shared across instances (e.g. `new RedisAlertDedupeStore({
   * client })`): asked after this process's own checks, so that N instances send one alert per key
   * and window. If it fails, the alert goes out (a duplicate is better than silence) and the
   * router's `onError` is told.
   */
  shared?: AlertDedupeStore;
}

/** What routing decided for an alert. */
export type RouteDecision =
  | { readonly deliver: true; readonly channels: readonly string[]; readonly suppressed: number }
  | { readonly deliver: false; readonly reason: 'no-route' | 'duplicate' | 'rate-limited' | 'quiet-hours' };

/** A Map used as an LRU: a read moves the key to the newest end. */
class Lru<V> extends Map<string, V> {
  constructor(private readonly max: number) {
    super();
  }
  touch(key: string, value: V): void {
    this.delete(key);
    this.set(key, value);
    if (this.size > this.max) this.delete(this.keys().next().value!);
  }
}

/** The de-duplication key: the rule and what it keyed on (sorted, so key order never matters). */
export function dedupeKey(alert: AlertInput): string {
  const subject =
    alert.subject === undefined ? [] : Object.entries(alert.subject).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([alert.rule, subject]);
}

/**
 * The routing policy: matching routes, then quiet hours, de-duplication and rate limits. State is
 * in process memory and measured on the router's clock; with `shared` (an AlertDedupeStore such as
 * RedisAlertDedupeStore) de-duplication and rate limits also hold across instances.
 */
export class AlertRouting {
  readonly #routes: readonly AlertRoute[];
  readonly #dedupeMs: number;
  readonly #rate?: { max: number; windowMs: number };
  readonly #quiet?: { test(epochMs: number): boolean };
  readonly #seen: Lru<{ until: number; suppressed: number }>;
  readonly #perRule: Lru<number[]>;
  readonly #shared?: AlertDedupeStore;

  constructor(options: AlertRoutingOptions, channelNames: ReadonlySet<string>, path = 'alerts') {
    const routes = options.routes ?? [{ channels: [...channelNames], minSeverity: 'medium' as const }];
    if (!Array.isArray(routes)) throw configError(`${path}.routes`, 'must be an array of routes');
    this.#routes = Object.freeze(
      routes.map((r: AlertRoute, i) => checkRoute(r, `${path}.routes[${i}]`, channelNames)),
    );
    this.#dedupeMs = positiveInt(options.dedupeSec, `${path}.dedupeSec`, 300) * 1000;
    if (options.rateLimit !== undefined) {
      const r = options.rateLimit;
      this.#rate = {
        max: positiveInt(r?.max, `${path}.rateLimit.max`),
        windowMs: positiveInt(r?.windowSec, `${path}.rateLimit.windowSec`) * 1000,
      };
    } else this.#rate = { max: 20, windowMs: 3_600_000 };
    if (options.quietHours !== undefined)
      this.#quiet = compileTimeWindow(checkQuiet(options.quietHours, `${path}.quietHours`));
    const maxKeys = positiveInt(options.maxKeys, `${path}.maxKeys`, 10_000);
    this.#seen = new Lru(maxKeys);
    this.#perRule = new Lru(maxKeys);
    const shared = options.shared;
    if (
      shared !== undefined &&
      (shared === null || typeof shared.claim !== 'function' || typeof shared.count !== 'function')
    ) {
      throw configError(
        `${path}.shared`,
        'must be an AlertDedupeStore (claim, count), e.g. RedisAlertDedupeStore',
      );
    }
    this.#shared = shared;
  }

  /**
   * `decide`, then the shared store when there is one: the de-duplication claim (the first
   * instance wins the key for the window), then the rate limit across instances (critical alerts
   * exempt). A failing store leaves this process's decision as it was (reported to `onError`).
   */
  async decideShared(
    alert: AlertInput,
    nowMs: number,
    onError: (error: unknown) => void,
  ): Promise<RouteDecision> {
    const local = this.decide(alert, nowMs);
    if (!local.deliver || this.#shared === undefined) return local;
    try {
      if (!(await this.#shared.claim(dedupeKey(alert), this.#dedupeMs))) {
        return { deliver: false, reason: 'duplicate' };
      }
      if (alert.severity !== 'critical' && this.#rate !== undefined) {
        const n = await this.#shared.count(alert.rule, this.#rate.windowMs, nowMs);
        if (n > this.#rate.max) return { deliver: false, reason: 'rate-limited' };
      }
    } catch (err) {
      onError(err);
    }
    return local;
  }

  /** Decides for one alert at `nowMs` and records it (a delivered decision starts the dedupe window). */
  decide(alert: AlertInput, nowMs: number): RouteDecision {
    const channels = new Set<string>();
    for (const route of this.#routes) {
      if (route.minSeverity !== undefined && severityRank(alert.severity) < severityRank(route.minSeverity))
        continue;
      if (route.rules !== undefined && !route.rules.includes(alert.rule)) continue;
      if (route.categories !== undefined && !route.categories.includes(alert.category)) continue;
      if (route.minRisk !== undefined && (alert.risk?.score ?? -1) < route.minRisk) continue;
      for (const c of route.channels) channels.add(c);
    }
    if (channels.size === 0) return { deliver: false, reason: 'no-route' };
    const critical = alert.severity === 'critical';
    if (!critical && this.#quiet?.test(nowMs) === true) return { deliver: false, reason: 'quiet-hours' };
    const key = dedupeKey(alert);
    const seen = this.#seen.get(key);
    if (seen !== undefined && nowMs < seen.until) {
      seen.suppressed++;
      return { deliver: false, reason: 'duplicate' };
    }
    if (!critical && this.#rate !== undefined) {
      const times = (this.#perRule.get(alert.rule) ?? []).filter((t) => t > nowMs - this.#rate!.windowMs);
      if (times.length >= this.#rate.max) {
        this.#perRule.touch(alert.rule, times);
        return { deliver: false, reason: 'rate-limited' };
      }
      times.push(nowMs);
      this.#perRule.touch(alert.rule, times);
    }
    this.#seen.touch(key, { until: nowMs + this.#dedupeMs, suppressed: 0 });
    return { deliver: true, channels: [...channels], suppressed: seen?.suppressed ?? 0 };
  }
}

function checkRoute(route: AlertRoute, path: string, names: ReadonlySet<string>): AlertRoute {
  if (route === null || typeof route !== 'object')
    throw configError(path, 'must be { channels, minSeverity?, rules?, categories? }');
  if (!Array.isArray(route.channels) || route.channels.length === 0) {
    throw configError(`${path}.channels`, 'must name at least one channel');
  }
  route.channels.forEach((c, i) => {
    if (!names.has(c))
      throw configError(
        `${path}.channels[${i}]`,
        `names no configured channel ('${String(c).slice(0, 64)}')`,
      );
  });
  if (route.minSeverity !== undefined && !ALERT_SEVERITIES.includes(route.minSeverity)) {
    throw configError(`${path}.minSeverity`, `must be one of ${ALERT_SEVERITIES.join(', ')}`);
  }
  if (
    route.minRisk !== undefined &&
    !(typeof route.minRisk === 'number' && route.minRisk >= 0 && route.minRisk <= 100)
  ) {
    throw configError(`${path}.minRisk`, 'must be a number from 0 to 100');
  }
  for (const list of ['rules', 'categories'] as const) {
    const v = route[list];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) {
      throw configError(`${path}.${list}`, 'must be an array of strings');
    }
  }
  return Object.freeze({ ...route });
}

function checkQuiet(q: TimeWindowDefinition, path: string): TimeWindowDefinition {
  if (q === null || typeof q !== 'object') throw configError(path, 'must be { start, end, timeZone, days? }');
  if (typeof q.start !== 'string' || parseClockTime(q.start, false) === undefined) {
    throw configError(`${path}.start`, 'must be HH:MM');
  }
  if (typeof q.end !== 'string' || parseClockTime(q.end, true) === undefined)
    throw configError(`${path}.end`, 'must be HH:MM');
  if (typeof q.timeZone !== 'string' || zoneFormatter(q.timeZone) === undefined) {
    throw configError(`${path}.timeZone`, 'must be a known IANA time zone name');
  }
  if (q.days !== undefined && (!Array.isArray(q.days) || q.days.some((d) => !WEEKDAYS.includes(d)))) {
    throw configError(`${path}.days`, `must be an array of ${WEEKDAYS.join(', ')}`);
  }
  return q;
}
