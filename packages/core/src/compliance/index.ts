// Compliance: control catalogue as data, evidence-based checks, JSON / Markdown / HTML / OSCAL reports.
export {
  ComplianceKit,
  type ComplianceKitOptions,
  type ComplianceServices,
  type HttpAppRegistration,
  type SignInMethodSource,
  type ClassificationSource,
  type KeyRingSource,
  type PasswordHasherSource,
  type AuditLogSource,
  type MfaPolicySource,
  type PolicyEngineSource,
  type BruteForceGuardSource,
  type ThreatDetectorSource,
  type AuditLogDescription,
  type GrantProbe,
} from './compliance-kit';
export {
  ComplianceReport,
  evaluateControls,
  hasFailures,
  builtInCatalogue,
  isFramework,
  compareReports,
  signComplianceReport,
  verifyComplianceReport,
  type ComplianceReportResult,
  type ControlResult,
  type ControlStatus,
  type FrameworkSummary,
  type ComplianceReportOptions,
  type ReportDescription,
  type ReportMetadata,
  type ReportComparison,
  type ReportSignature,
  type EvidenceItem,
} from './compliance-report';
export {
  MemoryAttestationStore,
  FileAttestationStore,
  ATTESTATION_FORMAT,
  type AttestationInput,
  type AttestationRecord,
  type AttestationStore,
  type AttestationView,
  type AttestationSignatureState,
} from './attestation';
export {
  ComplianceSigner,
  EVIDENCE_SNAPSHOT_JWS_TYPE,
  ATTESTATION_JWS_TYPE,
  COMPLIANCE_REPORT_JWS_TYPE,
  type CompliancePurpose,
  type CompliancePublicKey,
} from './compliance-signing';
export {
  verifyEvidenceSnapshot,
  EVIDENCE_SNAPSHOT_FORMAT,
  DEFAULT_SNAPSHOT_MAX_AGE_MS,
  type SignedEvidenceSnapshot,
  type VerifiedEvidenceSnapshot,
} from './snapshot';
export { ControlCatalogue, BUILT_IN_CONTROLS } from './control-catalogue';
export { FRAMEWORKS, FRAMEWORK_NAMES, type Framework, type CheckId, type ControlDefinition } from './control';
export {
  AUTOMATED_CHECKS,
  runCheck,
  ACCEPTED_PROVENANCE,
  type AutomatedCheck,
  type CheckOutcome,
  type CheckStatus,
  type CheckParams,
} from './automated-checks';
export type {
  Evidence,
  EvidenceBundle,
  EvidenceProvenance,
  TlsTerminatorDeclaration,
  HttpTrafficEvidence,
  DsrSelfTestEvidence,
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
  SignInEvidence,
  SignInMethodEvidence,
} from './evidence';
export type { PrivacySource } from './privacy-evidence';
export { renderJson } from './render-json';
export { renderMarkdown } from './render-markdown';
export { renderHtml } from './render-html';
export { renderOscal, OSCAL_VERSION } from './render-oscal';
