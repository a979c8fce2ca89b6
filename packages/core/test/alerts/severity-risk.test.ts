import { AuditLog } from '../../src/audit/audit-log';
import { auditRisk, auditSeverity } from '../../src/audit/audit-severity';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { BulwarkAuditError, BulwarkConfigError } from '../../src/errors';
import { ThreatDetector } from '../../src/threat/threat-detector';

// Severity is derived when read (old entries keep their leaf hashes); risk is written by the
// detector with its signals, so a reviewer sees why a score is what it is.

const actor = { id: 'u1', type: 'user' as const, ip: '198.51.100.7' };

const ONLY_LOGINS = {
  deniedAccess: false,
  privilegeChanges: false,
  massExport: false,
  breakGlass: false,
} as const;

async function logWithBurst(
  detector = new ThreatDetector({
    ...ONLY_LOGINS,
    failedLogins: { perAccount: { threshold: 5, windowSec: 300 } },
  }),
) {
  const store = new MemoryAuditStore();
  const log = await AuditLog.open({ store, sinks: [detector] });
  detector.attach(log);
  await log.append({ actor, action: 'note.read', outcome: 'success' });
  await log.append({ actor, action: 'note.read', outcome: 'denied' });
  await log.append({ actor, action: 'role.granted', outcome: 'success' });
  for (let i = 0; i < 7; i++) {
    await log.append({
      actor,
      action: 'auth.login',
      outcome: 'failure',
      category: 'security',
      details: { account: 'alice' },
    });
  }
  await log.flush();
  await detector.flush();
  await log.flush();
  return { log, store, detector };
}

describe('severity and risk', () => {
  it('derives severity from action, outcome and category; details.severity overrides', () => {
    const base = {
      seq: 1,
      time: '2026-01-01T00:00:00.000Z',
      category: 'default',
      prevHash: '',
      leafHash: '',
    };
    expect(auditSeverity({ ...base, action: 'note.read', outcome: 'success' })).toBe('low');
    expect(auditSeverity({ ...base, action: 'note.read', outcome: 'denied' })).toBe('medium');
    expect(auditSeverity({ ...base, action: 'auth.login', outcome: 'failure' })).toBe('medium');
    expect(auditSeverity({ ...base, action: 'role.granted', outcome: 'success' })).toBe('high');
    expect(auditSeverity({ ...base, action: 'authz.break_glass.used', outcome: 'success' })).toBe('critical');
    expect(
      auditSeverity({ ...base, action: 'note.read', outcome: 'success', details: { severity: 'critical' } }),
    ).toBe('critical');
    // an unknown declared severity is ignored, never trusted
    expect(
      auditSeverity({
        ...base,
        action: 'note.read',
        outcome: 'success',
        details: { severity: 'apocalyptic' },
      }),
    ).toBe('low');
    expect(auditSeverity({ ...base })).toBe('low'); // redacted: no content
  });

  it('violations carry an explainable risk score written to the log, and the log still verifies', async () => {
    const { log } = await logWithBurst();
    const [violation] = (await log.query({ action: 'security.violation' })).entries;
    expect(violation).toBeDefined();
    const risk = violation!.details!.risk as { score: number; signals: { name: string; weight: number }[] };
    expect(risk.signals).toEqual([
      { name: 'severity.medium', weight: 30 },
      { name: 'volume', weight: 4 },
    ]);
    expect(risk.score).toBe(34);
    expect(auditRisk(violation!)).toBe(34);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('a log written before risk existed (violations without it) still verifies after new ones are appended', async () => {
    const store = new MemoryAuditStore();
    const old = await AuditLog.open({ store, closeStore: false });
    await old.append({
      actor: { id: 'bulwark-threat-detector', type: 'system' },
      action: 'security.violation',
      outcome: 'success',
      details: { rule: 'failed-login-burst', severity: 'medium', entries: [1] },
    });
    await old.close();
    const { log } = await (async () => {
      const detector = new ThreatDetector({
        ...ONLY_LOGINS,
        failedLogins: { perAccount: { threshold: 2, windowSec: 300 } },
      });
      const reopened = await AuditLog.open({ store, sinks: [detector] });
      detector.attach(reopened);
      for (let i = 0; i < 2; i++) {
        await reopened.append({
          actor,
          action: 'auth.login',
          outcome: 'failure',
          details: { account: 'bob' },
        });
      }
      await reopened.flush();
      await detector.flush();
      return { log: reopened };
    })();
    const violations = (await log.query({ action: 'security.violation' })).entries;
    expect(violations.map((v) => auditRisk(v))).toEqual([undefined, 31]);
    expect((await log.verify()).ok).toBe(true);
    await log.close();
  });

  it('query filters by minSeverity and minRisk, page by page', async () => {
    const { log } = await logWithBurst();
    const high = await log.query({ minSeverity: 'high' });
    expect(high.entries.map((e) => e.action)).toEqual(['role.granted']);
    const medium = await log.query({ minSeverity: 'medium', limit: 2 });
    expect(medium.entries.map((e) => e.action)).toEqual(['note.read', 'role.granted']);
    const next = await log.query({ minSeverity: 'medium', limit: 2, cursor: medium.nextCursor });
    expect(next.entries.map((e) => e.action)).toEqual(['auth.login', 'auth.login']);
    const risky = await log.query({ minRisk: 30 });
    expect(risky.entries.map((e) => e.action)).toEqual(['security.violation']);
    expect((await log.query({ minRisk: 90 })).entries).toEqual([]);
    await expect(log.query({ minSeverity: 'urgent' as never })).rejects.toThrow(BulwarkAuditError);
    await expect(log.query({ minRisk: 101 })).rejects.toThrow(/minRisk/);
    await log.close();
  });

  it('risk weights and the minimum score come from config', async () => {
    const quiet = new ThreatDetector({
      ...ONLY_LOGINS,
      failedLogins: { perAccount: { threshold: 5, windowSec: 300 } },
      risk: { minScore: 50 },
    });
    const { log } = await logWithBurst(quiet);
    expect((await log.query({ action: 'security.violation' })).entries).toEqual([]);
    await log.close();
    expect(() => new ThreatDetector({ risk: { weights: { perEntry: 500 } } })).toThrow(BulwarkConfigError);
    expect(() => new ThreatDetector({ risk: { minScore: -1 } })).toThrow(/threat.detector.risk.minScore/);
  });
});
