import type { CheckId } from './control';
import type { EvidenceBundle, EvidenceProvenance } from './evidence';
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
import {
  fail,
  notDemonstrated,
  type AutomatedCheck,
  type CheckOutcome,
  type CheckParams,
} from './checks/check-outcome';
import {
  classifiedFieldsEncrypted,
  keyAlgorithms,
  keyRotation,
  passwordHashing,
  tokenKeys,
} from './checks/crypto-checks';
import { csrf, securityHeaders, transportSecurity } from './checks/http-checks';
import {
  breachNotifications,
  consentMarketing,
  dataRetention,
  dsrCapabilities,
  dsrOverdue,
  processingRecords,
  processorAgreements,
} from './checks/privacy-checks';

import { passwordPolicy, sessionTimeouts } from './checks/authentication-checks';

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
  'http.transport-security': transportSecurity,
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
  'sessions.timeouts': sessionTimeouts,
  'passwords.policy': passwordPolicy,
  'tokens.keys': tokenKeys,
});

const LIVE: readonly EvidenceProvenance[] = Object.freeze(['live', 'snapshot']);
const OBSERVED: readonly EvidenceProvenance[] = Object.freeze(['observed', 'snapshot']);
/** Registers that are themselves documentation: what the operator declares is the evidence. */
const DOCUMENTARY: readonly EvidenceProvenance[] = Object.freeze(['live', 'snapshot', 'declared']);

/**
 * The provenance each check accepts for a pass, enforced by `runCheck`: `live` (read from a
 * registered service now) or `snapshot` (a signed evidence file of such reads) for the services,
 * `observed` (real traffic through the mounted bundle) or `snapshot` for the HTTP controls.
 * `declared` evidence (a literal, configuration, a function standing in for a service) passes
 * only the two documentary registers, never a control about behaviour.
 */
export const ACCEPTED_PROVENANCE: Readonly<Record<CheckId, readonly EvidenceProvenance[]>> = Object.freeze({
  'encryption.classified-fields': LIVE,
  'keys.rotation': LIVE,
  'keys.algorithms': LIVE,
  'passwords.hashing': LIVE,
  'mfa.privileged': LIVE,
  'audit.enabled': LIVE,
  'audit.verified': LIVE,
  'audit.tamper-evidence': LIVE,
  'audit.retention': LIVE,
  'authz.default-deny': LIVE,
  'authz.break-glass-audited': LIVE,
  'threat.brute-force': LIVE,
  'threat.detection': LIVE,
  'http.security-headers': OBSERVED,
  'http.csrf': OBSERVED,
  'http.transport-security': OBSERVED,
  'consent.marketing': LIVE,
  'dsr.overdue': LIVE,
  'dsr.capabilities': LIVE,
  'processors.agreements': DOCUMENTARY,
  'breach.notifications': LIVE,
  'privacy.processing-records': DOCUMENTARY,
  'privacy.data-retention': LIVE,
  'audit.review': LIVE,
  'audit.write-health': LIVE,
  'privacy.lawful-basis': DOCUMENTARY,
  'dsr.rectification': LIVE,
  'transfers.safeguards': DOCUMENTARY,
  'consent.records': LIVE,
  // The classification (live, from the entities) is compared with the record of processing.
  'classification.inventory': DOCUMENTARY,
  'hashing.keyed-pan': LIVE,
  'breach.deadline': LIVE,
  'sessions.timeouts': LIVE,
  'passwords.policy': LIVE,
  'tokens.keys': LIVE,
});

/**
 * Runs one check, failing closed: a check that throws (bad parameter, malformed evidence) is a
 * failure with the reason, never a pass; an outcome claiming a pass without evidence is demoted;
 * a pass resting on evidence of a provenance the check does not accept (evidence without one
 * counts as `declared`) is demoted to not-demonstrated.
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
  if (outcome.status === 'pass') {
    const accepted = ACCEPTED_PROVENANCE[id] ?? [];
    const weak = outcome.evidence.filter((e) => !accepted.includes(e.provenance ?? 'declared'));
    if (weak.length > 0) {
      const shown = weak.map((e) => `${e.source}: ${e.provenance ?? 'no provenance'}`).join(', ');
      return notDemonstrated(
        `Would pass (${outcome.summary.replace(/\.$/, '')}), but on evidence of a provenance this control does not accept (${shown}; accepted: ${accepted.join(', ')}).`,
        outcome.evidence,
        accepted.includes('observed')
          ? 'Register the adapter bundle so the control is decided on observed traffic.'
          : 'Register the live service (kit.register(...)) instead of a literal or a function standing in for it.',
      );
    }
  }
  return outcome;
}
