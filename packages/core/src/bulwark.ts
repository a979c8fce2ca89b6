import { hkdfSync } from 'node:crypto';
import { AuditLog } from './audit/audit-log';
import type { AuditActor } from './audit/audit-event';
import type { AuditSink } from './audit/audit-sink';
import type { AuditStore } from './audit/audit-store';
import { CheckpointSigner } from './audit/checkpoint-signer';
import type { CheckpointStore } from './audit/checkpoint-store';
import { FileAuditStore, type FsyncPolicy } from './audit/file-audit-store';
import { FileCheckpointStore } from './audit/file-checkpoint-store';
import { MemoryAuditStore } from './audit/memory-audit-store';
import { MemoryCheckpointStore } from './audit/memory-checkpoint-store';
import { Redactor, type RedactorOptions } from './audit/redactor';
import { RetentionPolicy, type RetentionPolicyOptions } from './audit/retention-policy';
import { BREAK_GLASS_DEFAULTS, type BreakGlassOptions } from './authz/break-glass-registry';
import { parsePolicyText } from './authz/parse-policy-text';
import type { PolicyDocument } from './authz/policy-document';
import { PolicyEngine } from './authz/policy-engine';
import { validatePolicyDocument } from './authz/validate-policy-document';
import { ComplianceKit, type ComplianceKitOptions } from './compliance/compliance-kit';
import {
  checkJwk,
  checkSecretBytes,
  configError,
  fileRef,
  invalid,
  isObject,
  isPlainObject,
  nonEmptyString,
  readJwk,
  readSecretBytes,
  readTextFile,
  rejectUnknown,
  section,
  underPath,
  underPathAsync,
  type JwkConfig,
  type SecretBytesConfig,
} from './composition/config-input';
import {
  EnvKeyProvider,
  FileKeyProvider,
  FileKeyStore,
  KeyRing,
  MemoryKeyStore,
  type AeadAlgorithm,
  type FileKeyProviderOptions,
  type KeyProvider,
  type KeyStore,
} from './crypto/key-ring';
import { PasswordHasher, type PasswordHasherOptions } from './crypto/password-hasher';
import { BulwarkConfigError, BulwarkError, ErrorCodes } from './errors';
import { MemoryMfaStore } from './mfa/memory-mfa-store';
import type { MfaStore } from './mfa/mfa-store';
import { MfaPolicy, type MfaPolicyOptions } from './mfa/mfa-policy';
import { RecoveryCodes, type RecoveryCodesOptions } from './mfa/recovery-codes';
import { TotpFactor, type TotpFactorOptions } from './mfa/totp-factor';
import { BreachRegister, type BreachDeadlineRules } from './privacy/breach-register';
import { ClassificationRegistry, defaultClassificationRegistry } from './privacy/classification-registry';
import { ConsentManager, type ConsentPurposeInput } from './privacy/consent-manager';
import type { ConsentStore } from './privacy/consent-store';
import { DataRetention, type RetentionRule } from './privacy/data-retention';
import { DataSubjectRequests, type IdentityVerifier } from './privacy/data-subject-requests';
import { ErasureEvidence, type ErasureEvidenceOptions } from './privacy/erasure-evidence';
import type { DsrStore } from './privacy/dsr-store';
import { ErasureReceiptSigner } from './privacy/erasure-receipt';
import { MemoryConsentStore } from './privacy/memory-consent-store';
import { MemoryDsrStore } from './privacy/memory-dsr-store';
import {
  ProcessingRegister,
  type ProcessingActivityInput,
  type ProcessingRegisterOptions,
} from './privacy/processing-register';
import { ProcessorRegister, type ProcessorInput } from './privacy/processor-register';
import { BruteForceGuard, type BruteForceGuardOptions } from './threat/brute-force-guard';
import { ThreatDetector, type ThreatDetectorOptions } from './threat/threat-detector';
import { TokenService, type TokenServiceOptions } from './tokens/token-service';

export type { SecretBytesConfig, JwkConfig } from './composition/config-input';

/** Where the master key (KEK) that wraps every data key comes from. */
/**
 * `{ file }` takes FileKeyProvider's options: a key file its group or others can read is refused
 * unless `insecureFilePermissions: 'warn'` (which weakens security).
 */
export type MasterKeyConfig =
  KeyProvider | { env: string } | ({ file: string } & Omit<FileKeyProviderOptions, 'path'>);

/** Where wrapped data keys persist. `'memory'` loses them on restart: tests and demos only. */
export type KeyStoreConfig = KeyStore | { file: string } | 'memory';

/** Where audit entries persist. `'memory'` loses them on restart: tests and demos only. */
export type AuditStoreConfig = AuditStore | { file: string; fsync?: FsyncPolicy } | 'memory';

/** Where signed checkpoints are kept: apart from the log (another volume or host). */
export type CheckpointStoreConfig = CheckpointStore | { file: string } | 'memory';

export interface AuditConfig {
  /** Required: there is no silent in-memory default that would lose the trail. */
  store: AuditStoreConfig;
  /**
   * HMAC key (>= 32 bytes) of the leaf hashes, so a writer with store access alone cannot
   * recompute the chain. Default: the BULWARK_AUDIT_HMAC_KEY environment variable when set (the
   * one `bulwark audit verify` reads), else unkeyed.
   */
  hmacKey?: SecretBytesConfig;
  /** Signed tree heads (Ed25519 JWS) for `auditLog.checkpoint()`. */
  checkpoint?: {
    /** A private Ed25519 JWK, a file holding one, or a CheckpointSigner. */
    signingKey: JwkConfig | CheckpointSigner;
    store: CheckpointStoreConfig;
  };
  logId?: string;
  /** Per-category retention (days) and legal holds. */
  retention?: RetentionPolicyOptions;
  /** Redaction of `details` before hashing. Default: the built-in secret and card-number rules. */
  redactor?: Redactor | RedactorOptions;
  /** Delivered every durable batch; closed by `close()`. The threat detector is added after them. */
  sinks?: readonly AuditSink[];
  maxBatchSize?: number;
}

export interface AuthzConfig {
  /** A policy document, its JSON / YAML text, or a `.json` / `.yaml` file. */
  policy: PolicyDocument | string | { file: string; format?: 'json' | 'yaml' };
  /** Limits of break-glass access. Break-glass events go to the audit log (requires `audit`). */
  breakGlass?: BreakGlassOptions;
}

export interface MfaConfig {
  /** Who must present a second factor. */
  policy: Omit<MfaPolicyOptions, 'clock' | 'configPath'>;
  /** Enrolments and recovery codes; required with `totp` or `recoveryCodes`. */
  store?: MfaStore | 'memory';
  /** TOTP (RFC 6238); secrets are encrypted with the key ring (`keys` section). */
  totp?: Omit<TotpFactorOptions, 'store' | 'keyRing' | 'guard' | 'clock' | 'configPath'>;
  /** One-time recovery codes, hashed with the `passwords` hasher. */
  recoveryCodes?: Omit<RecoveryCodesOptions, 'store' | 'hasher' | 'guard' | 'clock' | 'configPath'>;
}

export interface ThreatConfig {
  /** Brute-force defence (also throttles MFA codes when `mfa` is configured). */
  bruteForce?: Omit<BruteForceGuardOptions, 'configPath' | 'accountKey'> & { accountKey?: SecretBytesConfig };
  /** Detection rules over the audit stream (requires `audit`): attached as a sink, violations written back. */
  detector?: Omit<ThreatDetectorOptions, 'auditLog' | 'clock' | 'configPath'>;
}

export interface PrivacyConfig {
  /** Default: `defaultClassificationRegistry` (the one @bulwark/typeorm's decorators fill). */
  classification?: ClassificationRegistry;
  consent?: {
    store: ConsentStore | 'memory';
    /** Registered on start-up (register later ones with `consent.registerPurpose`). */
    purposes?: readonly ConsentPurposeInput[];
    /** Audit retention category of consent events. Default `consent`. */
    auditCategory?: string;
  };
  dsr?: {
    store: DsrStore | 'memory';
    /** Required before identity checks pass: here, or later with `bulwark.setIdentityVerifier()`. */
    verifyIdentity?: IdentityVerifier;
    /** Signs erasure receipts: a private Ed25519 JWK, a file holding one, or a signer. */
    receiptSigner?: ErasureReceiptSigner | JwkConfig;
    responseDays?: number;
    maxExtensionDays?: number;
    actor?: AuditActor;
    /**
     * What erasure keeps of the subject's audit entries, pseudonymised (GDPR Art. 17(3)(b), (e)).
     * `pseudonymKey` (>= 32 bytes): bytes, `{ env }` or `{ file }`; default: derived from
     * `audit.hmacKey` (HKDF-SHA256, its own label). Without either, an audit log with DSRs is
     * refused unless `discardSecurityEvidence` (which weakens security) is set.
     */
    evidence?: Omit<ErasureEvidenceOptions, 'pseudonymKey'> & { pseudonymKey?: SecretBytesConfig };
  };
  /** Processors and other recipients, registered on start-up. */
  processors?: readonly ProcessorInput[];
  /** Record of processing activities (GDPR Art. 30). */
  processing?: {
    controller: ProcessingRegisterOptions['controller'];
    activities?: readonly ProcessingActivityInput[];
  };
  /** Retention of personal data (sources are registered later by the app). */
  retention?: {
    rules?: readonly (Omit<RetentionRule, 'id'> & { id?: string })[];
    maxBatches?: number;
  };
  breaches?: { deadlines?: Partial<BreachDeadlineRules> };
}

export type ComplianceConfig = Omit<ComplianceKitOptions, 'clock'>;

export interface BulwarkConfig {
  /** Field encryption. Omit to run without a key ring. */
  keys?: {
    /** Default: the BULWARK_MASTER_KEY environment variable. */
    masterKey?: MasterKeyConfig;
    /** Required when `keys` is set: there is no silent in-memory default that would lose keys. */
    store: KeyStoreConfig;
    /** AEAD for new keys. Default aes-256-gcm. */
    defaultAlgorithm?: AeadAlgorithm;
    /** Key ids created on start-up when missing (e.g. ['pii', 'phi']). */
    ensure?: readonly string[];
  };
  /** Password hashing (argon2id, OWASP parameters by default). Always available. */
  passwords?: PasswordHasherOptions;
  /** JWT issuing / verification. Omit for no token service. */
  tokens?: TokenServiceOptions;
  /** Tamper-evident audit log. */
  audit?: AuditConfig;
  /** Access-control policy engine. */
  authz?: AuthzConfig;
  /** Multi-factor authentication policy and factors. */
  mfa?: MfaConfig;
  /** Brute-force defence and detection rules. */
  threat?: ThreatConfig;
  /** Consent, data-subject requests, processors, processing record, retention, breaches. */
  privacy?: PrivacyConfig;
  /** A ComplianceKit with every configured service registered. */
  compliance?: ComplianceConfig;
  /** Time source for every engine (tests). Default the system clock. */
  clock?: () => Date;
}

/**
 * The wired services. A section that is not configured has no service (undefined here, unbound in
 * inversify). Stores, sinks and signers passed in the config belong to Bulwark from then on:
 * `close()` closes them (a Redis client given to `threat.bruteForce` stays the app's).
 */
export interface Bulwark {
  readonly keyRing?: KeyRing;
  readonly passwords: PasswordHasher;
  readonly tokens?: TokenService;
  readonly auditLog?: AuditLog;
  readonly policyEngine?: PolicyEngine;
  /** The policy engine under the name the HTTP adapters use. */
  readonly authorizer?: PolicyEngine;
  readonly mfaPolicy?: MfaPolicy;
  readonly totp?: TotpFactor;
  readonly recoveryCodes?: RecoveryCodes;
  /** The brute-force guard (named as the HTTP adapters' kit names it). */
  readonly bruteForce?: BruteForceGuard;
  readonly threatDetector?: ThreatDetector;
  readonly classification?: ClassificationRegistry;
  readonly consent?: ConsentManager;
  readonly dsr?: DataSubjectRequests;
  readonly processors?: ProcessorRegister;
  readonly processing?: ProcessingRegister;
  readonly dataRetention?: DataRetention;
  readonly breaches?: BreachRegister;
  /** Every service above registered; `compliance.report('gdpr')` reads live evidence. */
  readonly compliance?: ComplianceKit;
  /**
   * Sets the data-subject identity check when it was not in the config (e.g. it needs the app's
   * user service). Once only: a verifier cannot be swapped at run time. Until set, identity checks
   * fail (closed) with a process warning.
   */
  setIdentityVerifier(verifier: IdentityVerifier): void;
  /** Closes everything holding resources, newest first (the audit log flushes). Idempotent. */
  close(): Promise<void>;
}

const KNOWN_TOP_LEVEL = [
  'keys',
  'passwords',
  'tokens',
  'audit',
  'authz',
  'mfa',
  'threat',
  'privacy',
  'compliance',
  'clock',
];
const KNOWN_KEYS = ['masterKey', 'store', 'defaultAlgorithm', 'ensure'];
const KNOWN_AUDIT = [
  'store',
  'hmacKey',
  'checkpoint',
  'logId',
  'retention',
  'redactor',
  'sinks',
  'maxBatchSize',
];
const KNOWN_AUTHZ = ['policy', 'breakGlass'];
const KNOWN_BREAK_GLASS = ['maxDurationMs', 'maxReasonLength', 'minReasonLength'];
const KNOWN_MFA = ['policy', 'store', 'totp', 'recoveryCodes'];
const KNOWN_MFA_POLICY = ['requiredFor', 'maxAgeSec', 'methods'];
const KNOWN_TOTP = [
  'issuer',
  'keyId',
  'allowPlaintextSecrets',
  'algorithm',
  'digits',
  'period',
  'window',
  'secretBytes',
];
const KNOWN_RECOVERY = ['count', 'length'];
const KNOWN_THREAT = ['bruteForce', 'detector'];
const KNOWN_BRUTE_FORCE = [
  'ip',
  'account',
  'ipAccount',
  'lockout',
  'knownClientTtlSec',
  'backoffFactor',
  'strikeWindowSec',
  'redis',
  'keyPrefix',
  'accountKey',
  'ipv6PrefixBits',
  'normalizeAccount',
];
const KNOWN_DETECTOR = [
  'onViolation',
  'onError',
  'failedLogins',
  'deniedAccess',
  'privilegeChanges',
  'massExport',
  'breakGlass',
  'offHours',
  'rules',
  'maxKeysPerRule',
  'maxEntriesPerKey',
  'actor',
  'category',
];
const KNOWN_PRIVACY = [
  'classification',
  'consent',
  'dsr',
  'processors',
  'processing',
  'retention',
  'breaches',
];
const KNOWN_CONSENT = ['store', 'purposes', 'auditCategory'];
const KNOWN_DSR = [
  'store',
  'verifyIdentity',
  'receiptSigner',
  'responseDays',
  'maxExtensionDays',
  'actor',
  'evidence',
];
/** HKDF info of the erasure pseudonym key derived from the audit HMAC key. */
const DSR_PSEUDONYM_KEY_INFO = 'bulwark/dsr-erasure-pseudonym/v1';
const KNOWN_PROCESSING = ['controller', 'activities'];
const KNOWN_RETENTION = ['rules', 'maxBatches'];
const KNOWN_BREACHES = ['deadlines'];
const KNOWN_COMPLIANCE = ['privilegedRoles', 'httpSurface', 'auditCategories'];
const ALGORITHMS: readonly AeadAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];
/** The variable `bulwark audit` reads, so the CLI verifies what the app writes. */
const AUDIT_HMAC_ENV = 'BULWARK_AUDIT_HMAC_KEY';
const HMAC_MIN_BYTES = 32;

function isKeyProvider(value: unknown): value is KeyProvider {
  return isObject(value) && typeof value.wrapKey === 'function' && typeof value.unwrapKey === 'function';
}

function isKeyStore(value: unknown): value is KeyStore {
  return (
    isObject(value) && typeof value.loadKeys === 'function' && typeof value.insertKeyVersion === 'function'
  );
}

const hasMethods = (value: unknown, ...methods: string[]): boolean =>
  isObject(value) && methods.every((m) => typeof value[m] === 'function');

function resolveMasterKey(value: unknown): KeyProvider {
  const path = 'keys.masterKey';
  if (value === undefined) return new EnvKeyProvider();
  if (isKeyProvider(value)) return value;
  if (isPlainObject(value)) {
    if ('env' in value) {
      if (!nonEmptyString(value.env)) throw invalid(`${path}.env`, 'an environment variable name', value.env);
      return new EnvKeyProvider({ variable: value.env });
    }
    if ('file' in value) {
      if (!nonEmptyString(value.file)) throw invalid(`${path}.file`, 'a file path', value.file);
      const { insecureFilePermissions: perms, onWarning } = value;
      if (perms !== undefined && perms !== 'refuse' && perms !== 'warn') {
        throw invalid(`${path}.insecureFilePermissions`, "'refuse' or 'warn'", perms);
      }
      if (onWarning !== undefined && typeof onWarning !== 'function') {
        throw invalid(`${path}.onWarning`, 'a function', onWarning);
      }
      return new FileKeyProvider({
        path: value.file,
        ...(value.insecureFilePermissions !== undefined
          ? { insecureFilePermissions: value.insecureFilePermissions as 'refuse' | 'warn' }
          : {}),
        ...(value.onWarning !== undefined ? { onWarning: value.onWarning as (message: string) => void } : {}),
      });
    }
  }
  throw invalid(path, 'a KeyProvider, { env: "VAR" } or { file: "path" }', value);
}

function resolveKeyStore(value: unknown): KeyStore {
  const path = 'keys.store';
  if (value === 'memory') return new MemoryKeyStore();
  if (isKeyStore(value)) return value;
  if (isPlainObject(value) && 'file' in value) {
    if (!nonEmptyString(value.file)) throw invalid(`${path}.file`, 'a file path', value.file);
    return new FileKeyStore({ path: value.file });
  }
  throw invalid(path, 'a KeyStore, { file: "path" } or "memory"', value);
}

/** `'memory'` only when said explicitly: a silent in-memory default would lose records on restart. */
function requireStore(value: unknown, path: string, methods: readonly string[], what: string): void {
  if (value === 'memory' || hasMethods(value, ...methods)) return;
  if (value === undefined) {
    throw configError(path, `is required: a ${what}, or "memory" (tests only: records are lost on restart)`);
  }
  throw invalid(path, `a ${what} or "memory"`, value);
}

function optionalFunction(value: unknown, path: string): void {
  if (value !== undefined && typeof value !== 'function') throw invalid(path, 'a function', value);
}

function optionalArray(value: unknown, path: string): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(path, 'an array', value);
  return value;
}

/** What a section needs opened: checked synchronously before anything is opened. */
interface Plan {
  clock?: () => Date;
  keys?: { provider: KeyProvider; store: KeyStore; algorithm?: AeadAlgorithm; ensure: string[] };
  passwords: PasswordHasher;
  tokens?: TokenService;
  audit?: AuditConfig;
  /** A policy given inline, already validated; a file is read when opening. */
  authz?: {
    document?: PolicyDocument;
    file?: string;
    format?: 'json' | 'yaml';
    breakGlass?: BreakGlassOptions;
  };
  mfa?: { policy: MfaPolicy; config: MfaConfig };
  bruteForce?: { options: ThreatConfig['bruteForce'] & object };
  detector?: ThreatDetector;
  privacy?: PrivacyConfig;
  compliance?: ComplianceConfig;
}

function planKeys(value: unknown): Plan['keys'] {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw invalid('keys', 'an object', value);
  rejectUnknown(value, KNOWN_KEYS, 'keys.');
  if (value.store === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'keys.store is required: { file: "path" } or a KeyStore ("memory" only for tests: keys are lost on restart)',
      { path: 'keys.store' },
    );
  }
  if (value.defaultAlgorithm !== undefined && !ALGORITHMS.includes(value.defaultAlgorithm as AeadAlgorithm)) {
    throw invalid('keys.defaultAlgorithm', `one of ${ALGORITHMS.join(', ')}`, value.defaultAlgorithm);
  }
  const ensure = value.ensure ?? [];
  if (!Array.isArray(ensure)) throw invalid('keys.ensure', 'an array of key ids', ensure);
  ensure.forEach((id, i) => {
    if (!nonEmptyString(id)) throw invalid(`keys.ensure[${i}]`, 'a key id', id);
  });
  return {
    provider: resolveMasterKey(value.masterKey),
    store: resolveKeyStore(value.store),
    algorithm: value.defaultAlgorithm as AeadAlgorithm | undefined,
    ensure: ensure as string[],
  };
}

function planAudit(value: unknown): AuditConfig | undefined {
  const audit = section(value, 'audit', KNOWN_AUDIT);
  if (audit === undefined) return undefined;
  const store = audit.store;
  if (store === undefined) {
    throw configError(
      'audit.store',
      'is required: { file: "path" } or an AuditStore ("memory" only for tests: the trail is lost on restart)',
    );
  }
  if (store !== 'memory' && !hasMethods(store, 'append', 'read', 'head')) {
    const file = fileRef(store, 'audit.store', ['fsync']);
    if (file === undefined)
      throw invalid('audit.store', 'an AuditStore, { file: "path" } or "memory"', store);
    const fsync = (store as { fsync?: unknown }).fsync;
    if (
      fsync !== undefined &&
      fsync !== 'every-append' &&
      fsync !== 'none' &&
      !(isPlainObject(fsync) && Number.isInteger(fsync.intervalMs) && (fsync.intervalMs as number) > 0)
    ) {
      throw invalid('audit.store.fsync', "'every-append', 'none' or { intervalMs: positive integer }", fsync);
    }
  }
  if (audit.hmacKey !== undefined) checkSecretBytes(audit.hmacKey, 'audit.hmacKey', HMAC_MIN_BYTES);
  const checkpoint = section(audit.checkpoint, 'audit.checkpoint', ['signingKey', 'store']);
  if (checkpoint !== undefined) {
    if (checkpoint.signingKey === undefined) {
      throw configError(
        'audit.checkpoint.signingKey',
        'is required: a private Ed25519 JWK or { file: "path" }',
      );
    }
    if (!(checkpoint.signingKey instanceof CheckpointSigner))
      checkJwk(checkpoint.signingKey, 'audit.checkpoint.signingKey');
    const cps = checkpoint.store;
    if (cps === undefined) {
      throw configError(
        'audit.checkpoint.store',
        'is required: { file: "path" } apart from the log, or a CheckpointStore ("memory" only for tests)',
      );
    }
    if (
      cps !== 'memory' &&
      !hasMethods(cps, 'save', 'list') &&
      fileRef(cps, 'audit.checkpoint.store') === undefined
    ) {
      throw invalid('audit.checkpoint.store', 'a CheckpointStore, { file: "path" } or "memory"', cps);
    }
  }
  if (audit.logId !== undefined && (!nonEmptyString(audit.logId) || (audit.logId as string).length > 256)) {
    throw invalid('audit.logId', 'a non-empty string of at most 256 characters', audit.logId);
  }
  if (
    audit.maxBatchSize !== undefined &&
    (!Number.isInteger(audit.maxBatchSize) || (audit.maxBatchSize as number) < 1)
  ) {
    throw invalid('audit.maxBatchSize', 'a positive integer', audit.maxBatchSize);
  }
  const retention = section(audit.retention, 'audit.retention', ['periods', 'holds']);
  // RetentionPolicy names its own paths (audit.retention.periods.<category>).
  if (retention !== undefined) new RetentionPolicy(retention as RetentionPolicyOptions);
  if (audit.redactor !== undefined && !(audit.redactor instanceof Redactor)) {
    if (!isPlainObject(audit.redactor))
      throw invalid('audit.redactor', 'a Redactor or RedactorOptions', audit.redactor);
    underPath('audit.redactor', () => new Redactor(audit.redactor as RedactorOptions));
  }
  optionalArray(audit.sinks, 'audit.sinks').forEach((sink, i) => {
    if (!hasMethods(sink, 'write')) throw invalid(`audit.sinks[${i}]`, 'an AuditSink (write(entries))', sink);
  });
  return audit as unknown as AuditConfig;
}

function planAuthz(value: unknown, hasAudit: boolean): Plan['authz'] {
  const authz = section(value, 'authz', KNOWN_AUTHZ);
  if (authz === undefined) return undefined;
  const breakGlass = section(authz.breakGlass, 'authz.breakGlass', KNOWN_BREAK_GLASS) as
    BreakGlassOptions | undefined;
  if (breakGlass !== undefined) {
    if (!hasAudit) {
      throw configError(
        'authz.breakGlass',
        'requires the audit section: break-glass access is always audited (HIPAA 164.312(a)(2)(ii))',
      );
    }
    // The engine checks these too, but names them relative to itself.
    const { maxDurationMs, maxReasonLength, minReasonLength } = { ...BREAK_GLASS_DEFAULTS, ...breakGlass };
    if (!Number.isInteger(maxDurationMs) || maxDurationMs < 1000 || maxDurationMs > 86_400_000) {
      throw invalid(
        'authz.breakGlass.maxDurationMs',
        'an integer from 1000 to 86400000 (24 h)',
        maxDurationMs,
      );
    }
    if (!Number.isInteger(maxReasonLength) || maxReasonLength < 1 || maxReasonLength > 1024) {
      throw invalid('authz.breakGlass.maxReasonLength', 'an integer from 1 to 1024', maxReasonLength);
    }
    if (!Number.isInteger(minReasonLength) || minReasonLength < 1 || minReasonLength > maxReasonLength) {
      throw invalid(
        'authz.breakGlass.minReasonLength',
        'an integer from 1 to maxReasonLength',
        minReasonLength,
      );
    }
  }
  const policy = authz.policy;
  if (policy === undefined) {
    throw configError(
      'authz.policy',
      'is required: a policy document, its JSON / YAML text, or { file: "path" }',
    );
  }
  const file = fileRef(policy, 'authz.policy', ['format']);
  if (file !== undefined) {
    const format = (policy as { format?: unknown }).format;
    if (format !== undefined && format !== 'json' && format !== 'yaml') {
      throw invalid('authz.policy.format', "'json' or 'yaml'", format);
    }
    return {
      file: file.file,
      format: (format as 'json' | 'yaml' | undefined) ?? formatOf(file.file),
      breakGlass,
    };
  }
  if (typeof policy === 'string' && !/[\n:{]/.test(policy) && formatOf(policy.trim()) !== undefined) {
    // A one-line string ending in .json / .yaml would otherwise be parsed as a YAML scalar.
    throw configError('authz.policy', 'looks like a file path: write { file: "path" } to load a policy file');
  }
  if (typeof policy !== 'string' && !isPlainObject(policy)) {
    throw invalid('authz.policy', 'a policy document, its JSON / YAML text, or { file: "path" }', policy);
  }
  const document = underPath(
    'authz.policy',
    () => (typeof policy === 'string' ? parsePolicyText(policy) : validatePolicyDocument(policy)),
    { nest: true },
  );
  return { document, breakGlass };
}

function formatOf(file: string): 'json' | 'yaml' | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return undefined;
}

function planMfa(value: unknown, hasKeys: boolean, clock: (() => Date) | undefined): Plan['mfa'] {
  const mfa = section(value, 'mfa', KNOWN_MFA);
  if (mfa === undefined) return undefined;
  if (mfa.policy === undefined) {
    throw configError('mfa.policy', "is required: { requiredFor: ['admin', ...] } (or ['*'] for everyone)");
  }
  const policyOptions = section(mfa.policy, 'mfa.policy', KNOWN_MFA_POLICY);
  const policy = new MfaPolicy({
    ...(policyOptions as unknown as MfaPolicyOptions),
    configPath: 'mfa.policy',
    ...(clock ? { clock } : {}),
  });
  const totp = section(mfa.totp, 'mfa.totp', KNOWN_TOTP);
  const recovery = section(mfa.recoveryCodes, 'mfa.recoveryCodes', KNOWN_RECOVERY);
  if (totp !== undefined || recovery !== undefined || mfa.store !== undefined) {
    requireStore(mfa.store, 'mfa.store', ['getTotp', 'getRecoveryCodes'], 'MfaStore');
  }
  if (totp !== undefined && !hasKeys && totp.allowPlaintextSecrets !== true) {
    throw configError(
      'mfa.totp',
      'needs the keys section: TOTP secrets are encrypted at rest with the key ring (allowPlaintextSecrets: true only for tests)',
    );
  }
  // The factors validate their options on construction: do it now, on a throwaway store.
  if (totp !== undefined) {
    new TotpFactor({
      ...(totp as unknown as TotpFactorOptions),
      store: new MemoryMfaStore(),
      allowPlaintextSecrets: true,
      configPath: 'mfa.totp',
    });
  }
  if (recovery !== undefined) {
    new RecoveryCodes({
      ...(recovery as unknown as RecoveryCodesOptions),
      store: new MemoryMfaStore(),
      configPath: 'mfa.recoveryCodes',
    });
  }
  return { policy, config: mfa as unknown as MfaConfig };
}

function planThreat(value: unknown, hasAudit: boolean): Pick<Plan, 'bruteForce' | 'detector'> {
  const threat = section(value, 'threat', KNOWN_THREAT);
  if (threat === undefined) return {};
  const out: Pick<Plan, 'bruteForce' | 'detector'> = {};
  const bf = section(threat.bruteForce, 'threat.bruteForce', KNOWN_BRUTE_FORCE);
  if (bf !== undefined) {
    if (bf.accountKey !== undefined) checkSecretBytes(bf.accountKey, 'threat.bruteForce.accountKey', 32);
    if (bf.redis !== undefined) {
      if (!hasMethods(bf.redis, 'multi')) {
        throw invalid('threat.bruteForce.redis', 'an ioredis / node-redis client', bf.redis);
      }
      if (bf.accountKey === undefined) {
        throw configError(
          'threat.bruteForce.accountKey',
          'is required with redis: every instance must hash account names with the same key',
        );
      }
    }
    // Validates the limits now; the real guard is built when opening (the key may need reading,
    // and the Redis client is only handed to one guard).
    new BruteForceGuard({
      ...(bf as BruteForceGuardOptions),
      redis: undefined,
      accountKey: undefined,
      configPath: 'threat.bruteForce',
    });
    out.bruteForce = { options: bf as NonNullable<ThreatConfig['bruteForce']> };
  }
  const detector = section(threat.detector, 'threat.detector', KNOWN_DETECTOR);
  if (detector !== undefined) {
    if (!hasAudit) {
      throw configError(
        'threat.detector',
        'requires the audit section: its rules run over the audit stream and violations are written back to it',
      );
    }
    out.detector = new ThreatDetector({
      ...(detector as ThreatDetectorOptions),
      configPath: 'threat.detector',
    });
  }
  return out;
}

function planPrivacy(value: unknown): PrivacyConfig | undefined {
  const privacy = section(value, 'privacy', KNOWN_PRIVACY);
  if (privacy === undefined) return undefined;
  if (privacy.classification !== undefined && !(privacy.classification instanceof ClassificationRegistry)) {
    throw invalid('privacy.classification', 'a ClassificationRegistry', privacy.classification);
  }
  const consent = section(privacy.consent, 'privacy.consent', KNOWN_CONSENT);
  if (consent !== undefined) {
    requireStore(consent.store, 'privacy.consent.store', ['append', 'latest', 'history'], 'ConsentStore');
    optionalArray(consent.purposes, 'privacy.consent.purposes');
    if (consent.auditCategory !== undefined && !nonEmptyString(consent.auditCategory)) {
      throw invalid('privacy.consent.auditCategory', 'a non-empty string', consent.auditCategory);
    }
  }
  const dsr = section(privacy.dsr, 'privacy.dsr', KNOWN_DSR);
  if (dsr !== undefined) {
    requireStore(dsr.store, 'privacy.dsr.store', ['save', 'get', 'list'], 'DsrStore');
    optionalFunction(dsr.verifyIdentity, 'privacy.dsr.verifyIdentity');
    if (dsr.receiptSigner !== undefined && !(dsr.receiptSigner instanceof ErasureReceiptSigner)) {
      checkJwk(dsr.receiptSigner, 'privacy.dsr.receiptSigner');
    }
    const evidence = dsr.evidence as Record<string, unknown> | undefined;
    if (evidence !== undefined) {
      if (evidence === null || typeof evidence !== 'object' || Array.isArray(evidence)) {
        throw invalid('privacy.dsr.evidence', 'an object', evidence);
      }
      if (evidence.pseudonymKey !== undefined) {
        checkSecretBytes(evidence.pseudonymKey, 'privacy.dsr.evidence.pseudonymKey', HMAC_MIN_BYTES);
      }
      // The rules are checked here, so the error names the config path (the key is read at open).
      const { pseudonymKey: _key, ...rules } = evidence;
      try {
        new ErasureEvidence(rules as ErasureEvidenceOptions, 'privacy.dsr.evidence', false);
      } catch (err) {
        const at = (err as BulwarkError).details?.path;
        if (!(err instanceof BulwarkError) || typeof at !== 'string') throw err;
        throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, err.message, { path: at });
      }
    }
    for (const name of ['responseDays', 'maxExtensionDays'] as const) {
      const v = dsr[name];
      if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1)) {
        throw invalid(`privacy.dsr.${name}`, 'a positive integer', v);
      }
    }
  }
  optionalArray(privacy.processors, 'privacy.processors');
  const processing = section(privacy.processing, 'privacy.processing', KNOWN_PROCESSING);
  if (processing !== undefined) {
    if (!isPlainObject(processing.controller)) {
      throw invalid(
        'privacy.processing.controller',
        '{ name, contact?, dpo?, representative? }',
        processing.controller,
      );
    }
    optionalArray(processing.activities, 'privacy.processing.activities');
  }
  const retention = section(privacy.retention, 'privacy.retention', KNOWN_RETENTION);
  if (retention !== undefined) {
    optionalArray(retention.rules, 'privacy.retention.rules');
    if (
      retention.maxBatches !== undefined &&
      (!Number.isSafeInteger(retention.maxBatches) || (retention.maxBatches as number) < 1)
    ) {
      throw invalid('privacy.retention.maxBatches', 'a positive integer', retention.maxBatches);
    }
  }
  section(privacy.breaches, 'privacy.breaches', KNOWN_BREACHES);
  // Registrations (purposes, processors, activities, rules) are checked now, on throwaway services.
  assemblePrivacy(privacy as PrivacyConfig, {});
  return privacy as PrivacyConfig;
}

/** Validates the whole config synchronously; nothing is opened yet. */
function plan(config: BulwarkConfig): Plan {
  if (!isPlainObject(config as unknown)) throw invalid('config', 'an object', config);
  rejectUnknown(config as Record<string, unknown>, KNOWN_TOP_LEVEL, '');
  optionalFunction(config.clock, 'clock');
  const clock = config.clock;
  const keys = planKeys(config.keys);
  if (config.passwords !== undefined && !isPlainObject(config.passwords)) {
    throw invalid('passwords', 'an object', config.passwords);
  }
  if (config.tokens !== undefined && !isPlainObject(config.tokens)) {
    throw invalid('tokens', 'an object', config.tokens);
  }
  // Constructors validate their own options eagerly and name paths under these prefixes.
  const passwords = new PasswordHasher({ configPath: 'passwords', ...config.passwords });
  const tokens = config.tokens ? new TokenService({ configPath: 'tokens', ...config.tokens }) : undefined;
  const audit = planAudit(config.audit);
  const authz = planAuthz(config.authz, audit !== undefined);
  const threat = planThreat(config.threat, audit !== undefined);
  const mfa = planMfa(config.mfa, keys !== undefined, clock);
  const privacy = planPrivacy(config.privacy);
  const compliance = section(config.compliance, 'compliance', KNOWN_COMPLIANCE) as
    ComplianceConfig | undefined;
  if (compliance !== undefined) new ComplianceKit(compliance);
  return { clock, keys, passwords, tokens, audit, authz, mfa, ...threat, privacy, compliance };
}

/** A resource to release on close (or when a later step of createBulwark fails). */
interface Opened {
  readonly name: string;
  close(): Promise<void> | void;
}

/** Identity verifier set after start-up, failing closed (with a warning) until it is. */
class LateIdentityVerifier {
  #verifier?: IdentityVerifier;
  #warned = false;

  constructor(verifier?: IdentityVerifier) {
    this.#verifier = verifier;
  }

  set(verifier: IdentityVerifier): void {
    if (typeof verifier !== 'function') throw invalid('privacy.dsr.verifyIdentity', 'a function', verifier);
    if (this.#verifier !== undefined) {
      throw configError('privacy.dsr.verifyIdentity', 'is already set; it cannot be replaced at run time');
    }
    this.#verifier = verifier;
  }

  readonly verify: IdentityVerifier = (input) => {
    if (this.#verifier !== undefined) return this.#verifier(input);
    if (!this.#warned) {
      this.#warned = true;
      process.emitWarning(
        'privacy.dsr.verifyIdentity is not set: identity checks fail until bulwark.setIdentityVerifier() is called',
        'BulwarkConfigWarning',
      );
    }
    return false;
  };
}

/**
 * Validates the whole config first (a bad value throws BulwarkConfigError naming its path before
 * anything is opened), then opens and wires the services in section order: keys, audit, authz,
 * threat, mfa, privacy, compliance. A failure while opening (an unreadable policy file, a locked
 * audit file) closes what was already opened, newest first, and rethrows.
 */
export async function createBulwark(config: BulwarkConfig = {}): Promise<Bulwark> {
  const p = plan(config);
  const opened: Opened[] = [];
  try {
    return await open(p, opened);
  } catch (err) {
    await closeAll(opened).catch((closeErr: unknown) => {
      process.emitWarning(
        `Bulwark: closing after a failed start-up also failed: ${(closeErr as Error)?.message ?? String(closeErr)}`,
        'BulwarkCloseWarning',
      );
    });
    throw err;
  }
}

/** Closes newest first; every resource is tried even if one fails, then the failure is rethrown. */
async function closeAll(opened: Opened[]): Promise<void> {
  const errors: unknown[] = [];
  while (opened.length > 0) {
    const item = opened.pop()!;
    try {
      await item.close();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'several Bulwark services failed to close');
}

const withClock = (clock: (() => Date) | undefined): { clock?: () => Date } => (clock ? { clock } : {});

async function open(p: Plan, opened: Opened[]): Promise<Bulwark> {
  const clock = p.clock;

  let keyRing: KeyRing | undefined;
  if (p.keys) {
    const ring = await KeyRing.open({
      provider: p.keys.provider,
      store: p.keys.store,
      ...(p.keys.algorithm ? { defaultAlgorithm: p.keys.algorithm } : {}),
    });
    keyRing = ring;
    opened.push({ name: 'keyRing', close: () => ring.close() });
    for (const id of p.keys.ensure) await ring.ensureKey(id);
  }

  let auditLog: AuditLog | undefined;
  let auditHmacKey: Uint8Array | undefined;
  if (p.audit)
    ({ log: auditLog, hmacKey: auditHmacKey } = await openAudit(p.audit, p.detector, clock, opened));

  let policyEngine: PolicyEngine | undefined;
  if (p.authz) {
    const a = p.authz;
    let document = a.document;
    if (a.file !== undefined) {
      const text = await readTextFile(a.file, 'authz.policy');
      document = underPath('authz.policy', () => parsePolicyText(text, { format: a.format ?? 'auto' }), {
        nest: true,
      });
    }
    policyEngine = underPath(
      'authz',
      () =>
        new PolicyEngine({
          policy: document!,
          ...(auditLog ? { auditLog } : {}),
          ...(a.breakGlass ? { breakGlass: a.breakGlass } : {}),
          ...withClock(clock),
        }),
    );
  }

  let bruteForce: BruteForceGuard | undefined;
  if (p.bruteForce) {
    const o = p.bruteForce.options;
    const accountKey =
      o.accountKey === undefined
        ? undefined
        : await readSecretBytes(o.accountKey, 'threat.bruteForce.accountKey', 32);
    // The Redis client stays the app's: the guard never closes it, and neither does close().
    bruteForce = new BruteForceGuard({
      ...(o as BruteForceGuardOptions),
      accountKey,
      configPath: 'threat.bruteForce',
    });
  }

  let totp: TotpFactor | undefined;
  let recoveryCodes: RecoveryCodes | undefined;
  const mfa = p.mfa?.config;
  if (mfa?.store !== undefined) {
    // plan() demands a store whenever a factor is configured.
    const store: MfaStore = mfa.store === 'memory' ? new MemoryMfaStore() : mfa.store;
    opened.push({ name: 'mfa.store', close: () => store.close?.() });
    // Every failed code counts against the same guard as failed passwords (RFC 6238 §5.2 throttling).
    const guard = bruteForce;
    if (mfa.totp !== undefined) {
      totp = new TotpFactor({
        ...mfa.totp,
        store,
        ...(keyRing ? { keyRing } : {}),
        ...(guard ? { guard } : {}),
        ...withClock(clock),
        configPath: 'mfa.totp',
      });
    }
    if (mfa.recoveryCodes !== undefined) {
      recoveryCodes = new RecoveryCodes({
        ...mfa.recoveryCodes,
        store,
        hasher: p.passwords,
        ...(guard ? { guard } : {}),
        ...withClock(clock),
        configPath: 'mfa.recoveryCodes',
      });
    }
  }

  const privacy = p.privacy
    ? await openPrivacy(p.privacy, { keyRing, auditLog, auditHmacKey, clock }, opened)
    : undefined;

  let compliance: ComplianceKit | undefined;
  if (p.compliance) {
    compliance = new ComplianceKit({ ...p.compliance, ...withClock(clock) }).register({
      // The decorators of @bulwark/typeorm fill the default registry even without a privacy section.
      classification: privacy?.classification ?? defaultClassificationRegistry,
      keyRing,
      passwordHasher: p.passwords,
      auditLog,
      mfaPolicy: p.mfa?.policy,
      policyEngine,
      bruteForceGuard: bruteForce,
      threatDetector: p.detector,
      consent: privacy?.consent,
      dsr: privacy?.dsr,
      processors: privacy?.processors,
      breaches: privacy?.breaches,
      processing: privacy?.processing,
      dataRetention: privacy?.dataRetention,
    });
  }

  let closing: Promise<void> | undefined;
  const bulwark: Bulwark = {
    keyRing,
    passwords: p.passwords,
    tokens: p.tokens,
    auditLog,
    policyEngine,
    authorizer: policyEngine,
    mfaPolicy: p.mfa?.policy,
    totp,
    recoveryCodes,
    bruteForce,
    threatDetector: p.detector,
    classification: privacy?.classification,
    consent: privacy?.consent,
    dsr: privacy?.dsr,
    processors: privacy?.processors,
    processing: privacy?.processing,
    dataRetention: privacy?.dataRetention,
    breaches: privacy?.breaches,
    compliance,
    setIdentityVerifier(verifier: IdentityVerifier): void {
      if (privacy?.verifier === undefined) {
        throw configError('privacy.dsr', 'is not configured: there are no data-subject requests to verify');
      }
      privacy.verifier.set(verifier);
    },
    close(): Promise<void> {
      closing ??= closeAll(opened);
      return closing;
    },
  };
  return Object.freeze(bulwark);
}

async function openAudit(
  audit: AuditConfig,
  detector: ThreatDetector | undefined,
  clock: (() => Date) | undefined,
  opened: Opened[],
): Promise<{ log: AuditLog; hmacKey?: Uint8Array }> {
  let hmacKey: Uint8Array | undefined;
  if (audit.hmacKey !== undefined) {
    hmacKey = await readSecretBytes(audit.hmacKey, 'audit.hmacKey', HMAC_MIN_BYTES);
  } else if (process.env[AUDIT_HMAC_ENV] !== undefined && process.env[AUDIT_HMAC_ENV]!.trim() !== '') {
    hmacKey = await readSecretBytes({ env: AUDIT_HMAC_ENV }, 'audit.hmacKey', HMAC_MIN_BYTES);
  }
  let signer: CheckpointSigner | undefined;
  let checkpointStore: CheckpointStore | undefined;
  if (audit.checkpoint) {
    const key = audit.checkpoint.signingKey;
    signer =
      key instanceof CheckpointSigner
        ? key
        : await underPathAsync('audit.checkpoint.signingKey', async () =>
            CheckpointSigner.fromJWK(await readJwk(key, 'audit.checkpoint.signingKey')),
          );
    const cps = audit.checkpoint.store;
    checkpointStore =
      cps === 'memory'
        ? new MemoryCheckpointStore()
        : hasMethods(cps, 'save', 'list')
          ? (cps as CheckpointStore)
          : new FileCheckpointStore({ path: (cps as { file: string }).file });
  }
  // Until the log owns them (it closes both), the checkpoint store and store are closed directly.
  const cpStore = checkpointStore;
  const owned: Opened[] = [{ name: 'audit.checkpoint.store', close: () => cpStore?.close?.() }];
  opened.push(owned[0]!);
  const storeConfig = audit.store;
  const store: AuditStore =
    storeConfig === 'memory'
      ? new MemoryAuditStore()
      : hasMethods(storeConfig, 'append', 'read', 'head')
        ? (storeConfig as AuditStore)
        : await FileAuditStore.open({
            path: (storeConfig as { file: string }).file,
            ...((storeConfig as { fsync?: FsyncPolicy }).fsync !== undefined
              ? { fsync: (storeConfig as { fsync: FsyncPolicy }).fsync }
              : {}),
          });
  owned.push({ name: 'audit.store', close: () => store.close() });
  opened.push(owned[1]!);
  const log = await AuditLog.open({
    store,
    ...(hmacKey ? { hmacKey } : {}),
    ...(signer ? { signer } : {}),
    ...(checkpointStore ? { checkpointStore } : {}),
    ...(audit.logId !== undefined ? { logId: audit.logId } : {}),
    ...(audit.retention !== undefined ? { retention: audit.retention } : {}),
    ...(audit.redactor !== undefined
      ? { redactor: audit.redactor instanceof Redactor ? audit.redactor : new Redactor(audit.redactor) }
      : {}),
    ...(audit.maxBatchSize !== undefined ? { maxBatchSize: audit.maxBatchSize } : {}),
    // The detector goes last: it sees what every other sink saw, and writes its violations back.
    sinks: [...(audit.sinks ?? []), ...(detector ? [detector] : [])],
    ...withClock(clock),
  });
  for (const entry of owned) opened.splice(opened.indexOf(entry), 1);
  detector?.attach(log);
  opened.push({
    name: 'auditLog',
    async close() {
      // Violations raised by the last entries must be appended while the log is still open.
      await log.flush();
      await detector?.flush();
      await log.close();
    },
  });
  return { log, ...(hmacKey ? { hmacKey } : {}) };
}

interface OpenedPrivacy {
  classification: ClassificationRegistry;
  consent?: ConsentManager;
  dsr?: DataSubjectRequests;
  verifier?: LateIdentityVerifier;
  processors: ProcessorRegister;
  processing?: ProcessingRegister;
  dataRetention: DataRetention;
  breaches: BreachRegister;
}

interface PrivacyWiring {
  keyRing?: KeyRing;
  auditLog?: AuditLog;
  clock?: () => Date;
  consentStore?: ConsentStore;
  dsrStore?: DsrStore;
  receiptSigner?: ErasureReceiptSigner;
  /** The erasure pseudonym key, read or derived by `openPrivacy`. */
  pseudonymKey?: Uint8Array;
}

/**
 * Builds the privacy services. Pure (no I/O): `plan()` runs it on throwaway memory stores to
 * validate the section before anything is opened, `open()` again with the real wiring.
 */
function assemblePrivacy(privacy: PrivacyConfig, wired: PrivacyWiring): OpenedPrivacy {
  const { keyRing, auditLog, clock } = wired;
  const classification = privacy.classification ?? defaultClassificationRegistry;
  const audit = auditLog ? { auditLog } : {};
  const out: OpenedPrivacy = {
    classification,
    processors: new ProcessorRegister(),
    dataRetention: underPath(
      'privacy.retention',
      () =>
        new DataRetention({
          ...audit,
          ...(privacy.retention?.maxBatches !== undefined
            ? { maxBatches: privacy.retention.maxBatches }
            : {}),
          ...withClock(clock),
        }),
    ),
    breaches: underPath(
      'privacy.breaches',
      () =>
        new BreachRegister({
          ...audit,
          ...(privacy.breaches?.deadlines !== undefined ? { deadlines: privacy.breaches.deadlines } : {}),
          ...withClock(clock),
        }),
    ),
  };
  (privacy.processors ?? []).forEach((input, i) =>
    underPath(`privacy.processors[${i}]`, () => out.processors.register(input)),
  );
  (privacy.retention?.rules ?? []).forEach((rule, i) =>
    underPath(`privacy.retention.rules[${i}]`, () => out.dataRetention.addPolicy(rule)),
  );

  if (privacy.consent) {
    const c = privacy.consent;
    const consent = underPath(
      'privacy.consent',
      () =>
        new ConsentManager({
          store: wired.consentStore ?? new MemoryConsentStore(),
          ...audit,
          ...(c.auditCategory !== undefined ? { auditCategory: c.auditCategory } : {}),
          ...withClock(clock),
        }),
    );
    (c.purposes ?? []).forEach((purpose, i) =>
      underPath(`privacy.consent.purposes[${i}]`, () => consent.registerPurpose(purpose)),
    );
    out.consent = consent;
  }

  if (privacy.dsr) {
    const d = privacy.dsr;
    const verifier = new LateIdentityVerifier(d.verifyIdentity);
    out.verifier = verifier;
    out.dsr = underPath(
      'privacy.dsr',
      () =>
        new DataSubjectRequests({
          verifyIdentity: verifier.verify,
          store: wired.dsrStore ?? new MemoryDsrStore(),
          // Erasure crypto-shreds the subject's key and redacts the subject's audit entries.
          ...(keyRing ? { keyRing } : {}),
          ...audit,
          ...(wired.receiptSigner ? { receiptSigner: wired.receiptSigner } : {}),
          classification,
          ...(d.responseDays !== undefined ? { responseDays: d.responseDays } : {}),
          ...(d.maxExtensionDays !== undefined ? { maxExtensionDays: d.maxExtensionDays } : {}),
          ...(d.actor !== undefined ? { actor: d.actor } : {}),
          ...dsrEvidence(d.evidence, wired.pseudonymKey),
          ...withClock(clock),
        }),
    );
  }

  if (privacy.processing) {
    const pr = privacy.processing;
    const processing = underPath(
      'privacy.processing',
      () =>
        new ProcessingRegister({
          controller: pr.controller,
          classification,
          processors: out.processors,
          ...withClock(clock),
        }),
    );
    (pr.activities ?? []).forEach((activity, i) =>
      underPath(`privacy.processing.activities[${i}]`, () => processing.register(activity)),
    );
    out.processing = processing;
  }
  return out;
}

/** The DSR evidence options: the configured rules with the key read (or derived) at open. */
function dsrEvidence(
  evidence: NonNullable<PrivacyConfig['dsr']>['evidence'],
  pseudonymKey: Uint8Array | undefined,
): { evidence?: ErasureEvidenceOptions } {
  if (evidence === undefined && pseudonymKey === undefined) return {};
  const { pseudonymKey: _configured, ...rules } = evidence ?? {};
  return { evidence: { ...rules, ...(pseudonymKey ? { pseudonymKey } : {}) } };
}

/** Reads the receipt key, takes the stores (closed by close()), then assembles the services. */
async function openPrivacy(
  privacy: PrivacyConfig,
  wired: { keyRing?: KeyRing; auditLog?: AuditLog; auditHmacKey?: Uint8Array; clock?: () => Date },
  opened: Opened[],
): Promise<OpenedPrivacy> {
  const d = privacy.dsr;
  let pseudonymKey: Uint8Array | undefined;
  if (d?.evidence?.pseudonymKey !== undefined) {
    pseudonymKey = await readSecretBytes(
      d.evidence.pseudonymKey,
      'privacy.dsr.evidence.pseudonymKey',
      HMAC_MIN_BYTES,
    );
  } else if (d !== undefined && wired.auditHmacKey !== undefined) {
    // RFC 5869: a key of its own, derived under a label, so a pseudonym never equals a leaf MAC.
    pseudonymKey = new Uint8Array(
      hkdfSync('sha256', wired.auditHmacKey, new Uint8Array(0), DSR_PSEUDONYM_KEY_INFO, 32),
    );
  } else if (
    d !== undefined &&
    wired.auditLog !== undefined &&
    d.evidence?.discardSecurityEvidence !== true
  ) {
    throw configError(
      'privacy.dsr.evidence.pseudonymKey',
      "is required with an audit log: erasure keeps the subject's security-relevant entries under a keyed " +
        'pseudonym. Set audit.hmacKey (the key is derived from it) or this key, or discardSecurityEvidence: ' +
        'true (which erases that evidence)',
    );
  }
  const receiptSigner =
    d?.receiptSigner === undefined || d.receiptSigner instanceof ErasureReceiptSigner
      ? d?.receiptSigner
      : await underPathAsync('privacy.dsr.receiptSigner', async () =>
          ErasureReceiptSigner.fromJWK(
            await readJwk(d.receiptSigner as JwkConfig, 'privacy.dsr.receiptSigner'),
          ),
        );
  let consentStore: ConsentStore | undefined;
  if (privacy.consent) {
    const store: ConsentStore =
      privacy.consent.store === 'memory' ? new MemoryConsentStore() : privacy.consent.store;
    consentStore = store;
    opened.push({ name: 'privacy.consent.store', close: () => store.close?.() });
  }
  let dsrStore: DsrStore | undefined;
  if (d) {
    const store: DsrStore = d.store === 'memory' ? new MemoryDsrStore() : d.store;
    dsrStore = store;
    opened.push({ name: 'privacy.dsr.store', close: () => store.close?.() });
  }
  const { auditHmacKey: _unused, ...rest } = wired;
  return assemblePrivacy(privacy, {
    ...rest,
    consentStore,
    dsrStore,
    receiptSigner,
    ...(pseudonymKey ? { pseudonymKey } : {}),
  });
}
