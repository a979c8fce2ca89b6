import { AlertRouter } from '../../src/alerts/alert-router';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { runCheck } from '../../src/compliance/automated-checks';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import { ThreatDetector } from '../../src/threat/threat-detector';
import { createBulwark } from '../../src';

// Compliance: anomaly detection passes only when alerts demonstrably reach a channel; integrity
// alarms are raised by the audit log itself.

const DAY = 86_400_000;

describe('alerting as compliance evidence', () => {
  it('threat.detection needs a channel AND a recent delivery (or test alert)', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clock = () => new Date(now);
    const detector = new ThreatDetector();
    const sent: string[] = [];
    const router = await AlertRouter.open({
      channels: [{ name: 'ops', kind: 'memory', send: async (a) => void sent.push(a.id) }],
      retry: { intervalMs: 0 },
      clock,
    });
    detector.on('violation', (v) => void router.notifyViolation(v));
    const status = async (kit: ComplianceKit) =>
      runCheck('threat.detection', await kit.collectEvidence(), {});

    // a bare listener is not evidence that anyone is told
    const bare = new ComplianceKit({ clock }).register({ threatDetector: detector });
    expect((await status(bare)).status).toBe('not-demonstrated');

    const kit = new ComplianceKit({ clock }).register({ threatDetector: detector, alertRouter: router });
    const configuredOnly = await status(kit);
    expect(configuredOnly.status).toBe('not-demonstrated');
    expect(configuredOnly.remediation).toMatch(/alerts\.test\(\)/);

    await router.test();
    expect(sent).toHaveLength(1);
    const passed = await status(kit);
    expect(passed.status).toBe('pass');
    expect(passed.summary).toMatch(/memory:ops/);

    now += 31 * DAY; // the delivery is stale
    expect((await status(kit)).status).toBe('not-demonstrated');
    await router.close();
  });

  it('routed integrity alarms are evidence for the audit write-health control (PCI DSS 10.7.2)', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    await log.append({ actor: { id: 'u', type: 'user' }, action: 'a', outcome: 'success' });
    await log.flush();
    const detector = new ThreatDetector({ auditLog: log });
    const router = await AlertRouter.open({
      channels: [{ name: 'pager', kind: 'memory', send: async () => undefined }],
      retry: { intervalMs: 0 },
    });
    const health = async (kit: ComplianceKit) =>
      runCheck('audit.write-health', await kit.collectEvidence(), {});
    const plain = await health(new ComplianceKit().register({ auditLog: log }));
    expect(plain.status).toBe('pass');
    expect(plain.summary).toMatch(/console only/);
    const alerted = await health(
      new ComplianceKit().register({ auditLog: log, threatDetector: detector, alertRouter: router }),
    );
    expect(alerted.status).toBe('pass');
    expect(alerted.summary).toMatch(/raises a critical alert \(memory:pager\)/);
    expect(alerted.evidence.map((e) => e.source)).toEqual(['AuditLog', 'ThreatDetector']);
    await router.close();
    await log.close();
  });

  it('a failed verification raises a critical integrity alarm through createBulwark', async () => {
    const received: { rule: string; severity: string }[] = [];
    const store = new MemoryAuditStore();
    const bulwark = await createBulwark({
      audit: { store },
      alerts: {
        channels: [{ name: 'pager', kind: 'memory', send: async (a) => void received.push(a) }],
        routes: [{ channels: ['pager'], categories: ['integrity'] }],
        retry: { intervalMs: 0 },
      },
    });
    try {
      for (let i = 0; i < 3; i++) {
        await bulwark.auditLog!.append({
          actor: { id: 'u', type: 'user' },
          action: 'note.read',
          outcome: 'success',
        });
      }
      await bulwark.auditLog!.flush();
      // an insider rewrites entry 2 in the store
      const entries = (store as unknown as { entries: { action?: string }[] }).entries;
      expect(Array.isArray(entries)).toBe(true);
      entries[1] = { ...entries[1]!, action: 'note.nothing-to-see' };
      const report = await bulwark.auditLog!.verify();
      expect(report.ok).toBe(false);
      await waitFor(() => received.length > 0);
      expect(received[0]).toMatchObject({ rule: 'integrity.audit-verify-failed', severity: 'critical' });
    } finally {
      await bulwark.close();
    }
  });

  it('integrityAlarms: false raises no alarm for a failed verification (as docs/alerting.md says)', async () => {
    const received: { rule: string }[] = [];
    const store = new MemoryAuditStore();
    const bulwark = await createBulwark({
      audit: { store },
      alerts: {
        integrityAlarms: false,
        channels: [{ name: 'pager', kind: 'memory', send: async (a) => void received.push(a) }],
        routes: [{ channels: ['pager'], categories: ['integrity'] }],
        retry: { intervalMs: 0 },
      },
    });
    try {
      for (let i = 0; i < 2; i++) {
        await bulwark.auditLog!.append({ actor: { id: 'u', type: 'user' }, action: 'a', outcome: 'success' });
      }
      await bulwark.auditLog!.flush();
      const entries = (store as unknown as { entries: { action?: string }[] }).entries;
      entries[0] = { ...entries[0]!, action: 'rewritten' };
      expect((await bulwark.auditLog!.verify()).ok).toBe(false);
      // A later alert on the same route arrives; nothing raised by the verification came before it.
      await bulwark.alerts!.notify({ rule: 'marker', severity: 'high', category: 'integrity', message: 'm' });
      await waitFor(() => received.length > 0);
      expect(received.map((a) => a.rule)).toEqual(['marker']);
    } finally {
      await bulwark.close();
    }
    const router = await AlertRouter.open({
      integrityAlarms: false,
      channels: [{ name: 'pager', kind: 'memory', send: async (a) => void received.push(a) }],
      retry: { intervalMs: 0 },
    });
    const used = await router.notifyViolation({
      rule: 'break-glass',
      severity: 'high',
      message: 'break-glass access used',
      entries: [1],
      at: new Date().toISOString(),
    });
    expect(used.alert.severity).toBe('high');
    await router.close();
  });

  it('break-glass use is a critical alarm that quiet hours never hold back', async () => {
    const got: { rule: string; severity: string }[] = [];
    const router = await AlertRouter.open({
      channels: [{ name: 'pager', kind: 'memory', send: async (a) => void got.push(a) }],
      // quiet all day, every day
      quietHours: { start: '00:00', end: '24:00', timeZone: 'UTC' },
      retry: { intervalMs: 0 },
    });
    const quiet = await router.notifyViolation({
      rule: 'failed-login-burst',
      severity: 'high',
      message: '5 failed logins',
      entries: [1],
      at: new Date().toISOString(),
    });
    expect(quiet.decision).toEqual({ deliver: false, reason: 'quiet-hours' });
    const used = await router.notifyViolation({
      rule: 'break-glass',
      severity: 'high',
      message: 'break-glass access used',
      entries: [2],
      at: new Date().toISOString(),
    });
    expect(used.delivered).toEqual(['pager']);
    expect(got).toEqual([expect.objectContaining({ rule: 'break-glass', severity: 'critical' })]);
    await router.close();
  });

  it('failing audit writes raise a critical integrity alarm through createBulwark', async () => {
    const received: { rule: string; severity: string; message: string }[] = [];
    let broken = false;
    class FlakyStore extends MemoryAuditStore {
      override async append(...args: Parameters<MemoryAuditStore['append']>) {
        if (broken) throw new Error('disk on fire: /var/lib/secret-path');
        return super.append(...args);
      }
    }
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const bulwark = await createBulwark({
      audit: { store: new FlakyStore() },
      alerts: {
        channels: [{ name: 'pager', kind: 'memory', send: async (a) => void received.push(a) }],
        routes: [{ channels: ['pager'], categories: ['integrity'] }],
        retry: { intervalMs: 0 },
      },
    });
    try {
      broken = true;
      await bulwark
        .auditLog!.append({ actor: { id: 'u', type: 'user' }, action: 'a', outcome: 'success' })
        .catch(() => undefined);
      await waitFor(() => received.length > 0);
      expect(received[0]).toMatchObject({ rule: 'integrity.audit-write-failure', severity: 'critical' });
      // the alert names the code, never the driver's message
      expect(received[0]!.message).not.toContain('secret-path');
    } finally {
      broken = false;
      await bulwark.close();
      errors.mockRestore();
    }
  });

  it('AuditLog onVerifyFailure is not called for a sound log', async () => {
    const calls: unknown[] = [];
    const log = await AuditLog.open({ store: new MemoryAuditStore(), onVerifyFailure: (r) => calls.push(r) });
    await log.append({ actor: { id: 'u', type: 'user' }, action: 'a', outcome: 'success' });
    expect((await log.verify()).ok).toBe(true);
    expect(calls).toEqual([]);
    await log.close();
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}
