import type { AlertRouter, AlertRouterOptions } from '../alerts/alert-router';
import type { AutoCheckpointEvery } from '../audit/auto-checkpoint';
import type { AuditActor } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import type { AuditSink } from '../audit/audit-sink';
import type { AuditStore } from '../audit/audit-store';
import type { CheckpointSigner } from '../audit/checkpoint-signer';
import type { CheckpointStore } from '../audit/checkpoint-store';
import type { FsyncPolicy } from '../audit/file-audit-store';
import type { Redactor, RedactorOptions } from '../audit/redactor';
import type { LegalHold, RetentionPolicyOptions } from '../audit/retention-policy';
import type { BreakGlassOptions } from '../authz/break-glass-registry';
import type { BreakGlassStore } from '../authz/break-glass-store';
import type { Authorizer } from '../authz/authorizer';
import type { PolicyDocument } from '../authz/policy-document';
import type { PolicyEngine } from '../authz/policy-engine';
import type { ComplianceKit, ComplianceKitOptions } from '../compliance/compliance-kit';
import type { AttestationStore } from '../compliance/attestation';
import type {
  AeadAlgorithm,
  FileKeyProviderOptions,
  KeyProvider,
  KeyRing,
  KeyStore,
} from '../crypto/key-ring';
import type { PasswordHasher, PasswordHasherOptions } from '../crypto/password-hasher';
import type { MfaPolicy, MfaPolicyOptions } from '../mfa/mfa-policy';
import type { MfaStore } from '../mfa/mfa-store';
import type { RecoveryCodes, RecoveryCodesOptions } from '../mfa/recovery-codes';
import type { TotpFactor, TotpFactorOptions } from '../mfa/totp-factor';
import type { BreachDeadlineRules, BreachIncident, BreachRegister } from '../privacy/breach-register';
import type { RegisterStore } from '../privacy/register-store';
import type { ClassificationRegistry } from '../privacy/classification-registry';
import type { ConsentManager, ConsentPurposeInput } from '../privacy/consent-manager';
import type { ConsentStore } from '../privacy/consent-store';
import type { DataRetention, RetentionHold, RetentionRule, RetentionRun } from '../privacy/data-retention';
import type { DataSubjectRequests, IdentityVerifier } from '../privacy/data-subject-requests';
import type { DsrStore } from '../privacy/dsr-store';
import type { ErasureEvidenceOptions } from '../privacy/erasure-evidence';
import type { ErasureReceiptSigner } from '../privacy/erasure-receipt';
import type {
  ProcessingActivity,
  ProcessingActivityInput,
  ProcessingRegister,
  ProcessingRegisterOptions,
} from '../privacy/processing-register';
import type { Processor, ProcessorInput, ProcessorRegister } from '../privacy/processor-register';
import type { BruteForceGuard, BruteForceGuardOptions } from '../threat/brute-force-guard';
import type { ThreatDetector, ThreatDetectorOptions } from '../threat/threat-detector';
import type { TokenService, TokenServiceOptions } from '../tokens/token-service';
import type { JwkConfig, SecretBytesConfig } from './config-input';

// The shape of createBulwark's config and of the services it returns (types only).

export type { SecretBytesConfig, JwkConfig } from './config-input';

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
export type AuditStoreConfig =
  | AuditStore
  | {
      file: string;
      fsync?: FsyncPolicy;
      /** Cut a torn last line (crash or full disk mid-write) on start-up instead of refusing appends. Default false. */
      repairTornTail?: boolean;
    }
  | 'memory';

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
    /**
     * Sign checkpoints automatically: `{ entries: 1000 }`, `{ ms: 60_000 }` or both. Without
     * them, deleting the newest entries (and moving the store's head back) is not detectable.
     */
    every?: AutoCheckpointEvery;
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
    /** Required unless `stores.consent` is given. */
    store?: ConsentStore | 'memory';
    /** Registered on start-up (register later ones with `consent.registerPurpose`). */
    purposes?: readonly ConsentPurposeInput[];
    /** Audit retention category of consent events. Default `consent`. */
    auditCategory?: string;
  };
  dsr?: {
    /** Required unless `stores.dsr` is given. */
    store?: DsrStore | 'memory';
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

export type ComplianceConfig = Omit<ComplianceKitOptions, 'clock' | 'configPath'>;

/**
 * Every store in one object (e.g. `bulwarkStores(dataSource)` from @bulwark/typeorm): each one fills
 * the store of its section when that section is configured and names no store of its own, so N
 * instances on one database share every register. Unused stores are ignored.
 */
export interface BulwarkStores {
  keys?: KeyStore;
  consent?: ConsentStore;
  dsr?: DsrStore;
  mfa?: MfaStore;
  breakGlass?: BreakGlassStore;
  breaches?: RegisterStore<BreachIncident>;
  processors?: RegisterStore<Processor>;
  processing?: RegisterStore<ProcessingActivity>;
  retentionRules?: RegisterStore<RetentionRule>;
  legalHolds?: RegisterStore<RetentionHold>;
  /** Legal holds placed on the audit log at run time (`audit.retention.holdStore`). */
  auditLegalHolds?: RegisterStore<LegalHold>;
  /** The last purge of each data-retention source (`privacy.retention.runStore`). */
  retentionRuns?: RegisterStore<RetentionRun>;
  /** Signed human attestations of manual controls (`compliance.attestations.store`). */
  attestations?: AttestationStore;
}

export interface BulwarkConfig {
  /** Field encryption. Omit to run without a key ring. */
  keys?: {
    /** Default: the BULWARK_MASTER_KEY environment variable. */
    masterKey?: MasterKeyConfig;
    /**
     * The master key being rotated away from (see KeyRing.rotateMaster / `bulwark keys
     * rotate-master`): keys it still wraps keep unwrapping; new keys use `masterKey`. Remove it
     * once the rotation reports complete.
     */
    previousMasterKey?: MasterKeyConfig;
    /**
     * Required when `keys` is set (here or as `stores.keys`): there is no silent in-memory default
     * that would lose keys.
     */
    store?: KeyStoreConfig;
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
  /** Stores shared by every section (see BulwarkStores); a section's own `store` wins. */
  stores?: BulwarkStores;
  /**
   * Alert channels and routing: the detector's violations and the integrity alarms (audit write
   * failures, failed verification, truncation, break-glass use) reach people (see docs/alerting.md).
   */
  alerts?: AlertsConfig;
}

/** The `alerts` section: AlertRouterOptions without the parts createBulwark fills in. */
export type AlertsConfig = Omit<AlertRouterOptions, 'auditLog' | 'clock' | 'configPath'>;

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
  /**
   * What the HTTP adapters ask: the policy engine, or with a shared break-glass store
   * (`stores.breakGlass`) its `authorize()` (grants read through the store).
   */
  readonly authorizer?: Authorizer;
  readonly mfaPolicy?: MfaPolicy;
  readonly totp?: TotpFactor;
  readonly recoveryCodes?: RecoveryCodes;
  /** The brute-force guard (named as the HTTP adapters' kit names it). */
  readonly bruteForce?: BruteForceGuard;
  readonly threatDetector?: ThreatDetector;
  /** The alert router (`alerts` section): `alerts.test()`, `alerts.notify()`, `alerts.retryPending()`. */
  readonly alerts?: AlertRouter;
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
