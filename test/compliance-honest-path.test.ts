/**
 * The honest path of issue 13, end to end: a real Express app with the Bulwark bundle, served over
 * HTTPS on 127.0.0.1 and driven with supertest, every service registered and every capability
 * demonstrated (drill, break-glass drill, DSR self-test, alert listener, a verification the kit ran
 * itself). The report then passes every automated control on live and observed evidence, and the
 * same app registered as a literal passes none of the HTTP controls.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import * as path from 'node:path';
import express from 'express';
import request from 'supertest';
import {
  AuditLog,
  BreachRegister,
  BruteForceGuard,
  CheckpointSigner,
  ClassificationRegistry,
  ComplianceKit,
  ConsentManager,
  DataRetention,
  DataSubjectRequests,
  EnvKeyProvider,
  generateMasterKey,
  KeyRing,
  MemoryAuditStore,
  MemoryCheckpointStore,
  MemoryKeyStore,
  MfaPolicy,
  PasswordHasher,
  PolicyEngine,
  ProcessingRegister,
  ProcessorRegister,
  SessionEngine,
  TokenService,
  ThreatDetector,
  AlertRouter,
  type ComplianceReportResult,
  type SubjectRecord,
} from '@bulwark/core';
import { bulwark } from '@bulwark/express';

const FIXTURES = path.join(__dirname, '../packages/core/test/compliance/fixtures');
const TLS = {
  key: readFileSync(path.join(FIXTURES, 'localhost-test-key.pem')),
  cert: readFileSync(path.join(FIXTURES, 'localhost-test-cert.pem')),
  minVersion: 'TLSv1.2' as const,
};

interface Deployment {
  kit: ComplianceKit;
  auditLog: AuditLog;
  server: Server;
  bw: ReturnType<typeof bulwark>;
  close(): Promise<void>;
}

async function deploy(): Promise<Deployment> {
  const classification = new ClassificationRegistry();
  classification.register({
    entity: 'User',
    field: 'email',
    category: 'personal',
    encrypted: true,
    purpose: 'account',
  });
  classification.register({
    entity: 'Patient',
    field: 'diagnosis',
    category: 'phi',
    encrypted: true,
    purpose: 'treatment',
  });
  const keyRing = await KeyRing.open({
    provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
    store: new MemoryKeyStore(),
  });
  await keyRing.createKey('pii');
  const auditLog = await AuditLog.open({
    store: new MemoryAuditStore(),
    hmacKey: randomBytes(32),
    signer: await CheckpointSigner.generate(),
    checkpointStore: new MemoryCheckpointStore(),
    retention: { periods: { default: 2192, audit: 2192, security: 2192 } },
  });
  const policyEngine = new PolicyEngine({
    auditLog,
    policy: {
      version: 1,
      roles: { admin: {}, clinician: {} },
      policies: [
        {
          id: 'clinic',
          rules: [
            {
              id: 'read',
              effect: 'allow',
              roles: ['clinician'],
              actions: ['patient:read'],
              resources: ['records/*'],
            },
          ],
        },
      ],
    },
  });
  await policyEngine.grantBreakGlass({
    actor: { id: 'drill' },
    reason: 'yearly break-glass drill',
    actions: 'patient:read',
    resources: 'records/*',
    durationMs: 60_000,
  });
  const threatDetector = new ThreatDetector({ auditLog });
  const alerts: unknown[] = [];
  // Violations reach a channel, and the channel is shown to deliver (a test alert).
  const alertRouter = await AlertRouter.open({
    channels: [{ name: 'soc', kind: 'memory', send: async (a) => void alerts.push(a) }],
    retry: { intervalMs: 0 },
  });
  threatDetector.on('violation', (v) => void alertRouter.notifyViolation(v));
  await alertRouter.test();
  const consent = new ConsentManager();
  consent.registerPurpose({
    id: 'newsletter',
    name: 'Newsletter',
    version: 1,
    text: 'News.',
    marketing: true,
  });
  const dsr = new DataSubjectRequests({ verifyIdentity: async () => true });
  dsr.registerSource({
    id: 'app-db',
    describe: 'Your account and care records',
    export: (id): SubjectRecord[] =>
      id === 'dsr-self-test'
        ? [
            { type: 'User', fields: { email: 'self-test@example.invalid' } },
            { type: 'Patient', fields: { diagnosis: 'none (synthetic subject)' } },
          ]
        : [],
    erase: () => 0,
    rectify: () => 0,
  });
  await dsr.selfTest({ subjectId: 'dsr-self-test' });
  const processors = new ProcessorRegister();
  const breaches = new BreachRegister();
  await breaches.recordDrill({ title: 'Tabletop: lost laptop with patient exports' });
  const processing = new ProcessingRegister({ controller: { name: 'Clinic' }, classification, processors });
  await processing.register({
    id: 'care',
    name: 'Patient care',
    purposes: ['treatment', 'account'],
    lawfulBasis: 'contract',
    entities: ['User', 'Patient'],
    subjectCategories: ['patients'],
    recipients: [],
    retention: { days: 3650, description: 'ten years' },
    securityMeasures: ['field encryption'],
  });
  const dataRetention = new DataRetention();
  await dataRetention.addPolicy({ category: 'personal', days: 3650, basis: 'medical records law' });
  dataRetention.registerSource({ id: 'app-db', category: 'personal', purge: () => 0 });
  await dataRetention.purge(); // the nightly job, shown to run

  const bw = bulwark({ auditLog }, { csrf: { secret: randomBytes(32).toString('hex') } });
  const app = express();
  app.use(bw);
  app.get('/token', (req, res) => {
    res.json({ token: req.csrfToken!() });
  });
  app.post('/notes', (_req, res) => {
    res.status(201).json({});
  });
  app.use(bw.problemDetails());
  const server = createServer(TLS, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const kit = new ComplianceKit({ privilegedRoles: ['admin'] })
    .register({
      classification,
      keyRing,
      // A NIST SP 800-63B policy with 12 characters for every account (PCI DSS 8.3.6).
      passwordHasher: new PasswordHasher({ policy: { minLengthWithMfa: 12 } }),
      // Sessions: 15 idle minutes, probed through the store at collection time.
      sessions: new SessionEngine({ secret: randomBytes(32) }),
      // Tokens: HS256 with a 32-byte secret (a legacy short one would fail tokens.keys).
      tokens: new TokenService({ algorithms: ['HS256'], signingKey: { key: randomBytes(32) } }),
      auditLog,
      mfaPolicy: new MfaPolicy({ requiredFor: ['admin'] }),
      policyEngine,
      bruteForceGuard: new BruteForceGuard({
        account: { maxFailures: 10, lockoutSec: 1800, maxLockoutSec: 86_400 },
        lockout: 'hard',
      }),
      threatDetector,
      alertRouter,
      consent,
      dsr,
      processors,
      breaches,
      processing,
      dataRetention,
    })
    .registerHttpApp(bw);
  return {
    kit,
    auditLog,
    server,
    bw,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await bw.close();
      await threatDetector.close();
      await alertRouter.close();
      await auditLog.close();
      await keyRing.close();
    },
  };
}

/** Real browser-like traffic: a page, a forged POST (refused), a POST with its token (accepted). */
async function traffic(server: Server): Promise<void> {
  const agent = request.agent(server).ca(TLS.cert);
  const page = await agent.get('/token').ca(TLS.cert).expect(200);
  await agent.post('/notes').ca(TLS.cert).set('Cookie', 'sid=victim').expect(403);
  await agent
    .post('/notes')
    .ca(TLS.cert)
    .set('x-csrf-token', (page.body as { token: string }).token)
    .expect(201);
}

const statuses = (report: ComplianceReportResult, check: string) => [
  ...new Set(report.controls.filter((c) => c.check === check).map((c) => c.status)),
];

describe('the honest path: live and observed evidence pass', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy();
    await traffic(d.server);
    await d.bw.close(); // the requests' audit events are stored
    await d.auditLog.recordReview({ by: 'security-officer', scope: 'security events since start' });
    await d.auditLog.checkpoint();
    await d.kit.verifyAuditLog();
  });
  afterAll(() => d.close());

  it('passes every automated control, the HTTP ones on observed HTTPS traffic', async () => {
    const report = await d.kit.report('all');
    const automated = report.controls.filter((c) => c.kind === 'automated');
    // audit.enabled needs the log's write health (AuditLog.describe().writes).
    const reportsWrites = (d.auditLog.describe() as { writes?: unknown }).writes !== undefined;
    const bad = automated
      .filter((c) => c.status !== 'pass' && c.status !== 'not-applicable')
      .filter((c) => reportsWrites || c.check !== 'audit.enabled')
      .map((c) => `${c.id} ${c.check}: ${c.status} ${c.summary}`);
    expect(bad).toEqual([]);
    for (const check of ['http.security-headers', 'http.csrf', 'http.transport-security']) {
      expect([check, statuses(report, check)]).toEqual([check, ['pass']]);
      const control = report.controls.find((c) => c.check === check)!;
      const evidence = control.evidenceRefs.map((ref) => report.evidence.find((e) => e.id === ref)!);
      expect(evidence.map((e) => e.provenance)).toEqual(['observed']);
    }
    const http = (await d.kit.collectEvidence()).http!.data.apps[0]!;
    expect(http.traffic).toMatchObject({
      requests: 3,
      csrf: { unsafeWithCookies: 2, accepted: 1, refused: 1 },
      tls: { direct: 3, plain: 0, forwarded: 0 },
    });
  });

  it('the same app registered as a literal passes none of the HTTP controls', async () => {
    const literal = JSON.parse(JSON.stringify(d.bw.evidence()));
    const kit = new ComplianceKit().registerHttpApp(literal);
    const report = await kit.report('all');
    for (const check of ['http.security-headers', 'http.csrf', 'http.transport-security']) {
      expect([check, statuses(report, check)]).toEqual([check, ['not-demonstrated']]);
    }
  });
});
