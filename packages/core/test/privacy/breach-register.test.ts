import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { ErrorCodes } from '../../src/errors';
import { BreachRegister } from '../../src/privacy/breach-register';
import { codeOf } from './privacy-helpers';

const DETECTED = '2025-03-10T08:00:00.000Z';
const H = 3_600_000;
const at = (hours: number) => new Date(Date.parse(DETECTED) + hours * H);

describe('BreachRegister', () => {
  it('sets GDPR 72-hour and HIPAA 60-day deadlines from detection and lists overdue notifications', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const breaches = new BreachRegister({ auditLog: log });
    const incident = await breaches.record({
      id: 'inc-1',
      title: 'Lost laptop',
      detectedAt: DETECTED,
      occurredAt: '2025-03-09T20:00:00Z',
      severity: 'high',
      affectedSubjects: 1200,
      dataCategories: ['phi', 'personal'],
    });
    expect(incident.notifications).toEqual([
      { to: 'authority', dueAt: '2025-03-13T08:00:00.000Z', required: true, basis: 'GDPR Art. 33(1)' },
      {
        to: 'subjects',
        dueAt: '2025-05-09T08:00:00.000Z',
        required: true,
        basis: expect.stringContaining('164.404'),
      },
    ]);
    expect(incident.dataCategories).toEqual(['personal', 'phi']);
    expect(await breaches.overdue(at(71))).toEqual([]);
    expect(await breaches.overdue(at(73))).toEqual([
      { incidentId: 'inc-1', to: 'authority', dueAt: '2025-03-13T08:00:00.000Z', hoursLate: 1 },
    ]);
    await breaches.notify('inc-1', { to: 'authority', at: at(80), reference: 'DPA-2025-17' });
    expect(await breaches.overdue(at(81))).toEqual([]);
    expect(await breaches.lateNotifications()).toEqual([
      {
        incidentId: 'inc-1',
        to: 'authority',
        dueAt: '2025-03-13T08:00:00.000Z',
        notifiedAt: at(80).toISOString(),
      },
    ]);
    expect((await breaches.overdue(at(60 * 24 + 1))).map((o) => o.to)).toEqual(['subjects']);
    await breaches.notify('inc-1', { to: 'subjects', at: at(100) });
    expect(await breaches.overdue(at(60 * 24 + 1))).toEqual([]);
    expect(await codeOf(() => breaches.notify('inc-1', { to: 'subjects', at: at(101) }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );

    const events = (await log.query({ action: 'breach.*' })).entries;
    expect(events.map((e) => e.action)).toEqual(['breach.recorded', 'breach.notified', 'breach.notified']);
    expect(events[1]!.details).toMatchObject({ to: 'authority', late: true });
    expect((await breaches.list()).map((i) => i.id)).toEqual(['inc-1']);
    await breaches.close('inc-1', at(200));
    expect(await breaches.list({ status: 'open' })).toEqual([]);
    await log.close();
  });

  it('uses configured deadlines and honours "not required" with a reason', async () => {
    const breaches = new BreachRegister({ deadlines: { authorityHours: 24, subjectsHours: 48 } });
    expect(breaches.deadlines()).toEqual({ authorityHours: 24, subjectsHours: 48 });
    await breaches.record({
      id: 'inc-2',
      title: 'Misdirected e-mail',
      detectedAt: DETECTED,
      severity: 'low',
      affectedSubjects: 1,
      dataCategories: ['personal'],
      notify: { subjects: { reason: 'unlikely to result in a high risk (Art. 34(3))' } },
    });
    const i = (await breaches.get('inc-2'))!;
    expect(i.notifications.map((n) => [n.to, n.dueAt, n.required])).toEqual([
      ['authority', '2025-03-11T08:00:00.000Z', true],
      ['subjects', '2025-03-12T08:00:00.000Z', false],
    ]);
    expect((await breaches.overdue(at(1000))).map((o) => o.to)).toEqual(['authority']);
  });

  it('validates input', async () => {
    const b = new BreachRegister();
    const base = {
      title: 't',
      detectedAt: DETECTED,
      severity: 'high' as const,
      affectedSubjects: 1,
      dataCategories: ['personal'],
    };
    expect(await codeOf(() => b.record({ ...base, severity: 'huge' as 'high' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => b.record({ ...base, detectedAt: 'yesterday' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => b.record({ ...base, occurredAt: '2025-04-01' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => b.record({ ...base, affectedSubjects: -1 }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => b.record({ ...base, notify: { authority: false } }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => b.notify('ghost', { to: 'authority' }))).toBe(ErrorCodes.PRIVACY_NOT_FOUND);
    const i = await b.record(base);
    expect(await codeOf(() => b.notify(i.id, { to: 'press' as 'authority' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(await codeOf(() => b.notify(i.id, { to: 'authority', at: '2025-01-01' }))).toBe(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
    );
    expect(() => new BreachRegister({ deadlines: { authorityHours: 0 } })).toThrow(
      expect.objectContaining({ code: ErrorCodes.PRIVACY_INVALID_ARGUMENT }),
    );
  });
});
