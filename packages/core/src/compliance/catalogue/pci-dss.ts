import { ROTATION_PRESETS } from '../../crypto/rotation-policy';
import type { ControlDefinition, ControlSource } from '../control';

const EDITION = 'PCI DSS v4.0.1 (June 2024), Requirements and Testing Procedures';
const FUTURE_DATED = 'A best practice until 31 March 2025; required since.';
const src = (requirement: string, note?: string): ControlSource => ({
  edition: EDITION,
  clause: `Requirement ${requirement}`,
  ...(note === undefined ? {} : { note }),
});

/**
 * PCI DSS v4.0.1 requirements. PCI requirements have no titles: titles shorten the requirement
 * statement; requirements paraphrase it (all PCI DSS requirements are mandatory for in-scope
 * system components; future-dated ones say so in the source note).
 */
export const PCI_DSS_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'pci-3.5.1',
    framework: 'pci',
    ref: 'Req. 3.5.1',
    title: 'PAN is rendered unreadable anywhere it is stored',
    requirement:
      'PAN is rendered unreadable anywhere it is stored by one of: one-way hashes based on strong cryptography of the entire PAN; truncation (hashing cannot replace the truncated segment); index tokens; or strong cryptography with associated key-management processes and procedures.',
    source: src('3.5.1'),
    modality: 'required',
    howEvidenced: 'Fields classified as cardholder data are stored encrypted by the key ring.',
    check: 'encryption.classified-fields',
    params: { categories: ['cardholder'] },
    coverage: {
      level: 'partial',
      evidences: 'classified PAN fields are stored under strong cryptography',
      notCovered:
        'PAN in non-primary storage (audit and exception logs, backups, exports); PAN fields not classified; the key-management processes (3.6, 3.7)',
    },
  },
  {
    id: 'pci-3.5.1.1',
    framework: 'pci',
    ref: 'Req. 3.5.1.1',
    title: 'Hashes used to render PAN unreadable are keyed cryptographic hashes',
    requirement:
      'Hashes used to render PAN unreadable (per the first option of 3.5.1) are keyed cryptographic hashes of the entire PAN, with associated key-management processes and procedures in accordance with Requirements 3.6 and 3.7.',
    source: src('3.5.1.1', FUTURE_DATED),
    modality: 'required',
    howEvidenced:
      'Cardholder fields indexed for lookup use the key ring\u2019s blind index, an HMAC under a key derived from the ring (keyed by construction), and the value itself is stored encrypted.',
    check: 'hashing.keyed-pan',
    coverage: {
      level: 'partial',
      evidences: 'lookup hashes of classified PAN fields are keyed',
      notCovered:
        'whether the index covers the entire PAN (an index of the last four digits is not such a hash); hashes computed outside Bulwark; the 3.6 and 3.7 processes for the index key',
    },
  },
  {
    id: 'pci-3.6.1',
    framework: 'pci',
    ref: 'Req. 3.6.1',
    title: 'Procedures protect cryptographic keys used to protect stored account data',
    requirement:
      'Procedures are defined and implemented to protect cryptographic keys used to protect stored account data against disclosure and misuse, including: access to keys restricted to the fewest custodians necessary; key-encrypting keys at least as strong as the data-encrypting keys they protect; key-encrypting keys stored separately from data-encrypting keys; keys stored securely in the fewest possible locations and forms.',
    source: src('3.6.1'),
    modality: 'required',
    manual: {
      guidance:
        'Document the key custodians, and show that the key ring\u2019s master key (the key-encrypting key) is at least as strong as the data keys and kept apart from the key store (environment or KMS versus database), with the procedures that govern access to both.',
    },
  },
  {
    id: 'pci-3.7.4',
    framework: 'pci',
    ref: 'Req. 3.7.4',
    title: 'Cryptographic keys are changed at the end of their cryptoperiod',
    requirement:
      'Key changes for cryptographic keys that have reached the end of their cryptoperiod, as defined by the associated application vendor or key owner and based on industry best practices and guidelines, are defined and implemented, including a defined cryptoperiod for each key type in use and a process for key changes at the end of it.',
    source: src('3.7.4'),
    modality: 'required',
    howEvidenced:
      'Every data key\u2019s primary version is younger than the defined cryptoperiod (90 days: ROTATION_PRESETS.pci; or the key\u2019s own shorter rotateEvery), and none is past its expiry.',
    check: 'keys.rotation',
    params: { maxAgeDays: ROTATION_PRESETS.pci.rotateEvery },
    coverage: {
      level: 'partial',
      evidences: 'data keys are changed within the configured cryptoperiod',
      notCovered:
        'the definition of the cryptoperiod; keys outside the key ring (TLS, signing, the master key); the policies and procedures',
    },
  },
  {
    id: 'pci-4.2.1',
    framework: 'pci',
    ref: 'Req. 4.2.1',
    title: 'Strong cryptography safeguards PAN during transmission over open, public networks',
    requirement:
      'Strong cryptography and security protocols are implemented to safeguard PAN during transmission over open, public networks: only trusted keys and certificates are accepted; certificates are confirmed valid and not expired or revoked; the protocol supports only secure versions or configurations, without fallback to insecure ones; the encryption strength is appropriate for the methodology in use.',
    source: src('4.2.1'),
    modality: 'required',
    howEvidenced:
      'The HTTP adapters record the TLS each request arrived over: protocol and cipher negotiated in Node, or a declared TLS-terminating proxy (X-Forwarded-Proto from a trusted proxy); any plain-HTTP request fails the check.',
    check: 'http.transport-security',
    coverage: {
      level: 'partial',
      evidences:
        'TLS observed on the apps\u2019 inbound HTTP (TLS 1.2 or later with an AEAD cipher negotiated in Node, or a declared terminator)',
      notCovered:
        'certificate validity and trust (and the 4.2.1.1 key and certificate inventory); transmissions other than inbound HTTP',
    },
  },
  {
    id: 'pci-6.2.4',
    framework: 'pci',
    ref: 'Req. 6.2.4',
    title: 'Software engineering techniques prevent or mitigate common software attacks',
    requirement:
      'Software engineering techniques or other methods are defined and in use by software-development personnel to prevent or mitigate common software attacks and related vulnerabilities in bespoke and custom software: injection attacks; attacks on data and data structures; attacks on cryptography usage; attacks on business logic, including cross-site scripting and cross-site request forgery; attacks on access-control mechanisms; and attacks via any high-risk vulnerabilities identified.',
    source: src('6.2.4'),
    modality: 'required',
    howEvidenced:
      'State-changing browser requests to the registered web apps are protected against cross-site request forgery.',
    check: 'http.csrf',
    coverage: {
      level: 'partial',
      evidences: 'one attack class mitigated in the running apps: cross-site request forgery',
      notCovered: 'the other attack classes; the techniques defined for and used by developers',
    },
  },
  {
    id: 'pci-6.4.2',
    framework: 'pci',
    ref: 'Req. 6.4.2',
    title: 'An automated technical solution detects and prevents web-based attacks',
    requirement:
      'For public-facing web applications, an automated technical solution is deployed that continually detects and prevents web-based attacks: installed in front of the applications, actively running and up to date, generating audit logs, and configured to block web-based attacks or to generate an alert that is immediately investigated.',
    source: src(
      '6.4.2',
      `${FUTURE_DATED} It supersedes 6.4.1 (which allowed periodic vulnerability assessments instead) after that date.`,
    ),
    modality: 'required',
    manual: {
      guidance:
        'Attach the web application firewall (or equivalent) configuration, its update status, its logs and its blocking or alerting mode. Browser security headers and CSRF protection are not such a solution.',
    },
  },
  {
    id: 'pci-7.2.1',
    framework: 'pci',
    ref: 'Req. 7.2.1',
    title: 'An access control model is defined',
    requirement:
      'An access control model is defined and includes granting access as follows: appropriate access depending on the entity\u2019s business and access needs; access to system components and data resources based on users\u2019 job classification and functions; the least privileges required to perform a job function.',
    source: src('7.2.1'),
    modality: 'required',
    manual: {
      guidance:
        'Document the model: each role of the access-control policy, the job functions it serves and the privileges it grants. Default deny is evidenced separately by pci-7.3.3.',
    },
  },
  {
    id: 'pci-7.2.2',
    framework: 'pci',
    ref: 'Req. 7.2.2',
    title: 'Access is assigned based on job classification and function with least privileges',
    requirement:
      'Access is assigned to users, including privileged users, based on job classification and function, and the least privileges necessary to perform job responsibilities.',
    source: src('7.2.2'),
    modality: 'required',
    manual: { guidance: 'Map each role in the policy to job functions and record who approved the mapping.' },
  },
  {
    id: 'pci-7.2.4',
    framework: 'pci',
    ref: 'Req. 7.2.4',
    title: 'User accounts and access privileges are reviewed at least once every six months',
    requirement:
      'All user accounts and related access privileges, including third-party and vendor accounts, are reviewed at least once every six months to ensure they remain appropriate; inappropriate access is addressed, and management acknowledges that access remains appropriate.',
    source: src('7.2.4', FUTURE_DATED),
    modality: 'required',
    manual: {
      guidance:
        'Attach the latest semi-annual account review, its outcomes and management\u2019s acknowledgement.',
    },
  },
  {
    id: 'pci-7.3.3',
    framework: 'pci',
    ref: 'Req. 7.3.3',
    title: 'The access control system is set to \u201cdeny all\u201d by default',
    requirement: 'The access control system(s) is set to \u201cdeny all\u201d by default.',
    source: src('7.3.3'),
    modality: 'required',
    howEvidenced:
      'The access-control policy refuses a request no policy grants (an unknown subject, action and resource).',
    check: 'authz.default-deny',
    coverage: {
      level: 'partial',
      evidences: 'the application\u2019s access control system denies by default',
      notCovered: 'other access control systems (database, operating system, network)',
    },
  },
  {
    id: 'pci-8.2.8',
    framework: 'pci',
    ref: 'Req. 8.2.8',
    title: 'Re-authentication after more than 15 minutes of session idle time',
    requirement:
      'If a user session has been idle for more than 15 minutes, the user is required to re-authenticate to re-activate the terminal or session.',
    source: src('8.2.8'),
    modality: 'required',
    howEvidenced:
      'The session engine ends sessions after at most 15 minutes of idle time; a live probe through its store shows an idle session refused.',
    check: 'sessions.timeouts',
    params: { maxIdleSec: 900 },
    coverage: {
      level: 'partial',
      evidences:
        'application sessions through Bulwark\u2019s session engine need re-authentication after 15 idle minutes',
      notCovered:
        'terminals, consoles and sessions of other systems (operating system, database, network devices)',
    },
  },
  {
    id: 'pci-8.3.2',
    framework: 'pci',
    ref: 'Req. 8.3.2',
    title: 'Strong cryptography renders all authentication factors unreadable',
    requirement:
      'Strong cryptography is used to render all authentication factors unreadable during transmission and storage on all system components.',
    source: src('8.3.2'),
    modality: 'required',
    howEvidenced: 'Stored passwords are argon2id hashes at or above the OWASP minimum parameters.',
    check: 'passwords.hashing',
    coverage: {
      level: 'partial',
      evidences: 'stored passwords are unreadable',
      notCovered:
        'other factors (TOTP secrets, recovery codes); all factors in transmission; other system components',
    },
  },
  {
    id: 'pci-8.3.4',
    framework: 'pci',
    ref: 'Req. 8.3.4',
    title: 'Invalid authentication attempts are limited',
    requirement:
      'Invalid authentication attempts are limited by locking out the user ID after not more than 10 attempts, and setting the lockout duration to a minimum of 30 minutes or until the user\u2019s identity is confirmed.',
    source: src('8.3.4'),
    modality: 'required',
    howEvidenced:
      'The per-account limit locks the user ID after at most 10 failures for at least 30 minutes, whatever the source of the attempts.',
    check: 'threat.brute-force',
    params: { scope: 'account', maxFailures: 10, minLockoutSec: 1800, lockout: 'hard' },
    coverage: {
      level: 'full',
      evidences: 'the configured per-account lockout meets both limits',
      notCovered: 'authentication paths that do not go through the brute-force guard',
    },
  },
  {
    id: 'pci-8.3.6',
    framework: 'pci',
    ref: 'Req. 8.3.6',
    title: 'Passwords meet a minimum level of complexity',
    requirement:
      'If passwords or passphrases are used as authentication factors, they have a minimum length of 12 characters (8 if the system does not support 12) and contain both numeric and alphabetic characters.',
    source: src('8.3.6', FUTURE_DATED),
    modality: 'required',
    howEvidenced:
      'The password policy the hasher enforces needs at least 12 characters for every account and refuses common and breached passwords (live probes).',
    check: 'passwords.policy',
    params: { minLength: 12, composition: true },
    coverage: {
      level: 'partial',
      evidences: 'minimum length of passwords hashed through the policy-enforcing hasher',
      notCovered:
        'the numeric-and-alphabetic composition rule (NIST SP 800-63B forbids composition rules: a customized approach); passwords of other system components',
    },
  },
  {
    id: 'pci-8.4.1',
    framework: 'pci',
    ref: 'Req. 8.4.1',
    title: 'MFA for all non-console administrative access into the CDE',
    requirement:
      'MFA is implemented for all non-console access into the CDE for personnel with administrative access.',
    source: src('8.4.1'),
    modality: 'required',
    howEvidenced: 'The MFA policy refuses each privileged role that presents no second factor.',
    check: 'mfa.privileged',
    coverage: {
      level: 'partial',
      evidences: 'the application demands a second factor of administrative roles',
      notCovered:
        'enforcement on every administrative route (the policy\u2019s answer is observed, not traffic); administrative access outside the application',
    },
  },
  {
    id: 'pci-8.4.2',
    framework: 'pci',
    ref: 'Req. 8.4.2',
    title: 'MFA for all access into the CDE',
    requirement: 'MFA is implemented for all access into the CDE.',
    source: src(
      '8.4.2',
      `${FUTURE_DATED} Applicability notes exempt application or system accounts performing automated functions and (added in v4.0.1) user accounts authenticated only with phishing-resistant factors.`,
    ),
    modality: 'required',
    manual: {
      guidance:
        'Show that every role reaching cardholder data is refused without a second factor (MFA policy requiredFor all those roles, or every subject) and that the policy is enforced on those routes.',
    },
  },
  {
    id: 'pci-10.2.1',
    framework: 'pci',
    ref: 'Req. 10.2.1',
    title: 'Audit logs are enabled and active for all system components and cardholder data',
    requirement: 'Audit logs are enabled and active for all system components and cardholder data.',
    source: src('10.2.1'),
    modality: 'required',
    howEvidenced: 'The audit log is in use and holds events.',
    check: 'audit.enabled',
    coverage: {
      level: 'partial',
      evidences: 'the application\u2019s audit log is active',
      notCovered: 'other system components; the event types of 10.2.1.1-10.2.1.7',
    },
  },
  {
    id: 'pci-10.3.2',
    framework: 'pci',
    ref: 'Req. 10.3.2',
    title: 'Audit log files are protected to prevent modifications by individuals',
    requirement: 'Audit log files are protected to prevent modifications by individuals.',
    source: src('10.3.2'),
    modality: 'required',
    manual: {
      guidance:
        'Show who can write to or delete from the audit store (database grants, file permissions, an append-only role) and that no individual account can modify entries. Tamper evidence detects changes (10.3.4); it does not prevent them.',
    },
  },
  {
    id: 'pci-10.3.4',
    framework: 'pci',
    ref: 'Req. 10.3.4',
    title: 'File integrity monitoring or change detection is used on audit logs',
    requirement:
      'File integrity monitoring or change-detection mechanisms are used on audit logs to ensure that existing log data cannot be changed without generating alerts.',
    source: src('10.3.4'),
    modality: 'required',
    howEvidenced: 'The audit log\u2019s hash chain was verified within 24 hours and found intact.',
    check: 'audit.verified',
    coverage: {
      level: 'partial',
      evidences: 'change detection runs on a schedule and found no change',
      notCovered: 'alerts on a detected change (a failed verification is reported, not alerted, here)',
    },
  },
  {
    id: 'pci-10.3.4-tamper',
    framework: 'pci',
    ref: 'Req. 10.3.4',
    title: 'File integrity monitoring or change detection is used on audit logs',
    requirement:
      'File integrity monitoring or change-detection mechanisms are used on audit logs to ensure that existing log data cannot be changed without generating alerts.',
    source: src('10.3.4'),
    modality: 'required',
    howEvidenced:
      'Leaf hashes are HMAC-keyed and verified signed checkpoints pin the log\u2019s state, so a change is detectable.',
    check: 'audit.tamper-evidence',
    coverage: {
      level: 'partial',
      evidences: 'the change-detection mechanism is in place (keyed hashes, signed checkpoints)',
      notCovered: 'generating alerts; how often it runs (see pci-10.3.4)',
    },
  },
  {
    id: 'pci-10.4.1',
    framework: 'pci',
    ref: 'Req. 10.4.1',
    title: 'Audit logs are reviewed at least once daily',
    requirement:
      'The following audit logs are reviewed at least once daily: all security events; logs of all system components that store, process, or transmit CHD and/or SAD or could impact their security; logs of all critical system components; logs of all servers and system components that perform security functions.',
    source: src('10.4.1'),
    modality: 'required',
    howEvidenced:
      'A reviewer (a person or a review job) recorded a review of the audit log within the last 24 hours.',
    check: 'audit.review',
    params: { maxAgeHours: 24 },
    coverage: {
      level: 'partial',
      evidences: 'a recorded daily review of the application audit log',
      notCovered: 'logs of other system components; what the review examined and found',
    },
  },
  {
    id: 'pci-10.4.1.1',
    framework: 'pci',
    ref: 'Req. 10.4.1.1',
    title: 'Automated mechanisms are used to perform audit log reviews',
    requirement: 'Automated mechanisms are used to perform audit log reviews.',
    source: src('10.4.1.1', FUTURE_DATED),
    modality: 'required',
    howEvidenced:
      'A threat detector runs rules over the audit stream and sends violations to the audit log or alert listeners.',
    check: 'threat.detection',
    coverage: {
      level: 'full',
      evidences: 'an automated mechanism reviews the audit stream',
      notCovered: 'logs that do not reach the audit stream',
    },
  },
  {
    id: 'pci-10.5.1',
    framework: 'pci',
    ref: 'Req. 10.5.1',
    title: 'Audit log history is retained for at least 12 months',
    requirement:
      'Audit log history is retained for at least 12 months, with at least the most recent three months immediately available for analysis.',
    source: src('10.5.1'),
    modality: 'required',
    howEvidenced: 'Audit-log categories are retained for at least 366 days.',
    check: 'audit.retention',
    // Twelve months that include a 29 February are 366 days.
    params: { minDays: 366 },
    coverage: {
      level: 'partial',
      evidences: 'configured retention of at least twelve months',
      notCovered:
        'the most recent three months immediately available for analysis; logs of other system components',
    },
  },
  {
    id: 'pci-10.7.2',
    framework: 'pci',
    ref: 'Req. 10.7.2',
    title: 'Failures of critical security control systems are detected, alerted, and addressed promptly',
    requirement:
      'Failures of critical security control systems are detected, alerted, and addressed promptly, including but not limited to failure of: network security controls, IDS/IPS, change-detection mechanisms, anti-malware solutions, physical access controls, logical access controls, audit logging mechanisms, segmentation controls (if used), audit log review mechanisms, and automated security testing tools (if used).',
    source: src('10.7.2', FUTURE_DATED),
    modality: 'required',
    howEvidenced: 'The audit log counts its failed writes and is not failing now.',
    check: 'audit.write-health',
    coverage: {
      level: 'partial',
      evidences: 'failures of audit logging are detected (counted and exposed), and logging works now',
      notCovered: 'alerting and prompt response; the other critical security control systems listed',
    },
  },
  {
    id: 'pci-12.3.3',
    framework: 'pci',
    ref: 'Req. 12.3.3',
    title: 'Cryptographic cipher suites and protocols in use are documented and reviewed',
    requirement:
      'Cryptographic cipher suites and protocols in use are documented and reviewed at least once every 12 months, including an up-to-date inventory, active monitoring of industry trends regarding their continued viability, and a documented strategy to respond to anticipated changes in cryptographic vulnerabilities.',
    source: src('12.3.3', FUTURE_DATED),
    modality: 'required',
    howEvidenced:
      'An inventory of the algorithm of every usable data-key version, each on the approved list (AES-256-GCM, ChaCha20-Poly1305).',
    check: 'keys.algorithms',
    coverage: {
      level: 'partial',
      evidences: 'an up-to-date inventory of data-key algorithms, all approved',
      notCovered:
        'TLS cipher suites and protocols; the 12-monthly review, monitoring of industry trends and the response strategy',
    },
  },
  {
    id: 'pci-12.8.2',
    framework: 'pci',
    ref: 'Req. 12.8.2',
    title: 'Written agreements with TPSPs are maintained',
    requirement:
      'Written agreements with third-party service providers are maintained, including acknowledgements from them that they are responsible for the security of account data they possess or otherwise store, process, or transmit on the entity\u2019s behalf, or to the extent that they could impact the security of the entity\u2019s CDE.',
    source: src('12.8.2'),
    modality: 'required',
    howEvidenced: 'Every recipient whose role requires one has a signed, unexpired agreement.',
    check: 'processors.agreements',
    coverage: {
      level: 'partial',
      evidences: 'signed agreements in force for recorded providers',
      notCovered:
        'the acknowledgement of responsibility for account data; providers recorded under a role that needs no agreement',
    },
  },
  {
    id: 'pci-12.10.1',
    framework: 'pci',
    ref: 'Req. 12.10.1',
    title: 'An incident response plan exists and is ready to be activated',
    requirement:
      'An incident response plan exists and is ready to be activated in the event of a suspected or confirmed security incident, including roles and communication strategies, incident response procedures, business recovery and continuity, data backup processes, analysis of legal requirements for reporting compromises, coverage of all critical system components, and reference to the payment brands\u2019 incident response procedures.',
    source: src('12.10.1'),
    modality: 'required',
    manual: { guidance: 'Attach the incident response plan and the record of its last annual test.' },
  },
];
