import { randomBytes } from 'node:crypto';
import { AuditLog } from '../../src/audit/audit-log';
import type { AuditSink } from '../../src/audit/audit-sink';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { MemoryCheckpointStore } from '../../src/audit/memory-checkpoint-store';
import { RetentionPolicy } from '../../src/audit/retention-policy';
import { runCheck } from '../../src/compliance/automated-checks';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import type { AuditEvidence, ThreatDetectionEvidence } from '../../src/compliance/evidence';
import { ThreatDetector } from '../../src/threat/threat-detector';

// The engines describe themselves (AuditLog, RetentionPolicy, ThreatDetector `describe()`), and the
// kit prefers those descriptions to what it used to infer.

const login = {
  actor: { id: 'u1', type: 'user' as const },
  action: 'auth.login',
  outcome: 'success' as const,
};

describe('AuditLog.describe()', () => {
  it('reports what protects the log without any key material', async () => {
    const hmacKey = randomBytes(32);
    const sink: AuditSink = { write: () => undefined };
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      hmacKey,
      signer: await CheckpointSigner.generate(),
      checkpointStore: new MemoryCheckpointStore(),
      logId: 'app',
      sinks: [sink, sink],
    });
    const d = log.describe();
    expect(d).toEqual({
      hmac: true,
      signer: true,
      checkpointStore: true,
      logId: 'app',
      sinks: 2,
      writes: { failed: 0, succeeded: 0, failing: false },
    });
    expect(JSON.stringify(d)).not.toContain(hmacKey.toString('hex'));
    expect(Object.isFrozen(d)).toBe(true);
    const bare = await AuditLog.open({ store: new MemoryAuditStore() });
    expect(bare.describe()).toEqual({
      hmac: false,
      signer: false,
      checkpointStore: false,
      sinks: 0,
      writes: { failed: 0, succeeded: 0, failing: false },
    });
    await log.close();
    await bare.close();
  });
});

describe('RetentionPolicy.periods() / describe()', () => {
  it('lists every configured category, null for kept forever, and counts holds', () => {
    const policy = new RetentionPolicy({
      periods: { default: 400, security: Infinity, ['__proto__']: 30 },
      holds: [{ id: 'case-1', reason: 'litigation', category: 'security' }],
    });
    const periods = policy.periods();
    expect(Object.keys(periods).sort()).toEqual(['__proto__', 'default', 'security']);
    expect(periods.default).toBe(400);
    expect(periods.security).toBeNull();
    expect(Object.getPrototypeOf(periods)).toBe(Object.prototype);
    expect(policy.describe()).toEqual({ periods, legalHolds: 1 });
  });
});

describe('ThreatDetector.describe()', () => {
  it('lists the enabled rules and whether violations reach an audit log', async () => {
    const detector = new ThreatDetector({ massExport: false, offHours: false });
    expect(detector.describe().rules).toEqual([
      'failed-login-burst',
      'denied-access-burst',
      'privilege-change',
      'break-glass',
    ]);
    expect(detector.describe().auditLogAttached).toBe(false);
    const log = await AuditLog.open({ store: new MemoryAuditStore(), sinks: [detector] });
    detector.attach(log);
    expect(detector.describe().auditLogAttached).toBe(true);
    await log.close(); // closes the detector as a sink: it no longer writes
    expect(detector.describe().auditLogAttached).toBe(false);
  });

  it('feeds the threat.detection check: a detector with every rule off fails it', async () => {
    const off = new ThreatDetector({
      failedLogins: false,
      deniedAccess: false,
      privilegeChanges: false,
      massExport: false,
      breakGlass: false,
    });
    const kit = new ComplianceKit().register({ threatDetector: off });
    const bundle = await kit.collectEvidence();
    expect((bundle.threatDetection!.data as ThreatDetectionEvidence).rules).toEqual([]);
    expect(runCheck('threat.detection', bundle, {}).summary).toMatch(/no rules/);
  });
});

describe('ComplianceKit reading the descriptions', () => {
  it('knows a log is keyed from its configuration, even before the first entry', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore(), hmacKey: randomBytes(32) });
    const kit = new ComplianceKit().register({ auditLog: log });
    const data = (await kit.collectEvidence()).audit!.data as AuditEvidence;
    expect(data.hmac).toBe('keyed');
    expect(data.hmacSource).toBe('configuration');
    expect(data.configuration).toEqual({ hmac: true, signer: false, checkpointStore: false, sinks: 0 });
    await log.close();
  });

  it('still probes a stored hash for a log that cannot describe itself', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    await log.append(login);
    const legacy = {
      size: log.size,
      verify: () => log.verify(),
      query: (f?: Parameters<AuditLog['query']>[0]) => log.query(f),
      retention: { periodDays: (c: string) => log.retention.periodDays(c) },
    };
    const kit = new ComplianceKit().register({ auditLog: legacy });
    const data = (await kit.collectEvidence()).audit!.data as AuditEvidence;
    expect(data.hmac).toBe('unkeyed');
    expect(data.hmacSource).toBe('probe');
    expect(data.configuration).toBeUndefined();
    await log.close();
  });

  it('says why no signed checkpoint was verified: no signer configured', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore(), hmacKey: randomBytes(32) });
    await log.append(login);
    const kit = new ComplianceKit().register({ auditLog: log });
    await kit.verifyAuditLog();
    const outcome = runCheck('audit.tamper-evidence', await kit.collectEvidence(), {});
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/the audit log has no checkpoint signer of its own/);
    await log.close();
  });

  it('checks every category the retention policy configures, not only the default list', async () => {
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      retention: { periods: { default: 400, audit: 400, security: 400, consent: 30 } },
    });
    const kit = new ComplianceKit().register({ auditLog: log });
    const outcome = runCheck('audit.retention', await kit.collectEvidence(), { minDays: 366 });
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('consent (30 days)');
    await log.close();
  });

  it('runs a report through the kit itself', async () => {
    const kit = new ComplianceKit({ httpSurface: false });
    const report = await kit.report('gdpr');
    expect(report.scope).toBe('gdpr');
    expect(report.controls.every((c) => c.framework === 'gdpr')).toBe(true);
    await expect(kit.report('sox' as never)).rejects.toMatchObject({
      details: { path: 'compliance.framework' },
    });
  });
});
