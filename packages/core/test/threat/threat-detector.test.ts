import type { AuditEntry, AuditEvent } from '../../src/audit/audit-event';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { PRESERVED_FROM_KEY } from '../../src/audit/subject-pseudonymizer';
import { verifyAuditLog } from '../../src/audit/verify-audit-log';
import { BulwarkConfigError } from '../../src/errors';
import {
  SECURITY_VIOLATION_ACTION,
  ThreatDetector,
  type SecurityViolation,
  type ThreatDetectorOptions,
} from '../../src/threat/threat-detector';

const T0 = Date.parse('2025-06-02T10:00:00.000Z'); // a Monday
let seq = 0;

/** A stored-looking entry (observe() only reads content, seq and time). */
function entry(over: Partial<AuditEntry> & { offsetSec?: number } = {}): AuditEntry {
  const { offsetSec = 0, ...rest } = over;
  return {
    seq: ++seq,
    time: new Date(T0 + offsetSec * 1000).toISOString(),
    actor: { id: 'alice', type: 'user', ip: '203.0.113.5' },
    action: 'patient.read',
    outcome: 'success',
    category: 'default',
    prevHash: '0'.repeat(64),
    leafHash: '0'.repeat(64),
    ...rest,
  };
}

const failedLogin = (offsetSec: number, account = 'alice', ip = '203.0.113.5') =>
  entry({
    offsetSec,
    action: 'auth.login',
    outcome: 'failure',
    actor: { id: 'anonymous', type: 'anonymous', ip },
    details: { account },
  });

/** Only the named built-in rules on. */
function detector(over: ThreatDetectorOptions = {}): ThreatDetector {
  return new ThreatDetector({
    failedLogins: false,
    deniedAccess: false,
    privilegeChanges: false,
    massExport: false,
    breakGlass: false,
    clock: () => new Date(T0),
    ...over,
  });
}

function feed(d: ThreatDetector, entries: AuditEntry[]): SecurityViolation[] {
  return entries.flatMap((e) => d.observe(e));
}

describe('ThreatDetector rules', () => {
  it('failed-login burst per account fires at the threshold, not below it, not outside the window', () => {
    const d = detector({ failedLogins: { perAccount: { threshold: 5, windowSec: 300 }, perIp: false } });
    const below = feed(
      d,
      [0, 10, 20, 30].map((t) => failedLogin(t)),
    );
    expect(below).toEqual([]);
    // The 5th arrives after the first left the 300 s window: still only 4 inside.
    expect(feed(d, [failedLogin(301)])).toEqual([]);
    const hits = feed(d, [failedLogin(302)]);
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({
      rule: 'failed-login-burst',
      severity: 'medium',
      subject: { account: 'alice' },
      at: new Date(T0).toISOString(),
    });
    expect(hits[0]!.entries).toHaveLength(5);
    expect(hits[0]!.message).not.toContain('alice');
    // The window was emptied: the next failure alone does not fire again.
    expect(feed(d, [failedLogin(303)])).toEqual([]);
    // Successes and other accounts do not count.
    expect(feed(d, [entry({ action: 'auth.login', outcome: 'success' })])).toEqual([]);
  });

  it('failed-login burst per IP across accounts (credential stuffing) is high severity', () => {
    const d = detector({ failedLogins: { perAccount: false, perIp: { threshold: 4, windowSec: 60 } } });
    expect(
      feed(
        d,
        ['a', 'b', 'c'].map((u, i) => failedLogin(i, u, '198.51.100.1')),
      ),
    ).toEqual([]);
    expect(feed(d, [failedLogin(3, 'd', '198.51.100.2')])).toEqual([]);
    const [hit] = feed(d, [failedLogin(4, 'e', '198.51.100.1')]);
    expect(hit).toMatchObject({
      rule: 'failed-login-burst',
      severity: 'high',
      subject: { ip: '198.51.100.1' },
    });
  });

  it('ignores the copies erasure keeps as evidence (the rules saw the originals)', () => {
    const d = detector({ deniedAccess: { threshold: 3, windowSec: 60 } });
    const copy = (t: number) =>
      entry({
        offsetSec: t,
        outcome: 'denied',
        actor: { id: 'pseudonym:abc', type: 'user' },
        action: 'invoice.read',
        details: { [PRESERVED_FROM_KEY]: { seq: t + 1, leafHash: '0'.repeat(64) } },
      });
    expect(feed(d, [copy(0), copy(1), copy(2), copy(3)])).toEqual([]);
  });

  it('denied-access burst per actor', () => {
    const d = detector({ deniedAccess: { threshold: 3, windowSec: 60 } });
    const denied = (t: number, id = 'mallory') =>
      entry({ offsetSec: t, outcome: 'denied', actor: { id, type: 'user' }, action: 'invoice.read' });
    expect(feed(d, [denied(0), denied(10), denied(11, 'bob'), entry({ offsetSec: 12 })])).toEqual([]);
    expect(feed(d, [denied(100)])).toEqual([]); // the first two expired
    expect(feed(d, [denied(101)])).toEqual([]);
    expect(feed(d, [denied(102)])).toEqual([
      expect.objectContaining({
        rule: 'denied-access-burst',
        severity: 'medium',
        subject: { actor: 'mallory' },
      }),
    ]);
  });

  it('privilege changes fire on each successful configured action', () => {
    const d = detector({ privilegeChanges: { actions: ['role.granted', 'acl.*'] } });
    expect(
      feed(d, [
        entry({ action: 'role.granted', outcome: 'denied' }),
        entry({ action: 'role.revoked' }),
        entry({ action: 'patient.read' }),
      ]),
    ).toEqual([]);
    const hits = feed(d, [
      entry({ action: 'role.granted', resource: { type: 'user', id: 'bob' } }),
      entry({ action: 'acl.updated' }),
    ]);
    expect(hits.map((h) => [h.rule, h.severity])).toEqual([
      ['privilege-change', 'high'],
      ['privilege-change', 'high'],
    ]);
    expect(hits[0]!.subject).toEqual({ actor: 'alice', target: 'bob' });
    // Defaults include user.role_changed.
    expect(detector({ privilegeChanges: {} }).observe(entry({ action: 'user.role_changed' }))).toHaveLength(
      1,
    );
  });

  it('mass export: one large export, or many in a window', () => {
    const d = detector({ massExport: { largeCount: 1000, threshold: 3, windowSec: 600 } });
    const exp = (t: number, count: number) =>
      entry({ offsetSec: t, action: 'patients.export', details: { count } });
    expect(feed(d, [exp(0, 999)])).toEqual([]);
    expect(feed(d, [exp(1, 1000)])).toEqual([
      expect.objectContaining({
        rule: 'mass-export',
        severity: 'high',
        message: 'export of 1000 records (threshold 1000)',
      }),
    ]);
    // exp(0) and exp(1) are 2 in the window; a third 10 min later is outside it...
    expect(feed(d, [exp(700, 1)])).toEqual([]);
    expect(feed(d, [exp(701, 1)])).toEqual([]);
    // ...and the one after makes 3 within 600 s.
    const [burst] = feed(d, [exp(702, 1)]);
    expect(burst).toMatchObject({ rule: 'mass-export', severity: 'medium' });
    expect(burst!.entries).toHaveLength(3);
    expect(feed(d, [entry({ action: 'patients.exported_view', details: { count: 10_000 } })])).toEqual([]);
  });

  it('break-glass use always fires', () => {
    const d = detector({ breakGlass: {} });
    expect(feed(d, [entry({ action: 'authz.break_glass_info' })])).toEqual([]);
    expect(feed(d, [entry({ action: 'authz.break_glass.granted' })])).toEqual([
      expect.objectContaining({ rule: 'break-glass', severity: 'high' }),
    ]);
  });

  it('off-hours access is time-zone aware, handles night shifts, and de-duplicates per actor', () => {
    // Paris is UTC+2 in June: T0 (Monday 10:00Z) is 12:00 local.
    const d = detector({ offHours: { timeZone: 'Europe/Paris', start: '08:00', end: '19:00' } });
    const at = (h: number, id = 'alice', type: 'user' | 'service' = 'user') =>
      entry({ offsetSec: h * 3600, actor: { id, type } });
    expect(feed(d, [at(0), at(-3.5)])).toEqual([]); // 12:00 and 08:30 Paris (06:30Z would be outside in UTC)
    const [late] = feed(d, [at(8)]); // 20:00 Paris
    expect(late).toMatchObject({ rule: 'off-hours-access', severity: 'low', subject: { actor: 'alice' } });
    expect(late!.message).toContain('Europe/Paris');
    expect(feed(d, [at(8.5)])).toEqual([]); // same actor within the 1 h cooldown
    expect(feed(d, [at(8.5, 'bob')])).toHaveLength(1);
    expect(feed(d, [at(8.5, 'batch', 'service')])).toEqual([]); // services are not checked
    expect(feed(d, [at(-4.5, 'carol')])).toHaveLength(1); // 07:30 Paris
    expect(feed(d, [at(6 * 24, 'dave')])).toHaveLength(1); // Sunday noon

    const night = detector({ offHours: { timeZone: 'UTC', start: '22:00', end: '06:00' } });
    const utc = (iso: string, id: string) => entry({ time: iso, actor: { id, type: 'user' } });
    expect(feed(night, [utc('2025-06-02T23:00:00Z', 'a'), utc('2025-06-03T02:00:00Z', 'b')])).toEqual([]);
    expect(feed(night, [utc('2025-06-07T02:00:00Z', 'c')])).toEqual([]); // Saturday 02:00: Friday's shift
    expect(feed(night, [utc('2025-06-08T02:00:00Z', 'd')])).toHaveLength(1); // Sunday 02:00: Saturday's
    expect(feed(night, [utc('2025-06-02T12:00:00Z', 'e')])).toHaveLength(1);
  });

  it('runs custom rules with bounded per-rule state and isolates a throwing rule', () => {
    const errors: unknown[] = [];
    const d = detector({
      onError: (error) => errors.push(error),
      rules: [
        {
          name: 'broken',
          evaluate: () => {
            throw new Error('boom');
          },
        },
        {
          name: 'many-deletes',
          severity: 'critical',
          evaluate(e, state) {
            if (e.action !== 'record.delete') return undefined;
            const w = state.hit(`actor:${e.actor!.id}`, 60);
            return w.count === 3 ? { message: '3 deletes in a minute', entries: w.seqs } : undefined;
          },
        },
      ],
    });
    const del = (t: number) => entry({ offsetSec: t, action: 'record.delete' });
    expect(feed(d, [del(0), del(1)])).toEqual([]);
    const [hit] = feed(d, [del(2)]);
    expect(hit).toMatchObject({
      rule: 'many-deletes',
      severity: 'critical',
      message: '3 deletes in a minute',
    });
    expect(hit!.entries).toEqual([seq - 2, seq - 1, seq]);
    expect(errors.length).toBe(3); // 'broken' threw on each entry and detection carried on
  });

  it('keeps memory bounded: least recently used keys are evicted', () => {
    const d = detector({
      maxKeysPerRule: 2,
      failedLogins: { perAccount: { threshold: 2, windowSec: 600 }, perIp: false },
    });
    feed(d, [failedLogin(0, 'a'), failedLogin(1, 'b'), failedLogin(2, 'c')]); // 'a' evicted
    expect(feed(d, [failedLogin(3, 'a')])).toEqual([]);
    expect(feed(d, [failedLogin(4, 'c')])).toHaveLength(1);
  });

  it('emits violations as events and to the callback', () => {
    const seen: string[] = [];
    const d = detector({ breakGlass: {}, onViolation: (v) => seen.push(`cb:${v.rule}`) });
    d.on('violation', (v: SecurityViolation) => seen.push(`ev:${v.rule}`));
    d.observe(entry({ action: 'authz.break_glass.used' }));
    expect(seen).toEqual(['cb:break-glass', 'ev:break-glass']);
  });

  it.each([
    [
      { failedLogins: { perAccount: { threshold: 0, windowSec: 10 } } },
      'threat.detector.failedLogins.perAccount.threshold',
    ],
    [{ deniedAccess: { windowSec: -1 } }, 'threat.detector.deniedAccess.windowSec'],
    [{ privilegeChanges: { actions: [] } }, 'threat.detector.privilegeChanges.actions'],
    [{ breakGlass: { severity: 'urgent' } }, 'threat.detector.breakGlass.severity'],
    [
      { offHours: { timeZone: 'Mars/Olympus', start: '08:00', end: '18:00' } },
      'threat.detector.offHours.timeZone',
    ],
    [{ offHours: { timeZone: 'UTC', start: '8am', end: '18:00' } }, 'threat.detector.offHours.start'],
    [
      { offHours: { timeZone: 'UTC', start: '08:00', end: '18:00', days: [0] } },
      'threat.detector.offHours.days',
    ],
    [{ rules: [{ name: 'break-glass', evaluate: () => undefined }] }, 'threat.detector.rules[0].name'],
    [{ rules: [{ name: 'x' }] }, 'threat.detector.rules[0]'],
    [{ maxKeysPerRule: 0 }, 'threat.detector.maxKeysPerRule'],
  ])('validates options eagerly (%p)', (options, path) => {
    let error: unknown;
    try {
      new ThreatDetector(options as ThreatDetectorOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BulwarkConfigError);
    expect((error as BulwarkConfigError).details?.path).toBe(path);
  });
});

describe('ThreatDetector as an AuditLog sink', () => {
  const ev = (over: Partial<AuditEvent>): AuditEvent => ({
    actor: { id: 'anonymous', type: 'anonymous', ip: '203.0.113.5' },
    action: 'auth.login',
    outcome: 'failure',
    details: { account: 'alice' },
    ...over,
  });

  it('writes violations back into the log, ignores its own entries, and the chain still verifies', async () => {
    const violations: SecurityViolation[] = [];
    const d = new ThreatDetector({
      failedLogins: { perAccount: { threshold: 3, windowSec: 300 }, perIp: false },
      onViolation: (v) => violations.push(v),
    });
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store, sinks: [d], closeStore: false });
    d.attach(log);

    const appended = await Promise.all([1, 2, 3].map(() => log.append(ev({}))));
    await log.flush();
    await d.flush();
    expect(violations).toHaveLength(1);
    expect(violations[0]!.entries).toEqual(appended.map((e) => e.seq));

    const page = await log.query({ action: SECURITY_VIOLATION_ACTION });
    expect(page.entries).toHaveLength(1);
    const written = page.entries[0]!;
    expect(written).toMatchObject({
      actor: { id: 'bulwark-threat-detector', type: 'system' },
      action: 'security.violation',
      outcome: 'success',
      category: 'security',
      resource: { type: 'detection-rule', id: 'failed-login-burst' },
      details: { rule: 'failed-login-burst', severity: 'medium', entries: [1, 2, 3] },
    });

    // No feedback loop: the violation entry reached the detector (it is a sink) and was ignored.
    await log.flush();
    await d.flush();
    expect(log.size).toBe(4);
    expect(violations).toHaveLength(1);
    expect(d.observe(written)).toEqual([]);

    expect((await verifyAuditLog(store)).ok).toBe(true);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('a privilege-change rule that matched everything still cannot feed on its own violations', async () => {
    const d = new ThreatDetector({ privilegeChanges: { actions: ['*'] } });
    const log = await AuditLog.open({ store: new MemoryAuditStore(), sinks: [d] });
    d.attach(log);
    await log.append(ev({ action: 'role.granted', outcome: 'success' }));
    for (let i = 0; i < 3; i++) {
      await log.flush();
      await d.flush();
    }
    expect(log.size).toBe(2); // the event and one violation, no cascade
    await log.close();
  });
});
