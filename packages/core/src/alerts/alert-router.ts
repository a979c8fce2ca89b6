import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditLog } from '../audit/audit-log';
import { BulwarkAlertError, ErrorCodes } from '../errors';
import type { SecurityViolation } from '../threat/detection-rule';
import { configError, positiveInt } from '../util/options';
import type { Alert, AlertChannel, AlertInput } from './alert';
import { ALERT_SEVERITIES } from './alert';
import { AlertRouting, type AlertRoutingOptions, type RouteDecision } from './alert-routing';
import { checkChannelName } from './channel-name';
import { MemoryPendingQueue, SpoolPendingQueue, type PendingQueue } from './pending-queue';

/** Integrity alarms: critical by default, whatever the routing says about severity. */
export type IntegrityAlarm =
  | 'audit-write-failure'
  | 'audit-verify-failed'
  | 'audit-truncation'
  | 'key-unwrap-failed'
  | 'break-glass-used';

export const INTEGRITY_ALARMS: readonly IntegrityAlarm[] = Object.freeze([
  'audit-write-failure',
  'audit-verify-failed',
  'audit-truncation',
  'key-unwrap-failed',
  'break-glass-used',
]);

/** Audit actions the router records for each delivery. */
export const ALERT_AUDIT_ACTIONS = Object.freeze({
  delivered: 'alert.delivered',
  failed: 'alert.failed',
} as const);

export interface AlertRetryOptions {
  /** Attempts per channel before the alert is queued. Default 3. */
  attempts?: number;
  /** First back-off delay; doubles per attempt, with ±50 % jitter. Default 500 ms. */
  baseDelayMs?: number;
  /** Back-off ceiling. Default 60 000 ms. */
  maxDelayMs?: number;
  /** How often queued alerts are retried in the background (0: only through `retryPending()`). Default 30 000 ms. */
  intervalMs?: number;
}

export interface AlertRouterOptions extends AlertRoutingOptions {
  channels: readonly AlertChannel[];
  /** Durable retry queue: a directory (one audit spool per channel). Without it failed alerts wait in memory. */
  spool?: { dir: string; maxBytes?: number };
  retry?: AlertRetryOptions;
  /** Where `alert.delivered` / `alert.failed` are recorded (or `attach()` it later). */
  auditLog?: AuditLog;
  /** Integrity alarms raised by createBulwark's wiring (audit write failures, break-glass use, …). Default true. */
  integrityAlarms?: boolean;
  clock?: () => Date;
  /** Called when recording a delivery fails. Default: a process warning (code only). */
  onError?: (error: unknown) => void;
  configPath?: string;
}

/** What happened to one alert. */
export interface AlertOutcome {
  readonly alert: Alert;
  readonly decision: RouteDecision;
  /** Channels that took it now. */
  readonly delivered: readonly string[];
  /** Channels that failed: the alert waits in their retry queue. */
  readonly queued: readonly string[];
}

/** A delivery, for compliance evidence. */
export interface AlertDeliveryRecord {
  readonly at: string;
  readonly channel: string;
  readonly alertId: string;
  readonly test: boolean;
}

const SYSTEM_ACTOR = Object.freeze({ id: 'bulwark-alerts', type: 'system' as const });

/**
 * Routes alerts (detector violations, integrity alarms, the app's own) to channels and delivers
 * them: a few attempts with exponential back-off and jitter, then a durable per-channel queue
 * retried in the background until the receiver is back. Every delivery and every failure is
 * itself an audit event (`alert.delivered`, `alert.failed`): evidence that people were told.
 */
export class AlertRouter {
  readonly #channels = new Map<string, AlertChannel>();
  readonly #routing: AlertRouting;
  readonly #queues = new Map<string, PendingQueue>();
  readonly #backoff = new Map<string, { failures: number; nextAt: number }>();
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #clock: () => Date;
  readonly #onError: (error: unknown) => void;
  readonly integrityAlarms: boolean;
  #auditLog?: AuditLog;
  #timer?: NodeJS.Timeout;
  #draining?: Promise<unknown>;
  #lastDelivery?: AlertDeliveryRecord;
  #closed = false;

  private constructor(options: AlertRouterOptions, path: string) {
    if (!Array.isArray(options.channels) || options.channels.length === 0) {
      throw configError(`${path}.channels`, 'must list at least one alert channel');
    }
    options.channels.forEach((c: AlertChannel, i) => {
      if (c === null || typeof c !== 'object' || typeof c.send !== 'function') {
        throw configError(
          `${path}.channels[${i}]`,
          'must be an AlertChannel (WebhookChannel, EmailChannel, NatsChannel, …)',
        );
      }
      const name = checkChannelName(c.name, `${path}.channels[${i}].name`);
      if (this.#channels.has(name))
        throw configError(`${path}.channels[${i}].name`, `'${name}' is used twice`);
      this.#channels.set(name, c);
    });
    this.#routing = new AlertRouting(options, new Set(this.#channels.keys()), path);
    const r = options.retry ?? {};
    this.#attempts = positiveInt(r.attempts, `${path}.retry.attempts`, 3);
    this.#baseDelayMs = positiveInt(r.baseDelayMs, `${path}.retry.baseDelayMs`, 500);
    this.#maxDelayMs = positiveInt(r.maxDelayMs, `${path}.retry.maxDelayMs`, 60_000);
    this.#clock = options.clock ?? (() => new Date());
    this.#onError =
      options.onError ??
      ((e) =>
        process.emitWarning(
          `alert router: ${(e as { code?: string })?.code ?? (e as Error)?.name ?? 'error'}`,
          'BulwarkAlertWarning',
        ));
    this.integrityAlarms = options.integrityAlarms ?? true;
    this.#auditLog = options.auditLog;
  }

  /** Validates the options, opens the retry queues (replaying what a previous run left) and starts the retry timer. */
  static async open(options: AlertRouterOptions): Promise<AlertRouter> {
    const path = options?.configPath ?? 'alerts';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    const router = new AlertRouter(options, path);
    const spool = options.spool;
    if (spool !== undefined && (spool === null || typeof spool.dir !== 'string' || spool.dir === '')) {
      throw configError(`${path}.spool.dir`, 'must be a directory path');
    }
    const maxBytes = positiveInt(spool?.maxBytes, `${path}.spool.maxBytes`, 16 * 1024 * 1024);
    try {
      for (const name of router.#channels.keys()) {
        router.#queues.set(
          name,
          spool === undefined
            ? new MemoryPendingQueue()
            : await SpoolPendingQueue.open(spool.dir, name, maxBytes),
        );
      }
    } catch (err) {
      await router.close();
      throw err;
    }
    const intervalMs = options.retry?.intervalMs ?? 30_000;
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 0) {
      throw configError(`${path}.retry.intervalMs`, 'must be a non-negative integer');
    }
    if (intervalMs > 0) {
      router.#timer = setInterval(() => void router.#retryDue(), intervalMs);
      router.#timer.unref();
    }
    return router;
  }

  /** Sets the audit log deliveries are recorded in (the log is often opened after the router). */
  attach(auditLog: AuditLog): this {
    if (typeof auditLog?.append !== 'function') throw configError('alerts.auditLog', 'must be an AuditLog');
    this.#auditLog = auditLog;
    return this;
  }

  /** Routes and delivers one alert; resolves once every chosen channel delivered it or queued it. */
  async notify(input: AlertInput): Promise<AlertOutcome> {
    const alert = this.#alert(input);
    const decision = await this.#routing.decideShared(alert, this.#clock().getTime(), this.#onError);
    if (!decision.deliver) return Object.freeze({ alert, decision, delivered: [], queued: [] });
    const delivered: string[] = [];
    const queued: string[] = [];
    const withCount: Alert = decision.suppressed > 0 ? { ...alert, suppressed: decision.suppressed } : alert;
    await Promise.all(
      decision.channels.map(async (name) => {
        if (await this.#deliver(name, withCount)) delivered.push(name);
        else queued.push(name);
      }),
    );
    return Object.freeze({ alert: withCount, decision, delivered, queued });
  }

  /** A detector violation as an alert (category `detection`, the violation's severity, subject and risk). */
  notifyViolation(violation: SecurityViolation & { risk?: AlertInput['risk'] }): Promise<AlertOutcome> {
    return this.notify({
      rule: violation.rule,
      // Break-glass use is an integrity alarm: critical by default.
      severity: violation.rule === 'break-glass' && this.integrityAlarms ? 'critical' : violation.severity,
      category: 'detection',
      message: violation.message,
      entries: violation.entries,
      ...(violation.subject !== undefined ? { subject: violation.subject } : {}),
      ...(violation.risk !== undefined ? { risk: violation.risk } : {}),
    });
  }

  /** An integrity alarm: always `critical` (quiet hours and rate limits never hold it back). */
  integrityAlarm(
    kind: IntegrityAlarm,
    message: string,
    subject?: Record<string, string>,
  ): Promise<AlertOutcome> {
    return this.notify({
      rule: `integrity.${kind}`,
      severity: 'critical',
      category: 'integrity',
      message,
      ...(subject !== undefined ? { subject } : {}),
    });
  }

  /**
   * Sends a test alert to every channel (no routing, no de-duplication): proves the path works and
   * is recorded like any delivery, which the compliance check accepts as evidence.
   */
  async test(): Promise<AlertOutcome> {
    const alert = {
      ...this.#alert({
        rule: 'alert.test',
        severity: 'low',
        category: 'test',
        message: 'Bulwark test alert',
      }),
      test: true,
    };
    const delivered: string[] = [];
    const queued: string[] = [];
    const channels = [...this.#channels.keys()];
    await Promise.all(
      channels.map(async (name) => ((await this.#deliver(name, alert)) ? delivered : queued).push(name)),
    );
    return Object.freeze({
      alert,
      decision: { deliver: true as const, channels, suppressed: 0 },
      delivered,
      queued,
    });
  }

  /**
   * Retries every queued alert now (ignoring back-off), oldest first per channel, stopping at a
   * channel's first failure. Resolves with what was delivered and what is still waiting.
   */
  async retryPending(): Promise<{ delivered: number; pending: number }> {
    return this.#drain(true);
  }

  #retryDue(): Promise<unknown> {
    return this.#drain(false).catch((e: unknown) => this.#onError(e));
  }

  async #drain(force: boolean): Promise<{ delivered: number; pending: number }> {
    // One drain at a time: a timer tick during a manual retry waits for it.
    while (this.#draining !== undefined) await this.#draining.catch(() => undefined);
    const run = this.#drainOnce(force);
    this.#draining = run;
    try {
      return await run;
    } finally {
      this.#draining = undefined;
    }
  }

  async #drainOnce(force: boolean): Promise<{ delivered: number; pending: number }> {
    let delivered = 0;
    const now = this.#clock().getTime();
    for (const [name, queue] of this.#queues) {
      const b = this.#backoff.get(name);
      if (!force && b !== undefined && now < b.nextAt) continue;
      for (;;) {
        if (this.#closed) break;
        const json = await queue.peek();
        if (json === undefined) break;
        const alert = queuedAlert(json);
        if (alert === undefined) {
          // It can never be sent; left at the head it would block the channel's queue forever.
          await queue.ack();
          this.#onError(
            new BulwarkAlertError(
              ErrorCodes.ALERT_DELIVERY_FAILED,
              'alert router: dropped an unreadable queued alert',
              {
                channel: name,
                reason: 'unreadable-queued-alert',
              },
            ),
          );
          continue;
        }
        try {
          await this.#channels.get(name)!.send(alert);
        } catch {
          this.#failedOnce(name);
          break;
        }
        await queue.ack();
        this.#backoff.delete(name);
        delivered++;
        this.#delivered(name, alert, { fromQueue: true });
      }
    }
    return { delivered, pending: this.pending() };
  }

  /** Alerts waiting in the retry queues. */
  pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.size();
    return n;
  }

  /**
   * The router as non-secret facts (compliance evidence, SOC 2 CC7.3): channel names and kinds,
   * routes, the last successful delivery, and whether integrity alarms are wired.
   */
  describe(): {
    readonly channels: readonly { readonly name: string; readonly kind: string }[];
    readonly lastDelivery?: AlertDeliveryRecord;
    readonly pending: number;
    readonly integrityAlarms: boolean;
    readonly durableQueue: boolean;
  } {
    return Object.freeze({
      channels: Object.freeze(
        [...this.#channels.values()].map((c) => Object.freeze({ name: c.name, kind: c.kind })),
      ),
      ...(this.#lastDelivery !== undefined ? { lastDelivery: this.#lastDelivery } : {}),
      pending: this.pending(),
      integrityAlarms: this.integrityAlarms,
      durableQueue: [...this.#queues.values()].some((q) => q instanceof SpoolPendingQueue),
    });
  }

  /** Stops the retry timer and closes the queues (their content stays for the next open) and the channels. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#draining?.catch(() => undefined);
    for (const q of this.#queues.values()) await q.close().catch((e: unknown) => this.#onError(e));
    for (const c of this.#channels.values())
      await Promise.resolve(c.close?.()).catch((e: unknown) => this.#onError(e));
  }

  #alert(input: AlertInput): Alert {
    if (input === null || typeof input !== 'object') throw configError('alert', 'must be an alert object');
    if (typeof input.rule !== 'string' || input.rule === '')
      throw configError('alert.rule', 'must be a non-empty string');
    if (!ALERT_SEVERITIES.includes(input.severity)) {
      throw configError('alert.severity', `must be one of ${ALERT_SEVERITIES.join(', ')}`);
    }
    if (typeof input.message !== 'string') throw configError('alert.message', 'must be a string');
    return {
      ...input,
      rule: input.rule.slice(0, 128),
      category:
        typeof input.category === 'string' && input.category !== ''
          ? input.category.slice(0, 64)
          : 'detection',
      message: input.message.slice(0, 1000),
      id: `alrt_${randomBytes(16).toString('base64url')}`,
      at: this.#clock().toISOString(),
    };
  }

  /** Attempts with back-off; on the last failure queues the alert. True when delivered now. */
  async #deliver(name: string, alert: Alert): Promise<boolean> {
    const channel = this.#channels.get(name)!;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (attempt > 1) await sleep(this.#delay(attempt - 2));
      try {
        await channel.send(alert);
        this.#delivered(name, alert, { attempts: attempt });
        return true;
      } catch (err) {
        lastError = err;
      }
    }
    // Closed (or the queue refused it): nothing waits for a retry, and the record says so.
    const queued =
      !this.#closed &&
      (await this.#queues
        .get(name)!
        .append(JSON.stringify(alert))
        .then(
          () => true,
          (e: unknown) => {
            this.#onError(e);
            return false;
          },
        ));
    this.#failedOnce(name);
    this.#record(ALERT_AUDIT_ACTIONS.failed, 'failure', name, alert, {
      attempts: this.#attempts,
      queued,
      error: (lastError as { details?: { reason?: string } })?.details?.reason ?? 'failed',
    });
    return false;
  }

  /** Exponential back-off with ±50 % jitter (spreads retries of many instances). */
  #delay(n: number): number {
    const base = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(n, 30));
    return Math.round(base * (0.5 + Math.random()));
  }

  #failedOnce(name: string): void {
    const failures = (this.#backoff.get(name)?.failures ?? 0) + 1;
    this.#backoff.set(name, { failures, nextAt: this.#clock().getTime() + this.#delay(failures) });
  }

  #delivered(name: string, alert: Alert, extra: Record<string, unknown>): void {
    this.#lastDelivery = Object.freeze({
      at: this.#clock().toISOString(),
      channel: name,
      alertId: alert.id,
      test: alert.test === true,
    });
    this.#record(ALERT_AUDIT_ACTIONS.delivered, 'success', name, alert, extra);
  }

  #record(
    action: string,
    outcome: 'success' | 'failure',
    channel: string,
    alert: Alert,
    extra: Record<string, unknown>,
  ): void {
    if (this.#auditLog === undefined) return;
    // Not awaited: an audit log that is failing must not stop alerts (its failure is itself an alarm).
    this.#auditLog
      .append({
        actor: SYSTEM_ACTOR,
        action,
        outcome,
        category: 'security',
        resource: { type: 'alert-channel', id: channel },
        details: {
          alertId: alert.id,
          rule: alert.rule,
          severity: alert.severity,
          kind: this.#channels.get(channel)?.kind,
          ...(alert.test === true ? { test: true } : {}),
          ...extra,
        },
      })
      .catch((e: unknown) => this.#onError(e));
  }
}

/** A queued alert read back, or undefined when the record is not an alert (unparsable, truncated). */
function queuedAlert(json: string): Alert | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const alert = value as Partial<Alert> | null;
  return typeof alert === 'object' &&
    alert !== null &&
    typeof alert.id === 'string' &&
    typeof alert.rule === 'string'
    ? (alert as Alert)
    : undefined;
}
