import type { ControlDefinition } from '../control';

const PERSONAL = ['personal', 'sensitive', 'phi', 'cardholder'];

/** GDPR controls. Requirements are paraphrased; Articles cited as the Regulation numbers them. */
export const GDPR_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'gdpr-art5-1-e',
    framework: 'gdpr',
    ref: 'Art. 5(1)(e)',
    title: 'Storage limitation',
    requirement:
      'Personal data is kept in identifying form only as long as its purpose needs; each store of personal data has a retention period and is purged when it ends.',
    check: 'privacy.data-retention',
  },
  {
    id: 'gdpr-art5-1-f',
    framework: 'gdpr',
    ref: 'Art. 5(1)(f)',
    title: 'Integrity and confidentiality',
    requirement:
      'Personal data is protected against unauthorised access, loss and alteration by technical measures; fields holding personal data are stored encrypted.',
    check: 'encryption.classified-fields',
    params: { categories: PERSONAL },
  },
  {
    id: 'gdpr-art6',
    framework: 'gdpr',
    ref: 'Art. 6',
    title: 'Lawful basis for processing',
    requirement:
      'Every processing activity rests on one of the lawful bases the Regulation lists, chosen before processing starts and documented.',
    manual: {
      guidance:
        'Have the controller (with the DPO or counsel) record the lawful basis of each processing activity in the record of processing activities and review it when purposes change.',
    },
  },
  {
    id: 'gdpr-art7',
    framework: 'gdpr',
    ref: 'Art. 7',
    title: 'Conditions for consent',
    requirement:
      'Where processing relies on consent (always for marketing), consent is asked for per purpose, can be shown to have been given to a specific text version, and can be withdrawn as easily as given.',
    check: 'consent.marketing',
  },
  {
    id: 'gdpr-art12',
    framework: 'gdpr',
    ref: 'Art. 12(3)',
    title: 'Timely answers to data-subject requests',
    requirement:
      'Requests from data subjects are answered without undue delay and within one month of receipt (extendable by two months with reasons); no request is past its deadline.',
    check: 'dsr.overdue',
  },
  {
    id: 'gdpr-art15',
    framework: 'gdpr',
    ref: 'Art. 15',
    title: 'Right of access',
    requirement:
      'A data subject can obtain a copy of the personal data held about them; every registered data source can export a subject\u2019s data.',
    check: 'dsr.capabilities',
    params: { operation: 'export' },
  },
  {
    id: 'gdpr-art17',
    framework: 'gdpr',
    ref: 'Art. 17',
    title: 'Right to erasure',
    requirement:
      'Personal data is erased on a valid request, including copies that cannot be deleted directly (e.g. by destroying the subject\u2019s encryption key); every registered data source supports erasure.',
    check: 'dsr.capabilities',
    params: { operation: 'erase' },
  },
  {
    id: 'gdpr-art20',
    framework: 'gdpr',
    ref: 'Art. 20',
    title: 'Right to data portability',
    requirement:
      'Data a subject provided can be handed over in a structured, commonly used, machine-readable format (such as JSON or CSV).',
    check: 'dsr.capabilities',
    params: { operation: 'portability' },
  },
  {
    id: 'gdpr-art25',
    framework: 'gdpr',
    ref: 'Art. 25(2)',
    title: 'Data protection by default',
    requirement:
      'By default only the personal data needed for a purpose is accessible: access that no policy grants is refused.',
    check: 'authz.default-deny',
  },
  {
    id: 'gdpr-art28',
    framework: 'gdpr',
    ref: 'Art. 28(3)',
    title: 'Processor agreements',
    requirement:
      'Every processor handling personal data on the controller\u2019s behalf is bound by a written agreement that is in force.',
    check: 'processors.agreements',
  },
  {
    id: 'gdpr-art30',
    framework: 'gdpr',
    ref: 'Art. 30',
    title: 'Record of processing activities',
    requirement:
      'A record of processing activities exists and covers every purpose for which personal data fields are processed.',
    check: 'privacy.processing-records',
  },
  {
    id: 'gdpr-art32-1-a-encryption',
    framework: 'gdpr',
    ref: 'Art. 32(1)(a)',
    title: 'Encryption of personal data',
    requirement: 'Personal data fields are encrypted at rest with an authenticated cipher.',
    check: 'encryption.classified-fields',
    params: { categories: PERSONAL },
  },
  {
    id: 'gdpr-art32-1-a-keys',
    framework: 'gdpr',
    ref: 'Art. 32(1)(a)',
    title: 'Key management',
    requirement:
      'Encryption keys use approved algorithms and are rotated within the defined crypto-period, so that a compromised key exposes a bounded amount of data.',
    check: 'keys.rotation',
  },
  {
    id: 'gdpr-art32-1-b',
    framework: 'gdpr',
    ref: 'Art. 32(1)(b)',
    title: 'Ongoing integrity of processing systems',
    requirement:
      'The integrity of the processing record is checked regularly: the tamper-evident audit trail was verified recently and found intact.',
    check: 'audit.verified',
  },
  {
    id: 'gdpr-art32-1-d',
    framework: 'gdpr',
    ref: 'Art. 32(1)(d)',
    title: 'Regular testing of security measures',
    requirement:
      'The effectiveness of technical and organisational measures is tested and evaluated on a regular schedule.',
    manual: {
      guidance:
        'Keep evidence of periodic penetration tests, restore tests and control reviews (dates, scope, findings, fixes) and attach it to the assessment.',
    },
  },
  {
    id: 'gdpr-art33',
    framework: 'gdpr',
    ref: 'Art. 33',
    title: 'Breach notification to the supervisory authority',
    requirement:
      'A personal data breach is reported to the supervisory authority without undue delay and, where feasible, within 72 hours of becoming aware of it; no notifiable breach is past that deadline.',
    check: 'breach.notifications',
  },
  {
    id: 'gdpr-art34',
    framework: 'gdpr',
    ref: 'Art. 34',
    title: 'Communicating a breach to data subjects',
    requirement:
      'When a breach is likely to result in a high risk to people, they are told without undue delay in clear language.',
    manual: {
      guidance:
        'For each recorded breach, document the risk assessment that decided whether subjects had to be told, and keep copies of the communications sent.',
    },
  },
  {
    id: 'gdpr-art35',
    framework: 'gdpr',
    ref: 'Art. 35',
    title: 'Data protection impact assessment',
    requirement:
      'Processing likely to create a high risk (large-scale special categories, systematic monitoring, new technology) is preceded by an impact assessment.',
    manual: {
      guidance:
        'List high-risk processing activities and link each to its DPIA document, its date and the DPO\u2019s advice.',
    },
  },
  {
    id: 'gdpr-art37',
    framework: 'gdpr',
    ref: 'Art. 37',
    title: 'Data protection officer',
    requirement:
      'Where the Regulation requires one, a data protection officer is designated and their contact details published and given to the supervisory authority.',
    manual: {
      guidance: 'Record whether a DPO is required, who it is, and where the contact details are published.',
    },
  },
  {
    id: 'gdpr-art44',
    framework: 'gdpr',
    ref: 'Art. 44-49',
    title: 'International transfers',
    requirement:
      'Personal data leaves the EEA only under an adequacy decision or appropriate safeguards such as standard contractual clauses.',
    manual: {
      guidance:
        'For each processor and hosting region outside the EEA, record the transfer mechanism and the transfer impact assessment.',
    },
  },
];
