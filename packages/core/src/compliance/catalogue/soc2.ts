import type { ControlDefinition, ControlSource } from '../control';

const EDITION = 'AICPA 2017 Trust Services Criteria (revised points of focus, 2022), common criteria';
const src = (clause: string, note?: string): ControlSource => ({
  edition: EDITION,
  clause,
  ...(note === undefined ? {} : { note }),
});

const CC6_1 =
  'The entity implements logical access security software, infrastructure, and architectures over protected information assets to protect them from security events to meet its objectives.';
const CC6_3 =
  'The entity authorizes, modifies, or removes access to data, software, functions, and other protected information assets based on roles, responsibilities, or the system design and changes, giving consideration to least privilege and segregation of duties.';
const CC6_6 =
  'The entity implements logical access security measures to protect against threats from sources outside its system boundaries.';
const CC7_2 =
  'The entity monitors system components and their operation for anomalies indicative of malicious acts, natural disasters, and errors affecting its ability to meet its objectives; anomalies are analyzed to determine whether they represent security events.';
const CC7_4 =
  'The entity responds to identified security incidents by executing a defined incident-response program to understand, contain, remediate, and communicate security incidents, as appropriate.';

/**
 * SOC 2 common criteria (security). The TSC give criteria no titles: titles are short faithful
 * paraphrases, with the AICPA point of focus named where a control evidences one. Points of focus
 * illustrate a criterion; they are not requirements of their own.
 */
export const SOC2_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'soc2-cc4.1',
    framework: 'soc2',
    ref: 'CC4.1',
    title: 'Ongoing and/or separate evaluations of internal control',
    requirement:
      'The entity selects, develops, and performs ongoing and/or separate evaluations to ascertain whether the components of internal control are present and functioning.',
    source: src('CC4.1'),
    modality: 'required',
    howEvidenced:
      'One ongoing evaluation runs on a schedule: the audit trail\u2019s hash chain is verified (within 24 hours) and found intact.',
    check: 'audit.verified',
    coverage: {
      level: 'partial',
      evidences: 'one ongoing evaluation (audit-trail integrity) is performed and passing',
      notCovered:
        'evaluations of the other components of internal control; separate evaluations and who performs them',
    },
  },
  {
    id: 'soc2-cc6.1-access',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Logical access security (point of focus: restricts logical access)',
    requirement: `${CC6_1} Point of focus: logical access to information assets is restricted through access control software and rule sets.`,
    source: src('CC6.1, point of focus "Restricts Logical Access"'),
    modality: 'required',
    howEvidenced: 'The access-control policy refuses a request no policy grants (default deny).',
    check: 'authz.default-deny',
    coverage: {
      level: 'partial',
      evidences: 'the application\u2019s access control refuses what no rule grants',
      notCovered:
        'whether the granted rules are appropriate; infrastructure and other access control layers; the other CC6.1 points of focus',
    },
  },
  {
    id: 'soc2-cc6.1-inventory',
    framework: 'soc2',
    ref: 'CC6.1',
    title:
      'Logical access security (point of focus: identifies, inventories, classifies and manages information assets)',
    requirement: `${CC6_1} Point of focus: the entity identifies, inventories, classifies, and manages information assets.`,
    source: src(
      'CC6.1, point of focus "Identifies, Inventories, Classifies, and Manages Information Assets"',
    ),
    modality: 'required',
    howEvidenced:
      'Fields holding personal, sensitive, health or cardholder data are classified, including every entity the record of processing names.',
    check: 'classification.inventory',
    coverage: {
      level: 'partial',
      evidences: 'classification of the database fields that hold protected data',
      notCovered:
        'information assets other than registered fields (documents, systems, devices); asset ownership and management',
    },
  },
  {
    id: 'soc2-cc6.1-encryption',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Logical access security (point of focus: uses encryption to protect data)',
    requirement: `${CC6_1} Point of focus: encryption supplements other measures protecting data at rest, when such protections are deemed appropriate based on assessed risk.`,
    source: src('CC6.1, point of focus "Uses Encryption to Protect Data"'),
    modality: 'risk-based',
    howEvidenced: 'Classified personal, health, cardholder and sensitive fields are stored encrypted.',
    check: 'encryption.classified-fields',
    params: { categories: ['personal', 'sensitive', 'phi', 'cardholder'] },
    coverage: {
      level: 'partial',
      evidences: 'encryption at rest of the classified fields',
      notCovered:
        'the risk assessment deciding where encryption is appropriate; data outside classified fields',
    },
  },
  {
    id: 'soc2-cc6.1-keys',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Logical access security (point of focus: protects encryption keys)',
    requirement: `${CC6_1} Point of focus: processes are in place to protect encryption keys during generation, storage, use, and destruction.`,
    source: src('CC6.1, point of focus "Protects Encryption Keys"'),
    modality: 'required',
    howEvidenced:
      'Data keys are rotated within the crypto-period (90 days unless configured, or the key\u2019s own shorter rotateEvery).',
    check: 'keys.rotation',
    coverage: {
      level: 'partial',
      evidences: 'data-key age within the rotation period',
      notCovered:
        'the protection of keys during generation, storage, use and destruction (the point of focus itself); keys outside the key ring',
    },
  },
  {
    id: 'soc2-cc6.1-passwords',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Logical access security (point of focus: identifies and authenticates users)',
    requirement: `${CC6_1} Point of focus: persons, infrastructure and software are identified and authenticated prior to accessing information assets.`,
    source: src('CC6.1, point of focus "Identifies and Authenticates Users"'),
    modality: 'required',
    howEvidenced: 'Stored passwords are argon2id hashes at or above the OWASP minimum parameters.',
    check: 'passwords.hashing',
    coverage: {
      level: 'partial',
      evidences: 'protection of stored passwords',
      notCovered:
        'identification and authentication of users as a whole (sign-in, other factors, infrastructure and software identities)',
    },
  },
  {
    id: 'soc2-cc6.1-password-policy',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Logical access security (point of focus: identifies and authenticates users)',
    requirement: `${CC6_1} Point of focus: persons, infrastructure and software are identified and authenticated prior to accessing information assets.`,
    source: src('CC6.1, point of focus "Identifies and Authenticates Users"'),
    modality: 'required',
    howEvidenced:
      'Passwords chosen by users go through a NIST SP 800-63B policy (length, common / breached passwords, context words) that the hasher enforces.',
    check: 'passwords.policy',
    params: { minLength: 8 },
    coverage: {
      level: 'partial',
      evidences: 'the strength of passwords users authenticate with',
      notCovered:
        'identification and authentication as a whole (sign-in, other factors, infrastructure and software identities)',
    },
  },
  {
    id: 'soc2-cc6.2',
    framework: 'soc2',
    ref: 'CC6.2',
    title: 'Registration, authorisation and removal of users',
    requirement:
      'Prior to issuing system credentials and granting system access, the entity registers and authorizes new internal and external users whose access it administers; their credentials are removed when access is no longer authorized.',
    source: src('CC6.2'),
    modality: 'required',
    manual: {
      guidance:
        'Provide the joiner / mover / leaver procedure and a sample of tickets showing approval before access and removal on departure.',
    },
  },
  {
    id: 'soc2-cc6.3-review',
    framework: 'soc2',
    ref: 'CC6.3',
    title: 'Role-based authorisation, modification and removal of access',
    requirement: CC6_3,
    source: src(
      'CC6.3',
      'Periodic review of access appears as a CC6.2 point of focus ("Reviews Appropriateness of Access Credentials").',
    ),
    modality: 'required',
    manual: {
      guidance:
        'Attach the role model (roles, least privilege, segregation of duties) and the latest access review (who reviewed, when, changes made).',
    },
  },
  {
    id: 'soc2-cc6.3-emergency',
    framework: 'soc2',
    ref: 'CC6.3',
    title: 'Role-based authorisation, modification and removal of access',
    requirement: CC6_3,
    source: src(
      'CC6.3',
      'Emergency access is not a CC6.3 point of focus; it is evidenced here as one kind of access modification.',
    ),
    modality: 'required',
    howEvidenced: 'Every emergency (break-glass) grant carries a reason and an audit record, and expires.',
    check: 'authz.break-glass-audited',
    coverage: {
      level: 'partial',
      evidences: 'emergency access modifications are justified and recorded',
      notCovered:
        'role-based authorisation as a whole, least privilege and segregation of duties; a grant path never used (no grant passes)',
    },
  },
  {
    id: 'soc2-cc6.6-headers',
    framework: 'soc2',
    ref: 'CC6.6',
    title: 'Protection against threats from outside the system boundaries',
    requirement: CC6_6,
    source: src(
      'CC6.6',
      'Browser security headers are none of the CC6.6 points of focus; they are one external-threat measure.',
    ),
    modality: 'required',
    howEvidenced:
      'Web responses carry HSTS, a content security policy, nosniff, framing and referrer headers.',
    check: 'http.security-headers',
    coverage: {
      level: 'partial',
      evidences: 'browser-side protections sent by the registered web apps',
      notCovered:
        'the points of focus: restricting access channels, protecting credentials in transit, additional authentication, boundary protection (firewalls, intrusion detection)',
    },
  },
  {
    id: 'soc2-cc6.6-csrf',
    framework: 'soc2',
    ref: 'CC6.6',
    title: 'Protection against threats from outside the system boundaries',
    requirement: CC6_6,
    source: src('CC6.6'),
    modality: 'required',
    howEvidenced:
      'State-changing browser requests to the registered web apps are protected against cross-site request forgery.',
    check: 'http.csrf',
    coverage: {
      level: 'partial',
      evidences: 'cross-site request forgery protection on the registered web apps',
      notCovered: 'every other external threat and the CC6.6 points of focus',
    },
  },
  {
    id: 'soc2-cc6.6-brute-force',
    framework: 'soc2',
    ref: 'CC6.6',
    title: 'Protection against threats from outside the system boundaries',
    requirement: CC6_6,
    source: src('CC6.6'),
    modality: 'required',
    howEvidenced: 'Failed sign-ins are limited per account or per source and account.',
    check: 'threat.brute-force',
    coverage: {
      level: 'partial',
      evidences: 'limits on credential guessing',
      notCovered: 'every other external threat and the CC6.6 points of focus',
    },
  },
  {
    id: 'soc2-cc6.6-mfa',
    framework: 'soc2',
    ref: 'CC6.6',
    title:
      'Protection against threats from outside the system boundaries (point of focus: requires additional authentication or credentials)',
    requirement: `${CC6_6} Point of focus: additional authentication information or credentials are required when accessing the system from outside its boundaries.`,
    source: src('CC6.6, point of focus "Requires Additional Authentication or Credentials"'),
    modality: 'required',
    howEvidenced: 'The MFA policy refuses each privileged role that presents no second factor.',
    check: 'mfa.privileged',
    coverage: {
      level: 'partial',
      evidences: 'a second factor is demanded of privileged roles',
      notCovered:
        'non-privileged access from outside the boundary; enforcement on every route (the policy\u2019s answer is observed, not traffic)',
    },
  },
  {
    id: 'soc2-cc6.7',
    framework: 'soc2',
    ref: 'CC6.7',
    title: 'Restriction and protection of information in transmission, movement and removal',
    requirement:
      'The entity restricts the transmission, movement, and removal of information to authorized internal and external users and processes, and protects it during transmission, movement, or removal to meet its objectives.',
    source: src('CC6.7'),
    modality: 'required',
    howEvidenced:
      'The HTTP adapters record the TLS each request arrived over: protocol and cipher negotiated in Node, or a declared TLS-terminating proxy (X-Forwarded-Proto from a trusted proxy); any plain-HTTP request fails the check.',
    check: 'http.transport-security',
    coverage: {
      level: 'partial',
      evidences:
        'TLS observed on the apps\u2019 inbound HTTP (TLS 1.2 or later with an AEAD cipher negotiated in Node, or a declared terminator)',
      notCovered:
        'certificate validity and trust; transmissions other than inbound HTTP; restriction of movement and removal (data loss prevention, removable media)',
    },
  },
  {
    id: 'soc2-cc6.8',
    framework: 'soc2',
    ref: 'CC6.8',
    title: 'Prevention or detection of unauthorised or malicious software',
    requirement:
      'The entity implements controls to prevent or detect and act upon the introduction of unauthorized or malicious software to meet its objectives.',
    source: src('CC6.8'),
    modality: 'required',
    manual: {
      guidance:
        'Describe dependency scanning, signed builds and endpoint protection, with recent scan results.',
    },
  },
  {
    id: 'soc2-cc7.2-logging',
    framework: 'soc2',
    ref: 'CC7.2',
    title: 'Monitoring of system components for anomalies',
    requirement: CC7_2,
    source: src('CC7.2'),
    modality: 'required',
    howEvidenced: 'The audit log is in use and holds security events.',
    check: 'audit.enabled',
    coverage: {
      level: 'partial',
      evidences: 'the record that monitoring reads exists and is written',
      notCovered: 'the monitoring and analysis of anomalies; system components other than the application',
    },
  },
  {
    id: 'soc2-cc7.2-integrity',
    framework: 'soc2',
    ref: 'CC7.2',
    title: 'Monitoring of system components for anomalies',
    requirement: CC7_2,
    source: src(
      'CC7.2',
      'Protection of the audit trail is not a CC7.2 point of focus; it supports the reliability of monitoring.',
    ),
    modality: 'required',
    howEvidenced:
      'The audit trail that monitoring reads is HMAC-keyed and pinned by verified signed checkpoints.',
    check: 'audit.tamper-evidence',
    coverage: {
      level: 'partial',
      evidences: 'the monitored record is tamper-evident',
      notCovered: 'the monitoring and analysis of anomalies themselves',
    },
  },
  {
    id: 'soc2-cc7.2-detection',
    framework: 'soc2',
    ref: 'CC7.2',
    title: 'Monitoring of system components for anomalies',
    requirement: CC7_2,
    source: src('CC7.2'),
    modality: 'required',
    howEvidenced:
      'A threat detector runs rules over the audit stream (failed-login bursts, denied-access bursts, privilege changes) and reports violations.',
    check: 'threat.detection',
    coverage: {
      level: 'partial',
      evidences: 'automated anomaly detection over the application audit stream',
      notCovered:
        'infrastructure, network and other system components; natural disasters and errors; the analysis of detected anomalies',
    },
  },
  {
    id: 'soc2-cc7.3',
    framework: 'soc2',
    ref: 'CC7.3',
    title: 'Evaluation of security events',
    requirement:
      'The entity evaluates security events to determine whether they could or have resulted in a failure of the entity to meet its objectives (security incidents) and, if so, takes actions to prevent or address such failures.',
    source: src('CC7.3'),
    modality: 'required',
    manual: {
      guidance:
        'Show how detected events (threat-detector violations, monitoring alerts) are triaged into security incidents: the triage procedure, who decides, and a sample of evaluated events with the decision recorded (incidents in the BreachRegister).',
    },
  },
  {
    id: 'soc2-cc7.4',
    framework: 'soc2',
    ref: 'CC7.4',
    title: 'Response to identified security incidents',
    requirement: CC7_4,
    source: src('CC7.4'),
    modality: 'required',
    manual: {
      guidance: 'Attach the incident-response plan and the record of its last exercise.',
    },
  },
  {
    id: 'soc2-cc7.4-communication',
    framework: 'soc2',
    ref: 'CC7.4',
    title:
      'Response to identified security incidents (point of focus: communicates unauthorized use and disclosure)',
    requirement: `${CC7_4} Point of focus: events that resulted in unauthorized use or disclosure of personal information are communicated to the data subjects, legal and regulatory authorities, and others as required.`,
    source: src('CC7.4, point of focus "Communicates Unauthorized Use and Disclosure"'),
    modality: 'required',
    howEvidenced:
      'Every notification a recorded incident requires (authority, data subjects) was sent or is still within its deadline.',
    check: 'breach.notifications',
    coverage: {
      level: 'partial',
      evidences: 'no required breach notification of a recorded incident is overdue',
      notCovered:
        'incidents never recorded; communication to others (customers, partners); containment and remediation',
    },
  },
  {
    id: 'soc2-cc8.1',
    framework: 'soc2',
    ref: 'CC8.1',
    title: 'Authorisation, testing, approval and implementation of changes',
    requirement:
      'The entity authorizes, designs, develops or acquires, configures, documents, tests, approves, and implements changes to infrastructure, data, software, and procedures to meet its objectives.',
    source: src('CC8.1'),
    modality: 'required',
    manual: {
      guidance:
        'Show the change process (code review, CI checks, approvals) and a sample of changes that followed it.',
    },
  },
];
