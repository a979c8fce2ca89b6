// Privacy: classification, consent, data-subject requests, registers, retention, breaches.
export {
  ClassificationRegistry,
  defaultClassificationRegistry,
  CLASSIFICATION_CATEGORIES,
  type ClassificationCategory,
  type ClassifiedField,
  type ClassificationInput,
  type ClassificationRegistryOptions,
} from './classification-registry';
export {
  ConsentManager,
  type ConsentManagerOptions,
  type ConsentPurposeInput,
  type ConsentPurpose,
  type ConsentTextVersion,
  type ConsentChangeOptions,
  type ConsentStatus,
  type PrivacyAuditSink,
} from './consent-manager';
export type { ConsentStore, ConsentRecord, ConsentAction } from './consent-store';
export { MemoryConsentStore } from './memory-consent-store';
export {
  DataSubjectRequests,
  type DataSubjectRequestsOptions,
  type IdentityVerifier,
  type ReceiveRequestInput,
  type ErasureResult,
  type DsrSelfTestResult,
} from './data-subject-requests';
export {
  DEFAULT_ERASURE_EVIDENCE,
  type ErasureEvidenceOptions,
  type SubjectSecurityEvents,
} from './erasure-evidence';
export type {
  DsrStore,
  DataSubjectRequest,
  DsrType,
  DsrStatus,
  DsrFilter,
  DsrHistoryEntry,
} from './dsr-store';
export { MemoryDsrStore } from './memory-dsr-store';
export {
  MemoryRegisterStore,
  type RegisterStore,
  type StoredRecord,
  type RegisterKind,
} from './register-store';
export type {
  SubjectDataSource,
  SubjectRecord,
  SubjectDataValue,
  SubjectDataLabel,
} from './subject-data-source';
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
} from './format-subject-export';
export {
  ErasureReceiptSigner,
  verifyErasureReceipt,
  erasureSubjectRef,
  ERASURE_RECEIPT_FORMAT,
  ERASURE_RECEIPT_JWS_TYPE,
  type ErasureReceipt,
} from './erasure-receipt';
export {
  ProcessorRegister,
  type Processor,
  type ProcessorInput,
  type RecipientRole,
  type AgreementType,
  type TransferMechanism,
  type Agreement,
  type AgreementGap,
} from './processor-register';
export {
  ProcessingRegister,
  ROPA_FORMAT,
  type ProcessingActivity,
  type ProcessingActivityInput,
  type ProcessingTransfer,
  type ResolvedProcessingActivity,
  type RecordOfProcessing,
  type ProcessingRegisterOptions,
} from './processing-register';
export {
  DataRetention,
  type DataRetentionOptions,
  type RetentionRule,
  type RetentionSource,
  type RetentionHold,
  type RetentionRun,
  type PurgeContext,
  type PurgePlanItem,
  type PurgeReport,
} from './data-retention';
export {
  BreachRegister,
  DEFAULT_BREACH_DEADLINES,
  type BreachIncident,
  type BreachInput,
  type BreachDrillInput,
  type BreachNotification,
  type BreachSeverity,
  type BreachAudience,
  type BreachDeadlineRules,
  type OverdueNotification,
} from './breach-register';
