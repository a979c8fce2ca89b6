import type { ControlDefinition, ControlSource } from '../control';

const EDITION = 'ISO/IEC 27001:2022, Annex A';
const APPLICABILITY =
  'Annex A controls apply as selected by the risk treatment (clause 6.1.3) and recorded in the Statement of Applicability.';
const src = (clause: string, note?: string): ControlSource => ({
  edition: EDITION,
  clause,
  note: note === undefined ? APPLICABILITY : `${note} ${APPLICABILITY}`,
});

const A8_15 =
  'Logs that record activities, exceptions, faults and other relevant events should be produced, stored, protected and analysed.';
const A8_24 =
  'Rules for the effective use of cryptography, including cryptographic key management, should be defined and implemented.';
const A8_5 =
  'Secure authentication technologies and procedures should be implemented based on information access restrictions and the topic-specific policy on access control.';
const A8_28 = 'Secure coding principles should be applied to software development.';

/**
 * ISO/IEC 27001:2022 Annex A controls: titles are the control names, requirements paraphrase the
 * control statements. The standard is not freely available; statements follow public control lists.
 */
export const ISO27001_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'iso27001-a5.12',
    framework: 'iso27001',
    ref: 'A.5.12',
    title: 'Classification of information',
    requirement:
      'Information should be classified according to the information security needs of the organization, based on confidentiality, integrity, availability and relevant interested party requirements.',
    source: src('A.5.12'),
    modality: 'risk-based',
    howEvidenced:
      'Fields holding personal, sensitive, health or cardholder data are classified in a known category, including every entity the record of processing names.',
    check: 'classification.inventory',
    coverage: {
      level: 'partial',
      evidences: 'the classification scheme is applied to the database fields holding protected data',
      notCovered:
        'information outside registered fields (documents, files, systems); classification by integrity and availability needs; approval of the scheme',
    },
  },
  {
    id: 'iso27001-a5.15',
    framework: 'iso27001',
    ref: 'A.5.15',
    title: 'Access control',
    requirement:
      'Rules to control physical and logical access to information and other associated assets should be established and implemented based on business and information security requirements.',
    source: src('A.5.15'),
    modality: 'risk-based',
    howEvidenced: 'The access-control policy refuses a request no policy grants (default deny).',
    check: 'authz.default-deny',
    coverage: {
      level: 'partial',
      evidences: 'logical access rules are enforced with a default deny',
      notCovered:
        'whether the rules match business and security requirements; physical access; other access layers',
    },
  },
  {
    id: 'iso27001-a5.17',
    framework: 'iso27001',
    ref: 'A.5.17',
    title: 'Authentication information',
    requirement:
      'Allocation and management of authentication information should be controlled by a management process, including advising personnel on its appropriate handling.',
    source: src('A.5.17'),
    modality: 'risk-based',
    howEvidenced: 'Stored passwords are argon2id hashes at or above the OWASP minimum parameters.',
    check: 'passwords.hashing',
    coverage: {
      level: 'partial',
      evidences: 'protection of stored passwords',
      notCovered:
        'the allocation and management process; advice to personnel; other authentication information',
    },
  },
  {
    id: 'iso27001-a5.18',
    framework: 'iso27001',
    ref: 'A.5.18',
    title: 'Access rights',
    requirement:
      'Access rights to information and other associated assets should be provisioned, reviewed, modified and removed in accordance with the topic-specific policy on and rules for access control.',
    source: src('A.5.18'),
    modality: 'risk-based',
    manual: {
      guidance: 'Attach the access-rights procedure and the latest periodic review of role assignments.',
    },
  },
  {
    id: 'iso27001-a5.24',
    framework: 'iso27001',
    ref: 'A.5.24',
    title: 'Information security incident management planning and preparation',
    requirement:
      'The organization should plan and prepare for managing information security incidents by defining, establishing and communicating incident management processes, roles and responsibilities.',
    source: src('A.5.24'),
    modality: 'risk-based',
    manual: { guidance: 'Attach the incident management plan with owners and escalation paths.' },
  },
  {
    id: 'iso27001-a5.26',
    framework: 'iso27001',
    ref: 'A.5.26',
    title: 'Response to information security incidents',
    requirement:
      'Information security incidents should be responded to in accordance with the documented procedures.',
    source: src('A.5.26'),
    modality: 'risk-based',
    howEvidenced: 'Every notification a recorded incident requires was sent or is still within its deadline.',
    check: 'breach.notifications',
    coverage: {
      level: 'partial',
      evidences: 'the notification step of the procedure, for recorded incidents',
      notCovered:
        'containment, eradication and recovery; incidents never recorded; the documented procedures themselves',
    },
  },
  {
    id: 'iso27001-a5.28',
    framework: 'iso27001',
    ref: 'A.5.28',
    title: 'Collection of evidence',
    requirement:
      'The organization should establish and implement procedures for the identification, collection, acquisition and preservation of evidence related to information security events.',
    source: src('A.5.28'),
    modality: 'risk-based',
    howEvidenced:
      'The audit trail is HMAC-keyed and pinned by verified signed checkpoints, so a later alteration is detectable and inclusion and consistency proofs can be produced for an investigation.',
    check: 'audit.tamper-evidence',
    coverage: {
      level: 'partial',
      evidences: 'preservation of the audit trail as evidence (tamper evidence, provable entries)',
      notCovered:
        'the procedures for identification, collection and acquisition; chain of custody; evidence outside the audit log',
    },
  },
  {
    id: 'iso27001-a5.33',
    framework: 'iso27001',
    ref: 'A.5.33',
    title: 'Protection of records',
    requirement:
      'Records should be protected from loss, destruction, falsification, unauthorized access and unauthorized release.',
    source: src('A.5.33'),
    modality: 'risk-based',
    howEvidenced:
      'Falsification of audit records is detectable: leaf hashes are HMAC-keyed and signed checkpoints are verified.',
    check: 'audit.tamper-evidence',
    coverage: {
      level: 'partial',
      evidences: 'detection of falsification of the audit records',
      notCovered:
        'prevention (tamper evidence detects, it does not prevent); loss, destruction, unauthorized access and release; records other than the audit log',
    },
  },
  {
    id: 'iso27001-a5.34',
    framework: 'iso27001',
    ref: 'A.5.34',
    title: 'Privacy and protection of personal identifiable information (PII)',
    requirement:
      'The organization should identify and meet the requirements regarding the preservation of privacy and protection of PII according to applicable laws and regulations and contractual requirements.',
    source: src('A.5.34'),
    modality: 'risk-based',
    howEvidenced: 'Classified PII fields are stored encrypted.',
    check: 'encryption.classified-fields',
    params: { categories: ['personal', 'sensitive', 'phi', 'cardholder'] },
    coverage: {
      level: 'partial',
      evidences: 'one protection measure: encryption at rest of classified PII fields',
      notCovered:
        'identification of the applicable legal and contractual requirements and meeting them (see the GDPR controls)',
    },
  },
  {
    id: 'iso27001-a8.2',
    framework: 'iso27001',
    ref: 'A.8.2',
    title: 'Privileged access rights',
    requirement: 'The allocation and use of privileged access rights should be restricted and managed.',
    source: src('A.8.2'),
    modality: 'risk-based',
    howEvidenced: 'Every emergency (break-glass) grant carries a reason and an audit record, and expires.',
    check: 'authz.break-glass-audited',
    coverage: {
      level: 'partial',
      evidences: 'emergency privileged grants are justified and recorded',
      notCovered: 'standing privileged roles and their allocation; privileged access outside the application',
    },
  },
  {
    id: 'iso27001-a8.5-mfa',
    framework: 'iso27001',
    ref: 'A.8.5',
    title: 'Secure authentication',
    requirement: A8_5,
    source: src('A.8.5', 'The control statement does not require multi-factor authentication.'),
    modality: 'risk-based',
    howEvidenced: 'The MFA policy refuses each privileged role that presents no second factor.',
    check: 'mfa.privileged',
    coverage: {
      level: 'partial',
      evidences: 'a second factor is demanded of privileged roles',
      notCovered:
        'the authentication technologies and procedures for other users; their basis in the access control policy',
    },
  },
  {
    id: 'iso27001-a8.5-attempts',
    framework: 'iso27001',
    ref: 'A.8.5',
    title: 'Secure authentication',
    requirement: A8_5,
    source: src('A.8.5'),
    modality: 'risk-based',
    howEvidenced: 'Failed sign-ins are limited per account or per source and account.',
    check: 'threat.brute-force',
    coverage: {
      level: 'partial',
      evidences: 'limits on unsuccessful authentication attempts',
      notCovered: 'the authentication technologies and procedures as a whole',
    },
  },
  {
    id: 'iso27001-a8.5-sessions',
    framework: 'iso27001',
    ref: 'A.8.5',
    title: 'Secure authentication',
    requirement: A8_5,
    source: src('A.8.5', 'ISO/IEC 27002 guidance: terminate inactive sessions after a defined period.'),
    modality: 'risk-based',
    howEvidenced:
      'Sessions end after a defined idle period and an absolute lifetime; a live probe through the store shows both refused.',
    check: 'sessions.timeouts',
    params: { maxIdleSec: 1800 },
    coverage: {
      level: 'partial',
      evidences: 'inactive application sessions are terminated',
      notCovered: 'the authentication technologies and procedures as a whole',
    },
  },
  {
    id: 'iso27001-a5.17-policy',
    framework: 'iso27001',
    ref: 'A.5.17',
    title: 'Authentication information',
    requirement:
      'Allocation and management of authentication information should be controlled by a management process, including advising personnel on its appropriate handling.',
    source: src('A.5.17'),
    modality: 'risk-based',
    howEvidenced:
      'Passwords chosen by users go through a NIST SP 800-63B policy (length, common / breached passwords, context words) that the hasher enforces.',
    check: 'passwords.policy',
    params: { minLength: 8 },
    coverage: {
      level: 'partial',
      evidences: 'quality requirements on passwords users choose',
      notCovered:
        'the allocation and management process; advice to personnel; other authentication information',
    },
  },
  {
    id: 'iso27001-a8.9',
    framework: 'iso27001',
    ref: 'A.8.9',
    title: 'Configuration management',
    requirement:
      'Configurations, including security configurations, of hardware, software, services and networks should be established, documented, implemented, monitored and reviewed.',
    source: src('A.8.9'),
    modality: 'risk-based',
    manual: { guidance: 'Attach the configuration baselines and the drift-monitoring evidence.' },
  },
  {
    id: 'iso27001-a8.10',
    framework: 'iso27001',
    ref: 'A.8.10',
    title: 'Information deletion',
    requirement:
      'Information stored in information systems, devices or in any other storage media should be deleted when no longer required.',
    source: src('A.8.10'),
    modality: 'risk-based',
    howEvidenced:
      'Each registered store of personal data has a retention period and its last purge run succeeded within the allowed interval.',
    check: 'privacy.data-retention',
    coverage: {
      level: 'partial',
      evidences: 'scheduled, successful deletion of expired personal data in registered stores',
      notCovered: 'information other than personal data; devices and media; stores not registered; backups',
    },
  },
  {
    id: 'iso27001-a8.12',
    framework: 'iso27001',
    ref: 'A.8.12',
    title: 'Data leakage prevention',
    requirement:
      'Data leakage prevention measures should be applied to systems, networks and any other devices that process, store or transmit sensitive information.',
    source: src('A.8.12'),
    modality: 'risk-based',
    manual: {
      guidance: 'Describe the data-leakage controls (egress filtering, DLP tooling) and their alerts.',
    },
  },
  {
    id: 'iso27001-a8.13',
    framework: 'iso27001',
    ref: 'A.8.13',
    title: 'Information backup',
    requirement:
      'Backup copies of information, software and systems should be maintained and regularly tested in accordance with the agreed topic-specific policy on backup.',
    source: src('A.8.13'),
    modality: 'risk-based',
    manual: { guidance: 'Attach the backup policy and the latest restore-test record.' },
  },
  {
    id: 'iso27001-a8.15',
    framework: 'iso27001',
    ref: 'A.8.15',
    title: 'Logging',
    requirement: A8_15,
    source: src('A.8.15'),
    modality: 'risk-based',
    howEvidenced: 'The audit log is in use and holds events.',
    check: 'audit.enabled',
    coverage: {
      level: 'partial',
      evidences: 'logs are produced',
      notCovered:
        'what is logged (activities, exceptions, faults); storage, protection and analysis (see the other A.8.15 controls)',
    },
  },
  {
    id: 'iso27001-a8.15-verified',
    framework: 'iso27001',
    ref: 'A.8.15',
    title: 'Logging',
    requirement: A8_15,
    source: src('A.8.15'),
    modality: 'risk-based',
    howEvidenced: 'The audit trail\u2019s hash chain was verified within 24 hours and found intact.',
    check: 'audit.verified',
    coverage: {
      level: 'partial',
      evidences: 'logs are protected: their integrity is verified on a schedule',
      notCovered: 'production, storage and analysis of the logs',
    },
  },
  {
    id: 'iso27001-a8.15-analysed',
    framework: 'iso27001',
    ref: 'A.8.15',
    title: 'Logging',
    requirement: A8_15,
    source: src('A.8.15'),
    modality: 'risk-based',
    howEvidenced: 'A reviewer recorded a review of the audit log within the last week.',
    check: 'audit.review',
    coverage: {
      level: 'partial',
      evidences: 'logs are analysed: a review by a person or review job is recorded',
      notCovered: 'what the review examined and found; logs other than the audit log',
    },
  },
  {
    id: 'iso27001-a8.16',
    framework: 'iso27001',
    ref: 'A.8.16',
    title: 'Monitoring activities',
    requirement:
      'Networks, systems and applications should be monitored for anomalous behaviour and appropriate actions taken to evaluate potential information security incidents.',
    source: src('A.8.16'),
    modality: 'risk-based',
    howEvidenced: 'A threat detector runs rules over the application audit stream and reports violations.',
    check: 'threat.detection',
    coverage: {
      level: 'partial',
      evidences: 'anomaly detection over the application\u2019s audit stream',
      notCovered: 'networks and systems; the evaluation of potential incidents',
    },
  },
  {
    id: 'iso27001-a8.24',
    framework: 'iso27001',
    ref: 'A.8.24',
    title: 'Use of cryptography',
    requirement: A8_24,
    source: src('A.8.24'),
    modality: 'risk-based',
    howEvidenced:
      'Data keys are rotated within the crypto-period (90 days unless configured, or the key\u2019s own shorter rotateEvery).',
    check: 'keys.rotation',
    coverage: {
      level: 'partial',
      evidences: 'one key-management rule: data-key age within the rotation period',
      notCovered:
        'the defined rules for the use of cryptography; the rest of key management (generation, distribution, storage, destruction); keys outside the key ring',
    },
  },
  {
    id: 'iso27001-a8.24-algorithms',
    framework: 'iso27001',
    ref: 'A.8.24',
    title: 'Use of cryptography',
    requirement: A8_24,
    source: src('A.8.24'),
    modality: 'risk-based',
    howEvidenced:
      'Every usable data-key version uses an approved authenticated-encryption algorithm (AES-256-GCM or ChaCha20-Poly1305).',
    check: 'keys.algorithms',
    coverage: {
      level: 'partial',
      evidences: 'one rule: data keys use approved algorithms',
      notCovered: 'the defined rules themselves; TLS and signing algorithms; key management',
    },
  },
  {
    id: 'iso27001-a8.24-token-keys',
    framework: 'iso27001',
    ref: 'A.8.24',
    title: 'Use of cryptography',
    requirement: A8_24,
    source: src('A.8.24'),
    modality: 'risk-based',
    howEvidenced:
      'The registered TokenService signs and verifies with keys of the strength its algorithms need: an HMAC secret shorter than 32 bytes, accepted only through the named legacy opt-in while an app rotates, fails.',
    check: 'tokens.keys',
    coverage: {
      level: 'partial',
      evidences: 'one rule: token keys are not weaker than their algorithms',
      notCovered:
        'the defined rules themselves; key generation, storage and rotation of token keys; tokens issued outside Bulwark',
    },
  },
  {
    id: 'iso27001-a8.26',
    framework: 'iso27001',
    ref: 'A.8.26',
    title: 'Application security requirements',
    requirement:
      'Information security requirements should be identified, specified and approved when developing or acquiring applications.',
    source: src('A.8.26'),
    modality: 'risk-based',
    manual: {
      guidance:
        'Attach the application security requirements (e.g. an ASVS level chosen per application), who approved them and when. Bulwark\u2019s headers and CSRF protection are evidenced under A.8.28.',
    },
  },
  {
    id: 'iso27001-a8.28-headers',
    framework: 'iso27001',
    ref: 'A.8.28',
    title: 'Secure coding',
    requirement: A8_28,
    source: src('A.8.28'),
    modality: 'risk-based',
    howEvidenced:
      'Web responses carry HSTS, a content security policy, nosniff, framing and referrer headers.',
    check: 'http.security-headers',
    coverage: {
      level: 'partial',
      evidences: 'one secure-coding practice in the running apps: browser security headers',
      notCovered:
        'secure coding principles across development (input validation, output encoding, review, testing)',
    },
  },
  {
    id: 'iso27001-a8.28-csrf',
    framework: 'iso27001',
    ref: 'A.8.28',
    title: 'Secure coding',
    requirement: A8_28,
    source: src('A.8.28'),
    modality: 'risk-based',
    howEvidenced: 'State-changing browser requests are protected against cross-site request forgery.',
    check: 'http.csrf',
    coverage: {
      level: 'partial',
      evidences: 'one secure-coding practice in the running apps: CSRF protection',
      notCovered:
        'secure coding principles across development (input validation, output encoding, review, testing)',
    },
  },
];
