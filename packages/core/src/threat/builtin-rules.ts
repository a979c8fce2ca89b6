import type { AuditActor, AuditEntry } from '../audit/audit-event';
import {
  SEVERITIES,
  type BuiltinRule,
  type BurstResult,
  type RuleHit,
  type RuleResult,
  type ViolationSeverity,
} from './detection-rule';
import type { ThreatDetectorOptions } from './threat-detector';
import { configError, positiveInt } from '../util/options';

// The built-in detection rules (failed logins, denied access, privilege changes, mass export,
// break-glass, off-hours) and the reading of their options.

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
/** Names custom rules may not take. */
export const BUILTIN_NAMES: ReadonlySet<string> = new Set([
  'failed-login-burst',
  'denied-access-burst',
  'privilege-change',
  'mass-export',
  'break-glass',
  'off-hours-access',
]);
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

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

export function severity(value: unknown, fallback: ViolationSeverity, path: string): ViolationSeverity {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !SEVERITIES.has(value)) {
    throw configError(path, "must be 'low', 'medium', 'high' or 'critical'");
  }
  return value as ViolationSeverity;
}

function burst(value: unknown, fallback: BurstOptions, path: string): BurstOptions | false {
  if (value === false) return false;
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw configError(path, 'must be { threshold, windowSec } or false');
  }
  const v = (value ?? {}) as Partial<BurstOptions>;
  return {
    threshold: positiveInt(v.threshold, `${path}.threshold`, fallback.threshold),
    windowSec: positiveInt(v.windowSec, `${path}.windowSec`, fallback.windowSec),
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

/** The built-in rules the options turn on, validated (errors name `path`). */
export function builtinRules(options: ThreatDetectorOptions, path: string): BuiltinRule[] {
  const rules: BuiltinRule[] = [];

  const fl = section(options.failedLogins, `${path}.failedLogins`);
  if (fl !== false) {
    const p = `${path}.failedLogins`;
    const o = fl ?? {};
    const isLogin = matcher(o.actions ?? ['auth.login', 'auth.login.*', '*.login', 'login'], `${p}.actions`);
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
        const ip = entry.actor?.ip;
        const byAccount = (w: BurstResult | undefined): void => {
          if (w?.fired !== true || perAccount === false) return;
          hits.push({
            message: `${w.count} failed logins for one account within ${perAccount.windowSec} s`,
            severity: sev ?? 'medium',
            entries: w.seqs,
            subject: { account: account as string },
          });
        };
        const byIp = (w: BurstResult | undefined): RuleResult => {
          if (w?.fired === true && perIp !== false) {
            hits.push({
              message: `${w.count} failed logins from one IP within ${perIp.windowSec} s (credential stuffing?)`,
              severity: sev ?? 'high',
              entries: w.seqs,
              subject: { ip: ip as string },
            });
          }
          return hits;
        };
        const accountWindow =
          perAccount !== false && typeof account === 'string' && account !== ''
            ? state.burst(`account:${account}`, perAccount.windowSec, perAccount.threshold)
            : undefined;
        return then(accountWindow, (w) => {
          byAccount(w);
          return then(
            perIp !== false && ip !== undefined
              ? state.burst(`ip:${ip}`, perIp.windowSec, perIp.threshold)
              : undefined,
            byIp,
          );
        });
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
        const actorId = entry.actor.id;
        return then(state.burst(`${entry.actor.type}:${actorId}`, b.windowSec, b.threshold), (w) =>
          w.fired
            ? {
                message: `${w.count} denied requests by one actor within ${b.windowSec} s`,
                entries: w.seqs,
                subject: { actor: actorId },
              }
            : undefined,
        );
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
    const large = positiveInt(o.largeCount, `${p}.largeCount`, 1000);
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
        return then(state.burst(`actor:${actor}`, b.windowSec, b.threshold), (w) => {
          if (w.fired) {
            hits.push({
              message: `${w.count} exports by one actor within ${b.windowSec} s`,
              severity: sev ?? 'medium',
              entries: w.seqs,
              subject: { actor },
            });
          }
          return hits;
        });
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
    rules.push(offHoursRule(oh, `${path}.offHours`));
  }
  return rules;
}

/** Applies `f` now when `value` is not a promise (the in-memory path stays synchronous), else after it. */
function then<T, R>(value: T | Promise<T>, f: (v: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}

function offHoursRule(o: OffHoursRuleOptions, p: string): BuiltinRule {
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
  const cooldownSec = positiveInt(o.cooldownSec, `${p}.cooldownSec`, 3600);
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
      const local = `${get('weekday')} ${get('hour')}:${get('minute')}`;
      const actorId = entry.actor.id;
      const action = entry.action;
      return then(state.cooldown(`actor:${entry.actor.type}:${actorId}`, cooldownSec), (open) =>
        open
          ? {
              message: `'${action}' outside working hours (${local} ${timeZone})`,
              subject: { actor: actorId },
            }
          : undefined,
      );
    },
  };
}
