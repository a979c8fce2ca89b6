import type { AuditEntry } from '../audit/audit-event';
import type { RiskSignal, ViolationRisk } from './risk-score';

// What a detection rule is given and returns, and the bounded per-rule state it counts in.

export type ViolationSeverity = 'low' | 'medium' | 'high' | 'critical';

/** A detection: which rule, how bad, and the audit entries (by seq) that triggered it. */
export interface SecurityViolation {
  readonly rule: string;
  readonly severity: ViolationSeverity;
  readonly message: string;
  /** Sequence numbers of the triggering audit entries, oldest first. */
  readonly entries: readonly number[];
  /** ISO-8601 UTC detection time. */
  readonly at: string;
  /** What the rule keyed on (account, ip, actor), for triage. */
  readonly subject?: Readonly<Record<string, string>>;
  /** Explainable risk score (0-100) and the weighted signals behind it. */
  readonly risk?: ViolationRisk;
}

/** What a rule returns for a hit; the detector fills in rule, `at` and default severity. */
export interface RuleHit {
  message: string;
  severity?: ViolationSeverity;
  /** Default: the current entry's seq. */
  entries?: readonly number[];
  subject?: Record<string, string>;
  /** Extra risk signals of this hit (added to the detector's own: severity, volume, remote source). */
  signals?: readonly RiskSignal[];
}

/** Per-rule state, bounded by the detector (least recently used keys are evicted). */
export interface RuleState {
  /**
   * Adds the current entry to the sliding window `key` (event time, `windowSec` long), drops
   * entries that fell out of it, and returns what is left (the current entry included).
   */
  hit(key: string, windowSec: number): { count: number; seqs: number[] };
  /** Empties window `key` (e.g. after it fired, so the next hit needs a fresh burst). */
  reset(key: string): void;
  /** True at most once per `cooldownSec` (event time) for `key`: de-duplicates repeat hits. */
  cooldown(key: string, cooldownSec: number): boolean;
}

/** What `burst` reports: the window after this entry, and whether it reached the threshold. */
export interface BurstResult {
  /** True when the window reached the threshold with this entry (it was emptied: it fires once). */
  fired: boolean;
  count: number;
  seqs: number[];
}

/**
 * The state the built-in rules count in: a burst (sliding window, emptied when it fires) and a
 * cooldown. Synchronous in process memory; asynchronous over a shared DetectionWindowStore.
 */
export interface WindowState {
  burst(key: string, windowSec: number, threshold: number): BurstResult | Promise<BurstResult>;
  cooldown(key: string, cooldownSec: number): boolean | Promise<boolean>;
}

export type RuleResult = RuleHit | readonly RuleHit[] | undefined | null | void;

/** A built-in rule: like a DetectionRule, but counting in a WindowState that may be shared. */
export interface BuiltinRule {
  readonly name: string;
  readonly severity?: ViolationSeverity;
  evaluate(entry: AuditEntry, state: WindowState): RuleResult | Promise<RuleResult>;
}

/**
 * A custom rule that counts in bursts and cooldowns (`WindowState`) like the built-in rules, so its
 * windows are shared when the detector has `windows` (a burst spread over N instances is seen
 * once); in memory otherwise. Its `evaluate` may be async: with shared windows the state answers
 * with promises (the detector then runs through `observeAsync`, as it does when attached as a sink).
 */
export interface WindowedDetectionRule extends BuiltinRule {
  readonly windowed: true;
}

/** A custom rule: a pure function of an entry and its own state. Must not throw (errors are reported). */
export interface DetectionRule {
  readonly name: string;
  /** Absent (or false): the rule counts in its own in-process `RuleState`. See `WindowedDetectionRule`. */
  readonly windowed?: false;
  /** Default severity of its hits. Default `medium`. */
  readonly severity?: ViolationSeverity;
  evaluate(entry: AuditEntry, state: RuleState): RuleHit | readonly RuleHit[] | undefined | null | void;
}

export const SEVERITIES: ReadonlySet<string> = new Set(['low', 'medium', 'high', 'critical']);

/** A sliding window of (seq, event time) pairs. */
interface Window {
  items: { seq: number; t: number }[];
}

/** LRU-bounded map: a touched key moves to the end; the oldest key goes when over capacity. */
class BoundedMap<V> {
  readonly #map = new Map<string, V>();
  constructor(private readonly cap: number) {}

  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.cap) this.#map.delete(this.#map.keys().next().value!);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }
}

export class BoundedRuleState implements RuleState, WindowState {
  readonly windows: BoundedMap<Window>;
  readonly cooldowns: BoundedMap<number>;
  seq = 0;
  t = 0;

  constructor(
    maxKeys: number,
    private readonly maxEntries: number,
  ) {
    this.windows = new BoundedMap(maxKeys);
    this.cooldowns = new BoundedMap(maxKeys);
  }

  hit(key: string, windowSec: number): { count: number; seqs: number[] } {
    let w = this.windows.get(key);
    if (w === undefined) {
      w = { items: [] };
      this.windows.set(key, w);
    }
    w.items.push({ seq: this.seq, t: this.t });
    // Window in event time, measured back from the current entry. Entries arrive in seq order and
    // times are near-monotonic; a late entry with an older time never evicts newer ones.
    const from = this.t - windowSec * 1000;
    w.items = w.items.filter((i) => i.t > from);
    if (w.items.length > this.maxEntries) w.items.splice(0, w.items.length - this.maxEntries);
    return { count: w.items.length, seqs: w.items.map((i) => i.seq) };
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  burst(key: string, windowSec: number, threshold: number): BurstResult {
    const w = this.hit(key, windowSec);
    if (w.count < threshold) return { fired: false, ...w };
    this.reset(key);
    return { fired: true, ...w };
  }

  cooldown(key: string, cooldownSec: number): boolean {
    const last = this.cooldowns.get(key);
    if (last !== undefined && this.t - last < cooldownSec * 1000) return false;
    this.cooldowns.set(key, this.t);
    return true;
  }
}
