import { EventEmitter } from 'node:events';
import type { AuditActor, AuditEntry } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import type { AuditSink } from '../audit/audit-sink';
import { PRESERVED_FROM_KEY } from '../audit/subject-pseudonymizer';
import { BulwarkConfigError, BulwarkThreatError, ErrorCodes } from '../errors';

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
}

/** What a rule returns for a hit; the detector fills in rule, `at` and default severity. */
export interface RuleHit {
  message: string;
  severity?: ViolationSeverity;
  /** Default: the current entry's seq. */
  entries?: readonly number[];
  subject?: Record<string, string>;
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

/** A custom rule: a pure function of an entry and its own state. Must not throw (errors are reported). */
export interface DetectionRule {
  readonly name: string;
  /** Default severity of its hits. Default `medium`. */
  readonly severity?: ViolationSeverity;
  evaluate(entry: AuditEntry, state: RuleState): RuleHit | readonly RuleHit[] | undefined | null | void;
}

export interface BurstOptions {
  /** Matching entries within the window that raise a violation. */
  threshold: number;
  windowSec: number;
}

export interface FailedLoginRuleOptions {
  /** Action patterns (`*` matches any run of characters). Default `auth.login`, `auth.login.*`, `*.login`, `login`. */
  actions?: readonly string[];
  /** Per account, across IPs (guessing one password). Default 5 in 300 s; `false` disables. */
  perAccount?: BurstOptions | false;
  /** Per IP, across accounts (credential stuffing). Default 20 in 300 s; `false` disables. */
  perIp?: BurstOptions | false;
  /** Default `high` per IP, `medium` per account. */
  severity?: ViolationSeverity;
  /**
   * The account an entry is about. Default: `details.account`, `details.username`, a `user` /
   * `account` resource id, then a non-anonymous actor id.
   */
  accountOf?: (entry: AuditEntry) => string | undefined;
}

export interface DeniedAccessRuleOptions extends Partial<BurstOptions> {
  /** Default `*` (any action with outcome `denied`). */
  actions?: readonly string[];
  severity?: ViolationSeverity;
}

export interface PrivilegeChangeRuleOptions {
  /** Default role / permission / policy change actions (see PRIVILEGE_ACTIONS). */
  actions?: readonly string[];
  severity?: ViolationSeverity;
}

export interface MassExportRuleOptions {
  /** Default `*.export`, `export.*`, `*.export.*`, `*.exported`. */
  actions?: readonly string[];
  /** `details` fields holding the number of exported records. Default `count`, `rows`, `records`. */
  countFields?: readonly string[];
  /** One export of at least this many records is a violation (`high`). Default 1000. */
  largeCount?: number;
  /** Or this many exports by one actor in the window (`medium`). Default 10 in 3600 s. */
  threshold?: number;
  windowSec?: number;
  severity?: ViolationSeverity;
}

export interface BreakGlassRuleOptions {
  /** Default `authz.break_glass.*`. */
  actions?: readonly string[];
  /** Default `high`: emergency access is legitimate but every use must be reviewed (HIPAA 164.312(a)(2)(ii)). */
  severity?: ViolationSeverity;
}

export interface OffHoursRuleOptions {
  /** IANA time zone of the working hours, e.g. `Europe/Paris`. */
  timeZone: string;
  /** `HH:MM` (24 h). A start after the end spans midnight (night shift). */
  start: string;
  end: string;
  /** ISO weekdays that are working days (1 = Monday ... 7 = Sunday). Default 1-5. */
  days?: readonly number[];
  /** Default `*`. */
  actions?: readonly string[];
  /** Default `user` only (services run at night by design). */
  actorTypes?: readonly AuditActor['type'][];
  /** At most one violation per actor per this many seconds. Default 3600. */
  cooldownSec?: number;
  /** Default `low`. */
  severity?: ViolationSeverity;
}

export interface ThreatDetectorOptions {
  /** Where violations are written back (action `security.violation`). */
  auditLog?: AuditLog;
  /** Called for each violation (also emitted as the `violation` event). */
  onViolation?: (violation: SecurityViolation) => void;
  /** Called when a custom rule, listener or the audit write fails. Default: a process warning. */
  onError?: (error: unknown, context: { rule?: string }) => void;
  failedLogins?: FailedLoginRuleOptions | false;
  deniedAccess?: DeniedAccessRuleOptions | false;
  privilegeChanges?: PrivilegeChangeRuleOptions | false;
  massExport?: MassExportRuleOptions | false;
  breakGlass?: BreakGlassRuleOptions | false;
  /** Off by default: it needs the organisation's hours and time zone. */
  offHours?: OffHoursRuleOptions | false;
  rules?: readonly DetectionRule[];
  /** Keys (accounts, IPs, actors) tracked per rule; least recently used are evicted. Default 10 000. */
  maxKeysPerRule?: number;
  /** Entries kept per window key. Default 1000. */
  maxEntriesPerKey?: number;
  /** Actor of the violation events. Default `{ id: 'bulwark-threat-detector', type: 'system' }`. */
  actor?: AuditActor;
  /** Retention category of the violation events. Default `security`. */
  category?: string;
  clock?: () => Date;
  /** Config path used in error messages. Default `threat.detector`. */
  configPath?: string;
}

/** Action of the audit events the detector writes (and ignores when they come back). */
export const SECURITY_VIOLATION_ACTION = 'security.violation';

/** Default privilege-change actions. */
export const PRIVILEGE_ACTIONS: readonly string[] = Object.freeze([
  'role.granted',
  'role.revoked',
  'role.assigned',
  'role.created',
  'role.deleted',
  'role.updated',
  'user.role_changed',
  'user.roles_changed',
  'permission.granted',
  'permission.revoked',
  'policy.created',
  'policy.updated',
  'policy.deleted',
]);

const SEVERITIES: ReadonlySet<string> = new Set(['low', 'medium', 'high', 'critical']);
const BUILTIN_NAMES: ReadonlySet<string> = new Set([
  'failed-login-burst',
  'denied-access-burst',
  'privilege-change',
  'mass-export',
  'break-glass',
  'off-hours-access',
]);
const MAX_VIOLATION_ENTRIES = 100;
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function configError(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} ${message}`, { path });
}

/** Compiles action patterns (`*` = any run of characters) into one matcher. */
function matcher(patterns: unknown, path: string): (action: string) => boolean {
  if (
    !Array.isArray(patterns) ||
    patterns.length === 0 ||
    patterns.some((p) => typeof p !== 'string' || p === '')
  ) {
    throw configError(path, 'must be a non-empty array of action patterns');
  }
  const source = patterns
    .map((p: string) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'))
    .join('|');
  const re = new RegExp(`^(?:${source})$`);
  return (action) => re.test(action);
}

function severity(value: unknown, fallback: ViolationSeverity, path: string): ViolationSeverity {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !SEVERITIES.has(value)) {
    throw configError(path, "must be 'low', 'medium', 'high' or 'critical'");
  }
  return value as ViolationSeverity;
}

function positiveInt(value: unknown, fallback: number, path: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || (v as number) < 1) {
    throw configError(path, `must be a positive integer, got ${String(v)}`);
  }
  return v as number;
}

function burst(value: unknown, fallback: BurstOptions, path: string): BurstOptions | false {
  if (value === false) return false;
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw configError(path, 'must be { threshold, windowSec } or false');
  }
  const v = (value ?? {}) as Partial<BurstOptions>;
  return {
    threshold: positiveInt(v.threshold, fallback.threshold, `${path}.threshold`),
    windowSec: positiveInt(v.windowSec, fallback.windowSec, `${path}.windowSec`),
  };
}

function section<T extends object>(value: T | false | undefined, path: string): T | false | undefined {
  if (value === undefined || value === false) return value;
  if (value === null || typeof value !== 'object')
    throw configError(path, 'must be an options object or false');
  return value;
}

function stringDetail(entry: AuditEntry, name: string): string | undefined {
  const v = entry.details?.[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function defaultAccountOf(entry: AuditEntry): string | undefined {
  return (
    stringDetail(entry, 'account') ??
    stringDetail(entry, 'username') ??
    (entry.resource !== undefined && (entry.resource.type === 'user' || entry.resource.type === 'account')
      ? entry.resource.id
      : undefined) ??
    (entry.actor !== undefined && entry.actor.type !== 'anonymous' ? entry.actor.id : undefined)
  );
}

function parseHm(value: unknown, path: string): number {
  const m = typeof value === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value) : null;
  if (m === null) throw configError(path, "must be 'HH:MM' (24 h)");
  return Number(m[1]) * 60 + Number(m[2]);
}

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

class BoundedRuleState implements RuleState {
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

  cooldown(key: string, cooldownSec: number): boolean {
    const last = this.cooldowns.get(key);
    if (last !== undefined && this.t - last < cooldownSec * 1000) return false;
    this.cooldowns.set(key, this.t);
    return true;
  }
}

/**
 * Rule-based threat detection over the audit stream (SOC 2 CC7.2/CC7.3, PCI DSS 10.4.1, ISO 27001
 * A.8.16). Attach it as an AuditLog sink, or feed it entries with `observe()`. Hits become
 * security violations: passed to `onViolation`, emitted as `violation`, and (with `auditLog`)
 * appended to the log as `security.violation` events, which the detector then ignores so it can
 * never feed on itself.
 *
 * Windows are measured in event time (the entries' `time`), so replaying a log gives the same
 * violations. A window that fires is emptied: the next violation needs a fresh burst. State is
 * in-process and bounded (LRU keys, capped windows); each instance sees only its own log's entries.
 */
export class ThreatDetector extends EventEmitter implements AuditSink {
  readonly #rules: { rule: DetectionRule; severity: ViolationSeverity; state: BoundedRuleState }[] = [];
  #auditLog?: AuditLog;
  readonly #onViolation?: (violation: SecurityViolation) => void;
  readonly #onError: (error: unknown, context: { rule?: string }) => void;
  readonly #actor: AuditActor;
  readonly #category: string;
  readonly #clock: () => Date;
  #pending = new Set<Promise<void>>();
  #closed = false;

  constructor(options: ThreatDetectorOptions = {}) {
    super();
    const path = options?.configPath ?? 'threat.detector';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    if (options.auditLog !== undefined && typeof options.auditLog?.append !== 'function') {
      throw configError(`${path}.auditLog`, 'must be an AuditLog');
    }
    for (const name of ['onViolation', 'onError', 'clock'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') {
        throw configError(`${path}.${name}`, 'must be a function');
      }
    }
    this.#auditLog = options.auditLog;
    this.#onViolation = options.onViolation;
    this.#onError =
      options.onError ??
      ((error, context) =>
        process.emitWarning(
          `threat detector${context.rule !== undefined ? ` rule '${context.rule}'` : ''} failed: ${
            (error as Error)?.message ?? String(error)
          }`,
          'BulwarkThreatWarning',
        ));
    this.#actor = options.actor ?? { id: 'bulwark-threat-detector', type: 'system' };
    this.#category = options.category ?? 'security';
    this.#clock = options.clock ?? (() => new Date());
    const maxKeys = positiveInt(options.maxKeysPerRule, 10_000, `${path}.maxKeysPerRule`);
    const maxEntries = positiveInt(options.maxEntriesPerKey, 1000, `${path}.maxEntriesPerKey`);

    const add = (rule: DetectionRule, fallback: ViolationSeverity): void => {
      this.#rules.push({
        rule,
        severity: severity(rule.severity, fallback, `${path}.rules.${rule.name}.severity`),
        state: new BoundedRuleState(maxKeys, maxEntries),
      });
    };
    for (const rule of this.#builtins(options, path)) add(rule, 'medium');
    const custom = options.rules ?? [];
    if (!Array.isArray(custom)) throw configError(`${path}.rules`, 'must be an array of DetectionRule');
    const names = new Set<string>();
    custom.forEach((rule: DetectionRule, i) => {
      if (rule === null || typeof rule !== 'object' || typeof rule.evaluate !== 'function') {
        throw configError(`${path}.rules[${i}]`, 'must be { name, evaluate(entry, state) }');
      }
      if (typeof rule.name !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(rule.name)) {
        throw configError(`${path}.rules[${i}].name`, 'must be 1-64 characters of [A-Za-z0-9._-]');
      }
      if (BUILTIN_NAMES.has(rule.name) || names.has(rule.name)) {
        throw configError(`${path}.rules[${i}].name`, `'${rule.name}' is already used by another rule`);
      }
      names.add(rule.name);
      add(rule, 'medium');
    });
  }

  /**
   * Sets the log violations are written to, for the usual wiring where the detector is also one
   * of that log's sinks (the log is opened after the detector exists):
   * `const d = new ThreatDetector(); const log = await AuditLog.open({ store, sinks: [d] }); d.attach(log);`
   */
  attach(auditLog: AuditLog): this {
    if (auditLog === null || typeof auditLog?.append !== 'function') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'threat.detector.auditLog must be an AuditLog',
        {
          path: 'threat.detector.auditLog',
        },
      );
    }
    if (this.#auditLog !== undefined && this.#auditLog !== auditLog) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'threat.detector.auditLog is already set', {
        path: 'threat.detector.auditLog',
      });
    }
    this.#auditLog = auditLog;
    return this;
  }

  /**
   * The detector as non-secret facts (compliance evidence, SOC 2 CC7.2): the rules it runs, in
   * evaluation order, and whether violations are written back to an audit log.
   */
  describe(): { readonly rules: readonly string[]; readonly auditLogAttached: boolean } {
    return Object.freeze({
      rules: Object.freeze(this.#rules.map((r) => r.rule.name)),
      auditLogAttached: this.#auditLog !== undefined && !this.#closed,
    });
  }

  /** AuditSink: evaluates a durable batch and resolves once its violations are in the log. */
  async write(entries: readonly AuditEntry[]): Promise<void> {
    for (const entry of entries) this.observe(entry);
    await this.flush();
  }

  /**
   * Evaluates one entry against every rule and returns the violations it raised (already
   * delivered to listeners; their audit write is queued, see `flush`).
   */
  observe(entry: AuditEntry): SecurityViolation[] {
    if (entry === null || typeof entry !== 'object' || !Number.isSafeInteger(entry.seq)) {
      throw new BulwarkThreatError(
        ErrorCodes.THREAT_INVALID_ARGUMENT,
        'observe() needs a stored AuditEntry (with seq)',
      );
    }
    // Redacted entries have no content; our own violations must never trigger rules (feedback loop).
    if (typeof entry.action !== 'string' || entry.action === SECURITY_VIOLATION_ACTION) return [];
    // A copy that erasure kept as evidence replays an event the rules already saw.
    if (entry.details !== undefined && Object.hasOwn(entry.details, PRESERVED_FROM_KEY)) return [];
    const t = Date.parse(entry.time);
    if (!Number.isFinite(t)) return [];
    const out: SecurityViolation[] = [];
    for (const { rule, severity: fallback, state } of this.#rules) {
      state.seq = entry.seq;
      state.t = t;
      let result: ReturnType<DetectionRule['evaluate']>;
      try {
        result = rule.evaluate(entry, state);
      } catch (error) {
        this.#report(error, rule.name);
        continue;
      }
      if (result === undefined || result === null) continue;
      const hits = (Array.isArray(result) ? result : [result]) as readonly RuleHit[];
      for (const hit of hits) {
        const violation = this.#violation(rule.name, fallback, hit, entry.seq);
        if (violation !== undefined) out.push(violation);
      }
    }
    for (const v of out) this.#raise(v);
    return out;
  }

  /** Resolves when every queued violation event is appended to the audit log. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** AuditSink close: flushes; later violations are still delivered but no longer written. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  #violation(
    rule: string,
    fallback: ViolationSeverity,
    hit: RuleHit,
    seq: number,
  ): SecurityViolation | undefined {
    if (hit === null || typeof hit !== 'object' || typeof hit.message !== 'string' || hit.message === '') {
      this.#report(new TypeError('a rule hit needs a non-empty message'), rule);
      return undefined;
    }
    const sev = hit.severity !== undefined && SEVERITIES.has(hit.severity) ? hit.severity : fallback;
    const seqs = Array.isArray(hit.entries)
      ? hit.entries.filter((s) => Number.isSafeInteger(s)).slice(-MAX_VIOLATION_ENTRIES)
      : [seq];
    const violation: SecurityViolation = {
      rule,
      severity: sev,
      message: hit.message.slice(0, 1000),
      entries: Object.freeze(seqs.length > 0 ? seqs : [seq]),
      at: this.#clock().toISOString(),
    };
    if (hit.subject !== undefined && hit.subject !== null && typeof hit.subject === 'object') {
      const subject: Record<string, string> = {};
      for (const [k, v] of Object.entries(hit.subject))
        if (typeof v === 'string') subject[k] = v.slice(0, 256);
      (violation as { subject?: Readonly<Record<string, string>> }).subject = Object.freeze(subject);
    }
    return Object.freeze(violation);
  }

  #raise(violation: SecurityViolation): void {
    try {
      this.#onViolation?.(violation);
    } catch (error) {
      this.#report(error, violation.rule);
    }
    try {
      this.emit('violation', violation);
    } catch (error) {
      this.#report(error, violation.rule);
    }
    if (this.#auditLog === undefined || this.#closed) return;
    const write = this.#auditLog
      .append({
        actor: this.#actor,
        action: SECURITY_VIOLATION_ACTION,
        // The recorded action (raising the violation) succeeded; how bad it is lives in details.severity.
        outcome: 'success',
        category: this.#category,
        resource: { type: 'detection-rule', id: violation.rule },
        reason: violation.message,
        details: {
          rule: violation.rule,
          severity: violation.severity,
          entries: [...violation.entries],
          at: violation.at,
          ...(violation.subject !== undefined ? { subject: { ...violation.subject } } : {}),
        },
      })
      .then(
        () => undefined,
        (error: unknown) => this.#report(error, violation.rule),
      );
    const tracked = write.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #report(error: unknown, rule?: string): void {
    try {
      this.#onError(error, { rule });
    } catch {
      // an error handler that throws must not stop detection
    }
  }

  #builtins(options: ThreatDetectorOptions, path: string): DetectionRule[] {
    const rules: DetectionRule[] = [];

    const fl = section(options.failedLogins, `${path}.failedLogins`);
    if (fl !== false) {
      const p = `${path}.failedLogins`;
      const o = fl ?? {};
      const isLogin = matcher(
        o.actions ?? ['auth.login', 'auth.login.*', '*.login', 'login'],
        `${p}.actions`,
      );
      const perAccount = burst(o.perAccount, { threshold: 5, windowSec: 300 }, `${p}.perAccount`);
      const perIp = burst(o.perIp, { threshold: 20, windowSec: 300 }, `${p}.perIp`);
      const sev = o.severity === undefined ? undefined : severity(o.severity, 'medium', `${p}.severity`);
      if (o.accountOf !== undefined && typeof o.accountOf !== 'function')
        throw configError(`${p}.accountOf`, 'must be a function');
      const accountOf = o.accountOf ?? defaultAccountOf;
      rules.push({
        name: 'failed-login-burst',
        evaluate(entry, state) {
          if (entry.outcome === 'success' || !isLogin(entry.action!)) return undefined;
          const hits: RuleHit[] = [];
          const account = accountOf(entry);
          if (perAccount !== false && typeof account === 'string' && account !== '') {
            const key = `account:${account}`;
            const w = state.hit(key, perAccount.windowSec);
            if (w.count >= perAccount.threshold) {
              state.reset(key);
              hits.push({
                message: `${w.count} failed logins for one account within ${perAccount.windowSec} s`,
                severity: sev ?? 'medium',
                entries: w.seqs,
                subject: { account },
              });
            }
          }
          const ip = entry.actor?.ip;
          if (perIp !== false && ip !== undefined) {
            const key = `ip:${ip}`;
            const w = state.hit(key, perIp.windowSec);
            if (w.count >= perIp.threshold) {
              state.reset(key);
              hits.push({
                message: `${w.count} failed logins from one IP within ${perIp.windowSec} s (credential stuffing?)`,
                severity: sev ?? 'high',
                entries: w.seqs,
                subject: { ip },
              });
            }
          }
          return hits;
        },
      });
    }

    const da = section(options.deniedAccess, `${path}.deniedAccess`);
    if (da !== false) {
      const p = `${path}.deniedAccess`;
      const o = da ?? {};
      const matches = matcher(o.actions ?? ['*'], `${p}.actions`);
      const b = burst(
        { threshold: o.threshold, windowSec: o.windowSec },
        { threshold: 10, windowSec: 60 },
        p,
      ) as BurstOptions;
      rules.push({
        name: 'denied-access-burst',
        severity: severity(o.severity, 'medium', `${p}.severity`),
        evaluate(entry, state) {
          if (entry.outcome !== 'denied' || entry.actor === undefined || !matches(entry.action!))
            return undefined;
          const key = `${entry.actor.type}:${entry.actor.id}`;
          const w = state.hit(key, b.windowSec);
          if (w.count < b.threshold) return undefined;
          state.reset(key);
          return {
            message: `${w.count} denied requests by one actor within ${b.windowSec} s`,
            entries: w.seqs,
            subject: { actor: entry.actor.id },
          };
        },
      });
    }

    const pc = section(options.privilegeChanges, `${path}.privilegeChanges`);
    if (pc !== false) {
      const p = `${path}.privilegeChanges`;
      const matches = matcher(pc?.actions ?? PRIVILEGE_ACTIONS, `${p}.actions`);
      rules.push({
        name: 'privilege-change',
        severity: severity(pc?.severity, 'high', `${p}.severity`),
        evaluate(entry) {
          if (entry.outcome !== 'success' || !matches(entry.action!)) return undefined;
          const target = entry.resource?.id;
          return {
            message: `privilege change '${entry.action}'${target !== undefined ? ` on ${entry.resource!.type} ${target}` : ''}`,
            subject: { actor: entry.actor?.id ?? 'unknown', ...(target !== undefined ? { target } : {}) },
          };
        },
      });
    }

    const me = section(options.massExport, `${path}.massExport`);
    if (me !== false) {
      const p = `${path}.massExport`;
      const o = me ?? {};
      const matches = matcher(
        o.actions ?? ['*.export', 'export.*', '*.export.*', '*.exported'],
        `${p}.actions`,
      );
      const fields = o.countFields ?? ['count', 'rows', 'records'];
      if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string')) {
        throw configError(`${p}.countFields`, 'must be an array of details field names');
      }
      const large = positiveInt(o.largeCount, 1000, `${p}.largeCount`);
      const b = burst(
        { threshold: o.threshold, windowSec: o.windowSec },
        { threshold: 10, windowSec: 3600 },
        p,
      ) as BurstOptions;
      const sev = o.severity === undefined ? undefined : severity(o.severity, 'medium', `${p}.severity`);
      rules.push({
        name: 'mass-export',
        evaluate(entry, state) {
          if (entry.outcome !== 'success' || !matches(entry.action!)) return undefined;
          const actor = entry.actor?.id ?? 'unknown';
          const hits: RuleHit[] = [];
          const count = fields.map((f) => entry.details?.[f]).find((v) => typeof v === 'number');
          if (typeof count === 'number' && count >= large) {
            hits.push({
              message: `export of ${count} records (threshold ${large})`,
              severity: sev ?? 'high',
              subject: { actor },
            });
          }
          const key = `actor:${actor}`;
          const w = state.hit(key, b.windowSec);
          if (w.count >= b.threshold) {
            state.reset(key);
            hits.push({
              message: `${w.count} exports by one actor within ${b.windowSec} s`,
              severity: sev ?? 'medium',
              entries: w.seqs,
              subject: { actor },
            });
          }
          return hits;
        },
      });
    }

    const bg = section(options.breakGlass, `${path}.breakGlass`);
    if (bg !== false) {
      const p = `${path}.breakGlass`;
      const matches = matcher(bg?.actions ?? ['authz.break_glass.*'], `${p}.actions`);
      rules.push({
        name: 'break-glass',
        severity: severity(bg?.severity, 'high', `${p}.severity`),
        evaluate(entry) {
          if (!matches(entry.action!)) return undefined;
          return {
            message: `break-glass access '${entry.action}' (${entry.outcome ?? 'unknown'}): review required`,
            subject: { actor: entry.actor?.id ?? 'unknown' },
          };
        },
      });
    }

    const oh = section(options.offHours, `${path}.offHours`);
    if (oh !== undefined && oh !== false) {
      rules.push(this.#offHours(oh, `${path}.offHours`));
    }
    return rules;
  }

  #offHours(o: OffHoursRuleOptions, p: string): DetectionRule {
    if (typeof o.timeZone !== 'string') throw configError(`${p}.timeZone`, 'must be an IANA time zone name');
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: o.timeZone,
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      throw configError(`${p}.timeZone`, `is not a known IANA time zone: '${o.timeZone.slice(0, 64)}'`);
    }
    const start = parseHm(o.start, `${p}.start`);
    const end = parseHm(o.end, `${p}.end`);
    if (start === end) throw configError(`${p}.end`, 'must differ from start');
    const days = o.days ?? [1, 2, 3, 4, 5];
    if (!Array.isArray(days) || days.some((d) => !Number.isInteger(d) || d < 1 || d > 7)) {
      throw configError(`${p}.days`, 'must be an array of ISO weekdays 1 (Monday) to 7 (Sunday)');
    }
    const workdays = new Set(days);
    const matches = matcher(o.actions ?? ['*'], `${p}.actions`);
    const actorTypes = new Set<string>(o.actorTypes ?? ['user']);
    const cooldownSec = positiveInt(o.cooldownSec, 3600, `${p}.cooldownSec`);
    const timeZone = o.timeZone;
    return {
      name: 'off-hours-access',
      severity: severity(o.severity, 'low', `${p}.severity`),
      evaluate(entry, state) {
        if (entry.actor === undefined || !actorTypes.has(entry.actor.type) || !matches(entry.action!))
          return undefined;
        const parts = format.formatToParts(new Date(entry.time));
        const get = (type: string): string => parts.find((x) => x.type === type)?.value ?? '';
        const weekday = WEEKDAYS[get('weekday')];
        const minutes = Number(get('hour')) * 60 + Number(get('minute'));
        // A shift spanning midnight (start > end) belongs to the day it started on.
        const inShift =
          start < end
            ? weekday !== undefined && workdays.has(weekday) && minutes >= start && minutes < end
            : weekday !== undefined &&
              ((minutes >= start && workdays.has(weekday)) ||
                (minutes < end && workdays.has(weekday === 1 ? 7 : weekday - 1)));
        if (inShift) return undefined;
        if (!state.cooldown(`actor:${entry.actor.type}:${entry.actor.id}`, cooldownSec)) return undefined;
        const local = `${get('weekday')} ${get('hour')}:${get('minute')}`;
        return {
          message: `'${entry.action}' outside working hours (${local} ${timeZone})`,
          subject: { actor: entry.actor.id },
        };
      },
    };
  }
}
