/** The frameworks the catalogue covers. */
export type Framework = 'gdpr' | 'soc2' | 'iso27001' | 'hipaa' | 'pci';

export const FRAMEWORKS: readonly Framework[] = Object.freeze(['gdpr', 'soc2', 'iso27001', 'hipaa', 'pci']);

export const FRAMEWORK_NAMES: Readonly<Record<Framework, string>> = Object.freeze({
  gdpr: 'GDPR (Regulation (EU) 2016/679)',
  soc2: 'SOC 2 (Trust Services Criteria 2017, security)',
  iso27001: 'ISO/IEC 27001:2022 Annex A',
  hipaa: 'HIPAA Security Rule and Breach Notification Rule (45 CFR Part 164 Subparts C and D)',
  pci: 'PCI DSS v4.0.1',
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
  | 'http.transport-security'
  | 'consent.marketing'
  | 'dsr.overdue'
  | 'dsr.capabilities'
  | 'processors.agreements'
  | 'breach.notifications'
  | 'privacy.processing-records'
  | 'privacy.data-retention'
  // catalogue-checks.ts
  | 'audit.review'
  | 'audit.write-health'
  | 'privacy.lawful-basis'
  | 'dsr.rectification'
  | 'transfers.safeguards'
  | 'consent.records'
  | 'classification.inventory'
  | 'hashing.keyed-pan'
  | 'breach.deadline'
  // authentication-checks.ts
  | 'sessions.timeouts'
  | 'passwords.policy'
  // crypto-checks.ts
  | 'tokens.keys';

/**
 * The standard's own modality for a clause: `required` (shall / must), `addressable` (HIPAA:
 * implement if reasonable and appropriate, or document why not), `risk-based` (measures
 * "appropriate to the risk", e.g. GDPR Art. 32), `recommended` (should).
 */
export type Modality = 'required' | 'addressable' | 'risk-based' | 'recommended';

/** Where a control's clause comes from: the edition and clause of the standard, as published. */
export interface ControlSource {
  /** E.g. `PCI DSS v4.0.1 (June 2024)`, `45 CFR 164 (as amended 78 FR 5694, 2013)`. */
  readonly edition: string;
  /** The clause as the standard numbers it, e.g. `Requirement 4.2.1`, `§164.312(e)(1)`. */
  readonly clause: string;
  /** Anything a reader of the standard should know (applicability notes, superseded dates). */
  readonly note?: string;
}

/**
 * How much of a clause an automated check evidences: `full`, or `partial` with the slice it
 * observes named (`evidences`) and what it does not (`notCovered`). A partial pass is reported
 * and scored as a partial pass, never as the whole clause.
 */
export interface ControlCoverage {
  readonly level: 'full' | 'partial';
  /** The slice of the clause the check observes, e.g. `HSTS observed on responses`. */
  readonly evidences: string;
  /** What the clause asks that the check does not observe (required when `level` is `partial`). */
  readonly notCovered?: string;
}

/**
 * One control of one framework. Exactly one of `check` (automated: run against evidence read
 * from the live kit) or `manual` (needs a person's attestation; never scored).
 *
 * `requirement` paraphrases the clause faithfully, with its modality, in Bulwark's own words; it
 * is not the standard's text (several of these standards are copyrighted) and does not replace
 * reading it. Bulwark's own measure goes in `howEvidenced`, never in `requirement`.
 */
export interface ControlDefinition {
  /** Stable id, letters / digits / `.` / `-` / `_` only (an OSCAL token), e.g. `gdpr-art32-1-a`. */
  readonly id: string;
  readonly framework: Framework;
  /** The clause as the framework cites it, e.g. `Art. 32(1)(a)` or `164.312(a)(2)(iv)`. */
  readonly ref: string;
  /** The standard's own title for the clause (TSC criteria, which have none: a short paraphrase). */
  readonly title: string;
  /** A faithful paraphrase of the clause, with the standard's modality. */
  readonly requirement: string;
  /** Edition and clause of the standard (every built-in control has one). */
  readonly source?: ControlSource;
  /** The clause's modality (every built-in control has one). */
  readonly modality?: Modality;
  /** How Bulwark evidences the clause: our measure, described apart from the requirement. */
  readonly howEvidenced?: string;
  /** Automated controls: how much of the clause the check evidences (every built-in one declares it). */
  readonly coverage?: ControlCoverage;
  readonly check?: CheckId;
  /** Parameters of the check for this control (e.g. `{ minDays: 2192 }`). */
  readonly params?: Readonly<Record<string, unknown>>;
  readonly manual?: { readonly guidance: string };
}
