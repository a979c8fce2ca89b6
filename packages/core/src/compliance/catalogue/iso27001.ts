import type { ControlDefinition } from '../control';

/** ISO/IEC 27001:2022 Annex A controls (numbered as in the 2022 edition). Paraphrased. */
export const ISO27001_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'iso27001-a5.15',
    framework: 'iso27001',
    ref: 'A.5.15',
    title: 'Access control',
    requirement: 'Rules for access to information are defined and enforced; anything not allowed is refused.',
    check: 'authz.default-deny',
  },
  {
    id: 'iso27001-a5.17',
    framework: 'iso27001',
    ref: 'A.5.17',
    title: 'Authentication information',
    requirement:
      'Secret authentication information is stored protected, i.e. passwords only as strong hashes.',
    check: 'passwords.hashing',
  },
  {
    id: 'iso27001-a5.18',
    framework: 'iso27001',
    ref: 'A.5.18',
    title: 'Access rights',
    requirement: 'Access rights are provisioned, reviewed at intervals and removed according to policy.',
    manual: {
      guidance: 'Attach the access-rights procedure and the latest periodic review of role assignments.',
    },
  },
  {
    id: 'iso27001-a5.24',
    framework: 'iso27001',
    ref: 'A.5.24',
    title: 'Incident management planning',
    requirement:
      'Roles, responsibilities and procedures for handling security incidents are planned and prepared.',
    manual: { guidance: 'Attach the incident management plan with owners and escalation paths.' },
  },
  {
    id: 'iso27001-a5.26',
    framework: 'iso27001',
    ref: 'A.5.26',
    title: 'Response to incidents',
    requirement:
      'Incidents are handled according to the documented procedures, including notifications before their deadlines.',
    check: 'breach.notifications',
  },
  {
    id: 'iso27001-a5.33',
    framework: 'iso27001',
    ref: 'A.5.33',
    title: 'Protection of records',
    requirement:
      'Records are protected from falsification and unauthorised deletion: the audit trail is keyed and pinned by signed checkpoints.',
    check: 'audit.tamper-evidence',
  },
  {
    id: 'iso27001-a5.34',
    framework: 'iso27001',
    ref: 'A.5.34',
    title: 'Privacy and protection of PII',
    requirement:
      'Personally identifiable information is identified and protected; classified PII fields are encrypted.',
    check: 'encryption.classified-fields',
    params: { categories: ['personal', 'sensitive', 'phi', 'cardholder'] },
  },
  {
    id: 'iso27001-a8.2',
    framework: 'iso27001',
    ref: 'A.8.2',
    title: 'Privileged access rights',
    requirement:
      'Privileged and emergency access is restricted and managed; every emergency (break-glass) grant is justified and recorded.',
    check: 'authz.break-glass-audited',
  },
  {
    id: 'iso27001-a8.5-mfa',
    framework: 'iso27001',
    ref: 'A.8.5',
    title: 'Secure authentication: multi-factor',
    requirement: 'Privileged users authenticate with more than one factor.',
    check: 'mfa.privileged',
  },
  {
    id: 'iso27001-a8.5-attempts',
    framework: 'iso27001',
    ref: 'A.8.5',
    title: 'Secure authentication: failed attempts',
    requirement: 'Unsuccessful sign-in attempts are limited so that guessing credentials is impractical.',
    check: 'threat.brute-force',
  },
  {
    id: 'iso27001-a8.9',
    framework: 'iso27001',
    ref: 'A.8.9',
    title: 'Configuration management',
    requirement: 'Security configurations are defined, documented, applied and monitored.',
    manual: { guidance: 'Attach the configuration baselines and the drift-monitoring evidence.' },
  },
  {
    id: 'iso27001-a8.10',
    framework: 'iso27001',
    ref: 'A.8.10',
    title: 'Information deletion',
    requirement:
      'Information is deleted when no longer required: each store of personal data has a retention period.',
    check: 'privacy.data-retention',
  },
  {
    id: 'iso27001-a8.12',
    framework: 'iso27001',
    ref: 'A.8.12',
    title: 'Data leakage prevention',
    requirement: 'Measures detect and prevent unauthorised disclosure of sensitive information.',
    manual: {
      guidance: 'Describe the data-leakage controls (egress filtering, DLP tooling) and their alerts.',
    },
  },
  {
    id: 'iso27001-a8.13',
    framework: 'iso27001',
    ref: 'A.8.13',
    title: 'Information backup',
    requirement: 'Backups are taken and restores are tested according to an agreed policy.',
    manual: { guidance: 'Attach the backup policy and the latest restore-test record.' },
  },
  {
    id: 'iso27001-a8.15',
    framework: 'iso27001',
    ref: 'A.8.15',
    title: 'Logging',
    requirement: 'Logs of activities, exceptions and faults are produced, stored and protected.',
    check: 'audit.enabled',
  },
  {
    id: 'iso27001-a8.15-verified',
    framework: 'iso27001',
    ref: 'A.8.15',
    title: 'Logging: integrity verified',
    requirement: 'The integrity of the logs is verified regularly and the last verification passed.',
    check: 'audit.verified',
  },
  {
    id: 'iso27001-a8.16',
    framework: 'iso27001',
    ref: 'A.8.16',
    title: 'Monitoring activities',
    requirement: 'Systems are monitored for anomalous behaviour and potential incidents are raised.',
    check: 'threat.detection',
  },
  {
    id: 'iso27001-a8.24',
    framework: 'iso27001',
    ref: 'A.8.24',
    title: 'Use of cryptography',
    requirement:
      'Cryptographic keys are managed over their life cycle, including rotation within the crypto-period.',
    check: 'keys.rotation',
  },
  {
    id: 'iso27001-a8.24-algorithms',
    framework: 'iso27001',
    ref: 'A.8.24',
    title: 'Use of cryptography: algorithms',
    requirement: 'Only approved authenticated-encryption algorithms are used for data keys.',
    check: 'keys.algorithms',
  },
  {
    id: 'iso27001-a8.26',
    framework: 'iso27001',
    ref: 'A.8.26',
    title: 'Application security requirements',
    requirement:
      'Web applications meet baseline security requirements: browser security headers and CSRF protection.',
    check: 'http.security-headers',
  },
];
