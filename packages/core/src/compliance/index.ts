// Compliance: control catalogue as data, evidence-based checks, JSON / Markdown / HTML / OSCAL reports.
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
  type GrantProbe,
} from './compliance-kit';
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
} from './compliance-report';
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
} from './evidence';
export type { PrivacySource } from './privacy-evidence';
export { renderJson } from './render-json';
export { renderMarkdown } from './render-markdown';
export { renderHtml } from './render-html';
export { renderOscal, OSCAL_VERSION } from './render-oscal';
