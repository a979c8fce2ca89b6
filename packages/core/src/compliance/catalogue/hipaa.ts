import type { ControlDefinition, ControlSource } from '../control';

const SUBPART_C = '45 CFR Part 164 Subpart C, Security Rule (as amended 78 FR 5694, 25 January 2013)';
const SUBPART_D =
  '45 CFR Part 164 Subpart D, Breach Notification Rule (as amended 78 FR 5694, 25 January 2013)';
const src = (clause: string, note?: string, edition = SUBPART_C): ControlSource => ({
  edition,
  clause,
  ...(note === undefined ? {} : { note }),
});
const ADDRESSABLE =
  'Addressable: implemented where reasonable and appropriate; otherwise the reason and any equivalent alternative measure are documented (164.306(d)(3)).';

/**
 * HIPAA Security Rule (164.308-164.316) standards and implementation specifications, and the
 * Breach Notification Rule (164.404-164.410). Titles are the CFR's; requirements keep the
 * Required / Addressable designation.
 */
export const HIPAA_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'hipaa-164.308-a-1-ii-a',
    framework: 'hipaa',
    ref: '164.308(a)(1)(ii)(A)',
    title: 'Risk analysis (Required)',
    requirement:
      'Conduct an accurate and thorough assessment of the potential risks and vulnerabilities to the confidentiality, integrity, and availability of electronic protected health information held by the covered entity or business associate.',
    source: src('§164.308(a)(1)(ii)(A)'),
    modality: 'required',
    manual: {
      guidance: 'Attach the current risk analysis, its date, scope and the risk-management plan it fed.',
    },
  },
  {
    id: 'hipaa-164.308-a-1-ii-d',
    framework: 'hipaa',
    ref: '164.308(a)(1)(ii)(D)',
    title: 'Information system activity review (Required)',
    requirement:
      'Implement procedures to regularly review records of information system activity, such as audit logs, access reports, and security incident tracking reports.',
    source: src('§164.308(a)(1)(ii)(D)'),
    modality: 'required',
    howEvidenced:
      'A reviewer (a person or a review job) recorded a review of the audit log within the last week; the review is itself an audit event.',
    check: 'audit.review',
    coverage: {
      level: 'partial',
      evidences: 'a recorded review of the audit log in the period',
      notCovered:
        'the review procedure and what the review found; access reports and incident tracking reports; that the reviewer read the entries (the record is the reviewer\u2019s own statement)',
    },
  },
  {
    id: 'hipaa-164.308-a-3',
    framework: 'hipaa',
    ref: '164.308(a)(3)',
    title: 'Workforce security',
    requirement:
      'Implement policies and procedures to ensure that all members of the workforce have appropriate access to ePHI, and to prevent those who do not have access from obtaining it; the specifications (authorization and/or supervision, workforce clearance, termination procedures) are Addressable.',
    source: src('§164.308(a)(3)(i)-(ii)'),
    modality: 'required',
    manual: { guidance: 'Attach the authorisation / supervision and termination procedures with samples.' },
  },
  {
    id: 'hipaa-164.308-a-5-ii-c',
    framework: 'hipaa',
    ref: '164.308(a)(5)(ii)(C)',
    title: 'Log-in monitoring (Addressable)',
    requirement: `Procedures for monitoring log-in attempts and reporting discrepancies. ${ADDRESSABLE}`,
    source: src('§164.308(a)(5)(ii)(C)'),
    modality: 'addressable',
    howEvidenced: 'Failed log-ins are counted and limited per account or per source and account.',
    check: 'threat.brute-force',
    coverage: {
      level: 'partial',
      evidences: 'log-in attempts are monitored and limited',
      notCovered: 'reporting discrepancies; the documented procedure',
    },
  },
  {
    id: 'hipaa-164.308-a-5-ii-d',
    framework: 'hipaa',
    ref: '164.308(a)(5)(ii)(D)',
    title: 'Password management (Addressable)',
    requirement: `Procedures for creating, changing, and safeguarding passwords. ${ADDRESSABLE}`,
    source: src('§164.308(a)(5)(ii)(D)'),
    modality: 'addressable',
    howEvidenced: 'Stored passwords are argon2id hashes at or above the OWASP minimum parameters.',
    check: 'passwords.hashing',
    coverage: {
      level: 'partial',
      evidences: 'safeguarding of stored passwords',
      notCovered: 'procedures for creating and changing passwords',
    },
  },
  {
    id: 'hipaa-164.308-a-5-ii-d-policy',
    framework: 'hipaa',
    ref: '164.308(a)(5)(ii)(D)',
    title: 'Password management (Addressable)',
    requirement: `Procedures for creating, changing, and safeguarding passwords. ${ADDRESSABLE}`,
    source: src('§164.308(a)(5)(ii)(D)'),
    modality: 'addressable',
    howEvidenced:
      'New and changed passwords go through a NIST SP 800-63B policy (length, common / breached passwords, context words) that the hasher enforces.',
    check: 'passwords.policy',
    params: { minLength: 8 },
    coverage: {
      level: 'partial',
      evidences: 'the rules applied when passwords are created and changed',
      notCovered: 'the documented procedure; passwords of systems outside the application',
    },
  },
  {
    id: 'hipaa-164.308-a-6',
    framework: 'hipaa',
    ref: '164.308(a)(6)',
    title: 'Security incident procedures',
    requirement:
      'Implement policies and procedures to address security incidents; Response and reporting (Required): identify and respond to suspected or known security incidents, mitigate harmful effects to the extent practicable, and document security incidents and their outcomes.',
    source: src(
      '§164.308(a)(6)(i)-(ii)',
      'Breach notification deadlines are Subpart D (see 164.404), not (a)(6).',
    ),
    modality: 'required',
    howEvidenced:
      'Incidents are documented in the breach register, and no notification a recorded incident requires is overdue.',
    check: 'breach.notifications',
    coverage: {
      level: 'partial',
      evidences: 'recorded incidents are documented with their follow-up notifications tracked',
      notCovered:
        'identification of incidents, response and mitigation; security incidents that are not breaches; the policies and procedures',
    },
  },
  {
    id: 'hipaa-164.308-a-7',
    framework: 'hipaa',
    ref: '164.308(a)(7)',
    title: 'Contingency plan',
    requirement:
      'Establish (and implement as needed) policies and procedures for responding to an emergency or other occurrence that damages systems containing ePHI: a data backup plan, a disaster recovery plan and an emergency mode operation plan are Required; testing and revision procedures and an applications and data criticality analysis are Addressable.',
    source: src('§164.308(a)(7)(i)-(ii)'),
    modality: 'required',
    manual: {
      guidance:
        'Attach the backup, disaster recovery and emergency-mode plans; for the addressable testing and criticality analysis, attach the latest results or the documented decision.',
    },
  },
  {
    id: 'hipaa-164.308-b-1',
    framework: 'hipaa',
    ref: '164.308(b)(1)',
    title: 'Business associate contracts and other arrangements',
    requirement:
      'A covered entity may permit a business associate to create, receive, maintain, or transmit ePHI on its behalf only if it obtains satisfactory assurances, documented in a written contract or other arrangement meeting 164.314(a), that the business associate will appropriately safeguard the information; a business associate obtains the same from its subcontractors.',
    source: src('§164.308(b)(1)-(3)'),
    modality: 'required',
    howEvidenced:
      'Every recipient whose role or data requires one (business associates, recipients of PHI) has a signed, unexpired business associate agreement.',
    check: 'processors.agreements',
    coverage: {
      level: 'full',
      evidences: 'a signed agreement in force for every recorded business associate and PHI recipient',
      notCovered:
        'business associates never recorded in the register; the 164.314(a) contents of each agreement',
    },
  },
  {
    id: 'hipaa-164.310-a-1',
    framework: 'hipaa',
    ref: '164.310(a)(1)',
    title: 'Facility access controls',
    requirement:
      'Implement policies and procedures to limit physical access to electronic information systems and the facility or facilities in which they are housed, while ensuring that properly authorized access is allowed.',
    source: src('§164.310(a)(1)'),
    modality: 'required',
    manual: {
      guidance:
        'Physical safeguards are outside what software can observe: attach the hosting provider\u2019s attestation (e.g. SOC 2 report) and your own site controls.',
    },
  },
  {
    id: 'hipaa-164.310-d-1',
    framework: 'hipaa',
    ref: '164.310(d)(1)',
    title: 'Device and media controls',
    requirement:
      'Implement policies and procedures that govern the receipt and removal of hardware and electronic media containing ePHI into and out of a facility, and their movement within it; disposal and media re-use are Required specifications.',
    source: src('§164.310(d)(1)-(2)'),
    modality: 'required',
    manual: { guidance: 'Attach the media disposal procedure and disposal records.' },
  },
  {
    id: 'hipaa-164.312-a-1',
    framework: 'hipaa',
    ref: '164.312(a)(1)',
    title: 'Access control',
    requirement:
      'Implement technical policies and procedures for electronic information systems that maintain ePHI to allow access only to those persons or software programs that have been granted access rights as specified in 164.308(a)(4).',
    source: src('§164.312(a)(1)'),
    modality: 'required',
    howEvidenced: 'The access-control policy refuses a request no policy grants (default deny).',
    check: 'authz.default-deny',
    coverage: {
      level: 'partial',
      evidences: 'access nobody was granted is refused',
      notCovered:
        'that the granted rights match those authorised under 164.308(a)(4); systems other than the application',
    },
  },
  {
    id: 'hipaa-164.312-a-2-ii',
    framework: 'hipaa',
    ref: '164.312(a)(2)(ii)',
    title: 'Emergency access procedure (Required)',
    requirement:
      'Establish (and implement as needed) procedures for obtaining necessary ePHI during an emergency.',
    source: src('§164.312(a)(2)(ii)'),
    modality: 'required',
    howEvidenced: 'Every emergency (break-glass) grant carries a reason and an audit record, and expires.',
    check: 'authz.break-glass-audited',
    coverage: {
      level: 'partial',
      evidences: 'emergency grants that were used are justified and recorded',
      notCovered:
        'that the procedure exists and works when needed (no grant passes); the documented procedure',
    },
  },
  {
    id: 'hipaa-164.312-a-2-iii',
    framework: 'hipaa',
    ref: '164.312(a)(2)(iii)',
    title: 'Automatic logoff (Addressable)',
    requirement: `Implement electronic procedures that terminate an electronic session after a predetermined time of inactivity. ${ADDRESSABLE}`,
    source: src(
      '§164.312(a)(2)(iii)',
      'The rule sets no period; 15 minutes is checked, as PCI DSS 8.2.8 asks.',
    ),
    modality: 'addressable',
    howEvidenced:
      'The session engine ends sessions after at most 15 minutes of inactivity; a live probe through its store shows an idle session refused.',
    check: 'sessions.timeouts',
    params: { maxIdleSec: 900 },
    coverage: {
      level: 'partial',
      evidences: 'application sessions end after the predetermined inactivity',
      notCovered: 'workstation and other system sessions',
    },
  },
  {
    id: 'hipaa-164.312-a-2-iv',
    framework: 'hipaa',
    ref: '164.312(a)(2)(iv)',
    title: 'Encryption and decryption (Addressable)',
    requirement: `Implement a mechanism to encrypt and decrypt electronic protected health information. ${ADDRESSABLE}`,
    source: src('§164.312(a)(2)(iv)'),
    modality: 'addressable',
    howEvidenced: 'Every field classified as PHI is stored encrypted by the key ring.',
    check: 'encryption.classified-fields',
    params: { categories: ['phi'] },
    coverage: {
      level: 'full',
      evidences: 'the mechanism is implemented and used for every classified PHI field',
      notCovered: 'ePHI outside classified fields (files, backups)',
    },
  },
  {
    id: 'hipaa-164.312-b',
    framework: 'hipaa',
    ref: '164.312(b)',
    title: 'Audit controls',
    requirement:
      'Implement hardware, software, and/or procedural mechanisms that record and examine activity in information systems that contain or use ePHI.',
    source: src('§164.312(b)'),
    modality: 'required',
    howEvidenced: 'The audit log is in use and holds events.',
    check: 'audit.enabled',
    coverage: {
      level: 'partial',
      evidences: 'activity is recorded',
      notCovered: 'examination of the activity (see 164.308(a)(1)(ii)(D)); completeness of what is recorded',
    },
  },
  {
    id: 'hipaa-164.312-c-1',
    framework: 'hipaa',
    ref: '164.312(c)(1)',
    title: 'Integrity',
    requirement:
      'Implement policies and procedures to protect electronic protected health information from improper alteration or destruction.',
    source: src('§164.312(c)(1)'),
    modality: 'required',
    manual: {
      guidance:
        'Attach the integrity policy and procedures: who may change or delete ePHI, how changes are authorised and reviewed, and how destruction is guarded against (backups). The authentication mechanism of (c)(2) is evidenced by hipaa-164.312-c-2.',
    },
  },
  {
    id: 'hipaa-164.312-c-2',
    framework: 'hipaa',
    ref: '164.312(c)(2)',
    title: 'Mechanism to authenticate electronic protected health information (Addressable)',
    requirement: `Implement electronic mechanisms to corroborate that electronic protected health information has not been altered or destroyed in an unauthorized manner. ${ADDRESSABLE}`,
    source: src('§164.312(c)(2)'),
    modality: 'addressable',
    howEvidenced:
      'Fields classified as PHI are stored under the key ring\u2019s authenticated encryption (AEAD) bound to their entity and column, so an altered or transplanted value fails to decrypt.',
    check: 'encryption.classified-fields',
    params: { categories: ['phi'] },
    coverage: {
      level: 'partial',
      evidences: 'alteration of classified PHI fields is detected on decryption',
      notCovered:
        'destruction (a deleted row leaves nothing to authenticate); ePHI outside classified fields; monitoring of decryption failures',
    },
  },
  {
    id: 'hipaa-164.312-d',
    framework: 'hipaa',
    ref: '164.312(d)',
    title: 'Person or entity authentication',
    requirement:
      'Implement procedures to verify that a person or entity seeking access to electronic protected health information is the one claimed.',
    source: src(
      '§164.312(d)',
      'The rule names no particular factor; it does not require multi-factor authentication.',
    ),
    modality: 'required',
    manual: {
      guidance:
        'Describe the sign-in procedure (factors, identity proofing, session handling) and attach its tests. Bulwark does not yet observe sign-in; the MFA policy for privileged roles (mfa.privileged) is one supporting measure.',
    },
  },
  {
    id: 'hipaa-164.312-e-1',
    framework: 'hipaa',
    ref: '164.312(e)(1)',
    title: 'Transmission security',
    requirement:
      'Implement technical security measures to guard against unauthorized access to electronic protected health information that is being transmitted over an electronic communications network; its specifications, integrity controls and encryption (164.312(e)(2)), are Addressable.',
    source: src('§164.312(e)(1)-(2)'),
    modality: 'required',
    howEvidenced:
      'The HTTP adapters record the TLS each request arrived over: protocol and cipher negotiated in Node, or a declared TLS-terminating proxy (X-Forwarded-Proto from a trusted proxy); any plain-HTTP request fails the check.',
    check: 'http.transport-security',
    coverage: {
      level: 'partial',
      evidences:
        'TLS observed on the apps\u2019 inbound HTTP (TLS 1.2 or later with an AEAD cipher negotiated in Node, or a declared terminator)',
      notCovered:
        'certificate validity and trust; transmissions other than inbound HTTP (outbound calls, database links)',
    },
  },
  {
    id: 'hipaa-164.316-b-2-i',
    framework: 'hipaa',
    ref: '164.316(b)(2)(i)',
    title: 'Documentation: time limit (Required)',
    requirement:
      'Retain the documentation required by 164.316(b)(1) (policies and procedures, and written records of actions, activities or assessments this subpart requires to be documented) for 6 years from the date of its creation or the date when it last was in effect, whichever is later.',
    source: src(
      '§164.316(b)(2)(i)',
      'Treating the audit trail as documentation required by (b)(1) is an interpretation.',
    ),
    modality: 'required',
    howEvidenced: 'Audit-log categories are retained for at least six years (2192 days).',
    check: 'audit.retention',
    // Six years can span two leap days: 6 x 365 + 2.
    params: { minDays: 2192 },
    coverage: {
      level: 'partial',
      evidences: 'six-year retention of the audit trail',
      notCovered: 'the policies, procedures and assessment records themselves',
    },
  },
  {
    id: 'hipaa-164.404',
    framework: 'hipaa',
    ref: '164.404',
    title: 'Notification to individuals',
    requirement:
      'Following the discovery of a breach of unsecured PHI, a covered entity shall notify each individual affected without unreasonable delay and in no case later than 60 calendar days after discovery, with the content of 164.404(c) and by the methods of 164.404(d).',
    source: src('§164.404(a)-(d)', undefined, SUBPART_D),
    modality: 'required',
    howEvidenced:
      'For incidents recorded in the last year (real or drills), the notification to individuals is tracked on a clock of at most 60 days from detection and none was late or is overdue.',
    check: 'breach.deadline',
    params: { audience: 'subjects', maxHours: 1440 },
    coverage: {
      level: 'partial',
      evidences: 'the 60-day outer limit for recorded incidents',
      notCovered:
        '\u201cwithout unreasonable delay\u201d within the 60 days; the content and methods of the notice; the 164.402 risk assessment deciding whether a breach occurred; breaches never recorded',
    },
  },
  {
    id: 'hipaa-164.408',
    framework: 'hipaa',
    ref: '164.408',
    title: 'Notification to the Secretary',
    requirement:
      'Following the discovery of a breach of unsecured PHI, a covered entity shall notify the Secretary: for a breach involving 500 or more individuals, contemporaneously with the notice to individuals; for fewer, in a log submitted within 60 days after the end of each calendar year.',
    source: src('§164.408(a)-(c)', undefined, SUBPART_D),
    modality: 'required',
    manual: {
      guidance:
        'The breach register tracks the authority and individual notices only: record each HHS submission (date, reference) and, for breaches under 500 individuals, the annual log.',
    },
  },
  {
    id: 'hipaa-164.410',
    framework: 'hipaa',
    ref: '164.410',
    title: 'Notification by a business associate',
    requirement:
      'A business associate shall, following the discovery of a breach of unsecured PHI, notify the covered entity without unreasonable delay and in no case later than 60 calendar days after discovery, identifying each individual affected where possible.',
    source: src('§164.410(a)-(c)', undefined, SUBPART_D),
    modality: 'required',
    manual: {
      guidance:
        'If you act as a business associate, attach the procedure for notifying covered entities and the record of notices sent; if you are the covered entity, attach the agreements that require it.',
    },
  },
];
