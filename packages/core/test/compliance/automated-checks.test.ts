import { AuditLog } from '../../src/audit/audit-log';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { MemoryCheckpointStore } from '../../src/audit/memory-checkpoint-store';
import { PolicyEngine } from '../../src/authz/policy-engine';
import { ACCEPTED_PROVENANCE, runCheck, type CheckParams } from '../../src/compliance/automated-checks';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import type { CheckId } from '../../src/compliance/control';
import type { EvidenceBundle, EvidenceSourceName } from '../../src/compliance/evidence';
import { PCI_DSS_CONTROLS } from '../../src/compliance/catalogue/pci-dss';
import { EnvKeyProvider } from '../../src/crypto/env-key-provider';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { PasswordHasher } from '../../src/crypto/password-hasher';
import { MfaPolicy } from '../../src/mfa/mfa-policy';
import { BreachRegister } from '../../src/privacy/breach-register';
import { DataSubjectRequests } from '../../src/privacy/data-subject-requests';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';
import {
  fullKit,
  httpsRequest,
  observedApp,
  POLICY,
  SECURE_HEADERS,
  type FullKit,
} from './compliance-helpers';

const DAY = 86_400_000;

let f: FullKit;
beforeEach(async () => {
  f = await fullKit();
});
afterEach(async () => {
  await f.close();
});

const check = async (id: CheckId, params: CheckParams = {}, kit: ComplianceKit = f.kit) =>
  runCheck(id, await kit.collectEvidence(), params);

function without(bundle: EvidenceBundle, source: EvidenceSourceName): EvidenceBundle {
  return { ...bundle, [source]: undefined };
}

describe('every automated check', () => {
  const rows: [CheckId, EvidenceSourceName, CheckParams?][] = [
    ['encryption.classified-fields', 'classification'],
    ['keys.rotation', 'keys'],
    ['keys.algorithms', 'keys'],
    ['passwords.hashing', 'passwords'],
    ['mfa.privileged', 'mfa'],
    ['audit.enabled', 'audit'],
    ['audit.verified', 'audit'],
    ['audit.tamper-evidence', 'audit'],
    ['audit.retention', 'audit', { minDays: 2192 }],
    ['authz.default-deny', 'authz'],
    ['authz.break-glass-audited', 'authz'],
    [
      'threat.brute-force',
      'bruteForce',
      { scope: 'account', maxFailures: 10, minLockoutSec: 1800, lockout: 'hard' },
    ],
    ['threat.detection', 'threatDetection'],
    ['http.security-headers', 'http'],
    ['http.csrf', 'http'],
    ['http.transport-security', 'http'],
    ['consent.marketing', 'consent'],
    ['dsr.overdue', 'dsr'],
    ['dsr.capabilities', 'dsr', { operation: 'erase' }],
    ['processors.agreements', 'processors'],
    ['breach.notifications', 'breaches'],
    ['privacy.processing-records', 'processing'],
    ['privacy.data-retention', 'dataRetention'],
  ];
  // Every row has three cells: jest reads a test function with more parameters than cells as a done-callback test.
  const sources = rows.map(([id, source, params]): [CheckId, EvidenceSourceName, CheckParams] => [
    id,
    source,
    params ?? {},
  ]);

  it.each(sources)('%s passes on the fully configured kit, with evidence', async (id, _source, params) => {
    const outcome = await check(id, params);
    // audit.enabled needs the log's write health (AuditLog.describe().writes); a log that does not
    // report it cannot show that no write failed.
    const reportsWrites = (f.auditLog.describe() as { writes?: unknown }).writes !== undefined;
    if (id === 'audit.enabled' && !reportsWrites) {
      expect(outcome.status).toBe('not-demonstrated');
      return;
    }
    expect(outcome).toMatchObject({ status: 'pass' });
    for (const e of outcome.evidence) {
      expect(ACCEPTED_PROVENANCE[id]).toContain(e.provenance);
    }
    expect(outcome.evidence.length).toBeGreaterThan(0);
    expect(outcome.remediation).toBeUndefined();
    for (const e of outcome.evidence) expect(Number.isNaN(Date.parse(e.observedAt))).toBe(false);
  });

  it.each(sources)(
    '%s fails when its evidence (%s) is missing, telling what to register',
    async (id, source, params) => {
      const bundle = without(await f.kit.collectEvidence(), source);
      const outcome = runCheck(id, bundle, params);
      expect(outcome.status).toBe('fail');
      expect(outcome.remediation).toMatch(/register|No HTTP app registered/i);
    },
  );

  it('an empty kit fails every check (never a pass without evidence)', async () => {
    const bundle = await new ComplianceKit().collectEvidence();
    for (const [id, , params] of sources) expect(runCheck(id, bundle, params).status).toBe('fail');
  });

  it('a service that throws while being read is a failure naming the error', async () => {
    const kit = new ComplianceKit().register({
      keyRing: {
        list: () => {
          throw new Error('store offline');
        },
      },
    });
    const outcome = await check('keys.rotation', {}, kit);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('store offline');
  });
});

describe('encryption.classified-fields', () => {
  it('fails naming an unencrypted PHI field', async () => {
    f.classification.register({ entity: 'Patient', field: 'ssn', category: 'phi', encrypted: false });
    const outcome = await check('encryption.classified-fields', { categories: ['phi'] });
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('Patient.ssn (phi)');
  });

  it('ignores unencrypted fields of other categories and is n/a when no field of the category exists', async () => {
    f.classification.register({ entity: 'User', field: 'name', category: 'personal', encrypted: false });
    expect((await check('encryption.classified-fields', { categories: ['phi'] })).status).toBe('pass');
    f.classification.unregister('Payment', 'pan');
    expect((await check('encryption.classified-fields', { categories: ['cardholder'] })).status).toBe(
      'not-applicable',
    );
  });

  it('fails while an encrypted field is still read in clear (transitional read mode), and passes once it is not', async () => {
    f.classification.register({
      entity: 'Patient',
      field: 'ssn',
      category: 'phi',
      encrypted: true,
      plaintextReads: 3,
    });
    const outcome = await check('encryption.classified-fields', { categories: ['phi'] });
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('Patient.ssn (3 plaintext read(s))');
    expect(outcome.remediation).toMatch(/bulwark typeorm encrypt/);
    const evidence = outcome.evidence[0]!.data as {
      fields: Array<{ field: string; plaintextReads?: number }>;
    };
    expect(evidence.fields.find((x) => x.field === 'ssn')?.plaintextReads).toBe(3);
    f.classification.register({
      entity: 'Patient',
      field: 'ssn',
      category: 'phi',
      encrypted: true,
      plaintextReads: 0,
    });
    expect(f.classification.get('Patient', 'ssn')).not.toHaveProperty('plaintextReads');
    expect((await check('encryption.classified-fields', { categories: ['phi'] })).status).toBe('pass');
    expect(() =>
      f.classification.register({
        entity: 'P',
        field: 'x',
        category: 'phi',
        encrypted: true,
        plaintextReads: -1,
      }),
    ).toThrow(/plaintextReads/);
  });

  it('fails on an empty registry', async () => {
    f.classification.clear();
    const outcome = await check('encryption.classified-fields');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/registry is empty/);
  });
});

describe('keys', () => {
  it('keys.rotation fails when the primary version is older than the rotation period (default 90 days)', async () => {
    const later = new ComplianceKit({ clock: () => new Date(Date.now() + 100 * DAY) }).register({
      keyRing: f.keyRing,
    });
    const outcome = await check('keys.rotation', {}, later);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/pii v1 \(\d+ days old, period 90 days\)/);
    const soon = new ComplianceKit({ clock: () => new Date(Date.now() + 60 * DAY) }).register({
      keyRing: f.keyRing,
    });
    expect((await check('keys.rotation', {}, soon)).status).toBe('pass');
    expect((await check('keys.rotation', { maxAgeDays: 30 }, soon)).status).toBe('fail');
  });

  it("keys.rotation reads each key's own rotateEvery and expiry from the ring", async () => {
    const ring = await KeyRing.open({
      provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
      store: new MemoryKeyStore(),
      rotation: { keys: { pan: { rotateEvery: 30, expireAfter: 45 } } },
    });
    await ring.createKey('pan');
    await ring.createKey('pii');
    const at = (days: number) =>
      new ComplianceKit({ clock: () => new Date(Date.now() + days * DAY) }).register({ keyRing: ring });
    expect((await check('keys.rotation', {}, at(20))).status).toBe('pass');
    const overdue = await check('keys.rotation', {}, at(35));
    expect(overdue.status).toBe('fail');
    expect(overdue.summary).toMatch(/pan v1 \(35 days old, period 30 days\)/);
    expect(overdue.summary).not.toMatch(/pii/);
    expect((await check('keys.rotation', {}, at(50))).summary).toMatch(/pan v1 \(expired /);
    await ring.close();
  });

  it('the PCI DSS 3.7.4 control applies a 90-day cryptoperiod, not 365', () => {
    const control = PCI_DSS_CONTROLS.find((c) => c.id === 'pci-3.7.4');
    expect(control?.params).toEqual({ maxAgeDays: 90 });
  });

  it('keys.rotation passes again after a rotation', async () => {
    await f.keyRing.rotate('pii');
    const later = new ComplianceKit({ clock: () => new Date(Date.now() + 10 * DAY) }).register({
      keyRing: f.keyRing,
    });
    expect((await check('keys.rotation', { maxAgeDays: 30 }, later)).status).toBe('pass');
  });

  it('keys.algorithms fails for a version outside the allow-list', async () => {
    const outcome = await check('keys.algorithms', { allowed: ['chacha20-poly1305'] });
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('pii v1 (aes-256-gcm)');
  });

  it('both fail on a ring with no keys', async () => {
    const kit = new ComplianceKit().register({ keyRing: { list: () => [] } });
    expect((await check('keys.rotation', {}, kit)).summary).toMatch(/no data keys/);
    expect((await check('keys.algorithms', {}, kit)).status).toBe('fail');
  });
});

it('passwords.hashing fails below the OWASP minimum', async () => {
  f.kit.register({
    passwordHasher: new PasswordHasher({ memoryCost: 4096, timeCost: 1, allowWeakParameters: true }),
  });
  const outcome = await check('passwords.hashing');
  expect(outcome.status).toBe('fail');
  expect(outcome.summary).toMatch(/m=4096 KiB t=1/);
});

describe('mfa.privileged', () => {
  it('fails when the policy does not cover a privileged role', async () => {
    f.kit.register({ mfaPolicy: new MfaPolicy({ requiredFor: ['clinician'] }) });
    const outcome = await check('mfa.privileged');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('admin');
  });

  it("passes with requiredFor ['*'] and fails when no privileged role is declared", async () => {
    f.kit.register({ mfaPolicy: new MfaPolicy({ requiredFor: ['*'] }) });
    expect((await check('mfa.privileged')).status).toBe('pass');
    const none = new ComplianceKit({ privilegedRoles: [] }).register({
      mfaPolicy: new MfaPolicy({ requiredFor: ['*'] }),
    });
    expect((await check('mfa.privileged', {}, none)).summary).toMatch(/No privileged roles/);
  });
});

describe('audit', () => {
  it('audit.enabled fails on an empty log', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const outcome = await check('audit.enabled', {}, new ComplianceKit().register({ auditLog: log }));
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/holds no events/);
  });

  it('audit.verified fails without a recorded verification', async () => {
    const g = await fullKit({ verify: false });
    const outcome = await check('audit.verified', {}, g.kit);
    await g.close();
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/No verification/);
  });

  it('audit.verified fails after a tampered entry is found, even though an earlier run passed', async () => {
    f.auditStore.rawEntries[0] = { ...f.auditStore.rawEntries[0], action: 'auth.logout' };
    await f.kit.verifyAuditLog();
    const outcome = await check('audit.verified');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/FAILED at seq 1 \(hash-mismatch\)/);
    // and the keyed-hash evidence is no longer trusted either
    expect((await check('audit.tamper-evidence')).status).toBe('fail');
  });

  it('audit.verified fails when the last verification is older than the window', async () => {
    let now = Date.now();
    const g = await fullKit({ clock: () => new Date(now), verify: true });
    now += 25 * 3_600_000;
    const outcome = await check('audit.verified', {}, g.kit);
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/older than 24 h/);
    expect((await check('audit.verified', { maxAgeHours: 48 }, g.kit)).status).toBe('pass');
    await g.close();
  });

  it('audit.tamper-evidence fails for an unkeyed log and for a log without signed checkpoints', async () => {
    const unkeyed = await AuditLog.open({
      store: new MemoryAuditStore(),
      signer: await CheckpointSigner.generate(),
      checkpointStore: new MemoryCheckpointStore(),
    });
    await unkeyed.append({ actor: { id: 'u', type: 'user' }, action: 'auth.login', outcome: 'success' });
    await unkeyed.checkpoint();
    const kit1 = new ComplianceKit().register({ auditLog: unkeyed });
    await kit1.verifyAuditLog();
    const o1 = await check('audit.tamper-evidence', {}, kit1);
    expect(o1.status).toBe('fail');
    expect(o1.summary).toMatch(/not HMAC-keyed/);

    const unsigned = await AuditLog.open({ store: new MemoryAuditStore(), hmacKey: Buffer.alloc(32, 7) });
    await unsigned.append({ actor: { id: 'u', type: 'user' }, action: 'auth.login', outcome: 'success' });
    const kit2 = new ComplianceKit().register({ auditLog: unsigned });
    await kit2.verifyAuditLog();
    const o2 = await check('audit.tamper-evidence', {}, kit2);
    expect(o2.status).toBe('fail');
    expect(o2.summary).toMatch(/no checkpoint signer of its own/);
    expect(o2.summary).not.toMatch(/HMAC/);

    // A signer but no checkpoint store: nothing signed is verified.
    const noStore = await AuditLog.open({
      store: new MemoryAuditStore(),
      hmacKey: Buffer.alloc(32, 7),
      signer: await CheckpointSigner.generate(),
    });
    await noStore.append({ actor: { id: 'u', type: 'user' }, action: 'auth.login', outcome: 'success' });
    const kit3 = new ComplianceKit().register({ auditLog: noStore });
    await kit3.verifyAuditLog();
    const o3 = await check('audit.tamper-evidence', {}, kit3);
    expect(o3.status).toBe('fail');
    expect(o3.summary).toMatch(/no signed checkpoint was verified \(the audit log has no checkpoint store/);
  });

  it('audit.retention checks each category against the framework minimum', async () => {
    const log = await AuditLog.open({
      store: new MemoryAuditStore(),
      retention: { periods: { default: 400 } },
    });
    const kit = new ComplianceKit({ auditCategories: ['default', 'security'] }).register({ auditLog: log });
    const pci = await check('audit.retention', { minDays: 366 }, kit);
    expect(pci.status).toBe('pass');
    expect(pci.summary).toMatch(/default: 400 days, security: kept indefinitely/);
    const hipaa = await check('audit.retention', { minDays: 2192 }, kit);
    expect(hipaa.status).toBe('fail');
    expect(hipaa.summary).toContain('default (400 days)');
  });
});

describe('authz', () => {
  it('authz.default-deny fails when a wildcard rule lets anyone do anything', async () => {
    const open = new PolicyEngine({
      policy: {
        ...POLICY,
        policies: [
          { id: 'open', rules: [{ id: 'all', effect: 'allow', roles: ['*'], actions: '*', resources: '*' }] },
        ],
      },
    });
    f.kit.register({ policyEngine: open });
    const outcome = await check('authz.default-deny');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/was allowed/);
  });

  it('authz.break-glass-audited passes for grants in the audit log, fails for grants the log lacks', async () => {
    const grant = {
      actor: { id: 'dr-who' },
      reason: 'patient in ER',
      actions: 'patient:read',
      resources: 'records/*',
      durationMs: 60_000,
    };
    await f.policyEngine.grantBreakGlass(grant);
    const ok = await check('authz.break-glass-audited');
    expect(ok.status).toBe('pass');
    // the fixture's drill grant and this one
    expect(ok.summary).toMatch(/All 2 break-glass grants/);

    // audited elsewhere (a hook that is not the registered audit log): not provable
    const elsewhere = new PolicyEngine({ policy: POLICY, onAudit: () => undefined });
    const g = await elsewhere.grantBreakGlass(grant);
    f.kit.register({ policyEngine: elsewhere });
    const bad = await check('authz.break-glass-audited');
    expect(bad.status).toBe('fail');
    expect(bad.summary).toContain(g.id);

    const noLog = new ComplianceKit().register({ policyEngine: elsewhere });
    expect((await check('authz.break-glass-audited', {}, noLog)).summary).toMatch(
      /no audit log is registered/,
    );
  });
});

describe('threat', () => {
  it('threat.brute-force: default limits fail the PCI lockout parameters but pass the general ones', async () => {
    f.kit.register({ bruteForceGuard: new BruteForceGuard() });
    const pci = await check('threat.brute-force', { scope: 'account', maxFailures: 10, minLockoutSec: 1800 });
    expect(pci.status).toBe('fail');
    expect(pci.summary).toMatch(/no account limit with at most 10 failures/);
    expect((await check('threat.brute-force')).status).toBe('pass');
    f.kit.register({ bruteForceGuard: new BruteForceGuard({ account: false, ipAccount: false }) });
    expect((await check('threat.brute-force')).status).toBe('fail');
  });

  it('threat.brute-force evidence says what a store outage does and how often the store failed', async () => {
    const guard = new BruteForceGuard();
    const kit = new ComplianceKit().register({ bruteForceGuard: guard });
    expect((await kit.collectEvidence()).bruteForce?.data).toMatchObject({
      store: 'memory',
      onStoreUnavailable: 'fail-closed',
      storeFailures: 0,
      fallbackDecisions: 0,
    });
    const failing = {
      describe: () => ({
        ...guard.describe(),
        store: 'redis' as const,
        onStoreUnavailable: 'local-fallback' as const,
      }),
      stats: () => ({ storeFailures: 7, fallbackDecisions: 5 }),
    };
    kit.register({ bruteForceGuard: failing });
    expect((await kit.collectEvidence()).bruteForce?.data).toMatchObject({
      store: 'redis',
      onStoreUnavailable: 'local-fallback',
      storeFailures: 7,
      fallbackDecisions: 5,
    });
  });

  it("threat.brute-force: PCI's user-ID lockout needs lockout 'hard', not one that spares known clients", async () => {
    const pci = { scope: 'account', maxFailures: 10, minLockoutSec: 1800, lockout: 'hard' };
    const account = { maxFailures: 10, lockoutSec: 1800, maxLockoutSec: 86_400 };
    f.kit.register({ bruteForceGuard: new BruteForceGuard({ account }) });
    const spared = await check('threat.brute-force', pci);
    expect(spared.status).toBe('fail');
    expect(spared.summary).toMatch(/spares clients the account signed in from/);
    f.kit.register({ bruteForceGuard: new BruteForceGuard({ account, lockout: 'hard' }) });
    expect((await check('threat.brute-force', pci)).status).toBe('pass');
  });

  it('threat.detection fails for a detector with no rules or no outlet', async () => {
    const kit = new ComplianceKit().register({
      threatDetector: { listenerCount: () => 0, describe: () => ({ rules: [], auditLogAttached: true }) },
    });
    expect((await check('threat.detection', {}, kit)).summary).toMatch(/no rules/);
    kit.register({
      threatDetector: { listenerCount: () => 0, describe: () => ({ rules: ['x'], auditLogAttached: false }) },
    });
    expect((await check('threat.detection', {}, kit)).status).toBe('not-demonstrated');
  });
});

describe('http', () => {
  it('fails with "no app registered" when nothing is registered, n/a only when configured without HTTP', async () => {
    const none = await check('http.security-headers', {}, new ComplianceKit());
    expect(none.status).toBe('fail');
    expect(none.remediation).toMatch(/No HTTP app registered/);
    expect((await check('http.csrf', {}, new ComplianceKit())).status).toBe('fail');
    const noHttp = new ComplianceKit({ httpSurface: false });
    expect((await check('http.security-headers', {}, noHttp)).status).toBe('not-applicable');
    expect((await check('http.csrf', {}, noHttp)).status).toBe('not-applicable');
  });

  it('fails an app whose responses lack HSTS or carry a short max-age, and an app without CSRF', async () => {
    const { 'Strict-Transport-Security': _hsts, ...rest } = SECURE_HEADERS;
    const admin = await observedApp(
      async (port) => {
        await httpsRequest(port, 'GET', '/');
        await httpsRequest(port, 'POST', '/x', { cookie: 'sid=1' });
      },
      { name: 'admin', headers: rest },
    );
    const short = await observedApp(undefined, {
      name: 'short',
      headers: { ...SECURE_HEADERS, 'Strict-Transport-Security': 'max-age=600' },
    });
    f.kit.registerHttpApp(admin).registerHttpApp(() => short.evidence());
    const headers = await check('http.security-headers', { require: ['hsts'] });
    expect(headers.status).toBe('fail');
    expect(headers.summary).toMatch(/admin \(Strict-Transport-Security/);
    expect(headers.summary).toMatch(/short \(Strict-Transport-Security/);
    expect(headers.summary).not.toMatch(/api \(/);
  });

  it('accepts CSP frame-ancestors instead of X-Frame-Options but not a missing CSP', async () => {
    const { 'X-Frame-Options': _xfo, ...noXfo } = SECURE_HEADERS;
    const kit = new ComplianceKit().registerHttpApp(
      await observedApp(undefined, { name: 'a', headers: noXfo }),
    );
    expect((await check('http.security-headers', {}, kit)).status).toBe('pass');
    const { 'Content-Security-Policy': _csp, ...noCsp } = noXfo;
    kit.registerHttpApp(await observedApp(undefined, { name: 'b', headers: noCsp }));
    expect((await check('http.security-headers', {}, kit)).summary).toMatch(
      /b \(Content-Security-Policy, X-Frame-Options/,
    );
  });
});

describe('privacy', () => {
  it('consent.marketing fails for a marketing purpose that does not require consent; n/a without marketing', async () => {
    f.consent.registerPurpose({
      id: 'promo',
      name: 'Promo',
      version: 1,
      text: 'Offers',
      marketing: true,
      requiresConsent: false,
    });
    const outcome = await check('consent.marketing');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('promo');
    const kit = new ComplianceKit().register({
      consent: () => ({ purposes: [{ id: 'a', marketing: false, requiresConsent: false }] }),
    });
    expect((await check('consent.marketing', {}, kit)).status).toBe('not-applicable');
  });

  it('dsr.overdue fails for an open request past its deadline', async () => {
    const dsr = new DataSubjectRequests({ verifyIdentity: async () => true });
    dsr.registerSource({ id: 'db', describe: 'data', export: () => [] });
    const r = await dsr.receive({
      type: 'access',
      subjectId: 'alice',
      receivedAt: new Date(Date.now() - 40 * DAY),
    });
    f.kit.register({ dsr });
    const outcome = await check('dsr.overdue');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain(r.id);
    expect(JSON.stringify(outcome.evidence)).not.toContain('alice');
    await dsr.reject(r.id, 'duplicate');
    expect((await check('dsr.overdue')).status).toBe('pass');
  });

  it('dsr.capabilities: a source without erase fails erasure but not access or portability', async () => {
    f.dsr.registerSource({
      id: 'analytics',
      describe: 'usage',
      export: (id) => (id === 'dsr-self-test' ? [{ type: 'Visit', fields: { page: '/' } }] : []),
    });
    const erase = await check('dsr.capabilities', { operation: 'erase' });
    expect(erase.status).toBe('fail');
    expect(erase.summary).toContain('analytics');
    // registered after the last self-test: not shown to work until the next one
    const before = await check('dsr.capabilities', { operation: 'export' });
    expect(before.status).toBe('not-demonstrated');
    expect(before.summary).toMatch(/registered after the self-test: analytics/);
    await f.dsr.selfTest({ subjectId: 'dsr-self-test' });
    expect((await check('dsr.capabilities', { operation: 'export' })).status).toBe('pass');
    expect((await check('dsr.capabilities', { operation: 'portability' })).summary).toMatch(/json/);
  });

  it('processors.agreements fails for a processor without a DPA and one with an expired DPA', async () => {
    await f.processors.register({
      id: 'crm',
      name: 'CRM',
      role: 'processor',
      scope: { dataCategories: ['personal'], purposes: ['account'] },
    });
    await f.processors.register({
      id: 'old',
      name: 'Old',
      role: 'processor',
      agreements: [{ type: 'DPA', signedAt: '2020-01-01T00:00:00Z', expiresAt: '2021-01-01T00:00:00Z' }],
      scope: { dataCategories: ['personal'], purposes: ['account'] },
    });
    const outcome = await check('processors.agreements');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/crm: DPA missing/);
    expect(outcome.summary).toMatch(/old: DPA expired/);
  });

  it('breach.notifications fails once the 72-hour authority deadline passes unnotified', async () => {
    const breaches = new BreachRegister();
    const incident = await breaches.record({
      title: 'laptop lost',
      detectedAt: new Date(Date.now() - 4 * DAY),
      severity: 'high',
      affectedSubjects: 10,
      dataCategories: ['personal'],
      notify: { subjects: { reason: 'data encrypted' } },
    });
    f.kit.register({ breaches });
    const outcome = await check('breach.notifications');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain(`${incident.id} -> authority`);
    await breaches.notify(incident.id, { to: 'authority' });
    expect((await check('breach.notifications')).status).toBe('pass');
  });

  it('privacy.processing-records fails for a classified entity no activity covers', async () => {
    f.classification.register({
      entity: 'Invoice',
      field: 'address',
      category: 'personal',
      encrypted: true,
      purpose: 'tax',
    });
    const outcome = await check('privacy.processing-records');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('Invoice.address');
  });

  it('privacy.data-retention fails for a store without a retention rule', async () => {
    f.dataRetention.registerSource({ id: 'logs', category: 'telemetry', purge: () => 0 });
    const outcome = await check('privacy.data-retention');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toContain('logs (telemetry)');
  });

  it('rejects a malformed privacy snapshot as a read error, not a pass', async () => {
    const kit = new ComplianceKit().register({ dsr: () => ({ requests: 'none' }) as never });
    const bundle = await kit.collectEvidence();
    expect(bundle.errors.dsr).toMatch(/evidence.requests must be an array/);
    expect(runCheck('dsr.overdue', bundle, {}).status).toBe('fail');
  });
});

describe('fail-closed plumbing', () => {
  it('a check that throws on a bad parameter fails with the reason', async () => {
    const outcome = await check('keys.rotation', { maxAgeDays: -1 });
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/maxAgeDays must be a positive number/);
  });

  it('the kit rejects unknown services and malformed HTTP app evidence eagerly', () => {
    const kit = new ComplianceKit();
    expect(() => kit.register({ nope: {} } as never)).toThrow(/not a known service/);
    expect(() => kit.registerHttpApp({ name: 'x', securityHeaders: {}, csrf: {} } as never)).toThrow(
      /csrf.enabled must be a boolean/,
    );
    expect(() => new ComplianceKit({ privilegedRoles: 'admin' as never })).toThrow(/privilegedRoles/);
  });

  it('an older verification never hides a newer failed one', async () => {
    const kit = new ComplianceKit().register({ auditLog: f.auditLog });
    const good = await f.auditLog.verify();
    f.auditStore.rawEntries[0] = { ...f.auditStore.rawEntries[0]!, action: 'auth.logout' };
    const bad = await f.auditLog.verify();
    expect(bad.ok).toBe(false);
    kit.recordAuditVerification(bad, new Date());
    kit.recordAuditVerification(good, new Date(Date.now() - 3_600_000));
    expect((await check('audit.verified', {}, kit)).status).toBe('fail');
  });
});
