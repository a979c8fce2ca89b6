/** The frameworks the catalogue covers. */
export type Framework = 'gdpr' | 'soc2' | 'iso27001' | 'hipaa' | 'pci';

export const FRAMEWORKS: readonly Framework[] = Object.freeze(['gdpr', 'soc2', 'iso27001', 'hipaa', 'pci']);

export const FRAMEWORK_NAMES: Readonly<Record<Framework, string>> = Object.freeze({
  gdpr: 'GDPR (Regulation (EU) 2016/679)',
  soc2: 'SOC 2 (Trust Services Criteria 2017, security)',
  iso27001: 'ISO/IEC 27001:2022 Annex A',
  hipaa: 'HIPAA Security Rule (45 CFR Part 164 Subpart C)',
  pci: 'PCI DSS v4.0',
});

/** Ids of the automated checks (see automated-checks.ts). */
export type CheckId =
  | 'encryption.classified-fields'
  | 'keys.rotation'
  | 'keys.algorithms'
  | 'passwords.hashing'
  | 'mfa.privileged'
  | 'audit.enabled'
  | 'audit.verified'
  | 'audit.tamper-evidence'
  | 'audit.retention'
  | 'authz.default-deny'
  | 'authz.break-glass-audited'
  | 'threat.brute-force'
  | 'threat.detection'
  | 'http.security-headers'
  | 'http.csrf'
  | 'consent.marketing'
  | 'dsr.overdue'
  | 'dsr.capabilities'
  | 'processors.agreements'
  | 'breach.notifications'
  | 'privacy.processing-records'
  | 'privacy.data-retention';

/**
 * One control of one framework. Exactly one of `check` (automated: run against evidence read
 * from the live kit) or `manual` (needs a person's attestation; never scored).
 *
 * `requirement` paraphrases the obligation in Bulwark's own words; it is not the standard's text
 * (several of these standards are copyrighted) and does not replace reading it.
 */
export interface ControlDefinition {
  /** Stable id, letters / digits / `.` / `-` / `_` only (an OSCAL token), e.g. `gdpr-art32-1-a`. */
  readonly id: string;
  readonly framework: Framework;
  /** The clause as the framework cites it, e.g. `Art. 32(1)(a)` or `164.312(a)(2)(iv)`. */
  readonly ref: string;
  readonly title: string;
  readonly requirement: string;
  readonly check?: CheckId;
  /** Parameters of the check for this control (e.g. `{ minDays: 2192 }`). */
  readonly params?: Readonly<Record<string, unknown>>;
  readonly manual?: { readonly guidance: string };
}
