import type { ControlDefinition } from '../control';

/** PCI DSS v4.0 requirements. Paraphrased. */
export const PCI_DSS_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'pci-3.5.1',
    framework: 'pci',
    ref: 'Req. 3.5.1',
    title: 'PAN unreadable wherever stored',
    requirement:
      'Stored primary account numbers (and other cardholder data fields) are unreadable, e.g. by strong encryption.',
    check: 'encryption.classified-fields',
    params: { categories: ['cardholder'] },
  },
  {
    id: 'pci-3.6.1',
    framework: 'pci',
    ref: 'Req. 3.6.1',
    title: 'Protection of cryptographic keys',
    requirement:
      'Keys protecting stored account data are themselves protected: data keys are wrapped by a key-encrypting key and use approved algorithms.',
    check: 'keys.algorithms',
  },
  {
    id: 'pci-3.7.4',
    framework: 'pci',
    ref: 'Req. 3.7.4',
    title: 'Key changes at the end of the crypto-period',
    requirement: 'Keys are changed when their defined crypto-period ends.',
    check: 'keys.rotation',
  },
  {
    id: 'pci-4.2.1',
    framework: 'pci',
    ref: 'Req. 4.2.1',
    title: 'Strong cryptography in transmission',
    requirement:
      'Cardholder data sent over open networks is protected with strong cryptography; web apps force HTTPS (HSTS).',
    check: 'http.transport-security',
  },
  {
    id: 'pci-6.2.4',
    framework: 'pci',
    ref: 'Req. 6.2.4',
    title: 'Prevention of common software attacks',
    requirement:
      'Software is built to resist common attacks; web applications defend against cross-site request forgery.',
    check: 'http.csrf',
  },
  {
    id: 'pci-6.4.1',
    framework: 'pci',
    ref: 'Req. 6.4.1',
    title: 'Public-facing web applications protected',
    requirement:
      'Public-facing web applications are protected against known attacks; browser security headers are set.',
    check: 'http.security-headers',
  },
  {
    id: 'pci-7.2.1',
    framework: 'pci',
    ref: 'Req. 7.2.1',
    title: 'Access control model',
    requirement:
      'An access-control model covers all system components and denies access unless it is granted.',
    check: 'authz.default-deny',
  },
  {
    id: 'pci-7.2.2',
    framework: 'pci',
    ref: 'Req. 7.2.2',
    title: 'Least privilege by job function',
    requirement: 'Access is assigned by job classification with the least privileges needed.',
    manual: { guidance: 'Map each role in the policy to job functions and record who approved the mapping.' },
  },
  {
    id: 'pci-7.2.4',
    framework: 'pci',
    ref: 'Req. 7.2.4',
    title: 'Review of user accounts',
    requirement: 'User accounts and their privileges are reviewed at least every six months.',
    manual: { guidance: 'Attach the latest semi-annual account review and its outcomes.' },
  },
  {
    id: 'pci-8.2.8',
    framework: 'pci',
    ref: 'Req. 8.2.8',
    title: 'Idle session time-out',
    requirement: 'Sessions idle for more than 15 minutes require re-authentication.',
    manual: { guidance: 'Show the session configuration of each application (idle time-out <= 15 minutes).' },
  },
  {
    id: 'pci-8.3.2',
    framework: 'pci',
    ref: 'Req. 8.3.2',
    title: 'Authentication factors unreadable in storage',
    requirement:
      'Passwords and other authentication factors are stored only in a form rendered unreadable by strong cryptography.',
    check: 'passwords.hashing',
  },
  {
    id: 'pci-8.3.4',
    framework: 'pci',
    ref: 'Req. 8.3.4',
    title: 'Lockout after failed attempts',
    requirement:
      'A user ID is locked out after no more than ten invalid attempts, for at least 30 minutes or until identity is confirmed.',
    check: 'threat.brute-force',
    params: { scope: 'account', maxFailures: 10, minLockoutSec: 1800, lockout: 'hard' },
  },
  {
    id: 'pci-8.3.6',
    framework: 'pci',
    ref: 'Req. 8.3.6',
    title: 'Password strength',
    requirement: 'Passwords are at least 12 characters and contain both letters and digits.',
    manual: {
      guidance:
        'Password composition is enforced by the sign-up / change-password code, which Bulwark does not observe: show that validation and its tests.',
    },
  },
  {
    id: 'pci-8.4.2',
    framework: 'pci',
    ref: 'Req. 8.4.2',
    title: 'Multi-factor authentication into the CDE',
    requirement:
      'Multi-factor authentication is required for all access into the cardholder data environment, privileged access first.',
    check: 'mfa.privileged',
  },
  {
    id: 'pci-10.2.1',
    framework: 'pci',
    ref: 'Req. 10.2.1',
    title: 'Audit logs enabled',
    requirement: 'Audit logs are enabled and active for all system components and cardholder data.',
    check: 'audit.enabled',
  },
  {
    id: 'pci-10.3.2',
    framework: 'pci',
    ref: 'Req. 10.3.2',
    title: 'Audit logs protected from modification',
    requirement: 'Audit log files are protected so that they cannot be modified without detection.',
    check: 'audit.tamper-evidence',
  },
  {
    id: 'pci-10.3.4',
    framework: 'pci',
    ref: 'Req. 10.3.4',
    title: 'Change detection on audit logs',
    requirement:
      'Integrity monitoring or change detection runs on audit logs so that changes to existing data raise an alert; the last verification is recent and passed.',
    check: 'audit.verified',
  },
  {
    id: 'pci-10.4.1.1',
    framework: 'pci',
    ref: 'Req. 10.4.1.1',
    title: 'Automated audit log review',
    requirement: 'Automated mechanisms review audit logs for anomalies and suspicious activity.',
    check: 'threat.detection',
  },
  {
    id: 'pci-10.5.1',
    framework: 'pci',
    ref: 'Req. 10.5.1',
    title: 'Audit log retention',
    requirement:
      'Audit log history is kept for at least twelve months, with the most recent three months immediately available for analysis.',
    check: 'audit.retention',
    // Twelve months that include a 29 February are 366 days.
    params: { minDays: 366 },
  },
  {
    id: 'pci-12.8.2',
    framework: 'pci',
    ref: 'Req. 12.8.2',
    title: 'Agreements with third-party service providers',
    requirement: 'Written agreements are in force with every service provider that handles account data.',
    check: 'processors.agreements',
  },
  {
    id: 'pci-12.10.1',
    framework: 'pci',
    ref: 'Req. 12.10.1',
    title: 'Incident response plan',
    requirement: 'An incident response plan exists and is ready to be activated on a suspected breach.',
    manual: { guidance: 'Attach the incident response plan and the record of its last annual test.' },
  },
];
