import { randomUUID } from 'node:crypto';
import type { AuditActor } from '../audit/audit-event';
import type { BulwarkPrivacyError } from '../errors';
import type { PrivacyAuditSink } from './consent-manager';
import {
  checkDate,
  checkId,
  checkNonNegativeInt,
  checkObject,
  checkOptionalText,
  checkPositiveInt,
  checkText,
  checkTextList,
  compareText,
  frozenCopy,
  HOUR_MS,
  privacyError,
} from './privacy-input';
import { duplicateId, notFound, RegisterRecords } from './register-records';
import { conflict, type RegisterStore, type StoredRecord } from './register-store';

export type BreachSeverity = 'low' | 'medium' | 'high' | 'critical';
export type BreachAudience = 'authority' | 'subjects';

/** Notification clocks, counted from detection ("becoming aware"). */
export interface BreachDeadlineRules {
  /** GDPR Art. 33(1): supervisory authority within 72 hours. */
  authorityHours: number;
  /** HIPAA 45 CFR 164.404(b): individuals within 60 days (1440 hours). GDPR Art. 34 says "without undue delay". */
  subjectsHours: number;
}

export const DEFAULT_BREACH_DEADLINES: Readonly<BreachDeadlineRules> = Object.freeze({
  authorityHours: 72,
  subjectsHours: 60 * 24,
});

const BASIS: Record<BreachAudience, string> = {
  authority: 'GDPR Art. 33(1)',
  subjects: 'HIPAA 45 CFR 164.404(b); GDPR Art. 34(1)',
};

export interface BreachNotification {
  to: BreachAudience;
  dueAt: string;
  /** Whether this notification is owed (set false when the assessment found it is not, with a reason). */
  required: boolean;
  notRequiredReason?: string;
  notifiedAt?: string;
  reference?: string;
  basis: string;
}

export interface BreachIncident {
  id: string;
  title: string;
  description?: string;
  detectedAt: string;
  occurredAt?: string;
  severity: BreachSeverity;
  affectedSubjects: number;
  dataCategories: string[];
  notifications: BreachNotification[];
  status: 'open' | 'closed';
  closedAt?: string;
  /** A drill (exercise of the incident procedure), recorded with `recordDrill()`: no notification is owed. */
  drill?: boolean;
}

export interface BreachInput {
  id?: string;
  title: string;
  description?: string;
  detectedAt: Date | string;
  occurredAt?: Date | string;
  severity: BreachSeverity;
  affectedSubjects: number;
  dataCategories: string[];
  /**
   * Which notifications are owed. Default: both. GDPR Art. 33(1) exempts breaches "unlikely to
   * result in a risk"; Art. 34(3) and HIPAA 164.402(2) exempt subject notification in listed cases.
   * Give the reason when setting one to false: it is kept with the incident.
   */
  notify?: { authority?: boolean | { reason: string }; subjects?: boolean | { reason: string } };
  /** A drill: set by `recordDrill()`. */
  drill?: boolean;
}

/** A drill of the incident procedure (`recordDrill`): when it ran and what was exercised. */
export interface BreachDrillInput {
  id?: string;
  /** What was exercised, e.g. `Tabletop: lost laptop with patient exports`. */
  title: string;
  description?: string;
  /** When the drill's (simulated) detection happened. Default now. */
  detectedAt?: Date | string;
  severity?: BreachSeverity;
  /** Data categories the scenario involved. Default `['drill']`. */
  dataCategories?: string[];
}

export interface OverdueNotification {
  incidentId: string;
  to: BreachAudience;
  dueAt: string;
  /** Hours past the deadline at `now`. */
  hoursLate: number;
}

const SEVERITIES: readonly BreachSeverity[] = ['low', 'medium', 'high', 'critical'];

const duplicate = (id: string): BulwarkPrivacyError => duplicateId(`breach ${id} exists`, id);

/**
 * Personal data breach register with notification clocks (GDPR Art. 33(5): document every breach,
 * its effects and the remedial action; HIPAA breach notification rule). `overdue(now)` lists owed
 * notifications past their deadline.
 *
 * Incidents live in `store` (default: process memory). With a shared SQL store every instance
 * sees every incident, and an update based on a stale read is refused (ERR_PRIVACY_CONFLICT).
 */
export class BreachRegister {
  private readonly records: RegisterRecords<BreachIncident>;
  private readonly rules: BreachDeadlineRules;
  private readonly auditLog?: PrivacyAuditSink;
  private readonly actor: AuditActor;
  private readonly clock: () => Date;

  constructor(
    options: {
      deadlines?: Partial<BreachDeadlineRules>;
      auditLog?: PrivacyAuditSink;
      actor?: AuditActor;
      clock?: () => Date;
      /** Where incidents are kept. Default: process memory. */
      store?: RegisterStore<BreachIncident>;
    } = {},
  ) {
    const o = checkObject(options, 'breaches.options');
    this.records = new RegisterRecords('breach register', o.store, 'breaches.options.store', checkIncident);
    const d = o.deadlines === undefined ? {} : checkObject(o.deadlines, 'breaches.options.deadlines');
    this.rules = {
      authorityHours:
        d.authorityHours === undefined
          ? DEFAULT_BREACH_DEADLINES.authorityHours
          : checkPositiveInt(d.authorityHours, 'breaches.options.deadlines.authorityHours'),
      subjectsHours:
        d.subjectsHours === undefined
          ? DEFAULT_BREACH_DEADLINES.subjectsHours
          : checkPositiveInt(d.subjectsHours, 'breaches.options.deadlines.subjectsHours'),
    };
    this.auditLog = options.auditLog;
    this.actor = options.actor ?? { id: 'bulwark-privacy', type: 'system' };
    this.clock = options.clock ?? (() => new Date());
  }

  /** The deadline rules in force (evidence: the 72-hour clock is configured). */
  deadlines(): BreachDeadlineRules {
    return { ...this.rules };
  }

  /**
   * Records a drill of the incident procedure (HIPAA 164.308(a)(6), ISO A.5.26, SOC 2 CC7.3 want
   * the procedure shown to work): kept as an incident flagged `drill: true`, with no notification
   * owed (each is marked not required, reason `drill`) and no subjects affected.
   */
  async recordDrill(input: BreachDrillInput): Promise<BreachIncident> {
    const d = checkObject(input, 'breach.drill');
    const notRequired = { reason: 'drill: an exercise of the incident procedure, no breach occurred' };
    return this.record({
      ...(d.id === undefined ? {} : { id: d.id as string }),
      title: d.title as string,
      ...(d.description === undefined ? {} : { description: d.description as string }),
      detectedAt: (d.detectedAt as Date | string | undefined) ?? this.clock(),
      severity: (d.severity as BreachSeverity | undefined) ?? 'low',
      affectedSubjects: 0,
      dataCategories: (d.dataCategories as string[] | undefined) ?? ['drill'],
      notify: { authority: notRequired, subjects: notRequired },
      drill: true,
    });
  }

  async record(input: BreachInput): Promise<BreachIncident> {
    const i = checkObject(input, 'breach');
    if (i.drill !== undefined && typeof i.drill !== 'boolean')
      throw privacyError('breach.drill', 'must be a boolean');
    const id = i.id === undefined ? randomUUID() : checkId(i.id, 'breach.id');
    if ((await this.records.read(id)) !== undefined) throw duplicate(id);
    const at = `breach ${id}`;
    const detectedAt = checkDate(i.detectedAt, `${at}.detectedAt`);
    const occurredAt = i.occurredAt === undefined ? undefined : checkDate(i.occurredAt, `${at}.occurredAt`);
    if (occurredAt !== undefined && occurredAt.getTime() > detectedAt.getTime()) {
      throw privacyError(`${at}.occurredAt`, 'must not be after detectedAt');
    }
    if (!SEVERITIES.includes(i.severity as BreachSeverity)) {
      throw privacyError(`${at}.severity`, `must be one of ${SEVERITIES.join(', ')}`);
    }
    const notify = i.notify === undefined ? {} : checkObject(i.notify, `${at}.notify`);
    const notifications = (['authority', 'subjects'] as const).map((to): BreachNotification => {
      const flag = notify[to];
      let required = true;
      let notRequiredReason: string | undefined;
      if (flag === false) {
        throw privacyError(`${at}.notify.${to}`, 'set to "not required" needs a reason: { reason }');
      } else if (flag !== undefined && flag !== true) {
        const f = checkObject(flag, `${at}.notify.${to}`);
        required = false;
        notRequiredReason = checkText(f.reason, `${at}.notify.${to}.reason`, 1024);
      }
      const hours = to === 'authority' ? this.rules.authorityHours : this.rules.subjectsHours;
      return {
        to,
        dueAt: new Date(detectedAt.getTime() + hours * HOUR_MS).toISOString(),
        required,
        ...(notRequiredReason === undefined ? {} : { notRequiredReason }),
        basis: BASIS[to],
      };
    });
    const description = checkOptionalText(i.description, `${at}.description`, 8192);
    const incident: BreachIncident = {
      id,
      title: checkText(i.title, `${at}.title`, 256),
      ...(description === undefined ? {} : { description }),
      detectedAt: detectedAt.toISOString(),
      ...(occurredAt === undefined ? {} : { occurredAt: occurredAt.toISOString() }),
      severity: i.severity as BreachSeverity,
      affectedSubjects: checkNonNegativeInt(i.affectedSubjects, `${at}.affectedSubjects`),
      dataCategories: checkTextList(i.dataCategories, `${at}.dataCategories`, { min: 1, max: 128 }).sort(
        compareText,
      ),
      notifications,
      status: 'open',
      ...(i.drill === true ? { drill: true } : {}),
    };
    // Stored, then audited; an incident whose audit event cannot be written is taken back.
    await this.records.insertNew(id, incident, () => duplicate(id));
    try {
      await this.audit('breach.recorded', incident, {
        ...(incident.drill === true ? { drill: true } : {}),
        severity: incident.severity,
        affectedSubjects: incident.affectedSubjects,
        detectedAt: incident.detectedAt,
      });
    } catch (error) {
      await this.records.delete(id, 1).catch(() => undefined);
      throw error;
    }
    return frozenCopy(incident);
  }

  /** Records that the authority or the subjects were notified (at `at`, default now). */
  async notify(
    incidentId: string,
    input: { to: BreachAudience; at?: Date | string; reference?: string },
  ): Promise<BreachIncident> {
    const { value: incident, version } = await this.load(incidentId);
    const i = checkObject(input, 'breach.notify');
    if (i.to !== 'authority' && i.to !== 'subjects')
      throw privacyError('breach.notify.to', "must be 'authority' or 'subjects'");
    const at = i.at === undefined ? this.clock() : checkDate(i.at, 'breach.notify.at');
    if (at.getTime() < Date.parse(incident.detectedAt))
      throw privacyError('breach.notify.at', 'must not be before detection');
    const reference = checkOptionalText(i.reference, 'breach.notify.reference', 512);
    const n = incident.notifications.find((x) => x.to === i.to)!;
    if (n.notifiedAt !== undefined) {
      throw privacyError(`breach ${incident.id}.notify.to`, `${n.to}: already notified`);
    }
    const updated: BreachNotification = {
      ...n,
      notifiedAt: at.toISOString(),
      ...(reference === undefined ? {} : { reference }),
    };
    const next: BreachIncident = {
      ...incident,
      notifications: incident.notifications.map((x) => (x.to === n.to ? updated : x)),
    };
    await this.replace(incident, version, next, () =>
      this.audit('breach.notified', next, {
        to: n.to,
        notifiedAt: updated.notifiedAt!,
        dueAt: n.dueAt,
        late: Date.parse(updated.notifiedAt!) > Date.parse(n.dueAt),
      }),
    );
    return frozenCopy(next);
  }

  async close(incidentId: string, at: Date | string = this.clock()): Promise<BreachIncident> {
    const { value: incident, version } = await this.load(incidentId);
    const when = checkDate(at, 'breach.close.at');
    const next: BreachIncident = { ...incident, status: 'closed', closedAt: when.toISOString() };
    await this.replace(incident, version, next, () => this.audit('breach.closed', next, {}));
    return frozenCopy(next);
  }

  async get(id: string): Promise<BreachIncident | undefined> {
    if (typeof id !== 'string' || id === '') return undefined;
    const r = await this.records.read(id);
    return r === undefined ? undefined : frozenCopy(r.value);
  }

  /** Incidents by detection time (evidence: the breach register exists and is kept). */
  async list(filter: { status?: 'open' | 'closed' } = {}): Promise<BreachIncident[]> {
    return (await this.records.values())
      .filter((i) => filter.status === undefined || i.status === filter.status)
      .sort((a, b) => compareText(a.detectedAt, b.detectedAt) || compareText(a.id, b.id))
      .map((i) => frozenCopy(i));
  }

  /** Owed notifications not made by their deadline, as of `now` (notified late counts only until notified). */
  async overdue(now: Date = this.clock()): Promise<OverdueNotification[]> {
    const t = checkDate(now, 'breaches.overdue.now').getTime();
    const out: OverdueNotification[] = [];
    for (const incident of await this.list()) {
      for (const n of incident.notifications) {
        if (!n.required || n.notifiedAt !== undefined) continue;
        const due = Date.parse(n.dueAt);
        if (due < t)
          out.push({
            incidentId: incident.id,
            to: n.to,
            dueAt: n.dueAt,
            hoursLate: Math.floor((t - due) / HOUR_MS),
          });
      }
    }
    return out;
  }

  /** Notifications made after their deadline (GDPR Art. 33(1): a late notification must give reasons). */
  async lateNotifications(): Promise<
    { incidentId: string; to: BreachAudience; dueAt: string; notifiedAt: string }[]
  > {
    return (await this.list()).flatMap((i) =>
      i.notifications
        .filter((n) => n.notifiedAt !== undefined && Date.parse(n.notifiedAt) > Date.parse(n.dueAt))
        .map((n) => ({ incidentId: i.id, to: n.to, dueAt: n.dueAt, notifiedAt: n.notifiedAt! })),
    );
  }

  private async load(id: string): Promise<StoredRecord<BreachIncident>> {
    const found = await this.records.read(id);
    if (found === undefined) throw notFound('breach incident', id);
    return found;
  }

  /**
   * Writes `next` over the version read (a concurrent change is refused, not overwritten), then
   * audits; a change whose audit event cannot be written is put back.
   */
  private async replace(
    previous: BreachIncident,
    version: number,
    next: BreachIncident,
    audit: () => Promise<void>,
  ): Promise<void> {
    if (!(await this.records.update(next.id, version, next))) {
      throw conflict('breach incident', next.id);
    }
    try {
      await audit();
    } catch (error) {
      await this.records.update(next.id, version + 1, previous).catch(() => undefined);
      throw error;
    }
  }

  private async audit(
    action: string,
    incident: BreachIncident,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.auditLog?.append({
      actor: this.actor,
      action,
      resource: { type: 'breach', id: incident.id },
      outcome: 'success',
      category: 'security',
      details,
    });
  }
}

/** A stored incident, checked on the way out: its deadlines must be readable to be enforced. */
function checkIncident(value: unknown): BreachIncident {
  const i = checkObject(value, 'breach');
  const notifications = i.notifications;
  if (
    typeof i.id !== 'string' ||
    typeof i.title !== 'string' ||
    !Number.isFinite(Date.parse(i.detectedAt as string)) ||
    !SEVERITIES.includes(i.severity as BreachSeverity) ||
    !Number.isSafeInteger(i.affectedSubjects) ||
    !Array.isArray(i.dataCategories) ||
    (i.status !== 'open' && i.status !== 'closed') ||
    (i.drill !== undefined && typeof i.drill !== 'boolean') ||
    !Array.isArray(notifications) ||
    notifications.length !== 2 ||
    !notifications.every(
      (n: Partial<BreachNotification>, k) =>
        n !== null &&
        typeof n === 'object' &&
        n.to === (k === 0 ? 'authority' : 'subjects') &&
        typeof n.required === 'boolean' &&
        Number.isFinite(Date.parse(n.dueAt as string)) &&
        (n.notifiedAt === undefined || Number.isFinite(Date.parse(n.notifiedAt))),
    )
  ) {
    throw privacyError('breach', 'is malformed');
  }
  return i as unknown as BreachIncident;
}
