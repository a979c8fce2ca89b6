import type { ControlDefinition, ControlSource } from '../control';

const PERSONAL = ['personal', 'sensitive', 'phi', 'cardholder'];

const EDITION = 'Regulation (EU) 2016/679 (GDPR), OJ L 119, 4.5.2016';
const src = (clause: string, note?: string): ControlSource => ({
  edition: EDITION,
  clause,
  ...(note === undefined ? {} : { note }),
});

/**
 * GDPR controls. Titles are the Regulation's own (Article headings, or the principle's name in
 * Art. 5(1)); requirements paraphrase the Article with its modality; `howEvidenced` and `coverage`
 * say what Bulwark observes and what a person must still attest.
 */
export const GDPR_CONTROLS: readonly ControlDefinition[] = [
  {
    id: 'gdpr-art5-1-e',
    framework: 'gdpr',
    ref: 'Art. 5(1)(e)',
    title: 'Principles relating to processing of personal data: storage limitation',
    requirement:
      'Personal data shall be kept in a form which permits identification of data subjects for no longer than is necessary for the purposes of the processing; longer storage is allowed only for archiving in the public interest, research or statistics under Art. 89(1), with safeguards.',
    source: src('Article 5(1)(e)'),
    modality: 'required',
    howEvidenced:
      'Each store of personal data registered with data retention management has a retention period, and its last purge run succeeded within the allowed interval (31 days unless configured).',
    check: 'privacy.data-retention',
    coverage: {
      level: 'partial',
      evidences: 'a retention period and a recent successful purge run for each registered store',
      notCovered:
        'whether each period is no longer than necessary for its purpose; stores not registered; copies elsewhere (backups, logs, exports)',
    },
  },
  {
    id: 'gdpr-art5-1-f',
    framework: 'gdpr',
    ref: 'Art. 5(1)(f)',
    title: 'Principles relating to processing of personal data: integrity and confidentiality',
    requirement:
      'Personal data shall be processed in a manner that ensures appropriate security, including protection against unauthorised or unlawful processing and against accidental loss, destruction or damage, using appropriate technical or organisational measures.',
    source: src('Article 5(1)(f)'),
    modality: 'risk-based',
    howEvidenced: 'Fields classified as personal, sensitive, health or cardholder data are stored encrypted.',
    check: 'encryption.classified-fields',
    params: { categories: PERSONAL },
    coverage: {
      level: 'partial',
      evidences: 'confidentiality at rest of the classified fields',
      notCovered:
        'integrity and availability (loss, destruction, damage); unclassified data; organisational measures; whether the measures are appropriate to the risk',
    },
  },
  {
    id: 'gdpr-art6',
    framework: 'gdpr',
    ref: 'Art. 6',
    title: 'Lawfulness of processing',
    requirement:
      'Processing is lawful only if and to the extent that at least one Art. 6(1) condition applies: consent, performance of a contract, a legal obligation, vital interests, a task in the public interest or official authority, or legitimate interests (not for public authorities performing their tasks).',
    source: src('Article 6(1)'),
    modality: 'required',
    howEvidenced: 'Every activity in the record of processing names one of the six Art. 6(1) bases.',
    check: 'privacy.lawful-basis',
    coverage: {
      level: 'partial',
      evidences: 'each recorded processing activity names an Art. 6(1) basis',
      notCovered:
        'whether the named basis actually applies (necessity, the legitimate-interests balancing test); activities missing from the record; Art. 6(4) compatibility of further processing',
    },
  },
  {
    id: 'gdpr-art7',
    framework: 'gdpr',
    ref: 'Art. 7',
    title: 'Conditions for consent',
    requirement:
      'Where processing is based on consent, the controller shall be able to demonstrate that the data subject consented; a written request for consent shall be clearly distinguishable from other matters; consent can be withdrawn at any time, as easily as it was given; and whether consent is freely given takes account of whether a contract is made conditional on it.',
    source: src(
      'Article 7(1)-(4)',
      'Consent is one lawful basis among six; Recital 47 notes that direct marketing may be carried out for a legitimate interest.',
    ),
    modality: 'required',
    howEvidenced:
      'Every consent-based purpose has a versioned text, each recorded consent names the version agreed to, and processing under the purpose is refused without a recorded grant.',
    check: 'consent.records',
    coverage: {
      level: 'partial',
      evidences: 'Art. 7(1): consents are recorded against a versioned text, so they can be demonstrated',
      notCovered:
        'Art. 7(2) presentation of the request, 7(3) withdrawal as easy as giving (the user interface), 7(4) freely given; consent-based processing not registered as a purpose',
    },
  },
  {
    id: 'gdpr-art12',
    framework: 'gdpr',
    ref: 'Art. 12(3)',
    title:
      'Transparent information, communication and modalities for the exercise of the rights of the data subject',
    requirement:
      'Information on action taken on a request under Articles 15 to 22 shall be provided without undue delay and in any event within one month of receipt; the period may be extended by two further months where necessary, given the complexity and number of requests, and the data subject is told of the extension and the reasons within the first month.',
    source: src('Article 12(3)'),
    modality: 'required',
    howEvidenced:
      'Every open data-subject request is within its effective deadline (one month from receipt by default, or the recorded extension).',
    check: 'dsr.overdue',
    coverage: {
      level: 'full',
      evidences: 'no recorded request is past its effective (possibly extended) deadline',
      notCovered: 'requests never recorded in the register; the reasons given for an extension',
    },
  },
  {
    id: 'gdpr-art15',
    framework: 'gdpr',
    ref: 'Art. 15',
    title: 'Right of access by the data subject',
    requirement:
      'The data subject has the right to obtain confirmation as to whether their personal data is processed and, where it is, access to the data and the information listed in Art. 15(1)(a)-(h) (purposes, categories, recipients, storage period, rights, source, automated decision-making), and a copy of the data undergoing processing.',
    source: src('Article 15(1), (3)'),
    modality: 'required',
    howEvidenced: 'Every data source registered for data-subject requests can export a subject\u2019s data.',
    check: 'dsr.capabilities',
    params: { operation: 'export' },
    coverage: {
      level: 'partial',
      evidences: 'the copy: every registered source can export a subject\u2019s data',
      notCovered:
        'the Art. 15(1)(a)-(h) information; sources not registered; identity verification and the answer itself',
    },
  },
  {
    id: 'gdpr-art16',
    framework: 'gdpr',
    ref: 'Art. 16',
    title: 'Right to rectification',
    requirement:
      'The data subject has the right to obtain from the controller without undue delay the rectification of inaccurate personal data concerning them, and to have incomplete personal data completed, including by a supplementary statement.',
    source: src('Article 16'),
    modality: 'required',
    howEvidenced: 'Every data source registered for data-subject requests can rectify a subject\u2019s data.',
    check: 'dsr.rectification',
    coverage: {
      level: 'partial',
      evidences: 'every registered source can apply a rectification',
      notCovered:
        'whether requests are acted on (timeliness is the Art. 12(3) control); sources not registered; the Art. 19 notice to recipients',
    },
  },
  {
    id: 'gdpr-art17',
    framework: 'gdpr',
    ref: 'Art. 17',
    title: 'Right to erasure (\u2018right to be forgotten\u2019)',
    requirement:
      'The data subject has the right to obtain the erasure of their personal data without undue delay where an Art. 17(1) ground applies (no longer necessary, consent withdrawn, objection, unlawful processing, a legal obligation, a child\u2019s information-society service), subject to the exceptions of Art. 17(3); a controller that made the data public takes reasonable steps to inform other controllers (Art. 17(2)).',
    source: src('Article 17(1)-(3)'),
    modality: 'required',
    howEvidenced:
      'Every registered data source supports erasure; data that cannot be deleted in place can be made unreadable by destroying the subject\u2019s key (crypto-shredding), which Bulwark treats as erasure.',
    check: 'dsr.capabilities',
    params: { operation: 'erase' },
    coverage: {
      level: 'partial',
      evidences: 'every registered source can erase a subject\u2019s data',
      notCovered:
        'Art. 17(2) informing other controllers; the decision whether a ground or exception applies; sources not registered; whether crypto-shredding is accepted as erasure',
    },
  },
  {
    id: 'gdpr-art20',
    framework: 'gdpr',
    ref: 'Art. 20',
    title: 'Right to data portability',
    requirement:
      'Where processing is based on consent or contract and carried out by automated means, the data subject has the right to receive the personal data they provided in a structured, commonly used and machine-readable format, and to have it transmitted to another controller, directly where technically feasible.',
    source: src('Article 20(1)-(2)'),
    modality: 'required',
    howEvidenced: 'Every registered data source exports, in a machine-readable format (JSON, CSV or XML).',
    check: 'dsr.capabilities',
    params: { operation: 'portability' },
    coverage: {
      level: 'partial',
      evidences: 'every registered source exports, in a machine-readable format',
      notCovered:
        'Art. 20(2) direct transmission to another controller; limiting the export to data the subject provided',
    },
  },
  {
    id: 'gdpr-art21',
    framework: 'gdpr',
    ref: 'Art. 21(2)-(3)',
    title: 'Right to object',
    requirement:
      'Where personal data is processed for direct marketing purposes, the data subject has the right to object at any time, and where they object the personal data shall no longer be processed for such purposes.',
    source: src(
      'Article 21(2)-(3)',
      'Direct marketing may rely on legitimate interests (Recital 47); the right to object applies whatever the basis.',
    ),
    modality: 'required',
    howEvidenced:
      'Purposes flagged as marketing are consent-gated, so recording an objection as a withdrawal stops the processing for that purpose. Consent is one way to honour Art. 21(3), not a requirement of the Regulation.',
    check: 'consent.marketing',
    coverage: {
      level: 'partial',
      evidences:
        'processing for marketing purposes stops when the subject withdraws (purposes are consent-gated)',
      notCovered:
        'objections where marketing relies on legitimate interests; the Art. 21(4) information at the first communication; objections under Art. 21(1)',
    },
  },
  {
    id: 'gdpr-art25',
    framework: 'gdpr',
    ref: 'Art. 25(2)',
    title: 'Data protection by design and by default',
    requirement:
      'The controller shall implement appropriate technical and organisational measures for ensuring that, by default, only personal data necessary for each specific purpose is processed; this applies to the amount collected, the extent of processing, the period of storage and accessibility, and by default personal data is not made accessible to an indefinite number of people without the individual\u2019s intervention.',
    source: src('Article 25(2)'),
    modality: 'required',
    howEvidenced: 'The access-control policy refuses a request no policy grants (default deny).',
    check: 'authz.default-deny',
    coverage: {
      level: 'partial',
      evidences: 'accessibility: access that no policy grants is refused',
      notCovered:
        'the amount collected, the extent of processing and the storage period; whether granted access is limited to what each purpose needs',
    },
  },
  {
    id: 'gdpr-art28',
    framework: 'gdpr',
    ref: 'Art. 28(3)',
    title: 'Processor',
    requirement:
      'Processing by a processor shall be governed by a contract or other legal act binding the processor to the controller, setting out the subject-matter and duration, nature and purpose, type of personal data, categories of data subjects and the controller\u2019s obligations and rights, with the terms of Art. 28(3)(a)-(h).',
    source: src('Article 28(3)'),
    modality: 'required',
    howEvidenced:
      'Every recipient whose role requires one has a signed, unexpired data processing agreement.',
    check: 'processors.agreements',
    coverage: {
      level: 'partial',
      evidences: 'a signed agreement in force for each recorded processor',
      notCovered:
        'the contents required by Art. 28(3)(a)-(h); authorisation of sub-processors (Art. 28(2), (4)); processors not recorded in the register',
    },
  },
  {
    id: 'gdpr-art30',
    framework: 'gdpr',
    ref: 'Art. 30',
    title: 'Records of processing activities',
    requirement:
      'Each controller shall maintain a record of processing activities under its responsibility with the contents of Art. 30(1) (controller, purposes, categories of data subjects and personal data, recipients, transfers, time limits for erasure, security measures where possible); the exemption for organisations under 250 employees is limited by Art. 30(5).',
    source: src('Article 30(1), (5)'),
    modality: 'required',
    howEvidenced:
      'The record of processing activities covers every classified personal-data field, and the register reports no defect in its entries.',
    check: 'privacy.processing-records',
    coverage: {
      level: 'full',
      evidences:
        'a maintained record whose activities cover every classified field, with the Art. 30(1) contents checked by the register',
      notCovered: 'processing of data that is not classified',
    },
  },
  {
    id: 'gdpr-art32-1-a-encryption',
    framework: 'gdpr',
    ref: 'Art. 32(1)(a)',
    title: 'Security of processing: pseudonymisation and encryption',
    requirement:
      'Taking into account the state of the art, the costs, the nature, scope, context and purposes of processing and the risks, the controller and processor shall implement appropriate technical and organisational measures to ensure a level of security appropriate to the risk, including, as appropriate, the pseudonymisation and encryption of personal data.',
    source: src('Article 32(1)(a)'),
    modality: 'risk-based',
    howEvidenced: 'Classified personal-data fields are stored encrypted.',
    check: 'encryption.classified-fields',
    params: { categories: PERSONAL },
    coverage: {
      level: 'partial',
      evidences: 'encryption at rest of the classified personal-data fields',
      notCovered:
        'the risk assessment deciding what is appropriate; pseudonymisation; personal data outside classified fields (files, backups, logs); the cipher in use (see the key controls)',
    },
  },
  {
    id: 'gdpr-art32-1-keys',
    framework: 'gdpr',
    ref: 'Art. 32(1)',
    title: 'Security of processing',
    requirement:
      'The controller and processor shall implement appropriate technical and organisational measures to ensure a level of security appropriate to the risk, taking into account the state of the art, the costs of implementation and the nature, scope, context and purposes of processing.',
    source: src(
      'Article 32(1)',
      'Art. 32 does not name key management; rotating keys supports the encryption of Art. 32(1)(a).',
    ),
    modality: 'risk-based',
    howEvidenced:
      'The data keys that encrypt personal data are rotated within the crypto-period (90 days unless configured, or the key\u2019s own shorter rotateEvery).',
    check: 'keys.rotation',
    coverage: {
      level: 'partial',
      evidences: 'one supporting measure: data-key age within the rotation period',
      notCovered: 'every other security measure; the risk assessment; keys outside the key ring',
    },
  },
  {
    id: 'gdpr-art32-1-b',
    framework: 'gdpr',
    ref: 'Art. 32(1)(b)',
    title: 'Security of processing: ongoing confidentiality, integrity, availability and resilience',
    requirement:
      'Appropriate measures include, as appropriate, the ability to ensure the ongoing confidentiality, integrity, availability and resilience of processing systems and services.',
    source: src('Article 32(1)(b)'),
    modality: 'risk-based',
    howEvidenced: 'The audit trail\u2019s hash chain was verified within 24 hours and found intact.',
    check: 'audit.verified',
    coverage: {
      level: 'partial',
      evidences: 'the ongoing integrity of the audit trail',
      notCovered:
        'confidentiality, availability and resilience; the integrity of the processing systems and data themselves',
    },
  },
  {
    id: 'gdpr-art32-1-d',
    framework: 'gdpr',
    ref: 'Art. 32(1)(d)',
    title: 'Security of processing: regular testing, assessing and evaluating',
    requirement:
      'Appropriate measures include, as appropriate, a process for regularly testing, assessing and evaluating the effectiveness of technical and organisational measures for ensuring the security of the processing.',
    source: src('Article 32(1)(d)'),
    modality: 'risk-based',
    manual: {
      guidance:
        'Keep evidence of periodic penetration tests, restore tests and control reviews (dates, scope, findings, fixes) and attach it to the assessment.',
    },
  },
  {
    id: 'gdpr-art33',
    framework: 'gdpr',
    ref: 'Art. 33',
    title: 'Notification of a personal data breach to the supervisory authority',
    requirement:
      'In the case of a personal data breach the controller shall notify the competent supervisory authority without undue delay and, where feasible, not later than 72 hours after becoming aware of it, unless the breach is unlikely to result in a risk to the rights and freedoms of natural persons; a later notification gives the reasons for the delay, and every breach is documented (Art. 33(5)).',
    source: src('Article 33(1), (5)'),
    modality: 'required',
    howEvidenced:
      'For incidents recorded in the last year (real or drills), the authority notification is tracked on a clock of at most 72 hours from detection and none was late or is overdue.',
    check: 'breach.deadline',
    params: { audience: 'authority', maxHours: 72 },
    coverage: {
      level: 'partial',
      evidences: 'the 72-hour clock of recorded incidents, and no late or overdue authority notification',
      notCovered:
        'breaches never recorded; the risk assessment deciding no notification is needed; the contents of the notification (Art. 33(3)) and of the documentation (Art. 33(5))',
    },
  },
  {
    id: 'gdpr-art34',
    framework: 'gdpr',
    ref: 'Art. 34',
    title: 'Communication of a personal data breach to the data subject',
    requirement:
      'When a personal data breach is likely to result in a high risk to the rights and freedoms of natural persons, the controller shall communicate it to the data subject without undue delay, in clear and plain language, unless an Art. 34(3) condition applies.',
    source: src('Article 34(1)-(3)'),
    modality: 'required',
    manual: {
      guidance:
        'For each recorded breach, document the risk assessment that decided whether subjects had to be told, and keep copies of the communications sent. The BreachRegister\u2019s default clock for subjects is 60 days (the HIPAA outer limit); GDPR asks for \u201cwithout undue delay\u201d, so judge each case on its own.',
    },
  },
  {
    id: 'gdpr-art35',
    framework: 'gdpr',
    ref: 'Art. 35',
    title: 'Data protection impact assessment',
    requirement:
      'Where processing, in particular using new technologies, is likely to result in a high risk, the controller shall carry out an impact assessment before the processing; Art. 35(3) requires one for systematic and extensive automated evaluation with legal or similar effects, large-scale processing of special categories or criminal-offence data, and systematic monitoring of a publicly accessible area on a large scale.',
    source: src('Article 35(1), (3)'),
    modality: 'required',
    manual: {
      guidance:
        'List high-risk processing activities and link each to its DPIA document, its date and the DPO\u2019s advice.',
    },
  },
  {
    id: 'gdpr-art37',
    framework: 'gdpr',
    ref: 'Art. 37',
    title: 'Designation of the data protection officer',
    requirement:
      'The controller and processor shall designate a data protection officer where processing is carried out by a public authority, or their core activities consist of regular and systematic monitoring of data subjects on a large scale or large-scale processing of special categories or criminal-offence data; the contact details are published and communicated to the supervisory authority.',
    source: src('Article 37(1), (7)'),
    modality: 'required',
    manual: {
      guidance: 'Record whether a DPO is required, who it is, and where the contact details are published.',
    },
  },
  {
    id: 'gdpr-art44',
    framework: 'gdpr',
    ref: 'Art. 44-49',
    title: 'Transfers of personal data to third countries or international organisations',
    requirement:
      'Personal data may be transferred to a third country or an international organisation only if the conditions of Chapter V are met: an adequacy decision (Art. 45), appropriate safeguards such as standard contractual clauses or binding corporate rules (Art. 46-47), or a derogation for a specific situation (Art. 49).',
    source: src(
      'Chapter V, Articles 44-49',
      'The adequacy list Bulwark checks against is as of 2024; decisions change.',
    ),
    modality: 'required',
    howEvidenced:
      'Every recipient in the processor register has a recorded country; each outside the EEA has a transfer mechanism: adequacy for a country with a decision, signed SCCs, BCRs or a derogation.',
    check: 'transfers.safeguards',
    coverage: {
      level: 'partial',
      evidences: 'a recorded Chapter V mechanism for each recorded recipient outside the EEA',
      notCovered:
        'transfer impact assessments and supplementary measures; whether a claimed BCR or derogation is valid; the conditions of partial adequacy (US: Data Privacy Framework certification; Canada: commercial organisations); onward transfers and hosting regions not recorded as recipients',
    },
  },
];
