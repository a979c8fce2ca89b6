import { CLASSIFICATION_CATEGORIES } from '../../privacy/classification-registry';
import {
  DAY_MS,
  fail,
  HOUR_MS,
  list,
  listProblems,
  missing,
  notApplicable,
  notDemonstrated,
  num,
  pass,
  SKEW_MS,
  strings,
  time,
  type AutomatedCheck,
} from './check-outcome';

// Checks for clauses the catalogue review found missing (issue 22): log review, audit write
// health, lawful basis, rectification, international transfers, consent records, classification,
// keyed PAN hashes and breach-notification clocks.

/** Age of a timestamp at collection time, or a reason it cannot be trusted. */
function ageMs(collectedAt: string, at: string): number | 'invalid' | 'future' {
  const age = time(collectedAt) - time(at);
  if (!Number.isFinite(age)) return 'invalid';
  if (age < -SKEW_MS) return 'future';
  return age;
}

/**
 * `audit.review`: a reviewer recorded a review of the audit log (`AuditLog.recordReview()`,
 * event `audit.log.reviewed`) within `maxAgeHours` (default 168, one week).
 */
export const auditReview: AutomatedCheck = (bundle, params) => {
  const ev = bundle.audit;
  if (!ev) return missing(bundle, 'audit');
  const maxAgeHours = num(params, 'maxAgeHours', 168);
  const howTo =
    'When an operator reviews the log (an export, an admin screen), record it with auditLog.recordReview({ by, scope }); review at least every ' +
    `${maxAgeHours} h.`;
  const r = ev.data.lastReview;
  if (r === undefined) {
    return fail('No review of the audit log is recorded (no audit.log.reviewed event).', [ev], howTo);
  }
  if (r.actorType !== 'user' && r.actorType !== 'service') {
    return fail(
      `The latest recorded review (seq ${r.seq}) names no reviewer (actor type ${r.actorType}).`,
      [ev],
      howTo,
    );
  }
  const age = ageMs(bundle.collectedAt, r.at);
  if (age === 'invalid' || age === 'future') {
    return fail(`The latest review time (${r.at}) is invalid or in the future.`, [ev], howTo);
  }
  if (age > maxAgeHours * HOUR_MS) {
    return fail(
      `The latest recorded review of the audit log (${r.at}) is older than ${maxAgeHours} h.`,
      [ev],
      howTo,
    );
  }
  const by = r.actorType === 'user' ? 'a person' : 'a review job';
  const period =
    r.from !== undefined || r.to !== undefined ? `, covering ${r.from ?? '…'} to ${r.to ?? '…'}` : '';
  return pass(
    `The audit log was reviewed by ${by} at ${r.at} (seq ${r.seq}${period}), within ${maxAgeHours} h.`,
    [ev],
  );
};

/**
 * `audit.write-health`: the audit log counts its failed writes and is not failing now. Auditing
 * that stops silently is the failure of a critical security control (PCI DSS 10.7.2).
 */
export const auditWriteHealth: AutomatedCheck = (bundle) => {
  const ev = bundle.audit;
  if (!ev) return missing(bundle, 'audit');
  const w = ev.data.writes;
  if (w === undefined) {
    return notDemonstrated(
      'The audit log does not report its write health, so a failure of audit logging would go unseen.',
      [ev],
      'Register an AuditLog whose auditLog.describe() reports writes (failed / succeeded counts).',
    );
  }
  if (w.failing) {
    const last = w.lastFailureAt ? ` since ${w.lastFailureAt}` : '';
    const code = w.lastFailureCode ? ` (${w.lastFailureCode})` : '';
    return fail(
      `Audit logging is failing now${last}${code}: ${w.failed} writes failed since start.`,
      [ev],
      'Restore the audit store, find the events lost while it failed, and record an incident.',
    );
  }
  if (w.succeeded === 0) {
    return notDemonstrated(
      'No audit write has succeeded since the log was opened, so working audit logging is not shown.',
      [ev],
      'Record security events through the AuditLog, then re-run the report.',
    );
  }
  const history =
    w.failed > 0
      ? `; ${w.failed} failed writes were detected since start (last ${w.lastFailureAt ?? 'at an unknown time'}) and logging recovered`
      : '; no write has failed since start';
  // PCI DSS 10.7.2 asks that such failures are alerted, not only detected: integrity alarms routed
  // to an alert channel are the evidence of that.
  const alerting = bundle.threatDetection?.data.alerting;
  const alerted = alerting !== undefined && alerting.integrityAlarms && alerting.channels.length > 0;
  const alarm = alerted
    ? `; a failure raises a critical alert (${alerting.channels.join(', ')})`
    : '; a failure is reported on the console only (configure alerts to be told)';
  return pass(
    `Audit logging is working: ${w.succeeded} writes succeeded${history}${alarm}.`,
    alerted ? [ev, bundle.threatDetection!] : [ev],
  );
};

const LAWFUL_BASES: readonly [string, RegExp][] = [
  ['consent', /consent|6\s*\(1\)\s*\(a\)/],
  ['contract', /contract|6\s*\(1\)\s*\(b\)/],
  ['legal obligation', /legal obligation|6\s*\(1\)\s*\(c\)/],
  ['vital interests', /vital interest|6\s*\(1\)\s*\(d\)/],
  ['public task', /public (task|interest)|official authority|6\s*\(1\)\s*\(e\)/],
  ['legitimate interests', /legitimate interest|6\s*\(1\)\s*\(f\)/],
];

/** `privacy.lawful-basis`: every processing activity names one of the six Art. 6(1) bases. */
export const lawfulBasis: AutomatedCheck = (bundle) => {
  const ev = bundle.processing;
  if (!ev) return missing(bundle, 'processing');
  if (ev.data.activities.length === 0) {
    return fail(
      'The record of processing activities is empty, so no lawful basis is recorded.',
      [ev],
      'Register each processing activity with its lawful basis (ProcessingRegister.register({ lawfulBasis })).',
    );
  }
  const none: string[] = [];
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (const a of ev.data.activities) {
    const basis = (a.lawfulBasis ?? '').toLowerCase();
    if (basis.trim() === '') {
      none.push(a.id);
      continue;
    }
    const hits = LAWFUL_BASES.filter(([, re]) => re.test(basis)).map(([name]) => name);
    if (hits.length === 0) unknown.push(a.id);
    for (const h of hits) seen.add(h);
  }
  const found = listProblems([
    ['no lawful basis', none],
    ['a basis that names none of Art. 6(1)(a)-(f)', unknown],
  ]);
  if (found !== undefined) {
    return fail(
      `Processing activities without a recognisable lawful basis (${found}).`,
      [ev],
      'Record for each activity which Art. 6(1) basis applies (consent, contract, legal obligation, vital interests, public task or legitimate interests).',
    );
  }
  return pass(
    `All ${ev.data.activities.length} processing activities name an Art. 6(1) basis (${[...seen].join(', ')}).`,
    [ev],
  );
};

/** `dsr.rectification`: every registered data source can rectify a subject's data. */
export const dsrRectification: AutomatedCheck = (bundle) => {
  const ev = bundle.dsr;
  if (!ev) return missing(bundle, 'dsr');
  if (ev.data.sources.length === 0) {
    return fail(
      'No data source is registered with DataSubjectRequests.',
      [ev],
      'Register every store of personal data as a DSR source, with a rectify handler.',
    );
  }
  const lacking = ev.data.sources.filter((s) => s.rectify !== true).map((s) => s.id);
  if (lacking.length > 0) {
    return fail(
      `Data sources that cannot rectify a subject's data: ${list(lacking)}.`,
      [ev],
      'Implement rectify for these DSR sources.',
    );
  }
  return pass(`All ${ev.data.sources.length} registered data sources support rectification.`, [ev]);
};

/** EU member states plus Iceland, Liechtenstein and Norway. */
const EEA = new Set(
  'AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO'.split(' '),
);

/**
 * Countries with a Commission adequacy decision under Art. 45 (as of 2024). Canada covers
 * commercial organisations under PIPEDA and the United States organisations certified under the
 * EU-US Data Privacy Framework only; a person must confirm those conditions.
 */
export const ADEQUATE_COUNTRIES: readonly string[] = Object.freeze(
  'AD AR CA CH FO GB GG IL IM JE JP KR NZ US UY'.split(' '),
);

/**
 * `transfers.safeguards`: every recipient outside the EEA has a Chapter V mechanism: adequacy
 * (for a country with a decision), SCCs (signed), BCRs or a derogation.
 */
export const transferSafeguards: AutomatedCheck = (bundle, params) => {
  const ev = bundle.processors;
  if (!ev) return missing(bundle, 'processors');
  const adequate = new Set(strings(params, 'adequate', ADEQUATE_COUNTRIES));
  if (ev.data.processors.length === 0) {
    return notApplicable('The processor register lists no recipients, so nothing is transferred.', [ev]);
  }
  const problems: string[] = [];
  let transfers = 0;
  for (const p of ev.data.processors) {
    if (p.country === undefined) {
      problems.push(`${p.id}: country not recorded`);
      continue;
    }
    if (EEA.has(p.country)) continue;
    transfers++;
    const mechanism = p.transferMechanism ?? 'none';
    if (mechanism === 'none') problems.push(`${p.id} (${p.country}): no transfer mechanism`);
    else if (mechanism === 'adequacy' && !adequate.has(p.country))
      problems.push(`${p.id} (${p.country}): no adequacy decision for this country`);
    else if (mechanism === 'SCC' && ev.data.gaps.some((g) => g.processorId === p.id && g.required === 'SCC'))
      problems.push(`${p.id} (${p.country}): SCCs not signed or expired`);
  }
  if (problems.length > 0) {
    return fail(
      `Recipients whose transfer cannot be shown to be safeguarded: ${list(problems)}.`,
      [ev],
      'Record each recipient\u2019s country and transfer mechanism in the ProcessorRegister (country, transferMechanism) and sign SCCs where they are the mechanism.',
    );
  }
  return pass(
    transfers === 0
      ? `All ${ev.data.processors.length} recipients process in the EEA.`
      : `${transfers} of ${ev.data.processors.length} recipients are outside the EEA, each with a recorded Chapter V mechanism.`,
    [ev],
  );
};

/**
 * `consent.records`: every consent-based purpose has a versioned text, so a recorded consent
 * points at the exact wording the subject agreed to (Art. 7(1): the controller can demonstrate it).
 */
export const consentRecords: AutomatedCheck = (bundle) => {
  const ev = bundle.consent;
  if (!ev) return missing(bundle, 'consent');
  const based = ev.data.purposes.filter((p) => p.requiresConsent);
  if (based.length === 0) {
    return notApplicable(`None of the ${ev.data.purposes.length} registered purposes relies on consent.`, [
      ev,
    ]);
  }
  const unversioned = based
    .filter((p) => !(typeof p.version === 'number' && Number.isInteger(p.version) && p.version >= 1))
    .map((p) => p.id);
  if (unversioned.length > 0) {
    return fail(
      `Consent-based purposes without a versioned consent text: ${list(unversioned)}.`,
      [ev],
      'Register each consent purpose with its text and version (ConsentManager.registerPurpose({ version, text })).',
    );
  }
  return pass(
    `All ${based.length} consent-based purposes have a versioned text that recorded consents point to, and processing under them requires a recorded grant.`,
    [ev],
  );
};

/**
 * `classification.inventory`: the classification scheme is applied: fields are classified in the
 * known categories, and every entity the record of processing names has classified fields.
 */
export const classificationInventory: AutomatedCheck = (bundle) => {
  const ev = bundle.classification;
  if (!ev) return missing(bundle, 'classification');
  if (ev.data.fields.length === 0) {
    return fail(
      'The classification registry is empty: no information is classified.',
      [ev],
      'Classify the fields that hold personal, sensitive, health or cardholder data (ClassificationRegistry.register).',
    );
  }
  const known = new Set<string>(CLASSIFICATION_CATEGORIES);
  const odd = ev.data.fields.filter((f) => !known.has(f.category)).map((f) => `${f.entity}.${f.field}`);
  const classified = new Set(ev.data.fields.map((f) => f.entity));
  const processing = bundle.processing;
  const unclassified =
    processing === undefined
      ? []
      : [...new Set(processing.data.activities.flatMap((a) => a.entities ?? []))].filter(
          (e) => !classified.has(e),
        );
  const evidence = processing === undefined ? [ev] : [ev, processing];
  const found = listProblems([
    ['fields in no known category', odd],
    ['entities the record of processing names with no classified field', unclassified],
  ]);
  if (found !== undefined) {
    return fail(
      `The classification is incomplete (${found}).`,
      evidence,
      'Classify the fields of these entities in one of the categories personal, sensitive, phi or cardholder.',
    );
  }
  const entities = classified.size;
  return pass(
    `${ev.data.fields.length} fields of ${entities} entities are classified` +
      (processing === undefined ? '.' : `, covering every entity the record of processing names.`),
    evidence,
  );
};

/**
 * `hashing.keyed-pan`: cardholder fields that are hashed for lookup use the KeyRing's blind index
 * (an HMAC keyed from the ring, never a plain hash) and the PAN itself is stored encrypted.
 */
export const keyedPanHashes: AutomatedCheck = (bundle) => {
  const ev = bundle.classification;
  if (!ev) return missing(bundle, 'classification');
  const indexed = ev.data.fields.filter((f) => f.category === 'cardholder' && f.blindIndexed === true);
  if (indexed.length === 0) {
    return notApplicable('No cardholder field is hashed (blind-indexed) for lookup.', [ev]);
  }
  const keys = bundle.keys;
  if (!keys) return missing(bundle, 'keys');
  const problems: string[] = [];
  if (keys.data.keys.length === 0) problems.push('the key ring holds no key to derive the index key from');
  const clear = indexed.filter((f) => !f.encrypted).map((f) => `${f.entity}.${f.field}`);
  if (clear.length > 0)
    problems.push(
      `hashed cardholder fields whose value is stored unencrypted next to the hash: ${list(clear)}`,
    );
  if (problems.length > 0) {
    return fail(
      `Keyed hashing of PAN is not shown: ${problems.join('; ')}.`,
      [ev, keys],
      'Encrypt the cardholder field (@EncryptedField()) and index it with the KeyRing blind index (keyRing.blindIndex()).',
    );
  }
  return pass(
    `${indexed.length} hashed cardholder fields use the KeyRing's keyed HMAC blind index, and their values are stored encrypted.`,
    [ev, keys],
  );
};

/**
 * `breach.deadline`: for incidents detected within `periodDays` (default 365), the notification to
 * `audience` is tracked on a clock no longer than `maxHours` and was not sent late or left overdue.
 */
export const breachDeadline: AutomatedCheck = (bundle, params) => {
  const ev = bundle.breaches;
  if (!ev) return missing(bundle, 'breaches');
  const audience = params.audience;
  if (typeof audience !== 'string' || audience === '') {
    throw new TypeError('check parameter audience must be a non-empty string');
  }
  const maxHours = num(params, 'maxHours', 72);
  const periodDays = num(params, 'periodDays', 365);
  const now = time(bundle.collectedAt);
  const recent = ev.data.incidents.filter((i) => now - time(i.detectedAt) <= periodDays * DAY_MS);
  if (recent.length === 0) {
    return notDemonstrated(
      `No incident (or drill) was recorded in the last ${periodDays} days, so the ${audience} notification clock is not shown working.`,
      [ev],
      'Record incidents in the BreachRegister as they are detected, and run a breach drill through it at least yearly.',
    );
  }
  const problems: string[] = [];
  for (const i of recent) {
    const n = i.notifications.find((x) => x.audience === audience);
    if (n === undefined) {
      problems.push(`${i.id}: no ${audience} notification tracked`);
      continue;
    }
    if (!n.required) continue;
    const clock = (time(n.dueAt) - time(i.detectedAt)) / HOUR_MS;
    if (!Number.isFinite(clock) || clock > maxHours) {
      problems.push(`${i.id}: deadline ${n.dueAt ?? 'unknown'} is more than ${maxHours} h after detection`);
    } else if (n.sentAt === undefined && !(time(n.dueAt) > now)) {
      problems.push(`${i.id}: overdue since ${n.dueAt}`);
    } else if (n.sentAt !== undefined && time(n.sentAt) > time(n.dueAt)) {
      problems.push(`${i.id}: sent ${n.sentAt}, after the deadline ${n.dueAt}`);
    }
  }
  if (problems.length > 0) {
    return fail(
      `Notifications to ${audience} not within ${maxHours} h of detection: ${list(problems)}.`,
      [ev],
      `Set the BreachRegister deadline for ${audience} to at most ${maxHours} h, send overdue notifications now and document the reasons for any delay.`,
    );
  }
  return pass(
    `${recent.length} incidents in the last ${periodDays} days: each ${audience} notification is tracked on a clock of at most ${maxHours} h and none is late or overdue.`,
    [ev],
  );
};
