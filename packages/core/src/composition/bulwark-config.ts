import type { AccountLifecycle } from '../account/account-lifecycle';
import type { SessionEngine } from '../session/session-engine';
import type { AccountsConfig, SessionsConfig } from './sessions';
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
import type { PolicyEngine, PolicyWarning } from '../authz/policy-engine';
import type { ComplianceKit, ComplianceKitOptions } from '../compliance/compliance-kit';
import type { AttestationStore } from '../compliance/attestation';
import type {
  AeadAlgorithm,
  FileKeyProviderOptions,
  KeyProvider,
  KeyRing,
  KeyRingOptions,
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
import type { RevocationRedisClient } from '../tokens/redis-revocation-store';
import type { RevocationStore } from '../tokens/revocation-store';
import type { TokenRevocation } from '../tokens/token-revocation';
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
  /** Group-commit window, 0..1000 ms (default 0). See AuditLogOptions.commitWindowMs. */
  commitWindowMs?: number;
}

export interface AuthzConfig {
  /** A policy document, its JSON / YAML text, or a `.json` / `.yaml` file. */
  policy: PolicyDocument | string | { file: string; format?: 'json' | 'yaml' };
  /** Limits of break-glass access. Break-glass events go to the audit log (requires `audit`). */
  breakGlass?: BreakGlassOptions;
  /**
   * Hears the engine's warnings (a condition comparing values of two types, once per condition;
   * types only, never values). Default: `process.emitWarning`. See docs/policies.md.
   */
  onWarning?: (warning: PolicyWarning) => void;
}

export interface MfaConfig {
  /** Who must present a second factor. */
  policy: Omit<MfaPolicyOptions, 'clock' | 'configPath'>;
  /** Enrolments and recovery codes; required with `totp` or `recoveryCodes`. */
  store?: MfaStore | 'memory';
  /** TOTP (RFC 6238); secrets are encrypted with the key ring (`keys` section); `auth.mfa` events go to the audit log. */
  totp?: Omit<TotpFactorOptions, 'store' | 'keyRing' | 'guard' | 'audit' | 'clock' | 'configPath'>;
  /** One-time recovery codes, hashed with the `passwords` hasher; `auth.mfa` events go to the audit log. */
  recoveryCodes?: Omit<RecoveryCodesOptions, 'store' | 'hasher' | 'guard' | 'audit' | 'clock' | 'configPath'>;
}

export interface ThreatConfig {
  /** Brute-force defence (also throttles MFA codes when `mfa` is configured). */
  /** Lockouts and unlocks go to the kit's audit log (`auth.lockout` / `auth.unlock`) when there is one. */
  bruteForce?: Omit<BruteForceGuardOptions, 'configPath' | 'accountKey' | 'audit'> & {
    accountKey?: SecretBytesConfig;
  };
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

/** Token revocation (ASVS V7.4): a jti deny-list and per-subject "not before" times. Needs `tokens`. */
export interface RevocationConfig {
  /**
   * Shared by every instance: a RevocationStore (e.g. `bulwarkStores(dataSource).revocation`),
   * `{ redis: ioredisClient, keyPrefix? }`, or `'memory'` (one process; lost on restart). Required
   * unless `stores.revocation` is given.
   */
  store?: RevocationStore | { redis: RevocationRedisClient; keyPrefix?: string } | 'memory';
  /** Longest accepted token lifetime (`exp - iat`), seconds. Default 86 400. */
  maxTokenLifetimeSec?: number;
  /** Accept tokens without `jti` (revocable only with revokeAllFor). Weakens V7.4.1. Default false. */
  allowTokensWithoutJti?: boolean;
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
  revocation?: RevocationStore;
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
    /** Rotation periods and expiry (KeyRingOptions.rotation; default: due after 90 days). */
    rotation?: KeyRingOptions['rotation'];
    /** In-process rotation scheduler for single-instance apps (KeyRingOptions.autoRotate). */
    autoRotate?: KeyRingOptions['autoRotate'];
    /** Envelope format of new values: 2 (default, key-committing) or 1 (KeyRingOptions.envelopeFormat). */
    envelopeFormat?: KeyRingOptions['envelopeFormat'];
    /** False refuses format-1 (`bw1*`) envelopes once every value is rewrapped (KeyRingOptions.acceptFormat1). */
    acceptFormat1?: KeyRingOptions['acceptFormat1'];
  };
  /** Password hashing (argon2id, OWASP parameters by default). Always available. */
  passwords?: PasswordHasherOptions;
  /** JWT issuing / verification. Omit for no token service. */
  tokens?: TokenServiceOptions;
  /** Token revocation, checked by the HTTP adapters' bearer authentication. Needs `tokens`. */
  revocation?: RevocationConfig;
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
   * The production preset (ASVS 5.0 V13.3.1, V16.4.2). Default: on when `NODE_ENV=production`.
   * It requires an audit log with an HMAC key and a checkpoint schedule and refuses demo-grade
   * settings (memory stores for durable registers, mixed token algorithm families...), with one
   * start-up error (ERR_CONFIG_NOT_PRODUCTION_READY) listing each problem by config path. `false`
   * turns it off (tests, demos) even under NODE_ENV=production.
   */
  production?: boolean;
  /**
   * Server-side sessions (SessionEngine options; events go to the audit log, the clock is `clock`).
   * Registered with the compliance kit (PCI DSS 8.2.8 and the other session controls).
   */
  sessions?: SessionsConfig;
  /** Account lifecycle (disable, unlock, forced change, reset tokens), wired to the hasher, sessions, guard and audit log. */
  accounts?: AccountsConfig;
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
  /** `revoke(token | jti)` and `revokeAllFor(subject)`; the HTTP adapters refuse revoked tokens. */
  readonly revocation?: TokenRevocation;
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
  /** The session engine (config `sessions`), for the adapters' `session()` middleware. */
  readonly sessions?: SessionEngine;
  /** The account lifecycle (config `accounts`). */
  readonly accounts?: AccountLifecycle;
  /**
   * Sets the data-subject identity check when it was not in the config (e.g. it needs the app's
   * user service). Once only: a verifier cannot be swapped at run time. Until set, identity checks
   * fail (closed) with a process warning.
   */
  setIdentityVerifier(verifier: IdentityVerifier): void;
  /** Closes everything holding resources, newest first (the audit log flushes). Idempotent. */
  close(): Promise<void>;
}
