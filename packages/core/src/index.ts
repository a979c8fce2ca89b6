import 'reflect-metadata';

// errors
export * from './errors';

// crypto: envelopes, key ring, providers, stores, rotation, blind indexes, crypto-shredding
export {
  KeyRing,
  EnvKeyProvider,
  FileKeyProvider,
  type FileKeyProviderOptions,
  MemoryKeyStore,
  FileKeyStore,
  generateMasterKey,
  normalisers,
  type AeadAlgorithm,
  type KeyProvider,
  type KeyWrapContext,
  type KeyStore,
  type StoredKey,
  type StoredKeyVersion,
  type StoredRingSecret,
  type StoredSubjectKey,
  type Normaliser,
  type NormaliserName,
  type BlindIndexOptions,
  type KeyInfo,
  type KeyVersionInfo,
  type EncryptOptions,
  type DecryptOptions,
  type KeyRingOptions,
} from './crypto/key-ring';
export {
  rewrap,
  type RewrapItem,
  type RewrapProgress,
  type RewrapReport,
  type RewrapOptions,
} from './crypto/rewrap';
export { aeadEncrypt, aeadDecrypt, type LowLevelAeadAlgorithm } from './crypto/aead';

// passwords
export {
  PasswordHasher,
  OWASP_ARGON2ID_DEFAULTS,
  type PasswordHasherOptions,
  type PasswordHashParams,
  type PasswordVerification,
  type UnicodeNormalization,
} from './crypto/password-hasher';

// tokens
export {
  TokenService,
  type TokenServiceOptions,
  type TokenSigningKey,
  type TokenVerification,
  type SingleKeyVerification,
  type LocalJwksVerification,
  type RemoteJwksVerification,
  type SignOptions,
  type TokenClaims,
  type TokenHeader,
  type VerifiedToken,
} from './tokens/token-service';
export { generateSigningKey, type GeneratedSigningKey } from './tokens/generate-signing-key';
export { JWS_ALGORITHMS, type JwsAlgorithm } from './tokens/jws-algorithms';
export type { TokenKeyInput } from './tokens/token-key';

// audit: tamper-evident log (RFC 8785 canonical JSON, RFC 6962 Merkle tree, signed checkpoints)
export {
  GENESIS_HASH,
  AUDIT_LIMITS,
  type AuditEvent,
  type AuditEntry,
  type AuditActor,
  type AuditActorType,
  type AuditOutcome,
  type AuditResource,
  type AuditRedaction,
  type AuditDetails,
  type AuditJsonValue,
  type AuditHead,
} from './audit/audit-event';
export {
  normalizeAuditQuery,
  matchesAuditQuery,
  encodeAuditCursor,
  redactedEntry,
  checkAppendContinuity,
  EMPTY_HEAD,
  MAX_QUERY_LIMIT,
  type AuditStore,
  type AuditPrepare,
  type AuditQuery,
  type NormalizedAuditQuery,
  type AuditPage,
  type TornTail,
} from './audit/audit-store';
export { MemoryAuditStore } from './audit/memory-audit-store';
export {
  FileAuditStore,
  type FileAuditStoreOptions,
  type FsyncPolicy,
  type InProgressTail,
} from './audit/file-audit-store';
export { Redactor, type RedactorOptions, type DataClassification } from './audit/redactor';
export {
  verifyCheckpoint,
  exportCheckpoint,
  importCheckpoint,
  decodeCheckpoint,
  CHECKPOINT_JWS_TYPE,
  type Checkpoint,
  type TreeHead,
  type CheckpointPublicKey,
} from './audit/checkpoint';
export { CheckpointSigner } from './audit/checkpoint-signer';
export { checkCheckpointOrder, type CheckpointStore } from './audit/checkpoint-store';
export { MemoryCheckpointStore } from './audit/memory-checkpoint-store';
export { FileCheckpointStore } from './audit/file-checkpoint-store';
export {
  verifyAuditLog,
  type AuditVerificationReport,
  type AuditFault,
  type AuditFaultReason,
  type VerifyAuditLogOptions,
} from './audit/verify-audit-log';
export type { AuditSink } from './audit/audit-sink';
export { JsonLinesSink, type JsonLinesSinkOptions } from './audit/json-lines-sink';
export {
  NatsAuditSink,
  type NatsAuditSinkOptions,
  type NatsAuditSinkStats,
  type NatsJetStreamPublisher,
  type NatsPublishOptions,
  type NatsPubAck,
  type NatsHeaders,
} from './audit/nats-audit-sink';
export { RetentionPolicy, type RetentionPolicyOptions, type LegalHold } from './audit/retention-policy';
export {
  AuditLog,
  type AuditLogOptions,
  type InclusionProof,
  type ConsistencyProof,
  type RemovalReport,
  type RedactOptions,
} from './audit/audit-log';
export {
  SubjectPseudonymizer,
  PRESERVED_FROM_KEY,
  type SubjectPseudonymizerOptions,
} from './audit/subject-pseudonymizer';
export { canonicalize, canonicalBytes } from './audit/canonical-json';
export {
  MerkleTree,
  hashLeaf,
  hashChildren,
  EMPTY_ROOT,
  rootFromInclusionProof,
  verifyInclusion,
  verifyConsistency,
} from './audit/merkle-tree';

// access control: RBAC + ABAC policy engine, deny-overrides, explain(), break-glass
export {
  PolicyEngine,
  DEFAULT_DENY,
  INVALID_REQUEST,
  type PolicyEngineOptions,
  type Explanation,
  type RuleTrace,
} from './authz/policy-engine';
export type { Authorizer, AuthzSubject, AuthzResource, AuthzContext, Decision } from './authz/authorizer';
export {
  definePolicy,
  type PolicyDocument,
  type PolicyDefinition,
  type RuleDefinition,
  type RoleDefinition,
  type ConditionDefinition,
  type AttributeCondition,
  type AttributeRef,
  type ComparisonOperator,
  type TimeWindowDefinition,
  type Weekday,
  type ConditionOperand,
  type ConditionLiteral,
} from './authz/policy-document';
export { validatePolicyDocument, POLICY_LIMITS } from './authz/validate-policy-document';
export { parsePolicyText, type ParsePolicyTextOptions } from './authz/parse-policy-text';
export {
  BREAK_GLASS_DEFAULTS,
  type BreakGlassRequest,
  type BreakGlassGrant,
  type BreakGlassActor,
  type BreakGlassOptions,
} from './authz/break-glass-registry';
export type { ConditionTrace } from './authz/compile-condition';

// multi-factor authentication
export type { MfaStore, StoredTotp, StoredRecoveryCode, TotpAlgorithm, TotpDigits } from './mfa/mfa-store';
export { MemoryMfaStore } from './mfa/memory-mfa-store';
export {
  TotpFactor,
  type TotpFactorOptions,
  type TotpEnrollment,
  type TotpFactorDescription,
} from './mfa/totp-factor';
export {
  RecoveryCodes,
  type RecoveryCodesOptions,
  type RecoveryCodesDescription,
} from './mfa/recovery-codes';
export { mfaContext, type MfaContext, type MfaVerification, type MfaMethod } from './mfa/mfa-context';
export {
  MfaPolicy,
  type MfaPolicyOptions,
  type MfaPolicyDecision,
  type MfaPolicyDescription,
} from './mfa/mfa-policy';
export type { MfaAttemptGuard, MfaAttempt } from './mfa/mfa-attempt-guard';

// threat: brute-force defence and detection rules over the audit stream
export {
  BruteForceGuard,
  type BruteForceGuardOptions,
  type BruteForceLimit,
  type BruteForceAttempt,
  type BruteForceDecision,
  type BruteForceScope,
  type BruteForceRedisClient,
  type BruteForceGuardDescription,
  type BruteForceLockout,
  type BruteForceReservation,
  type BruteForceReservationResult,
  type BruteForceReserveOptions,
} from './threat/brute-force-guard';
export {
  ThreatDetector,
  SECURITY_VIOLATION_ACTION,
  PRIVILEGE_ACTIONS,
  type SecurityViolation,
  type ViolationSeverity,
  type DetectionRule,
  type RuleHit,
  type RuleState,
  type ThreatDetectorOptions,
  type FailedLoginRuleOptions,
  type DeniedAccessRuleOptions,
  type PrivilegeChangeRuleOptions,
  type MassExportRuleOptions,
  type BreakGlassRuleOptions,
  type OffHoursRuleOptions,
  type BurstOptions,
} from './threat/threat-detector';

// privacy: classification registry (fed by @bulwark/typeorm decorators or plain registration)
export {
  ClassificationRegistry,
  defaultClassificationRegistry,
  CLASSIFICATION_CATEGORIES,
  type ClassificationCategory,
  type ClassifiedField,
  type ClassificationInput,
} from './privacy/classification-registry';

export {
  ConsentManager,
  type ConsentManagerOptions,
  type ConsentPurposeInput,
  type ConsentPurpose,
  type ConsentTextVersion,
  type ConsentChangeOptions,
  type ConsentStatus,
  type PrivacyAuditSink,
} from './privacy/consent-manager';
export type { ConsentStore, ConsentRecord, ConsentAction } from './privacy/consent-store';
export { MemoryConsentStore } from './privacy/memory-consent-store';
export {
  DataSubjectRequests,
  type DataSubjectRequestsOptions,
  type IdentityVerifier,
  type ReceiveRequestInput,
  type ErasureResult,
} from './privacy/data-subject-requests';
export {
  DEFAULT_ERASURE_EVIDENCE,
  type ErasureEvidenceOptions,
  type SubjectSecurityEvents,
} from './privacy/erasure-evidence';
export type {
  DsrStore,
  DataSubjectRequest,
  DsrType,
  DsrStatus,
  DsrFilter,
  DsrHistoryEntry,
} from './privacy/dsr-store';
export { MemoryDsrStore } from './privacy/memory-dsr-store';
export type {
  SubjectDataSource,
  SubjectRecord,
  SubjectDataValue,
  SubjectDataLabel,
} from './privacy/subject-data-source';
export {
  formatSubjectExport,
  SUBJECT_EXPORT_FORMAT,
  SUBJECT_EXPORT_CSV_HEADER,
  type SubjectExport,
  type SubjectExportSource,
  type SubjectExportRecord,
  type SubjectExportField,
  type SubjectExportFormat,
  type FormattedSubjectExport,
} from './privacy/format-subject-export';
export {
  ErasureReceiptSigner,
  verifyErasureReceipt,
  erasureSubjectRef,
  ERASURE_RECEIPT_FORMAT,
  ERASURE_RECEIPT_JWS_TYPE,
  type ErasureReceipt,
} from './privacy/erasure-receipt';
export {
  ProcessorRegister,
  type Processor,
  type ProcessorInput,
  type RecipientRole,
  type AgreementType,
  type TransferMechanism,
  type Agreement,
  type AgreementGap,
} from './privacy/processor-register';
export {
  ProcessingRegister,
  ROPA_FORMAT,
  type ProcessingActivity,
  type ProcessingActivityInput,
  type ProcessingTransfer,
  type ResolvedProcessingActivity,
  type RecordOfProcessing,
  type ProcessingRegisterOptions,
} from './privacy/processing-register';
export {
  DataRetention,
  type DataRetentionOptions,
  type RetentionRule,
  type RetentionSource,
  type RetentionHold,
  type PurgeContext,
  type PurgePlanItem,
  type PurgeReport,
} from './privacy/data-retention';
export {
  BreachRegister,
  DEFAULT_BREACH_DEADLINES,
  type BreachIncident,
  type BreachInput,
  type BreachNotification,
  type BreachSeverity,
  type BreachAudience,
  type BreachDeadlineRules,
  type OverdueNotification,
} from './privacy/breach-register';

// compliance: control catalogue as data, evidence-based checks, JSON / Markdown / HTML / OSCAL reports
export {
  ComplianceKit,
  type ComplianceKitOptions,
  type ComplianceServices,
  type HttpAppRegistration,
  type ClassificationSource,
  type KeyRingSource,
  type PasswordHasherSource,
  type AuditLogSource,
  type MfaPolicySource,
  type PolicyEngineSource,
  type BruteForceGuardSource,
  type ThreatDetectorSource,
  type AuditLogDescription,
} from './compliance/compliance-kit';
export {
  ComplianceReport,
  evaluateControls,
  hasFailures,
  builtInCatalogue,
  isFramework,
  type ComplianceReportResult,
  type ControlResult,
  type ControlStatus,
  type FrameworkSummary,
  type ComplianceReportOptions,
} from './compliance/compliance-report';
export { ControlCatalogue, BUILT_IN_CONTROLS } from './compliance/control-catalogue';
export {
  FRAMEWORKS,
  FRAMEWORK_NAMES,
  type Framework,
  type CheckId,
  type ControlDefinition,
} from './compliance/control';
export {
  AUTOMATED_CHECKS,
  runCheck,
  type AutomatedCheck,
  type CheckOutcome,
  type CheckStatus,
  type CheckParams,
} from './compliance/automated-checks';
export type {
  Evidence,
  EvidenceBundle,
  EvidenceSourceName,
  HttpAppEvidence,
  HttpEvidence,
  ClassificationEvidence,
  KeyRingEvidence,
  PasswordEvidence,
  AuditVerificationEvidence,
  AuditEvidence,
  MfaEvidence,
  AuthzEvidence,
  BruteForceEvidence,
  ThreatDetectionEvidence,
  ConsentPurposeEvidence,
  ConsentEvidence,
  DsrEvidence,
  ProcessorEvidence,
  BreachEvidence,
  ProcessingEvidence,
  DataRetentionEvidence,
} from './compliance/evidence';
export type { PrivacySource } from './compliance/privacy-evidence';
export { renderJson } from './compliance/render-json';
export { renderMarkdown } from './compliance/render-markdown';
export { renderHtml } from './compliance/render-html';
export { renderOscal, OSCAL_VERSION } from './compliance/render-oscal';

// http: framework-free request logic shared by the Express, Koa and NestJS adapters
export * from './http';

// composition
export {
  createBulwark,
  type Bulwark,
  type BulwarkConfig,
  type MasterKeyConfig,
  type KeyStoreConfig,
  type AuditConfig,
  type AuthzConfig,
  type MfaConfig,
  type ThreatConfig,
  type PrivacyConfig,
  type ComplianceConfig,
  type AuditStoreConfig,
  type CheckpointStoreConfig,
  type SecretBytesConfig,
  type JwkConfig,
} from './bulwark';
export { bulwarkContainerModule, BULWARK_TYPES } from './container-module';
