import { AlertRouter } from '../../src/alerts/alert-router';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import { MemoryAuditStore } from '../../src/audit/memory-audit-store';
import { MemoryCheckpointStore } from '../../src/audit/memory-checkpoint-store';
import type { PolicyDocument } from '../../src/authz/policy-document';
import { PolicyEngine } from '../../src/authz/policy-engine';
import { ComplianceKit, type ComplianceKitOptions } from '../../src/compliance/compliance-kit';
import { EnvKeyProvider } from '../../src/crypto/env-key-provider';
import { KeyRing } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { PasswordHasher } from '../../src/crypto/password-hasher';
import { SessionEngine } from '../../src/session/session-engine';
import { TokenService } from '../../src/tokens/token-service';
import { CsrfProtection } from '../../src/http/csrf-protection';
import { HttpTrafficRecorder } from '../../src/http/http-app-evidence';
import { MfaPolicy } from '../../src/mfa/mfa-policy';
import { BreachRegister } from '../../src/privacy/breach-register';
import { ClassificationRegistry } from '../../src/privacy/classification-registry';
import { ConsentManager } from '../../src/privacy/consent-manager';
import { DataRetention } from '../../src/privacy/data-retention';
import { DataSubjectRequests } from '../../src/privacy/data-subject-requests';
import { ProcessingRegister } from '../../src/privacy/processing-register';
import type { SubjectRecord } from '../../src/privacy/subject-data-source';
import { ProcessorRegister } from '../../src/privacy/processor-register';
import { BruteForceGuard } from '../../src/threat/brute-force-guard';
import { ThreatDetector } from '../../src/threat/threat-detector';

export const SECURE_HEADERS = Object.freeze({
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
});

const FIXTURES = join(__dirname, 'fixtures');
export const TLS: ServerOptions = {
  key: readFileSync(join(FIXTURES, 'localhost-test-key.pem')),
  cert: readFileSync(join(FIXTURES, 'localhost-test-cert.pem')),
  minVersion: 'TLSv1.2',
};

export interface TrafficResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request to 127.0.0.1:port trusting the fixture certificate. */
export function httpsRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<TrafficResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers, ca: TLS.cert, servername: 'localhost', agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Serves real HTTPS through a traffic recorder the way an adapter bundle does (recorder first,
 * security headers, CSRF on unsafe methods), runs `traffic` against it, and returns the recorder.
 */
export async function observedApp(
  traffic: (port: number) => Promise<void> = async (port) => {
    await httpsRequest(port, 'GET', '/');
    // A cookie-carrying POST without a token: the CSRF step must refuse it.
    const refused = await httpsRequest(port, 'POST', '/notes', { cookie: 'sid=abc' });
    if (refused.status !== 403) throw new Error(`expected a CSRF refusal, got ${refused.status}`);
  },
  options: { name?: string; headers?: Readonly<Record<string, string>> } = {},
): Promise<HttpTrafficRecorder> {
  const recorder = new HttpTrafficRecorder({
    name: options.name ?? 'api',
    csrf: { enabled: true, method: 'signed-double-submit-cookie' },
  });
  const csrf = new CsrfProtection({ secret: randomBytes(32), cookie: { secure: true } });
  csrf.observe(recorder);
  const headers = options.headers ?? SECURE_HEADERS;
  const server = createServer(TLS, (req: IncomingMessage, res: ServerResponse) => {
    recorder.request(req, res);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    try {
      csrf.check({ method: req.method ?? 'GET', headers: req.headers, binding: '' });
      res.end('ok');
    } catch {
      res.statusCode = 403;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await traffic((server.address() as AddressInfo).port);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return recorder;
}

export const POLICY: PolicyDocument = {
  version: 1,
  roles: { admin: {}, clinician: {} },
  policies: [
    {
      id: 'clinic',
      rules: [
        {
          id: 'clinician-read',
          effect: 'allow',
          roles: ['clinician'],
          actions: ['patient:read'],
          resources: ['records/*'],
        },
        { id: 'admin-settings', effect: 'allow', roles: ['admin'], actions: ['*'], resources: ['settings'] },
      ],
    },
  ],
};

/**
 * The audit log as the kit sees it, with write health in describe(). AuditLog.describe() reports
 * `writes` once the audit write-failure counters land (helper "auditops"); until then this adds
 * the counts an AuditLog that has written `size` entries without failure would report.
 */
function withWriteHealth(log: AuditLog): AuditLog {
  if ((log.describe() as { writes?: unknown }).writes !== undefined) return log;
  return new Proxy(log, {
    get(target, prop) {
      if (prop === 'describe') {
        return () => ({
          ...target.describe(),
          writes: { failed: 0, succeeded: target.size, failing: false },
        });
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface FullKit {
  kit: ComplianceKit;
  classification: ClassificationRegistry;
  keyRing: KeyRing;
  auditStore: MemoryAuditStore;
  auditLog: AuditLog;
  policyEngine: PolicyEngine;
  threatDetector: ThreatDetector;
  consent: ConsentManager;
  dsr: DataSubjectRequests;
  processors: ProcessorRegister;
  breaches: BreachRegister;
  processing: ProcessingRegister;
  dataRetention: DataRetention;
  close(): Promise<void>;
}

/**
 * A deployment with every service registered and configured to pass every automated control
 * (PCI lockout settings, HIPAA retention, keyed + checkpointed audit log, a verified chain).
 */
export async function fullKit(options: ComplianceKitOptions & { verify?: boolean } = {}): Promise<FullKit> {
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
  classification.register({
    entity: 'Payment',
    field: 'pan',
    category: 'cardholder',
    encrypted: true,
    blindIndexed: true,
    purpose: 'billing',
  });

  const keyRing = await KeyRing.open({
    provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
    store: new MemoryKeyStore(),
  });
  await keyRing.createKey('pii');

  const auditStore = new MemoryAuditStore();
  const auditLog = await AuditLog.open({
    store: auditStore,
    hmacKey: randomBytes(32),
    signer: await CheckpointSigner.generate(),
    checkpointStore: new MemoryCheckpointStore(),
    retention: { periods: { default: 2192, audit: 2192, security: 2192 } },
  });
  await auditLog.append({ actor: { id: 'u1', type: 'user' }, action: 'auth.login', outcome: 'success' });
  await auditLog.append({ actor: { id: 'u1', type: 'user' }, action: 'patient.read', outcome: 'success' });
  await auditLog.recordReview({ by: 'security-officer', scope: 'security events since start' });
  await auditLog.checkpoint();

  const policyEngine = new PolicyEngine({ policy: POLICY, auditLog });
  // The emergency-access path, exercised (a drill grant, recorded in the audit log).
  await policyEngine.grantBreakGlass({
    actor: { id: 'drill-user' },
    reason: 'yearly break-glass drill',
    actions: 'patient:read',
    resources: 'records/*',
    durationMs: 60_000,
  });
  const threatDetector = new ThreatDetector({ auditLog });
  threatDetector.on('violation', () => undefined);
  // Alerts reach a channel, shown by a delivered test alert.
  const alertRouter = await AlertRouter.open({
    channels: [{ name: 'ops', kind: 'memory', send: async () => undefined }],
    retry: { intervalMs: 0 },
  });
  await alertRouter.test();

  const consent = new ConsentManager();
  consent.registerPurpose({
    id: 'newsletter',
    name: 'Newsletter',
    version: 1,
    text: 'Send me news.',
    marketing: true,
  });
  consent.registerPurpose({ id: 'analytics', name: 'Analytics', version: 1, text: 'Measure usage.' });

  const dsr = new DataSubjectRequests({ verifyIdentity: async () => true });
  // A synthetic test subject seeded in the store, exported by the self-test below.
  dsr.registerSource({
    id: 'users-db',
    describe: 'Your account',
    export: (subjectId): SubjectRecord[] =>
      subjectId === 'dsr-self-test'
        ? [
            { type: 'User', id: 't1', fields: { email: 'test@example.invalid' } },
            { type: 'Patient', id: 't1', fields: { diagnosis: 'none (test subject)' } },
            { type: 'Payment', id: 't1', fields: { pan: '4111111111111111' } },
          ]
        : [],
    erase: () => 0,
    rectify: () => 0,
  });
  await dsr.selfTest({ subjectId: 'dsr-self-test' });

  const processors = new ProcessorRegister();
  await processors.register({
    id: 'mailer',
    name: 'Mailer Ltd',
    role: 'processor',
    country: 'DE',
    agreements: [{ type: 'DPA', signedAt: '2024-01-01T00:00:00.000Z' }],
    scope: { dataCategories: ['personal'], purposes: ['treatment', 'billing', 'account'] },
  });
  const breaches = new BreachRegister();
  // One incident in the last year, notified in time: the deadline clocks are shown working.
  const detectedAt = new Date(Date.now() - 10 * 86_400_000);
  const incident = await breaches.record({
    title: 'Lost laptop (drill)',
    detectedAt,
    severity: 'low',
    affectedSubjects: 1,
    dataCategories: ['personal'],
  });
  await breaches.notify(incident.id, { to: 'authority', at: new Date(detectedAt.getTime() + 3_600_000) });
  await breaches.notify(incident.id, { to: 'subjects', at: new Date(detectedAt.getTime() + 86_400_000) });
  await breaches.recordDrill({ title: 'Tabletop: lost laptop with patient exports' });
  const processing = new ProcessingRegister({ controller: { name: 'Clinic' }, classification, processors });
  await processing.register({
    id: 'care',
    name: 'Patient care',
    purposes: ['treatment', 'billing', 'account'],
    lawfulBasis: 'contract',
    entities: ['User', 'Patient', 'Payment'],
    subjectCategories: ['patients'],
    recipients: ['mailer'],
    retention: { days: 3650, description: 'ten years after last visit' },
    securityMeasures: ['field encryption'],
  });
  const dataRetention = new DataRetention();
  await dataRetention.addPolicy({ category: 'personal', days: 3650, basis: 'medical records law' });
  dataRetention.registerSource({ id: 'users-db', category: 'personal', purge: () => 0 });
  await dataRetention.purge();

  const kit = new ComplianceKit({ privilegedRoles: ['admin'], ...options })
    .register({
      classification,
      keyRing,
      // PCI DSS 8.3.6 asks 12 characters of every password, MFA or not.
      passwordHasher: new PasswordHasher({ policy: { minLengthWithMfa: 12 } }),
      sessions: new SessionEngine({ secret: randomBytes(32) }),
      tokens: new TokenService({ algorithms: ['HS256'], signingKey: { key: randomBytes(32) } }),
      auditLog: withWriteHealth(auditLog),
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
    .registerHttpApp(await observedApp());
  if (options.verify !== false) await kit.verifyAuditLog();
  return {
    kit,
    classification,
    keyRing,
    auditStore,
    auditLog,
    policyEngine,
    threatDetector,
    consent,
    dsr,
    processors,
    breaches,
    processing,
    dataRetention,
    async close() {
      await threatDetector.close();
      await auditLog.close();
      await keyRing.close();
    },
  };
}
