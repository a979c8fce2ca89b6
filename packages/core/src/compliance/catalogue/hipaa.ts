import type { ControlDefinition } from '../control';

/** HIPAA Security Rule (45 CFR 164.308-316) standards and implementation specifications. Paraphrased. */
export const HIPAA_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'hipaa-164.308-a-1-ii-a',
    framework: 'hipaa',
    ref: '164.308(a)(1)(ii)(A)',
    title: 'Risk analysis',
    requirement:
      'An accurate and thorough assessment of risks to electronic PHI is carried out and kept current.',
    manual: {
      guidance: 'Attach the current risk analysis, its date, scope and the risk-management plan it fed.',
    },
  },
  {
    id: 'hipaa-164.308-a-1-ii-d',
    framework: 'hipaa',
    ref: '164.308(a)(1)(ii)(D)',
    title: 'Information system activity review',
    requirement:
      'Records of system activity (audit logs, access reports) are reviewed regularly; the audit trail was verified recently and was intact.',
    check: 'audit.verified',
  },
  {
    id: 'hipaa-164.308-a-3',
    framework: 'hipaa',
    ref: '164.308(a)(3)',
    title: 'Workforce security',
    requirement:
      'Only workforce members who need access to ePHI get it, and access ends when employment ends.',
    manual: { guidance: 'Attach the authorisation / supervision and termination procedures with samples.' },
  },
  {
    id: 'hipaa-164.308-a-5-ii-c',
    framework: 'hipaa',
    ref: '164.308(a)(5)(ii)(C)',
    title: 'Log-in monitoring',
    requirement:
      'Log-in attempts are monitored and repeated failures are acted on (throttling, lockout, alerts).',
    check: 'threat.brute-force',
  },
  {
    id: 'hipaa-164.308-a-5-ii-d',
    framework: 'hipaa',
    ref: '164.308(a)(5)(ii)(D)',
    title: 'Password management',
    requirement:
      'Passwords are created, changed and safeguarded under procedures; stored only as strong hashes.',
    check: 'passwords.hashing',
  },
  {
    id: 'hipaa-164.308-a-6',
    framework: 'hipaa',
    ref: '164.308(a)(6)',
    title: 'Security incident procedures',
    requirement:
      'Security incidents are identified, responded to and documented, and breach notifications go out before their deadlines.',
    check: 'breach.notifications',
  },
  {
    id: 'hipaa-164.308-a-7',
    framework: 'hipaa',
    ref: '164.308(a)(7)',
    title: 'Contingency plan',
    requirement: 'Data backup, disaster recovery and emergency-mode operation plans exist and are tested.',
    manual: { guidance: 'Attach the contingency plan and the latest backup-restore and DR test results.' },
  },
  {
    id: 'hipaa-164.308-b-1',
    framework: 'hipaa',
    ref: '164.308(b)(1)',
    title: 'Business associate contracts',
    requirement: 'Every business associate that handles ePHI is bound by a current written agreement.',
    check: 'processors.agreements',
  },
  {
    id: 'hipaa-164.310-a-1',
    framework: 'hipaa',
    ref: '164.310(a)(1)',
    title: 'Facility access controls',
    requirement:
      'Physical access to systems holding ePHI and to their facilities is limited to authorised people.',
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
      'Hardware and media holding ePHI are tracked, and wiped or destroyed before disposal or reuse.',
    manual: { guidance: 'Attach the media disposal procedure and disposal records.' },
  },
  {
    id: 'hipaa-164.312-a-1',
    framework: 'hipaa',
    ref: '164.312(a)(1)',
    title: 'Access control',
    requirement:
      'Access to ePHI is allowed only to people and software that have been granted it; everything else is refused.',
    check: 'authz.default-deny',
  },
  {
    id: 'hipaa-164.312-a-2-ii',
    framework: 'hipaa',
    ref: '164.312(a)(2)(ii)',
    title: 'Emergency access procedure',
    requirement:
      'ePHI can be reached in an emergency through a defined procedure whose every use is justified and recorded.',
    check: 'authz.break-glass-audited',
  },
  {
    id: 'hipaa-164.312-a-2-iv',
    framework: 'hipaa',
    ref: '164.312(a)(2)(iv)',
    title: 'Encryption and decryption',
    requirement: 'Fields holding ePHI are encrypted at rest.',
    check: 'encryption.classified-fields',
    params: { categories: ['phi'] },
  },
  {
    id: 'hipaa-164.312-b',
    framework: 'hipaa',
    ref: '164.312(b)',
    title: 'Audit controls',
    requirement: 'Mechanisms record and allow examination of activity in systems that contain or use ePHI.',
    check: 'audit.enabled',
  },
  {
    id: 'hipaa-164.312-c-1',
    framework: 'hipaa',
    ref: '164.312(c)(1)',
    title: 'Integrity',
    requirement:
      'ePHI and its records are protected from improper alteration or destruction, with means to detect it (keyed hashes, signed checkpoints).',
    check: 'audit.tamper-evidence',
  },
  {
    id: 'hipaa-164.312-d',
    framework: 'hipaa',
    ref: '164.312(d)',
    title: 'Person or entity authentication',
    requirement: 'Identity is verified before access; privileged users present a second factor.',
    check: 'mfa.privileged',
  },
  {
    id: 'hipaa-164.312-e-1',
    framework: 'hipaa',
    ref: '164.312(e)(1)',
    title: 'Transmission security',
    requirement: 'ePHI sent over networks is protected; web applications force TLS with HSTS.',
    check: 'http.transport-security',
  },
  {
    id: 'hipaa-164.316-b-2-i',
    framework: 'hipaa',
    ref: '164.316(b)(2)(i)',
    title: 'Retention of documentation',
    requirement:
      'Required documentation, including the audit trail of security activity, is kept for six years from creation or last effective date.',
    check: 'audit.retention',
    // Six years can span two leap days: 6 x 365 + 2.
    params: { minDays: 2192 },
  },
];
