import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer';
import type { BulwarkConfig } from '../../src/bulwark';
import { EnvKeyProvider, generateMasterKey } from '../../src/crypto/key-ring';
import { ClassificationRegistry } from '../../src/privacy/classification-registry';

export const weakPasswords = { memoryCost: 1024, timeCost: 1, allowWeakParameters: true };

export const POLICY_YAML = `
version: 1
roles:
  admin: {}
  clinician: {}
policies:
  - id: clinic
    rules:
      - id: clinician-read
        effect: allow
        roles: [clinician]
        actions: ['patient:read']
        resources: ['records/*']
`;

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-composition-'));
  return { dir, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

export function memoryProvider(): EnvKeyProvider {
  return new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } });
}

/** Three classified fields, all encrypted, each covered by the processing activity below. */
export function classification(): ClassificationRegistry {
  const registry = new ClassificationRegistry();
  registry.register({
    entity: 'User',
    field: 'email',
    category: 'personal',
    encrypted: true,
    purpose: 'account',
  });
  registry.register({
    entity: 'Patient',
    field: 'diagnosis',
    category: 'phi',
    encrypted: true,
    purpose: 'care',
  });
  registry.register({
    entity: 'Payment',
    field: 'pan',
    category: 'cardholder',
    encrypted: true,
    purpose: 'billing',
  });
  return registry;
}

/**
 * Every section configured, on files where a deployment would use files: an audit JSON-lines file
 * with a writer lock, checkpoints in a file of their own, the HMAC key in an environment variable,
 * the checkpoint key and the policy in files.
 */
export async function fullConfig(
  dir: string,
): Promise<{ config: BulwarkConfig; hmacEnv: string; auditFile: string }> {
  const hmacEnv = `BULWARK_TEST_AUDIT_HMAC_${randomBytes(4).toString('hex')}`;
  process.env[hmacEnv] = randomBytes(32).toString('hex');
  const signer = await CheckpointSigner.generate({ kid: 'cp-1' });
  const keyFile = path.join(dir, 'checkpoint-key.json');
  await fs.writeFile(keyFile, JSON.stringify(await signer.exportPrivateJwk()), { mode: 0o600 });
  const policyFile = path.join(dir, 'policy.yaml');
  await fs.writeFile(policyFile, POLICY_YAML);
  const auditFile = path.join(dir, 'audit.jsonl');
  const config: BulwarkConfig = {
    keys: { masterKey: memoryProvider(), store: { file: path.join(dir, 'keys.json') }, ensure: ['pii'] },
    // OWASP parameters (the default): the compliance report checks them; a NIST SP 800-63B policy
    // with 12 characters for every account (PCI DSS 8.3.6).
    passwords: { policy: { minLengthWithMfa: 12 } },
    audit: {
      store: { file: auditFile },
      hmacKey: { env: hmacEnv },
      checkpoint: { signingKey: { file: keyFile }, store: { file: path.join(dir, 'checkpoints.jws') } },
      logId: 'clinic-audit',
      // HIPAA documentation retention (6 years) for the categories the report checks.
      retention: { periods: { default: 2192, audit: 2192, security: 2192 } },
    },
    authz: { policy: { file: policyFile }, breakGlass: { maxDurationMs: 3_600_000 } },
    mfa: {
      policy: { requiredFor: ['admin'] },
      store: 'memory',
      totp: { issuer: 'Clinic' },
      recoveryCodes: { count: 8 },
    },
    threat: {
      bruteForce: { account: { maxFailures: 10, lockoutSec: 1800, maxLockoutSec: 86_400 }, lockout: 'hard' },
      detector: { failedLogins: { perAccount: { threshold: 3, windowSec: 300 } } },
    },
    privacy: {
      classification: classification(),
      consent: {
        store: 'memory',
        purposes: [
          { id: 'newsletter', name: 'Newsletter', version: 1, text: 'Send me news.', marketing: true },
        ],
      },
      dsr: { store: 'memory' },
      processors: [
        {
          id: 'mailer',
          name: 'Mailer Ltd',
          role: 'processor',
          country: 'DE',
          agreements: [{ type: 'DPA', signedAt: '2024-01-01T00:00:00.000Z' }],
          scope: { dataCategories: ['personal'], purposes: ['care', 'billing', 'account'] },
        },
      ],
      processing: {
        controller: { name: 'Clinic' },
        activities: [
          {
            id: 'care',
            name: 'Patient care',
            purposes: ['care', 'billing', 'account'],
            lawfulBasis: 'contract',
            entities: ['User', 'Patient', 'Payment'],
            subjectCategories: ['patients'],
            recipients: ['mailer'],
            retention: { days: 3650, description: 'ten years after the last visit' },
            securityMeasures: ['field encryption'],
          },
        ],
      },
      retention: { rules: [{ category: 'personal', days: 3650, basis: 'medical records law' }] },
      breaches: {},
    },
    // An alert channel the test can read: the compliance check wants a channel that delivered.
    alerts: {
      channels: [{ name: 'ops', kind: 'memory', send: async () => undefined }],
      retry: { intervalMs: 0 },
    },
    compliance: { privilegedRoles: ['admin'], httpSurface: false },
    sessions: { secret: randomBytes(32) },
    accounts: {},
  };
  return { config, hmacEnv, auditFile };
}

export async function exists(file: string): Promise<boolean> {
  return fs
    .access(file)
    .then(() => true)
    .catch(() => false);
}
