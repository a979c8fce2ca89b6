import type { ControlDefinition } from '../control';

/** SOC 2 common criteria (security). Requirements paraphrase the AICPA criteria and points of focus. */
export const SOC2_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'soc2-cc4.1',
    framework: 'soc2',
    ref: 'CC4.1',
    title: 'Ongoing evaluation of controls',
    requirement:
      'Controls are evaluated continuously or periodically; the audit trail\u2019s integrity was verified recently and passed.',
    check: 'audit.verified',
  },
  {
    id: 'soc2-cc6.1-access',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Logical access: deny unless authorised',
    requirement:
      'Access to protected information is restricted by an access-control layer that refuses whatever no policy explicitly permits.',
    check: 'authz.default-deny',
  },
  {
    id: 'soc2-cc6.1-encryption',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Encryption of data at rest',
    requirement: 'Classified data (personal, health, cardholder, sensitive) is encrypted at rest.',
    check: 'encryption.classified-fields',
    params: { categories: ['personal', 'sensitive', 'phi', 'cardholder'] },
  },
  {
    id: 'soc2-cc6.1-keys',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Encryption key management',
    requirement: 'Encryption keys are rotated within the defined crypto-period.',
    check: 'keys.rotation',
  },
  {
    id: 'soc2-cc6.1-passwords',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Credential storage',
    requirement:
      'Passwords are stored only as salted, memory-hard hashes whose cost meets current industry guidance.',
    check: 'passwords.hashing',
  },
  {
    id: 'soc2-cc6.1-mfa',
    framework: 'soc2',
    ref: 'CC6.1',
    title: 'Multi-factor authentication for privileged users',
    requirement: 'Privileged roles must present a second authentication factor.',
    check: 'mfa.privileged',
  },
  {
    id: 'soc2-cc6.2',
    framework: 'soc2',
    ref: 'CC6.2',
    title: 'User registration and removal',
    requirement:
      'New users are registered and authorised before credentials are issued, and access is removed when no longer needed.',
    manual: {
      guidance:
        'Provide the joiner / mover / leaver procedure and a sample of tickets showing approval before access and removal on departure.',
    },
  },
  {
    id: 'soc2-cc6.3-review',
    framework: 'soc2',
    ref: 'CC6.3',
    title: 'Role-based access and periodic review',
    requirement:
      'Access is granted by role on least privilege, and role assignments are reviewed periodically.',
    manual: {
      guidance: 'Attach the latest access review (who reviewed, when, changes made) for each role.',
    },
  },
  {
    id: 'soc2-cc6.3-emergency',
    framework: 'soc2',
    ref: 'CC6.3',
    title: 'Emergency access is controlled and recorded',
    requirement:
      'Emergency (break-glass) access requires a reason, expires, and every grant is recorded in the audit trail.',
    check: 'authz.break-glass-audited',
  },
  {
    id: 'soc2-cc6.6-headers',
    framework: 'soc2',
    ref: 'CC6.6',
    title: 'Protection of internet-facing applications',
    requirement:
      'Web applications send browser security headers (HSTS, content security policy, MIME sniffing and framing protection, referrer policy).',
    check: 'http.security-headers',
  },
  {
    id: 'soc2-cc6.6-csrf',
    framework: 'soc2',
    ref: 'CC6.6',
    title: 'Cross-site request forgery protection',
    requirement:
      'State-changing requests to web applications are protected against cross-site request forgery.',
    check: 'http.csrf',
  },
  {
    id: 'soc2-cc6.6-brute-force',
    framework: 'soc2',
    ref: 'CC6.6',
    title: 'Limits on authentication attempts',
    requirement: 'Repeated failed sign-ins are throttled or locked out per account and per source.',
    check: 'threat.brute-force',
  },
  {
    id: 'soc2-cc6.7',
    framework: 'soc2',
    ref: 'CC6.7',
    title: 'Protection of data in transmission',
    requirement: 'Web applications force encrypted transport (HTTP Strict Transport Security).',
    check: 'http.transport-security',
  },
  {
    id: 'soc2-cc6.8',
    framework: 'soc2',
    ref: 'CC6.8',
    title: 'Prevention of unauthorised or malicious software',
    requirement: 'Only authorised software is deployed, and malicious code is prevented or detected.',
    manual: {
      guidance:
        'Describe dependency scanning, signed builds and endpoint protection, with recent scan results.',
    },
  },
  {
    id: 'soc2-cc7.2-logging',
    framework: 'soc2',
    ref: 'CC7.2',
    title: 'Security event logging',
    requirement: 'Security-relevant events are recorded in an audit trail.',
    check: 'audit.enabled',
  },
  {
    id: 'soc2-cc7.2-integrity',
    framework: 'soc2',
    ref: 'CC7.2',
    title: 'Tamper evidence of the audit trail',
    requirement:
      'The audit trail is keyed (HMAC) and its state is pinned by signed checkpoints, so edits, deletions and truncation are detectable.',
    check: 'audit.tamper-evidence',
  },
  {
    id: 'soc2-cc7.2-detection',
    framework: 'soc2',
    ref: 'CC7.2',
    title: 'Anomaly detection',
    requirement:
      'The audit stream is monitored for anomalies such as failed-login bursts, denied-access bursts and privilege changes.',
    check: 'threat.detection',
  },
  {
    id: 'soc2-cc7.3',
    framework: 'soc2',
    ref: 'CC7.3',
    title: 'Evaluation of security events',
    requirement:
      'Security incidents are recorded and evaluated, and those that are notifiable are notified before their deadline.',
    check: 'breach.notifications',
  },
  {
    id: 'soc2-cc7.4',
    framework: 'soc2',
    ref: 'CC7.4',
    title: 'Incident response',
    requirement: 'A defined incident-response programme contains, remediates and communicates incidents.',
    manual: {
      guidance: 'Attach the incident-response plan and the record of its last exercise.',
    },
  },
  {
    id: 'soc2-cc8.1',
    framework: 'soc2',
    ref: 'CC8.1',
    title: 'Change management',
    requirement:
      'Changes to infrastructure and software are authorised, tested, approved and documented before release.',
    manual: {
      guidance:
        'Show the change process (code review, CI checks, approvals) and a sample of changes that followed it.',
    },
  },
];
