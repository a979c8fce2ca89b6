import type { CheckId } from './control';
import type { EvidenceBundle } from './evidence';
import {
  breakGlassAudited,
  bruteForce,
  defaultDeny,
  mfaPrivileged,
  threatDetection,
} from './checks/access-checks';
import {
  auditReview,
  auditWriteHealth,
  breachDeadline,
  classificationInventory,
  consentRecords,
  dsrRectification,
  keyedPanHashes,
  lawfulBasis,
  transferSafeguards,
} from './checks/catalogue-checks';
import { auditEnabled, auditRetention, auditTamperEvidence, auditVerified } from './checks/audit-checks';
import { fail, type AutomatedCheck, type CheckOutcome, type CheckParams } from './checks/check-outcome';
import {
  classifiedFieldsEncrypted,
  keyAlgorithms,
  keyRotation,
  passwordHashing,
} from './checks/crypto-checks';
import { csrf, securityHeaders } from './checks/http-checks';
import {
  breachNotifications,
  consentMarketing,
  dataRetention,
  dsrCapabilities,
  dsrOverdue,
  processingRecords,
  processorAgreements,
} from './checks/privacy-checks';

// The automated checks live in checks/, one file per family; this module maps ids to them.

export type { AutomatedCheck, CheckOutcome, CheckParams, CheckStatus } from './checks/check-outcome';

/** Every automated check by id. */
export const AUTOMATED_CHECKS: Readonly<Record<CheckId, AutomatedCheck>> = Object.freeze({
  'encryption.classified-fields': classifiedFieldsEncrypted,
  'keys.rotation': keyRotation,
  'keys.algorithms': keyAlgorithms,
  'passwords.hashing': passwordHashing,
  'mfa.privileged': mfaPrivileged,
  'audit.enabled': auditEnabled,
  'audit.verified': auditVerified,
  'audit.tamper-evidence': auditTamperEvidence,
  'audit.retention': auditRetention,
  'authz.default-deny': defaultDeny,
  'authz.break-glass-audited': breakGlassAudited,
  'threat.brute-force': bruteForce,
  'threat.detection': threatDetection,
  'http.security-headers': securityHeaders,
  'http.csrf': csrf,
  'consent.marketing': consentMarketing,
  'dsr.overdue': dsrOverdue,
  'dsr.capabilities': dsrCapabilities,
  'processors.agreements': processorAgreements,
  'breach.notifications': breachNotifications,
  'privacy.processing-records': processingRecords,
  'privacy.data-retention': dataRetention,
  'audit.review': auditReview,
  'audit.write-health': auditWriteHealth,
  'privacy.lawful-basis': lawfulBasis,
  'dsr.rectification': dsrRectification,
  'transfers.safeguards': transferSafeguards,
  'consent.records': consentRecords,
  'classification.inventory': classificationInventory,
  'hashing.keyed-pan': keyedPanHashes,
  'breach.deadline': breachDeadline,
});

/**
 * Runs one check, failing closed: a check that throws (bad parameter, malformed evidence) is a
 * failure with the reason, never a pass; an outcome claiming a pass without evidence is demoted.
 */
export function runCheck(id: CheckId, bundle: EvidenceBundle, params: CheckParams): CheckOutcome {
  const check = AUTOMATED_CHECKS[id];
  if (check === undefined) return fail(`Unknown check "${id}".`, [], 'Fix the control catalogue.');
  let outcome: CheckOutcome;
  try {
    outcome = check(bundle, params);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return fail(
      `The check could not be evaluated: ${message}.`,
      [],
      'Fix the evidence source or the check parameters.',
    );
  }
  if (outcome.status === 'pass' && outcome.evidence.length === 0) {
    return fail('The check reported a pass without evidence.', [], 'Report this as a Bulwark bug.');
  }
  return outcome;
}
