import type { ViolationSeverity } from '../threat/detection-rule';

/** How bad an alert is; the same scale as detection severities (and audit event severities). */
export type AlertSeverity = ViolationSeverity;

/** Severities from least to most severe. */
export const ALERT_SEVERITIES: readonly AlertSeverity[] = Object.freeze([
  'low',
  'medium',
  'high',
  'critical',
]);

/** Rank of a severity (low 0 … critical 3), for `minSeverity` comparisons. */
export function severityRank(severity: AlertSeverity): number {
  return ALERT_SEVERITIES.indexOf(severity);
}

/** What a caller raises: the router fills in `id` and `at`. */
export interface AlertInput {
  /** The rule or alarm that raised it (`failed-login-burst`, `integrity.audit-write-failure`). */
  rule: string;
  severity: AlertSeverity;
  /** `detection` (a violation), `integrity` (an integrity alarm), `test`, or the app's own. */
  category: string;
  /** One line for a person; never personal data beyond the subject keys. */
  message: string;
  /** What the rule keyed on (account hash, ip, actor): also the de-duplication key. */
  subject?: Readonly<Record<string, string>>;
  /** Audit sequence numbers behind it. */
  entries?: readonly number[];
  /** The detector's explainable risk score, when it came from a violation. */
  risk?: AlertRisk;
}

/** An explainable risk score: the total and the weighted signals that make it up. */
export interface AlertRisk {
  readonly score: number;
  readonly signals: readonly { readonly name: string; readonly weight: number }[];
}

/** An alert as delivered to every channel. */
export interface Alert extends AlertInput {
  /** Unique id (`alrt_…`): the Standard Webhooks `webhook-id`, the e-mail Message-ID, the NATS msg id. */
  readonly id: string;
  /** ISO-8601 UTC time it was raised. */
  readonly at: string;
  /** Repeats of the same key suppressed by de-duplication since the previous delivered alert. */
  readonly suppressed?: number;
  /** True for `alertRouter.test()` alerts (compliance evidence that the path works). */
  readonly test?: boolean;
}

/** A destination: webhook, e-mail, Slack, NATS, or the app's own. `send` throws when it failed. */
export interface AlertChannel {
  /** Unique name, `[A-Za-z0-9._-]{1,64}` (used in routes, spool directories and audit events). */
  readonly name: string;
  /** `webhook`, `slack`, `email`, `nats`, … (non-secret; shown in compliance evidence). */
  readonly kind: string;
  send(alert: Alert): Promise<void>;
  close?(): Promise<void> | void;
}

/** One-line title shared by the channels that need one (e-mail subject, Slack text). */
export function alertTitle(alert: Alert): string {
  return `[${alert.severity.toUpperCase()}] ${alert.test === true ? 'test alert' : alert.rule}: ${alert.message}`.slice(
    0,
    200,
  );
}
