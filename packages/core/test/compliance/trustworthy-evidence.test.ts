import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuditLog } from '../../src/audit/audit-log';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { isGenuineVerification, verifyAuditLog } from '../../src/audit/verify-audit-log';
import { PolicyEngine } from '../../src/authz/policy-engine';
import { runCheck, type CheckParams } from '../../src/compliance/automated-checks';
import type { AuditLogSource } from '../../src/compliance/compliance-kit';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import type { CheckId } from '../../src/compliance/control';
import { HttpTrafficRecorder } from '../../src/http/http-app-evidence';
import { TrustedProxies } from '../../src/http/trusted-proxies';
import { BreachRegister } from '../../src/privacy/breach-register';
import { ClassificationRegistry } from '../../src/privacy/classification-registry';
import { DataSubjectRequests } from '../../src/privacy/data-subject-requests';
import { fullKit, httpsRequest, observedApp, SECURE_HEADERS, type FullKit } from './compliance-helpers';

// The "done" list: forged verification, literal HTTP app, empty registers, zero-rule
// policy and silent detector each fail to produce a pass; the honest path passes on live evidence.

const DAY = 86_400_000;
const check = async (kit: ComplianceKit, id: CheckId, params: CheckParams = {}) =>
  runCheck(id, await kit.collectEvidence(), params);

let f: FullKit;
beforeEach(async () => {
  f = await fullKit();
});
afterEach(async () => {
  await f.close();
});

describe('fabricated audit verification', () => {
  it('refuses the forged { ok: true, checkpointsVerified: 5 } and any edited copy of a real report', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    await log.append({ actor: { id: 'u', type: 'user' }, action: 'auth.login', outcome: 'success' });
    const kit = new ComplianceKit().register({ auditLog: log });
    const forged = { ok: true, checkedEntries: 0, treeSize: 0, root: '', checkpointsVerified: 5 };
    expect(() => kit.recordAuditVerification(forged)).toThrow(
      /AuditLog\.verify\(\) or verifyAuditLog\(\) returned/,
    );
    const real = await log.verify();
    expect(isGenuineVerification(real)).toBe(true);
    expect(() => kit.recordAuditVerification({ ...real, checkpointsVerified: 5 })).toThrow(/returned/);
    // Editing the genuine object afterwards changes nothing: the values as returned are used.
    (real as { checkpointsVerified: number }).checkpointsVerified = 5;
    kit.recordAuditVerification(real);
    const tamper = await check(kit, 'audit.tamper-evidence');
    expect(tamper.status).toBe('fail');
    expect(tamper.summary).toMatch(/not HMAC-keyed/);
    expect(tamper.summary).toMatch(/no checkpoint signer of its own/);
    await log.close();
  });

  it('a verification of fewer entries than the log holds is stale, not a pass', async () => {
    const report = await f.auditLog.verify();
    await f.auditLog.append({ actor: { id: 'u', type: 'user' }, action: 'patient.read', outcome: 'success' });
    await f.auditLog.append({ actor: { id: 'u', type: 'user' }, action: 'patient.read', outcome: 'success' });
    f.kit.recordAuditVerification(report, new Date(Date.now() - 1000));
    const outcome = await check(f.kit, 'audit.verified');
    expect(outcome.status).toBe('not-demonstrated');
    // Since the fixture's own verification: this run's `audit.verified` record and the 2 appends
    // (the recorded run is older than the fixture's, so the fixture's stays the latest).
    expect(outcome.summary).toMatch(/Stale: .* 3 entries since are unverified/);
    await f.kit.verifyAuditLog();
    expect((await check(f.kit, 'audit.verified')).status).toBe('pass');
  });

  it('counts only signed checkpoints, never a trusted unsigned head, as signed', async () => {
    const store = new MemoryAuditStore();
    const log = await AuditLog.open({ store });
    await log.append({ actor: { id: 'u', type: 'user' }, action: 'auth.login', outcome: 'success' });
    const root = (await log.verify()).root;
    const report = await verifyAuditLog(store, { trustedHeads: [{ treeSize: 1, rootHash: root }] });
    expect(report).toMatchObject({ ok: true, checkpointsVerified: 1 });
    const kit = new ComplianceKit().register({ auditLog: log });
    kit.recordAuditVerification(report);
    const v = (await kit.collectEvidence()).audit!.data.lastVerification!;
    expect(v).toMatchObject({ checkpointsVerified: 1, signedCheckpointsVerified: 0 });
    await log.close();
  });
});

describe('audit write health', () => {
  const fake = (writes: unknown): AuditLogSource => ({
    size: 10,
    verify: () => Promise.reject(new Error('not used')),
    query: async () => ({ entries: [] }),
    retention: { periodDays: () => 3000 },
    describe: () => ({ hmac: true, signer: true, checkpointStore: true, sinks: 0, writes }) as never,
  });

  it('audit.enabled fails while writes fail and after writes were lost; passes with no failure', async () => {
    const failing = new ComplianceKit().register({
      auditLog: fake({ failed: 3, succeeded: 7, failing: true, lastFailureCode: 'ERR_AUDIT_STORE' }),
    });
    const o1 = await check(failing, 'audit.enabled');
    expect(o1.status).toBe('fail');
    expect(o1.summary).toMatch(/Audit writes are failing.*ERR_AUDIT_STORE/);
    const lost = new ComplianceKit().register({
      auditLog: fake({ failed: 1, succeeded: 9, failing: false }),
    });
    expect((await check(lost, 'audit.enabled')).summary).toMatch(/1 audit writes failed since start/);
    const healthy = new ComplianceKit().register({
      auditLog: fake({ failed: 0, succeeded: 10, failing: false }),
    });
    expect((await check(healthy, 'audit.enabled')).status).toBe('pass');
    const silent = new ComplianceKit().register({ auditLog: fake(undefined) });
    expect((await check(silent, 'audit.enabled')).status).toBe('not-demonstrated');
    // A malformed health report is not trusted as healthy.
    const odd = new ComplianceKit().register({
      auditLog: fake({ failed: -1, succeeded: 1, failing: false }),
    });
    expect((await check(odd, 'audit.enabled')).status).toBe('not-demonstrated');
  });
});

describe('literal and unused HTTP apps', () => {
  const literal = { name: 'ghost', securityHeaders: SECURE_HEADERS, csrf: { enabled: true } };

  it.each(['http.security-headers', 'http.csrf', 'http.transport-security'] as CheckId[])(
    '%s: a literal app (or a function returning one) is declared and does not pass',
    async (id) => {
      for (const reg of [literal, () => literal, { evidence: () => literal }]) {
        const kit = new ComplianceKit().registerHttpApp(reg);
        const bundle = await kit.collectEvidence();
        expect(bundle.http?.provenance).toBe('declared');
        expect(bundle.http?.data.apps[0]?.provenance).toBe('declared');
        const outcome = runCheck(id, bundle, {});
        expect(outcome.status).toBe('not-demonstrated');
        expect(outcome.summary).toMatch(/declared configuration, not observed/);
      }
    },
  );

  it('a literal copying real observed evidence (traffic included) is still declared', async () => {
    const real = (await observedApp()).evidence();
    const copy = JSON.parse(JSON.stringify(real));
    const kit = new ComplianceKit().registerHttpApp(copy);
    expect((await check(kit, 'http.security-headers')).status).toBe('not-demonstrated');
    const genuine = new ComplianceKit().registerHttpApp(() => real);
    expect((await check(genuine, 'http.security-headers')).status).toBe('pass');
  });

  it('one declared app among observed ones keeps the control from passing', async () => {
    f.kit.registerHttpApp(literal);
    expect((await check(f.kit, 'http.security-headers')).status).toBe('not-demonstrated');
  });

  it('a bundle that served no request (never mounted, or mounted after the routes) gives no pass', async () => {
    const idle = new HttpTrafficRecorder({ name: 'idle', csrf: { enabled: true } });
    const kit = new ComplianceKit().registerHttpApp(idle);
    for (const id of ['http.security-headers', 'http.csrf', 'http.transport-security'] as CheckId[]) {
      const outcome = await check(kit, id);
      expect(outcome.status).toBe('not-demonstrated');
      expect(outcome.summary).toMatch(/served no request/);
    }
  });
});

describe('observed traffic', () => {
  it('counts requests, headers as sent, auth schemes, CSRF decisions and TLS per connection', async () => {
    const rec = await observedApp(async (port) => {
      await httpsRequest(port, 'GET', '/');
      await httpsRequest(port, 'GET', '/', { authorization: 'Bearer abc' });
      await httpsRequest(port, 'POST', '/x', { cookie: 'sid=1' });
      await httpsRequest(port, 'POST', '/x', { authorization: 'Bearer abc', cookie: 'sid=1' });
    });
    const t = rec.evidence().traffic!;
    expect(t.requests).toBe(4);
    expect(t.responses).toBe(4);
    expect(t.auth).toEqual({ bearer: 2, cookie: 1, none: 1 });
    // The bearer POST carries no ambient credential CSRF is about, but the step still checks it.
    expect(t.csrf).toEqual({ unsafeWithCookies: 1, accepted: 0, refused: 2 });
    expect(t.headers['strict-transport-security']).toEqual({
      responses: 4,
      value: SECURE_HEADERS['Strict-Transport-Security'],
      otherValues: 0,
    });
    expect(t.tls.direct).toBe(4);
    expect(t.tls.plain).toBe(0);
    // agent: false opens one connection per request
    expect(Object.values(t.tls.protocols).reduce((a, b) => a + b, 0)).toBe(4);
    expect(Object.keys(t.tls.protocols).every((p) => p === 'TLSv1.2' || p === 'TLSv1.3')).toBe(true);
    expect(Date.parse(t.firstSeenAt!)).toBeLessThanOrEqual(Date.parse(t.lastSeenAt!));
    expect(Object.isFrozen(rec.evidence())).toBe(true);
  });

  it('a header removed from some responses after the bundle set it fails the header control', async () => {
    const rec = new HttpTrafficRecorder({ name: 'leaky', csrf: { enabled: false } });
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      rec.request(req, res);
      for (const [k, v] of Object.entries(SECURE_HEADERS)) res.setHeader(k, v);
      if (req.url === '/legacy') res.removeHeader('Content-Security-Policy');
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    for (const path of ['/', '/legacy', '/']) await plain(port, path);
    await new Promise<void>((r) => server.close(() => r()));
    const kit = new ComplianceKit().registerHttpApp(rec);
    const outcome = await check(kit, 'http.security-headers');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/content-security-policy on only 2 of 3 responses/);
  });

  it('CSRF: off with cookie-carrying unsafe requests fails; bearer-only traffic makes it not applicable', async () => {
    const run = async (headers: Record<string, string>) => {
      const rec = new HttpTrafficRecorder({ name: 'api', csrf: { enabled: false } });
      await serve(rec, async (port) => {
        await plain(port, '/', 'POST', headers);
      });
      return check(new ComplianceKit().registerHttpApp(rec), 'http.csrf');
    };
    expect((await run({ cookie: 'sid=1' })).status).toBe('fail');
    const bearer = await run({ authorization: 'Bearer t' });
    expect(bearer.status).toBe('not-applicable');
    expect(bearer.summary).toMatch(/bearer-only/);
  });

  it('CSRF configured but never exercised on an unsafe request is not demonstrated', async () => {
    const rec = await observedApp(async (port) => {
      await httpsRequest(port, 'GET', '/', { cookie: 'sid=1' });
    });
    expect((await check(new ComplianceKit().registerHttpApp(rec), 'http.csrf')).status).toBe(
      'not-demonstrated',
    );
  });
});

describe('http.transport-security', () => {
  it('passes on TLS observed in this process; HSTS over plain HTTP never passes', async () => {
    expect((await check(f.kit, 'http.transport-security')).status).toBe('pass');
    expect((await check(f.kit, 'http.transport-security')).summary).toMatch(/TLSv1\.[23]/);
    const rec = new HttpTrafficRecorder({ name: 'plain', csrf: { enabled: false } });
    await serve(rec, async (port) => {
      await plain(port, '/');
    });
    const kit = new ComplianceKit().registerHttpApp(rec);
    expect((await check(kit, 'http.security-headers', { require: ['hsts'] })).status).toBe('pass');
    const outcome = await check(kit, 'http.transport-security');
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/plain HTTP: plain \(1 of 1/);
  });

  it('X-Forwarded-Proto counts only from a trusted proxy, and only as a declared terminator (partial)', async () => {
    const trusted = new HttpTrafficRecorder({
      name: 'behind-lb',
      csrf: { enabled: false },
      trustProxy: new TrustedProxies(['loopback']),
    });
    await serve(trusted, async (port) => {
      await plain(port, '/', 'GET', { 'x-forwarded-proto': 'https' });
    });
    const hop = new HttpTrafficRecorder({
      name: 'hop',
      csrf: { enabled: false },
      trustProxy: new TrustedProxies(1),
    });
    await serve(hop, async (port) => {
      await plain(port, '/', 'GET', { 'x-forwarded-proto': 'HTTPS' });
    });
    expect(hop.evidence().traffic!.tls).toMatchObject({ forwarded: 1, plain: 0, direct: 0 });
    // No terminator declared: HTTPS from the proxy alone demonstrates nothing about its TLS.
    const undeclared = await check(new ComplianceKit().registerHttpApp(trusted), 'http.transport-security');
    expect(undeclared.status).toBe('not-demonstrated');
    expect(undeclared.summary).toMatch(/trusted proxy .*no TLS terminator is declared/);
    // Declared: a pass, but partial in the report, saying what rests on the declaration.
    const declared = new ComplianceKit({
      tlsTerminator: { name: 'nginx on the edge hosts', minVersion: 'TLSv1.2' },
    }).registerHttpApp(trusted);
    const outcome = await check(declared, 'http.transport-security');
    expect(outcome.status).toBe('pass');
    expect(outcome.partial).toMatch(/nginx on the edge hosts \(declared: TLSv1\.2 or later\)/);
    const report = await declared.report('pci');
    const control = report.controls.find((c) => c.id === 'pci-4.2.1')!;
    expect(control).toMatchObject({ status: 'pass', passLevel: 'partial' });
    expect(control.summary).toMatch(/Partial: TLS is terminated by nginx on the edge hosts/);
    // A terminator declared to accept a protocol outside the allow-list does not pass.
    const old = new ComplianceKit({
      tlsTerminator: { name: 'old lb', minVersion: 'TLSv1.2' },
    }).registerHttpApp(trusted);
    expect((await check(old, 'http.transport-security', { protocols: ['TLSv1.3'] })).status).toBe(
      'not-demonstrated',
    );
    expect(() => new ComplianceKit({ tlsTerminator: { name: 'x', minVersion: 'TLSv1.0' as never } })).toThrow(
      /compliance\.tlsTerminator\.minVersion/,
    );

    // The same header from a client when no proxy is trusted, or a mixed chain: plain HTTP.
    for (const [trust, proto] of [
      [false, 'https'],
      [['loopback'], 'https, http'],
      [['10.0.0.0/8'], 'https'],
    ] as const) {
      const rec = new HttpTrafficRecorder({
        name: 'x',
        csrf: { enabled: false },
        trustProxy: new TrustedProxies(trust as never),
      });
      await serve(rec, async (port) => {
        await plain(port, '/', 'GET', { 'x-forwarded-proto': proto });
      });
      expect(rec.evidence().traffic!.tls).toMatchObject({ forwarded: 0, plain: 1 });
    }
  });

  it('fails a TLS protocol outside the allow-list', async () => {
    const outcome = await check(f.kit, 'http.transport-security', { protocols: ['TLSv1.4'] });
    expect(outcome.status).toBe('fail');
    expect(outcome.summary).toMatch(/outside the allow-list/);
  });
});

describe('empty registers and untested capabilities', () => {
  it('an empty breach register (or one with only an old incident) does not demonstrate incident procedures', async () => {
    const empty = new ComplianceKit().register({ breaches: new BreachRegister() });
    const o1 = await check(empty, 'breach.notifications');
    expect(o1.status).toBe('not-demonstrated');
    expect(o1.remediation).toMatch(/breaches\.recordDrill/);
    const old = new BreachRegister();
    await old.recordDrill({ title: 'old drill', detectedAt: new Date(Date.now() - 400 * DAY) });
    expect(
      (await check(new ComplianceKit().register({ breaches: old }), 'breach.notifications')).status,
    ).toBe('not-demonstrated');
    await old.recordDrill({ title: 'this year' });
    const drilled = await check(new ComplianceKit().register({ breaches: old }), 'breach.notifications');
    expect(drilled.status).toBe('pass');
    expect(drilled.summary).toMatch(/2 drills/);
    // A drill owes no notification, so it never shows up as overdue.
    expect(await old.overdue(new Date(Date.now() + 90 * DAY))).toEqual([]);
  });

  it('a function standing in for the breach register is declared and without deadlines fails', async () => {
    const kit = new ComplianceKit().register({
      breaches: () => ({ incidents: [{ id: 'x', detectedAt: new Date().toISOString(), notifications: [] }] }),
    });
    expect((await check(kit, 'breach.notifications')).status).toBe('fail');
    const withDeadlines = new ComplianceKit().register({
      breaches: () => ({
        deadlines: { authorityHours: 72, subjectsHours: 1440 },
        incidents: [{ id: 'x', detectedAt: new Date().toISOString(), notifications: [] }],
      }),
    });
    const outcome = await check(withDeadlines, 'breach.notifications');
    expect(outcome.status).toBe('not-demonstrated');
    expect(outcome.summary).toMatch(/provenance this control does not accept \(BreachRegister: declared/);
  });

  it('no break-glass grant or test recorded: emergency access is not demonstrated', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const engine = new PolicyEngine({ policy: f.policyEngine.policy, auditLog: log });
    const kit = new ComplianceKit().register({ policyEngine: engine, auditLog: log });
    const o1 = await check(kit, 'authz.break-glass-audited');
    expect(o1.status).toBe('not-demonstrated');
    expect(o1.remediation).toMatch(/grantBreakGlass/);
    const g = await engine.grantBreakGlass({
      actor: { id: 'drill' },
      reason: 'drill',
      actions: 'patient:read',
      resources: 'records/1',
      durationMs: 1000,
    });
    await engine.revokeBreakGlass(g.id, { actor: { id: 'admin' }, reason: 'drill over' });
    expect((await check(kit, 'authz.break-glass-audited')).status).toBe('pass');
    await log.close();
  });

  it('a policy with zero allow rules, or none the probe is granted by, does not demonstrate default deny', async () => {
    const none = new PolicyEngine({ policy: { version: 1, policies: [] } });
    const o1 = await check(new ComplianceKit().register({ policyEngine: none }), 'authz.default-deny');
    expect(o1.status).toBe('not-demonstrated');
    expect(o1.summary).toMatch(/no allow rule/);
    const conditional = new PolicyEngine({
      policy: {
        version: 1,
        roles: { nurse: {} },
        policies: [
          {
            id: 'p',
            rules: [
              {
                id: 'own',
                effect: 'allow',
                roles: ['nurse'],
                actions: ['note:read'],
                resources: ['notes/*'],
                when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
              },
            ],
          },
        ],
      },
    });
    const o2 = await check(new ComplianceKit().register({ policyEngine: conditional }), 'authz.default-deny');
    expect(o2.status).toBe('not-demonstrated');
    // A configured probe the policy grants demonstrates it.
    const probed = new ComplianceKit({
      grantProbe: {
        subject: { id: 'n1', roles: ['nurse'] },
        action: 'note:read',
        resource: { type: 'notes', id: '1', ownerId: 'n1' } as never,
      },
    }).register({ policyEngine: conditional });
    const o3 = await check(probed, 'authz.default-deny');
    expect(o3.status).toBe('pass');
    expect(o3.summary).toMatch(/configured/);
    expect(() => new ComplianceKit({ grantProbe: { action: 'x' } as never })).toThrow(/grantProbe/);
  });

  it('a detector with zero alert listeners is not demonstrated, even when writing to the audit log', async () => {
    const kit = new ComplianceKit().register({
      threatDetector: { listenerCount: () => 0, describe: () => ({ rules: ['x'], auditLogAttached: true }) },
    });
    const outcome = await check(kit, 'threat.detection');
    expect(outcome.status).toBe('not-demonstrated');
    expect(outcome.remediation).toMatch(/on\('violation'/);
  });

  it('DSR: an empty export source, a missing self-test and an uncovered classified entity do not pass', async () => {
    const classification = new ClassificationRegistry();
    classification.register({ entity: 'User', field: 'email', category: 'personal', encrypted: true });
    classification.register({ entity: 'Order', field: 'address', category: 'personal', encrypted: true });
    const dsr = new DataSubjectRequests({ verifyIdentity: async () => true });
    dsr.registerSource({ id: 'users', describe: 'account', export: () => [], erase: () => 0 });
    const kit = new ComplianceKit().register({ dsr, classification });
    for (const operation of ['export', 'erase', 'portability']) {
      expect((await check(kit, 'dsr.capabilities', { operation })).summary).toMatch(/no self-test export/);
    }
    await dsr.selfTest({ subjectId: 'test-subject' });
    const empty = await check(kit, 'dsr.capabilities');
    expect(empty.status).toBe('not-demonstrated');
    expect(empty.summary).toMatch(/exported nothing for the test subject: users/);

    const dsr2 = new DataSubjectRequests({ verifyIdentity: async () => true });
    dsr2.registerSource({
      id: 'users',
      describe: 'account',
      export: () => [{ type: 'User', fields: { email: 'x@example.invalid' } }],
    });
    const result = await dsr2.selfTest({ subjectId: 'test-subject' });
    expect(JSON.stringify(result)).not.toContain('test-subject');
    const kit2 = new ComplianceKit().register({ dsr: dsr2, classification });
    const uncovered = await check(kit2, 'dsr.capabilities');
    expect(uncovered.status).toBe('fail');
    expect(uncovered.summary).toMatch(/Classified entities no DSR source exported in the self-test: Order/);

    // A failing source is a failure; an old self-test is not demonstrated.
    const dsr3 = new DataSubjectRequests({ verifyIdentity: async () => true });
    dsr3.registerSource({
      id: 'broken',
      describe: 'x',
      export: () => {
        throw new Error('db down for user test-subject');
      },
    });
    const r3 = await dsr3.selfTest({ subjectId: 'test-subject' });
    expect(r3.ok).toBe(false);
    expect(JSON.stringify(r3)).not.toContain('db down');
    const o3 = await check(new ComplianceKit().register({ dsr: dsr3, classification }), 'dsr.capabilities');
    expect(o3.status).toBe('fail');
    const later = new ComplianceKit({ clock: () => new Date(Date.now() + 40 * DAY) }).register({
      dsr: dsr2,
      classification,
    });
    expect((await check(later, 'dsr.capabilities')).summary).toMatch(/older than 31 days/);
  });

  it('a deployment with nothing demonstrated scores no pass on the behaviour controls it cannot show', async () => {
    const kit = new ComplianceKit().register({
      breaches: new BreachRegister(),
      policyEngine: new PolicyEngine({ policy: { version: 1, policies: [] } }),
      threatDetector: { listenerCount: () => 0 },
      dsr: new DataSubjectRequests({ verifyIdentity: async () => true }),
    });
    kit.registerHttpApp({ name: 'ghost', securityHeaders: SECURE_HEADERS, csrf: { enabled: true } });
    const result = await kit.report('all');
    const passed = result.controls.filter((c) => c.status === 'pass').map((c) => c.id);
    // Only "no request past its deadline" (GDPR Art. 12(3)), which an empty request log does meet.
    expect(passed).toEqual(['gdpr-art12']);
  });
});

describe('provenance', () => {
  it('every evidence item the kit emits carries a provenance', async () => {
    const bundle = await f.kit.collectEvidence();
    for (const [name, ev] of Object.entries(bundle)) {
      if (ev && typeof ev === 'object' && 'source' in ev) {
        expect([name, (ev as { provenance?: string }).provenance]).toEqual([
          name,
          name === 'http' ? 'observed' : 'live',
        ]);
      }
    }
  });

  it('runCheck demotes a pass on evidence without (or with unaccepted) provenance', async () => {
    const bundle = await f.kit.collectEvidence();
    const { provenance: _p, ...bare } = bundle.keys!;
    const outcome = runCheck('keys.algorithms', { ...bundle, keys: bare }, {});
    expect(outcome.status).toBe('not-demonstrated');
    expect(outcome.summary).toMatch(/KeyRing: no provenance/);
    const snap = runCheck('keys.algorithms', { ...bundle, keys: { ...bare, provenance: 'snapshot' } }, {});
    expect(snap.status).toBe('pass');
  });
});

/** Serves plain HTTP through `rec`, with no headers of its own, and runs `traffic`. */
async function serve(rec: HttpTrafficRecorder, traffic: (port: number) => Promise<void>): Promise<void> {
  const server = createServer((req, res) => {
    rec.request(req, res);
    res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    res.setHeader('Content-Security-Policy', "default-src 'self'");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await traffic((server.address() as AddressInfo).port);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function plain(
  port: number,
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
