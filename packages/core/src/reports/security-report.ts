import type { AuditEntry } from '../audit/audit-event';
import type { AuditLog, AuditLogQuery } from '../audit/audit-log';
import { SECURITY_VIOLATION_ACTION } from '../threat/threat-detector';
import { configError } from '../util/options';

/** A figure of the report and the audit query that reproduces it. */
export interface SecurityFigure {
  readonly count: number;
  /** Pass to `auditLog.query()` (with the period) to list the entries behind the count. */
  readonly query: Readonly<AuditLogQuery>;
  /** The same as a `bulwark audit export` command line. */
  readonly command: string;
}

/** A ranked key (route, subject, rule, actor) and its count. */
export interface RankedCount {
  readonly key: string;
  readonly count: number;
}

export interface SecurityDay {
  /** UTC date, YYYY-MM-DD. */
  readonly day: string;
  readonly signInFailures: number;
  readonly denials: number;
  readonly violations: number;
}

/** What happened over a period, read from the audit log (every count is reproducible). */
export interface SecurityReport {
  readonly period: { readonly from: string; readonly to: string };
  readonly generatedAt: string;
  readonly entries: number;
  readonly figures: {
    readonly signIns: SecurityFigure;
    readonly signInFailures: SecurityFigure;
    readonly lockouts: SecurityFigure;
    readonly denials: SecurityFigure;
    readonly breakGlassGrants: SecurityFigure;
    readonly breakGlassUses: SecurityFigure;
    readonly violations: SecurityFigure;
    readonly dsrReceived: SecurityFigure;
    readonly dsrCompleted: SecurityFigure;
    /** Key-management events (`keys.*`: rotations, retirements) an app or the CLI recorded. */
    readonly keyEvents: SecurityFigure;
    readonly auditReviews: SecurityFigure;
    readonly alertsDelivered: SecurityFigure;
    readonly alertsFailed: SecurityFigure;
  };
  readonly denialsByRoute: readonly RankedCount[];
  readonly denialsBySubject: readonly RankedCount[];
  readonly violationsByRule: readonly RankedCount[];
  readonly topActors: readonly RankedCount[];
  readonly daily: readonly SecurityDay[];
}

export interface SecurityReportOptions {
  /** Inclusive start. */
  from: Date | string;
  /** Exclusive end. */
  to: Date | string;
  /** Length of the ranked lists. Default 10. */
  top?: number;
  clock?: () => Date;
}

type FigureName = keyof SecurityReport['figures'];

/** Each figure: its query (what the CLI and `query()` reproduce) and the predicate counting it. */
const FIGURES: Readonly<Record<FigureName, { query: AuditLogQuery; match: (e: AuditEntry) => boolean }>> = {
  signIns: {
    query: { action: 'auth.login', outcome: 'success' },
    match: (e) => e.action === 'auth.login' && e.outcome === 'success',
  },
  signInFailures: {
    query: { action: 'auth.login', outcome: 'failure' },
    match: (e) => e.action === 'auth.login' && e.outcome === 'failure',
  },
  lockouts: { query: { action: 'auth.lockout' }, match: (e) => e.action === 'auth.lockout' },
  denials: { query: { outcome: 'denied' }, match: (e) => e.outcome === 'denied' },
  breakGlassGrants: {
    query: { action: 'authz.break_glass.granted' },
    match: (e) => e.action === 'authz.break_glass.granted',
  },
  breakGlassUses: {
    query: { action: 'authz.break_glass.used' },
    match: (e) => e.action === 'authz.break_glass.used',
  },
  violations: {
    query: { action: SECURITY_VIOLATION_ACTION },
    match: (e) => e.action === SECURITY_VIOLATION_ACTION,
  },
  dsrReceived: { query: { action: 'dsr.received' }, match: (e) => e.action === 'dsr.received' },
  dsrCompleted: { query: { action: 'dsr.completed' }, match: (e) => e.action === 'dsr.completed' },
  keyEvents: { query: { action: 'keys.*' }, match: (e) => e.action?.startsWith('keys.') === true },
  auditReviews: { query: { action: 'audit.log.reviewed' }, match: (e) => e.action === 'audit.log.reviewed' },
  alertsDelivered: { query: { action: 'alert.delivered' }, match: (e) => e.action === 'alert.delivered' },
  alertsFailed: { query: { action: 'alert.failed' }, match: (e) => e.action === 'alert.failed' },
};

const FLAGS: Readonly<Record<string, string>> = {
  action: '--action',
  outcome: '--outcome',
  from: '--from',
  to: '--to',
};

function command(query: AuditLogQuery): string {
  const args = Object.entries(query).map(([k, v]) => `${FLAGS[k] ?? `--${k}`} ${String(v)}`);
  return ['bulwark audit export', ...args].join(' ');
}

function isoDate(value: Date | string, path: string): string {
  const t = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(t)) throw configError(path, 'must be a date (Date or ISO 8601 string)');
  return new Date(t).toISOString();
}

function ranked(counts: Map<string, number>, top: number): RankedCount[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, top)
    .map(([key, count]) => ({ key, count }));
}

const bump = (m: Map<string, number>, key: string | undefined): void => {
  if (key !== undefined) m.set(key, (m.get(key) ?? 0) + 1);
};

/**
 * The security report over `[from, to)`: sign-ins and failures, lockouts, denials by route and by
 * subject, break-glass grants and uses, violations by rule, data-subject requests, key rotations,
 * audit reviews, alert deliveries; per-day trends and the most active actors. Read from the audit
 * log page by page; each figure names the query that lists its entries.
 */
export async function securityReport(log: AuditLog, options: SecurityReportOptions): Promise<SecurityReport> {
  const from = isoDate(options?.from, 'securityReport.from');
  const to = isoDate(options?.to, 'securityReport.to');
  if (from >= to) throw configError('securityReport.to', 'must be after from');
  const top = options.top ?? 10;
  if (!Number.isSafeInteger(top) || top < 1 || top > 1000)
    throw configError('securityReport.top', 'must be 1-1000');
  const counts = Object.fromEntries(Object.keys(FIGURES).map((k) => [k, 0])) as Record<FigureName, number>;
  const byRoute = new Map<string, number>();
  const bySubject = new Map<string, number>();
  const byRule = new Map<string, number>();
  const byActor = new Map<string, number>();
  const days = new Map<string, { signInFailures: number; denials: number; violations: number }>();
  for (let t = Date.parse(from.slice(0, 10)); t < Date.parse(to); t += 86_400_000) {
    days.set(new Date(t).toISOString().slice(0, 10), { signInFailures: 0, denials: 0, violations: 0 });
  }
  let entries = 0;
  let cursor: string | undefined;
  do {
    const page = await log.query({
      from,
      to,
      limit: 1000,
      includeRedacted: false,
      ...(cursor ? { cursor } : {}),
    });
    for (const e of page.entries) {
      entries++;
      for (const name of Object.keys(FIGURES) as FigureName[]) if (FIGURES[name].match(e)) counts[name]++;
      const day = days.get(e.time.slice(0, 10));
      if (e.actor !== undefined && e.actor.type !== 'system') bump(byActor, `${e.actor.type}:${e.actor.id}`);
      if (e.outcome === 'denied') {
        const d = e.details ?? {};
        const route =
          typeof d.route === 'string'
            ? `${typeof d.method === 'string' ? `${d.method} ` : ''}${d.route}`
            : e.resource !== undefined
              ? e.resource.type
              : e.action;
        bump(byRoute, route);
        bump(bySubject, e.actor !== undefined ? `${e.actor.type}:${e.actor.id}` : 'unknown');
        if (day) day.denials++;
      }
      if (FIGURES.signInFailures.match(e) && day) day.signInFailures++;
      if (e.action === SECURITY_VIOLATION_ACTION) {
        bump(byRule, typeof e.details?.rule === 'string' ? e.details.rule : 'unknown');
        if (day) day.violations++;
      }
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  const figures = Object.fromEntries(
    (Object.keys(FIGURES) as FigureName[]).map((name) => {
      const query = { ...FIGURES[name].query, from, to };
      return [
        name,
        Object.freeze({ count: counts[name], query: Object.freeze(query), command: command(query) }),
      ];
    }),
  ) as SecurityReport['figures'];
  return Object.freeze({
    period: { from, to },
    generatedAt: (options.clock ?? (() => new Date()))().toISOString(),
    entries,
    figures,
    denialsByRoute: ranked(byRoute, top),
    denialsBySubject: ranked(bySubject, top),
    violationsByRule: ranked(byRule, top),
    topActors: ranked(byActor, top),
    daily: [...days].map(([day, v]) => ({ day, ...v })),
  });
}
