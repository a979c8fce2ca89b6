import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createBulwark, type BulwarkConfig } from '../../src/bulwark';
import { Redactor } from '../../src/audit/redactor';
import { RetentionPolicy } from '../../src/audit/retention-policy';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import type { ControlDefinition } from '../../src/compliance/control';
import { ControlCatalogue } from '../../src/compliance/control-catalogue';
import { AEAD_ALGORITHMS } from '../../src/crypto/aead';
import { ClassificationRegistry } from '../../src/privacy/classification-registry';
import { DataSubjectRequests } from '../../src/privacy/data-subject-requests';
import { KeyRing, MemoryKeyStore, type AeadAlgorithm } from '../../src/crypto/key-ring';
import { BulwarkConfigError } from '../../src/errors';
import { memoryProvider, POLICY_YAML, tempDir, weakPasswords } from './composition-helpers';

async function configError(config: unknown): Promise<BulwarkConfigError> {
  let bulwark;
  try {
    bulwark = await createBulwark(config as BulwarkConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(BulwarkConfigError);
    expect((err as BulwarkConfigError).code).toBe('ERR_CONFIG_INVALID');
    return err as BulwarkConfigError;
  }
  await bulwark.close();
  throw new Error('expected createBulwark to reject');
}

const base = { passwords: weakPasswords };
const audit = { store: 'memory' as const };
const keys = { masterKey: memoryProvider(), store: 'memory' as const };
const purpose = { id: 'news', name: 'News', version: 1, text: 'Send me news.' };

/** [bad config (merged over `base`), the path the error must name]. */
const CASES: [string, Record<string, unknown>, string][] = [
  ['unknown top-level section', { audti: {} }, 'audti'],
  ['clock that is not a function', { clock: 'now' }, 'clock'],
  // audit
  ['audit without a store', { audit: {} }, 'audit.store'],
  ['audit store of an unknown kind', { audit: { store: 'disk' } }, 'audit.store'],
  ['unknown audit option', { audit: { ...audit, hmac: true } }, 'audit.hmac'],
  [
    'unknown audit file store option',
    { audit: { store: { file: 'a.jsonl', sync: true } } },
    'audit.store.sync',
  ],
  ['bad fsync policy', { audit: { store: { file: 'a.jsonl', fsync: 'sometimes' } } }, 'audit.store.fsync'],
  ['short HMAC key', { audit: { ...audit, hmacKey: randomBytes(16) } }, 'audit.hmacKey'],
  [
    'HMAC key env var that is not set',
    { audit: { ...audit, hmacKey: { env: 'BULWARK_TEST_UNSET_VAR' } } },
    'audit.hmacKey.env',
  ],
  [
    'checkpoint without a store',
    { audit: { ...audit, checkpoint: { signingKey: { file: 'k.json' } } } },
    'audit.checkpoint.store',
  ],
  [
    'checkpoint without a key',
    { audit: { ...audit, checkpoint: { store: 'memory' } } },
    'audit.checkpoint.signingKey',
  ],
  [
    'checkpoint key that is not Ed25519',
    { audit: { ...audit, checkpoint: { signingKey: { kty: 'RSA', n: 'x', e: 'AQAB' }, store: 'memory' } } },
    'audit.checkpoint.signingKey',
  ],
  ['empty log id', { audit: { ...audit, logId: '' } }, 'audit.logId'],
  [
    'retention period of -1 days',
    { audit: { ...audit, retention: { periods: { default: -1 } } } },
    'audit.retention.periods.default',
  ],
  ['unknown retention option', { audit: { ...audit, retention: { days: 5 } } }, 'audit.retention.days'],
  ['sink without write()', { audit: { ...audit, sinks: [{}] } }, 'audit.sinks[0]'],
  ['zero batch size', { audit: { ...audit, maxBatchSize: 0 } }, 'audit.maxBatchSize'],
  ['commit window over 1 s', { audit: { ...audit, commitWindowMs: 1001 } }, 'audit.commitWindowMs'],
  // keys
  [
    'key algorithm not an AEAD',
    { keys: { ...keys, defaultAlgorithm: 'aes-256-cbc' } },
    'keys.defaultAlgorithm',
  ],
  [
    'rotation period of 0 days',
    { keys: { ...keys, rotation: { rotateEvery: 0 } } },
    'keys.rotation.rotateEvery',
  ],
  [
    'expiry before the rotation falls due',
    { keys: { ...keys, rotation: { keys: { pan: { rotateEvery: 90, expireAfter: 30 } } } } },
    'keys.rotation.keys.pan.expireAfter',
  ],
  ['envelope format 3', { keys: { ...keys, envelopeFormat: 3 } }, 'keys.envelopeFormat'],
  ['acceptFormat1 not a boolean', { keys: { ...keys, acceptFormat1: 'no' } }, 'keys.acceptFormat1'],
  [
    'key store missing methods',
    { keys: { ...keys, store: { loadKeys() {}, insertKeyVersion() {} } } },
    'keys.store',
  ],
  // authz
  ['authz without a policy', { authz: {} }, 'authz.policy'],
  ['policy of the wrong type', { authz: { policy: 42 } }, 'authz.policy'],
  ['policy file path given as text', { authz: { policy: './policy.yaml' } }, 'authz.policy'],
  [
    'inline policy with a bad rule',
    { authz: { policy: POLICY_YAML.replace('effect: allow', 'effect: maybe') } },
    'authz.policy.policies[0].rules[0].effect',
  ],
  [
    'policy file with an unknown option',
    { authz: { policy: { file: 'p.yaml', fmt: 'yaml' } } },
    'authz.policy.fmt',
  ],
  ['policy file format', { authz: { policy: { file: 'p.txt', format: 'toml' } } }, 'authz.policy.format'],
  [
    'break-glass without an audit log',
    { authz: { policy: POLICY_YAML, breakGlass: {} } },
    'authz.breakGlass',
  ],
  [
    'break-glass longer than a day',
    { audit, authz: { policy: POLICY_YAML, breakGlass: { maxDurationMs: 2 * 86_400_000 } } },
    'authz.breakGlass.maxDurationMs',
  ],
  // mfa
  ['mfa without a policy', { mfa: {} }, 'mfa.policy'],
  ['mfa policy roles not an array', { mfa: { policy: { requiredFor: 'admin' } } }, 'mfa.policy.requiredFor'],
  [
    'unknown mfa policy option',
    { mfa: { policy: { requiredFor: ['admin'], clock: () => new Date() } } },
    'mfa.policy.clock',
  ],
  [
    'totp without a store',
    { keys, mfa: { policy: { requiredFor: ['admin'] }, totp: { issuer: 'X' } } },
    'mfa.store',
  ],
  [
    'totp without a key ring',
    { mfa: { policy: { requiredFor: ['admin'] }, store: 'memory', totp: { issuer: 'X' } } },
    'mfa.totp',
  ],
  [
    'totp issuer with a colon',
    { keys, mfa: { policy: { requiredFor: ['admin'] }, store: 'memory', totp: { issuer: 'a:b' } } },
    'mfa.totp.issuer',
  ],
  [
    'too many recovery codes',
    { mfa: { policy: { requiredFor: ['admin'] }, store: 'memory', recoveryCodes: { count: 500 } } },
    'mfa.recoveryCodes.count',
  ],
  // threat
  ['unknown threat section', { threat: { detectors: {} } }, 'threat.detectors'],
  [
    'lockout without failures',
    { threat: { bruteForce: { account: { maxFailures: 0 } } } },
    'threat.bruteForce.account.maxFailures',
  ],
  [
    'redis without an account key',
    { threat: { bruteForce: { redis: { multi: () => undefined } } } },
    'threat.bruteForce.accountKey',
  ],
  [
    'redis that is not a client',
    { threat: { bruteForce: { redis: {}, accountKey: randomBytes(32) } } },
    'threat.bruteForce.redis',
  ],
  ['detector without an audit log', { threat: { detector: {} } }, 'threat.detector'],
  [
    'detector threshold of -1',
    { audit, threat: { detector: { failedLogins: { perAccount: { threshold: -1 } } } } },
    'threat.detector.failedLogins.perAccount.threshold',
  ],
  // privacy
  ['consent without a store', { privacy: { consent: {} } }, 'privacy.consent.store'],
  [
    'consent purpose without a text',
    { privacy: { consent: { store: 'memory', purposes: [{ ...purpose, text: '' }] } } },
    'privacy.consent.purposes[0]',
  ],
  [
    'consent purposes not an array',
    { privacy: { consent: { store: 'memory', purposes: purpose } } },
    'privacy.consent.purposes',
  ],
  ['dsr without a store', { privacy: { dsr: {} } }, 'privacy.dsr.store'],
  [
    'dsr deadline of 0 days',
    { privacy: { dsr: { store: 'memory', responseDays: 0 } } },
    'privacy.dsr.responseDays',
  ],
  [
    'dsr verifier that is not a function',
    { privacy: { dsr: { store: 'memory', verifyIdentity: true } } },
    'privacy.dsr.verifyIdentity',
  ],
  [
    'dsr evidence key shorter than 32 bytes',
    { privacy: { dsr: { store: 'memory', evidence: { pseudonymKey: randomBytes(16) } } } },
    'privacy.dsr.evidence.pseudonymKey',
  ],
  [
    'dsr evidence keeping an unknown outcome',
    { privacy: { dsr: { store: 'memory', evidence: { outcomes: ['maybe'] } } } },
    'privacy.dsr.evidence.outcomes',
  ],
  [
    'dsr evidence with an unknown option',
    { privacy: { dsr: { store: 'memory', evidence: { keepEverything: true } } } },
    'privacy.dsr.evidence.keepEverything',
  ],
  [
    'dsr with an audit log but neither audit.hmacKey nor a pseudonym key',
    { audit, privacy: { dsr: { store: 'memory' } } },
    'privacy.dsr.evidence.pseudonymKey',
  ],
  [
    'processor with an unknown role',
    {
      privacy: {
        processors: [{ id: 'p', name: 'P', role: 'friend', scope: { dataCategories: [], purposes: [] } }],
      },
    },
    'privacy.processors[0]',
  ],
  ['processing without a controller', { privacy: { processing: {} } }, 'privacy.processing.controller'],
  [
    'retention rule without a basis',
    { privacy: { retention: { rules: [{ category: 'personal', days: 30 }] } } },
    'privacy.retention.rules[0]',
  ],
  ['classification that is not a registry', { privacy: { classification: {} } }, 'privacy.classification'],
  ['unknown breach option', { privacy: { breaches: { deadline: {} } } }, 'privacy.breaches.deadline'],
  // compliance
  [
    'privileged roles not an array',
    { compliance: { privilegedRoles: 'admin' } },
    'compliance.privilegedRoles',
  ],
  ['unknown compliance option', { compliance: { frameworks: ['gdpr'] } }, 'compliance.frameworks'],
];

describe('createBulwark config errors', () => {
  it.each(CASES.map(([name, bad, where]) => [name, where, bad] as const))(
    '%s: %s',
    async (_name, expectedPath, bad) => {
      const err = await configError({ ...base, ...bad });
      expect(err.details?.path).toBe(expectedPath);
      expect(err.message.startsWith(expectedPath)).toBe(true);
    },
  );

  it('never echoes a secret from an env var, a key file or a JWK file', async () => {
    const { dir, remove } = await tempDir();
    const env = `BULWARK_TEST_SECRET_${randomBytes(4).toString('hex')}`;
    const secret = 'zz-not-a-key-but-very-secret-zz';
    process.env[env] = secret;
    try {
      const keyFile = path.join(dir, 'hmac.key');
      await fs.writeFile(keyFile, secret);
      const jwkFile = path.join(dir, 'checkpoint.json');
      await fs.writeFile(jwkFile, `{"kty":"OKP","crv":"Ed25519","d":"${secret}"`); // truncated JSON
      const fromEnv = await configError({ ...base, audit: { ...audit, hmacKey: { env } } });
      expect(fromEnv.details?.path).toBe('audit.hmacKey.env');
      const fromFile = await configError({ ...base, audit: { ...audit, hmacKey: { file: keyFile } } });
      expect(fromFile.details?.path).toBe('audit.hmacKey.file');
      const fromJwk = await configError({
        ...base,
        audit: { ...audit, checkpoint: { signingKey: { file: jwkFile }, store: 'memory' } },
      });
      expect(fromJwk.details?.path).toBe('audit.checkpoint.signingKey.file');
      const inline = await configError({
        ...base,
        audit: {
          ...audit,
          checkpoint: { signingKey: { kty: 'OKP', crv: 'Ed25519', d: secret }, store: 'memory' },
        },
      });
      const short = await configError({
        ...base,
        threat: { bruteForce: { accountKey: Buffer.from(secret.slice(0, 8)) } },
      });
      expect(short.details?.path).toBe('threat.bruteForce.accountKey');
      for (const err of [fromEnv, fromFile, fromJwk, inline, short]) {
        expect(err.message).not.toContain(secret);
        expect(JSON.stringify(err.details)).not.toContain(secret);
        expect(String((err.cause as Error | undefined)?.message ?? '')).not.toContain(secret);
      }
    } finally {
      delete process.env[env];
      await remove();
    }
  });

  it('reads an HMAC key from BULWARK_AUDIT_HMAC_KEY by default, as `bulwark audit verify` does', async () => {
    const saved = process.env.BULWARK_AUDIT_HMAC_KEY;
    process.env.BULWARK_AUDIT_HMAC_KEY = randomBytes(32).toString('base64url');
    try {
      const bulwark = await createBulwark({ ...base, audit });
      expect(bulwark.auditLog!.describe().hmac).toBe(true);
      await bulwark.close();
      process.env.BULWARK_AUDIT_HMAC_KEY = 'abcd';
      expect((await configError({ ...base, audit })).details?.path).toBe('audit.hmacKey.env');
    } finally {
      if (saved === undefined) delete process.env.BULWARK_AUDIT_HMAC_KEY;
      else process.env.BULWARK_AUDIT_HMAC_KEY = saved;
    }
  });

  it('takes an HMAC key as hex or base64url text from a file', async () => {
    const { dir, remove } = await tempDir();
    try {
      for (const text of [randomBytes(32).toString('hex'), `${randomBytes(48).toString('base64url')}\n`]) {
        const file = path.join(dir, 'hmac.key');
        await fs.writeFile(file, text);
        const bulwark = await createBulwark({ ...base, audit: { ...audit, hmacKey: { file } } });
        expect(bulwark.auditLog!.describe().hmac).toBe(true);
        await bulwark.close();
      }
    } finally {
      await remove();
    }
  });

  it('reports a key ring mistake with the same message through createBulwark and KeyRing.open', async () => {
    const viaConfig = await configError({ ...base, keys: { ...keys, defaultAlgorithm: 'des' } });
    let direct: unknown;
    try {
      await KeyRing.open({
        provider: memoryProvider(),
        store: new MemoryKeyStore(),
        defaultAlgorithm: 'des' as AeadAlgorithm,
        configPath: 'keys',
      });
    } catch (err) {
      direct = err;
    }
    expect(direct).toBeInstanceOf(BulwarkConfigError);
    expect((direct as BulwarkConfigError).message).toBe(viaConfig.message);
    expect(viaConfig.message).toBe(
      `keys.defaultAlgorithm must be one of ${AEAD_ALGORITHMS.join(', ')}, got a string`,
    );
  });

  it.each([
    [
      'a redactor class that does not exist',
      { audit: { ...audit, redactor: { classification: { ssn: 'top-secret' } } } },
      () => new Redactor({ classification: { ssn: 'top-secret' as 'phi' }, configPath: 'audit.redactor' }),
      'audit.redactor.classification.ssn',
    ],
    [
      'a retention period of 0 days',
      { audit: { ...audit, retention: { periods: { auth: 0 } } } },
      () => new RetentionPolicy({ periods: { auth: 0 }, configPath: 'audit.retention' }),
      'audit.retention.periods.auth',
    ],
    [
      'an erasure evidence outcome that does not exist',
      { privacy: { dsr: { store: 'memory', evidence: { outcomes: ['maybe'] } } } },
      () =>
        new DataSubjectRequests({
          verifyIdentity: () => true,
          evidence: { outcomes: ['maybe' as 'denied'] },
          configPath: 'privacy.dsr',
        }),
      'privacy.dsr.evidence.outcomes',
    ],
    [
      'privileged roles that are not a list',
      { compliance: { privilegedRoles: 'admin' } },
      () => new ComplianceKit({ privilegedRoles: 'admin' as unknown as string[], configPath: 'compliance' }),
      'compliance.privilegedRoles',
    ],
  ])(
    'reports %s with the same message through createBulwark and the engine',
    async (_name, bad, engine, expectedPath) => {
      const viaConfig = await configError({ ...base, ...bad });
      let direct: unknown;
      try {
        engine();
      } catch (err) {
        direct = err;
      }
      expect(direct).toBeInstanceOf(BulwarkConfigError);
      expect((direct as BulwarkConfigError).details?.path).toBe(expectedPath);
      expect(viaConfig.details?.path).toBe(expectedPath);
      expect(viaConfig.message).toBe((direct as BulwarkConfigError).message);
    },
  );

  it('names the config path given to engines built outside createBulwark', () => {
    const thrown = (build: () => unknown): unknown => {
      try {
        build();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(
      thrown(() => new ComplianceKit({ httpSurface: 'yes' as unknown as boolean, configPath: 'tenants.a' })),
    ).toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: 'tenants.a.httpSurface must be a boolean',
    });
    const registry = new ClassificationRegistry({ configPath: 'entities' });
    expect(
      thrown(() =>
        registry.register({ entity: 'User', field: 'ssn', category: 'secret' as 'phi', encrypted: true }),
      ),
    ).toMatchObject({ details: { path: 'entities.User.ssn.category' } });
    expect(
      thrown(
        () =>
          new ControlCatalogue(
            [{ id: 'x', framework: 'gdpr', ref: 'r', title: 't', requirement: 'q' } as ControlDefinition],
            new Set(),
            'tenants.a.controls',
          ),
      ),
    ).toMatchObject({ details: { path: 'tenants.a.controls.x' } });
    expect(thrown(() => new ControlCatalogue([{} as ControlDefinition], new Set()))).toMatchObject({
      details: { path: 'compliance.controls[0].id' },
    });
  });

  it('keeps a failing master key provider a crypto error when the ring opens', async () => {
    const broken = {
      name: 'broken',
      wrapKey: () => Promise.reject(new Error('kms down')),
      unwrapKey: () => Promise.reject(new Error('kms down')),
    };
    await expect(
      createBulwark({ ...base, keys: { masterKey: broken, store: 'memory' } } as BulwarkConfig),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_CRYPTO_/) });
  });

  it('creates only the configured sections', async () => {
    const bulwark = await createBulwark({ ...base, privacy: {} });
    try {
      expect(bulwark.auditLog).toBeUndefined();
      expect(bulwark.policyEngine).toBeUndefined();
      expect(bulwark.consent).toBeUndefined();
      expect(bulwark.dsr).toBeUndefined();
      expect(bulwark.processing).toBeUndefined();
      // In-memory registers without persistence come with the section.
      expect(bulwark.processors).toBeDefined();
      expect(bulwark.dataRetention).toBeDefined();
      expect(bulwark.breaches).toBeDefined();
      expect(() => bulwark.setIdentityVerifier(() => true)).toThrow(BulwarkConfigError);
    } finally {
      await bulwark.close();
    }
  });
});

describe('createBulwark checks the declared registrations against each other', () => {
  const processor = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    name: id,
    role: 'processor',
    scope: { dataCategories: ['personal'], purposes: ['care'] },
    ...extra,
  });
  const activity = (id: string, recipients: string[] = []) => ({
    id,
    name: id,
    purposes: ['care'],
    subjectCategories: ['patients'],
    recipients,
    retention: { description: 'ten years' },
    securityMeasures: ['encryption'],
  });
  const controller = { name: 'Clinic' };
  const REGISTRATION_CASES: [string, unknown, string, string][] = [
    [
      'two processors with one id',
      { processors: [processor('mailer'), processor('mailer')] },
      'privacy.processors[1]',
      'processor mailer is already registered',
    ],
    [
      'a sub-processor before (or without) its parent',
      { processors: [processor('sub', { role: 'sub-processor', parentId: 'mailer' }), processor('mailer')] },
      'privacy.processors[0]',
      'processor sub.parentId must name a registered processor',
    ],
    [
      'two retention rules with one id',
      {
        retention: {
          rules: [
            { id: 'r', category: 'personal', days: 30, basis: 'law' },
            { id: 'r', category: 'logs', days: 30, basis: 'law' },
          ],
        },
      },
      'privacy.retention.rules[1]',
      'retention policy r exists',
    ],
    [
      'two retention rules for one category',
      {
        retention: {
          rules: [
            { category: 'personal', days: 30, basis: 'law' },
            { id: 'other', category: 'personal', days: 60, basis: 'contract' },
          ],
        },
      },
      'privacy.retention.rules[1]',
      'targets what policy category:personal already covers',
    ],
    [
      'two activities with one id',
      { processing: { controller, activities: [activity('care'), activity('care')] } },
      'privacy.processing.activities[1]',
      'activity care is already registered',
    ],
    [
      'an activity naming an unregistered recipient',
      {
        processors: [processor('mailer')],
        processing: { controller, activities: [activity('care', ['mailer', 'ghost'])] },
      },
      'privacy.processing.activities[0]',
      'names unregistered processors: ghost',
    ],
  ];

  it.each(REGISTRATION_CASES)('%s', async (_name, privacy, expectedPath, message) => {
    const err = await configError({ ...base, privacy });
    expect(err.details?.path).toBe(expectedPath);
    expect(err.message.startsWith(expectedPath)).toBe(true);
    expect(err.message).toContain(message);
  });

  it('accepts the same registrations when they are consistent', async () => {
    const bulwark = await createBulwark({
      ...base,
      privacy: {
        processors: [processor('mailer'), processor('sub', { role: 'sub-processor', parentId: 'mailer' })],
        retention: { rules: [{ category: 'personal', days: 30, basis: 'law' }] },
        processing: { controller, activities: [activity('care', ['mailer', 'sub'])] },
      },
    } as BulwarkConfig);
    try {
      expect((await bulwark.processors!.list()).map((p) => p.id)).toEqual(['mailer', 'sub']);
    } finally {
      await bulwark.close();
    }
  });
});
