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
  /**
   * `requests`: the count is of data-subject requests, derived from the entries the query lists
   * (each request's history up to the end of the period; `dsrDeadlines` gives one query per
   * request). Absent: the count is the number of entries the query lists.
   */
  readonly counts?: 'requests';
}

/** A ranked key (route, subject, rule, actor) and its count. */
export interface RankedCount {
  readonly key: string;
  readonly count: number;
}

/** A data-subject request open at the end of the period, or completed / rejected within it. */
export interface DsrDeadline {
  /** The request id (the audit entries' resource id). */
  readonly id: string;
  readonly type: string;
  /** Status at the end of the period. */
  readonly status: string;
  readonly receivedAt: string;
  /** The deadline with extensions, as last recorded (absent on entries written before it was recorded). */
  readonly dueAt?: string;
  readonly completedAt?: string;
  /** Open past its deadline at the end of the period, or completed after it. */
  readonly overdue: boolean;
  /** Lists the request's audit entries. */
  readonly query: Readonly<AuditLogQuery>;
  readonly command: string;
}

/** A `key.rotated` entry: a rotation, a rewrap run or a master-key rotation. */
export interface KeyRotationRecord {
  readonly at: string;
  readonly seq: number;
  /** `rotate`, `rotate-due`, `rewrap` or `rotate-master`. */
  readonly operation: string;
  /** The named key, or `$master`. */
  readonly keyId: string;
  readonly version?: number;
  /** rewrap: values moved; rotate-master: wrapped keys re-wrapped. */
  readonly rewrapped?: number;
  readonly masterKeyId?: string;
}

/** An `audit.verified` entry: one verification run and what it covered. */
export interface IntegrityCheckRecord {
  readonly at: string;
  readonly seq: number;
  readonly ok: boolean;
  /** `api` (AuditLog.verify) or `cli` (bulwark audit verify --record). */
  readonly source?: string;
  readonly fromSeq?: number;
  readonly toSeq?: number;
  readonly firstBad?: { readonly seq: number; readonly reason: string };
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
    /** Requests still open at the end of the period (whenever received). */
    readonly dsrOpen: SecurityFigure;
    /** Open requests past their deadline at the end of the period, plus those completed late in it. */
    readonly dsrOverdue: SecurityFigure;
    /** Key-management events (`keys.*`: rotations, retirements) an app or the CLI recorded. */
    readonly keyEvents: SecurityFigure;
    /** `key.rotated` entries the key ring recorded (rotate, rewrap, rotate-master). */
    readonly keyRotations: SecurityFigure;
    /** Audit log verification runs (`audit.verified`) ... */
    readonly integrityChecks: SecurityFigure;
    /** ... and those that found the log altered. */
    readonly integrityFailures: SecurityFigure;
    readonly auditReviews: SecurityFigure;
    readonly alertsDelivered: SecurityFigure;
    readonly alertsFailed: SecurityFigure;
  };
  readonly denialsByRoute: readonly RankedCount[];
  readonly denialsBySubject: readonly RankedCount[];
  readonly violationsByRule: readonly RankedCount[];
  readonly topActors: readonly RankedCount[];
  readonly daily: readonly SecurityDay[];
  /** Requests open at the end of the period or closed within it, earliest deadline first. */
  readonly dsrDeadlines: readonly DsrDeadline[];
  readonly keyRotations: readonly KeyRotationRecord[];
  readonly integrityChecks: readonly IntegrityCheckRecord[];
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
  // Counted from the requests' whole history up to the end of the period (see dsrState).
  dsrOpen: { query: { action: 'dsr.*' }, match: () => false },
  dsrOverdue: { query: { action: 'dsr.*' }, match: () => false },
  keyEvents: { query: { action: 'keys.*' }, match: (e) => e.action?.startsWith('keys.') === true },
  keyRotations: { query: { action: 'key.rotated' }, match: (e) => e.action === 'key.rotated' },
  integrityChecks: { query: { action: 'audit.verified' }, match: (e) => e.action === 'audit.verified' },
  integrityFailures: {
    query: { action: 'audit.verified', outcome: 'failure' },
    match: (e) => e.action === 'audit.verified' && e.outcome === 'failure',
  },
  auditReviews: { query: { action: 'audit.log.reviewed' }, match: (e) => e.action === 'audit.log.reviewed' },
  alertsDelivered: { query: { action: 'alert.delivered' }, match: (e) => e.action === 'alert.delivered' },
  alertsFailed: { query: { action: 'alert.failed' }, match: (e) => e.action === 'alert.failed' },
};

/** Figures whose entries span the requests' history before the period: their query has no `from`. */
const WHOLE_HISTORY: ReadonlySet<FigureName> = new Set<FigureName>(['dsrOpen', 'dsrOverdue']);

const FLAGS: Readonly<Record<string, string>> = {
  action: '--action',
  outcome: '--outcome',
  resourceType: '--resource-type',
  resourceId: '--resource-id',
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
  const keyRotations: KeyRotationRecord[] = [];
  const integrityChecks: IntegrityCheckRecord[] = [];
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
      if (e.action === 'key.rotated') keyRotations.push(keyRotation(e));
      if (e.action === 'audit.verified') integrityChecks.push(integrityCheck(e));
      if (e.action === SECURITY_VIOLATION_ACTION) {
        bump(byRule, typeof e.details?.rule === 'string' ? e.details.rule : 'unknown');
        if (day) day.violations++;
      }
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  const dsr = await dsrState(log, from, to);
  counts.dsrOpen = dsr.open;
  counts.dsrOverdue = dsr.overdue;
  const figures = Object.fromEntries(
    (Object.keys(FIGURES) as FigureName[]).map((name) => {
      const query = WHOLE_HISTORY.has(name)
        ? { ...FIGURES[name].query, to }
        : { ...FIGURES[name].query, from, to };
      return [
        name,
        Object.freeze({
          count: counts[name],
          query: Object.freeze(query),
          command: command(query),
          ...(WHOLE_HISTORY.has(name) ? { counts: 'requests' as const } : {}),
        }),
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
    dsrDeadlines: dsr.deadlines,
    keyRotations,
    integrityChecks,
  });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const int = (v: unknown): number | undefined => (Number.isSafeInteger(v) ? (v as number) : undefined);

function keyRotation(e: AuditEntry): KeyRotationRecord {
  const d = e.details ?? {};
  const version = int(d.version);
  const rewrapped = int(d.rewrapped);
  const masterKeyId = str(d.masterKeyId);
  return Object.freeze({
    at: e.time,
    seq: e.seq,
    operation: str(d.operation) ?? 'unknown',
    keyId: str(d.keyId) ?? e.resource?.id ?? 'unknown',
    ...(version !== undefined ? { version } : {}),
    ...(rewrapped !== undefined ? { rewrapped } : {}),
    ...(masterKeyId !== undefined ? { masterKeyId } : {}),
  });
}

function integrityCheck(e: AuditEntry): IntegrityCheckRecord {
  const d = e.details ?? {};
  const bad = d.firstBad as { seq?: unknown; reason?: unknown } | undefined;
  const fromSeq = int(d.fromSeq);
  const toSeq = int(d.toSeq);
  const source = str(d.source);
  return Object.freeze({
    at: e.time,
    seq: e.seq,
    ok: e.outcome === 'success',
    ...(source !== undefined ? { source } : {}),
    ...(fromSeq !== undefined ? { fromSeq } : {}),
    ...(toSeq !== undefined ? { toSeq } : {}),
    ...(bad !== undefined && int(bad.seq) !== undefined
      ? { firstBad: { seq: bad.seq as number, reason: str(bad.reason) ?? 'unknown' } }
      : {}),
  });
}

const CLOSED_DSR: ReadonlySet<string> = new Set(['completed', 'rejected']);

/**
 * Every request's state at `to`, replayed from its `dsr.*` entries (received, verified, started,
 * extended, completed, rejected: each records the status and the deadline), whenever received.
 */
async function dsrState(
  log: AuditLog,
  from: string,
  to: string,
): Promise<{ open: number; overdue: number; deadlines: DsrDeadline[] }> {
  const requests = new Map<
    string,
    { type: string; status: string; receivedAt: string; dueAt?: string; completedAt?: string }
  >();
  let cursor: string | undefined;
  do {
    const page = await log.query({
      action: 'dsr.*',
      to,
      limit: 1000,
      includeRedacted: false,
      ...(cursor ? { cursor } : {}),
    });
    for (const e of page.entries) {
      const id = e.resource?.type === 'data-subject-request' ? e.resource.id : undefined;
      if (id === undefined) continue;
      const d = e.details ?? {};
      let r = requests.get(id);
      if (r === undefined) {
        r = { type: str(d.type) ?? 'unknown', status: 'received', receivedAt: e.time };
        requests.set(id, r);
      }
      const status = str(d.status);
      if (status !== undefined) r.status = status;
      const dueAt = str(d.dueAt);
      if (dueAt !== undefined) r.dueAt = dueAt;
      if (status === 'completed' || status === 'rejected') r.completedAt ??= e.time;
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  const deadlines: DsrDeadline[] = [];
  let open = 0;
  let overdue = 0;
  for (const [id, r] of requests) {
    const closed = CLOSED_DSR.has(r.status);
    if (closed && (r.completedAt === undefined || r.completedAt < from)) continue; // closed before the period
    const late =
      r.dueAt !== undefined && (closed ? r.completedAt! > r.dueAt : Date.parse(r.dueAt) < Date.parse(to));
    if (!closed) open++;
    if (late) overdue++;
    const query = { resourceType: 'data-subject-request', resourceId: id, to };
    deadlines.push(
      Object.freeze({
        id,
        type: r.type,
        status: r.status,
        receivedAt: r.receivedAt,
        ...(r.dueAt !== undefined ? { dueAt: r.dueAt } : {}),
        ...(closed && r.completedAt !== undefined ? { completedAt: r.completedAt } : {}),
        overdue: late,
        query: Object.freeze(query),
        command: command(query),
      }),
    );
  }
  deadlines.sort((a, b) =>
    (a.dueAt ?? '~') < (b.dueAt ?? '~') ? -1 : (a.dueAt ?? '~') > (b.dueAt ?? '~') ? 1 : 0,
  );
  return { open, overdue, deadlines };
}
