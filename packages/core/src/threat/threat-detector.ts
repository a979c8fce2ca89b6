import { EventEmitter } from 'node:events';
import type { AuditActor, AuditEntry } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import type { AuditSink } from '../audit/audit-sink';
import { PRESERVED_FROM_KEY } from '../audit/subject-pseudonymizer';
import { BulwarkConfigError, BulwarkThreatError, ErrorCodes } from '../errors';
import { configError, positiveInt } from '../util/options';
import { builtinRules, BUILTIN_NAMES, severity } from './builtin-rules';
import type {
  BreakGlassRuleOptions,
  DeniedAccessRuleOptions,
  FailedLoginRuleOptions,
  MassExportRuleOptions,
  OffHoursRuleOptions,
  PrivilegeChangeRuleOptions,
} from './builtin-rules';
import {
  BoundedRuleState,
  SEVERITIES,
  type BuiltinRule,
  type DetectionRule,
  type RuleHit,
  type RuleResult,
  type SecurityViolation,
  type ViolationSeverity,
  type WindowedDetectionRule,
} from './detection-rule';
import { SharedRuleState, type DetectionWindowStore } from './detection-window-store';
import {
  riskConfig,
  scoreViolation,
  type RiskOptions,
  type RiskWeights,
  type ViolationRisk,
} from './risk-score';

export type {
  DetectionRule,
  RuleHit,
  RuleState,
  SecurityViolation,
  ViolationSeverity,
  WindowedDetectionRule,
  WindowState,
} from './detection-rule';
export {
  PRIVILEGE_ACTIONS,
  type BreakGlassRuleOptions,
  type BurstOptions,
  type DeniedAccessRuleOptions,
  type FailedLoginRuleOptions,
  type MassExportRuleOptions,
  type OffHoursRuleOptions,
  type PrivilegeChangeRuleOptions,
} from './builtin-rules';

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
  /**
   * Custom rules: `DetectionRule`s (their own in-process state), or `WindowedDetectionRule`s
   * (`windowed: true`: bursts and cooldowns in the shared `windows` store when there is one).
   */
  rules?: readonly (DetectionRule | WindowedDetectionRule)[];
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
  /**
   * Shared windows for the built-in rules (e.g. `new RedisDetectionWindowStore({ redis })`), so N
   * instances detect what one would: a burst split between instances fires once. Entries are then
   * evaluated asynchronously (`write()` / `observeAsync()`; `observe()` refuses). Custom rules keep
   * their state in process memory.
   */
  windows?: DetectionWindowStore;
  /**
   * Risk scoring of violations: signal weights and the minimum score to raise a violation (default
   * 0: all raised). Every violation carries `risk: { score, signals }`.
   */
  risk?: RiskOptions;
}

/** Action of the audit events the detector writes (and ignores when they come back). */
export const SECURITY_VIOLATION_ACTION = 'security.violation';

const MAX_VIOLATION_ENTRIES = 100;

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
  readonly #rules: {
    rule: DetectionRule | BuiltinRule;
    severity: ViolationSeverity;
    state: BoundedRuleState;
    shared?: SharedRuleState;
  }[] = [];
  readonly #windows?: DetectionWindowStore;
  /** Shared evaluation runs one entry at a time, in order (a rule's windows see entries in seq order). */
  #queue: Promise<unknown> = Promise.resolve();
  #auditLog?: AuditLog;
  readonly #onViolation?: (violation: SecurityViolation) => void;
  readonly #onError: (error: unknown, context: { rule?: string }) => void;
  readonly #actor: AuditActor;
  readonly #category: string;
  readonly #clock: () => Date;
  readonly #risk: { weights: RiskWeights; minScore: number };
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
    this.#risk = riskConfig(options.risk, `${path}.risk`);
    const maxKeys = positiveInt(options.maxKeysPerRule, `${path}.maxKeysPerRule`, 10_000);
    const maxEntries = positiveInt(options.maxEntriesPerKey, `${path}.maxEntriesPerKey`, 1000);

    if (options.windows !== undefined) {
      const w = options.windows as Partial<DetectionWindowStore> | null;
      if (
        w === null ||
        typeof w !== 'object' ||
        typeof w.burst !== 'function' ||
        typeof w.cooldown !== 'function'
      ) {
        throw configError(`${path}.windows`, 'must be a DetectionWindowStore (burst, cooldown)');
      }
      this.#windows = options.windows;
    }
    const add = (rule: DetectionRule | BuiltinRule, fallback: ViolationSeverity, windowed = false): void => {
      this.#rules.push({
        rule,
        severity: severity(rule.severity, fallback, `${path}.rules.${rule.name}.severity`),
        state: new BoundedRuleState(maxKeys, maxEntries),
        ...(windowed && this.#windows !== undefined
          ? { shared: new SharedRuleState(rule.name, this.#windows, maxEntries) }
          : {}),
      });
    };
    for (const rule of builtinRules(options, path)) add(rule, 'medium', true);
    const custom = options.rules ?? [];
    if (!Array.isArray(custom)) throw configError(`${path}.rules`, 'must be an array of DetectionRule');
    const names = new Set<string>();
    custom.forEach((rule: DetectionRule | WindowedDetectionRule, i) => {
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
      const windowed = (rule as Partial<WindowedDetectionRule>).windowed;
      if (windowed !== undefined && typeof windowed !== 'boolean') {
        throw configError(`${path}.rules[${i}].windowed`, 'must be true or false');
      }
      add(rule as DetectionRule | BuiltinRule, 'medium', windowed === true);
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
    for (const entry of entries) {
      if (this.#windows === undefined) this.observe(entry);
      else await this.observeAsync(entry);
    }
    await this.flush();
  }

  /**
   * observe() for any detector, shared windows included: evaluates one entry (after the entries
   * handed in before it) and resolves with the violations it raised. A shared store that fails
   * is reported to `onError`; the rules that needed it raise nothing for this entry.
   */
  observeAsync(entry: AuditEntry): Promise<SecurityViolation[]> {
    this.#checkEntry(entry);
    const run = this.#queue.then(() => this.#evaluateAsync(entry));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #evaluateAsync(entry: AuditEntry): Promise<SecurityViolation[]> {
    const t = this.#eligible(entry);
    if (t === undefined) return [];
    const out: SecurityViolation[] = [];
    for (const { rule, severity: fallback, state, shared } of this.#rules) {
      let result: RuleResult;
      try {
        if (shared !== undefined) {
          shared.seq = entry.seq;
          shared.t = t;
          result = await (rule as BuiltinRule).evaluate(entry, shared);
        } else {
          state.seq = entry.seq;
          state.t = t;
          result = await (rule as DetectionRule).evaluate(entry, state);
        }
      } catch (error) {
        this.#report(error, rule.name);
        continue;
      }
      this.#collect(rule.name, fallback, result, entry.seq, out);
    }
    for (const v of out) this.#raise(v);
    return out;
  }

  #checkEntry(entry: AuditEntry): void {
    if (entry === null || typeof entry !== 'object' || !Number.isSafeInteger(entry.seq)) {
      throw new BulwarkThreatError(
        ErrorCodes.THREAT_INVALID_ARGUMENT,
        'observe() needs a stored AuditEntry (with seq)',
      );
    }
  }

  /** The entry's event time when the rules should see it, else undefined. */
  #eligible(entry: AuditEntry): number | undefined {
    // Redacted entries have no content; our own violations must never trigger rules (feedback loop).
    if (typeof entry.action !== 'string' || entry.action === SECURITY_VIOLATION_ACTION) return undefined;
    // A copy that erasure kept as evidence replays an event the rules already saw.
    if (entry.details !== undefined && Object.hasOwn(entry.details, PRESERVED_FROM_KEY)) return undefined;
    const t = Date.parse(entry.time);
    return Number.isFinite(t) ? t : undefined;
  }

  #collect(
    rule: string,
    fallback: ViolationSeverity,
    result: RuleResult,
    seq: number,
    out: SecurityViolation[],
  ): void {
    if (result === undefined || result === null) return;
    const hits = (Array.isArray(result) ? result : [result]) as readonly RuleHit[];
    for (const hit of hits) {
      const violation = this.#violation(rule, fallback, hit, seq);
      if (violation !== undefined) out.push(violation);
    }
  }

  /**
   * Evaluates one entry against every rule and returns the violations it raised (already
   * delivered to listeners; their audit write is queued, see `flush`).
   */
  observe(entry: AuditEntry): SecurityViolation[] {
    this.#checkEntry(entry);
    if (this.#windows !== undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'a detector with shared windows evaluates asynchronously: use observeAsync() (or attach it as a sink)',
        { path: 'threat.detector.windows' },
      );
    }
    const t = this.#eligible(entry);
    if (t === undefined) return [];
    const out: SecurityViolation[] = [];
    for (const { rule, severity: fallback, state } of this.#rules) {
      state.seq = entry.seq;
      state.t = t;
      let result: RuleResult | Promise<RuleResult>;
      try {
        // In memory every rule, built-in or custom, answers synchronously.
        result = (rule as DetectionRule).evaluate(entry, state);
      } catch (error) {
        this.#report(error, rule.name);
        continue;
      }
      if (result instanceof Promise) {
        result.catch(() => undefined);
        this.#report(new TypeError('a custom rule must answer synchronously (use observeAsync)'), rule.name);
        continue;
      }
      this.#collect(rule.name, fallback, result, entry.seq, out);
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
    const risk = scoreViolation(
      { ...violation, signals: Array.isArray(hit.signals) ? hit.signals : undefined },
      this.#risk.weights,
    );
    if (risk.score < this.#risk.minScore) return undefined;
    (violation as { risk?: ViolationRisk }).risk = risk;
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
          ...(violation.risk !== undefined
            ? {
                risk: { score: violation.risk.score, signals: violation.risk.signals.map((x) => ({ ...x })) },
              }
            : {}),
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
}
