import { randomBytes } from 'node:crypto';
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
import { MfaPolicy } from '../../src/mfa/mfa-policy';
import { BreachRegister } from '../../src/privacy/breach-register';
import { ClassificationRegistry } from '../../src/privacy/classification-registry';
import { ConsentManager } from '../../src/privacy/consent-manager';
import { DataRetention } from '../../src/privacy/data-retention';
import { DataSubjectRequests } from '../../src/privacy/data-subject-requests';
import { ProcessingRegister } from '../../src/privacy/processing-register';
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
  await auditLog.checkpoint();

  const policyEngine = new PolicyEngine({ policy: POLICY, auditLog });
  const threatDetector = new ThreatDetector({ auditLog });

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
  dsr.registerSource({ id: 'users-db', describe: 'Your account', export: () => [], erase: () => 0 });

  const processors = new ProcessorRegister();
  await processors.register({
    id: 'mailer',
    name: 'Mailer Ltd',
    role: 'processor',
    agreements: [{ type: 'DPA', signedAt: '2024-01-01T00:00:00.000Z' }],
    scope: { dataCategories: ['personal'], purposes: ['treatment', 'billing', 'account'] },
  });
  const breaches = new BreachRegister();
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

  const kit = new ComplianceKit({ privilegedRoles: ['admin'], ...options })
    .register({
      classification,
      keyRing,
      passwordHasher: new PasswordHasher(),
      auditLog,
      mfaPolicy: new MfaPolicy({ requiredFor: ['admin'] }),
      policyEngine,
      bruteForceGuard: new BruteForceGuard({
        account: { maxFailures: 10, lockoutSec: 1800, maxLockoutSec: 86_400 },
        lockout: 'hard',
      }),
      threatDetector,
      consent,
      dsr,
      processors,
      breaches,
      processing,
      dataRetention,
    })
    .registerHttpApp({
      name: 'api',
      securityHeaders: SECURE_HEADERS,
      csrf: { enabled: true, method: 'signed-double-submit' },
    });
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
