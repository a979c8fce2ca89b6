import {
  DAY_MS,
  fail,
  list,
  listProblems,
  missing,
  notApplicable,
  notDemonstrated,
  num,
  pass,
  SKEW_MS,
  time,
  type AutomatedCheck,
} from './check-outcome';

// Privacy (GDPR): consent, data-subject requests, processors, breaches, processing records, retention.

export const consentMarketing: AutomatedCheck = (bundle) => {
  const ev = bundle.consent;
  if (!ev) return missing(bundle, 'consent');
  const marketing = ev.data.purposes.filter((p) => p.marketing);
  if (marketing.length === 0) {
    return notApplicable(
      `None of the ${ev.data.purposes.length} registered purposes is a marketing purpose.`,
      [ev],
    );
  }
  const loose = marketing.filter((p) => !p.requiresConsent).map((p) => p.id);
  if (loose.length > 0) {
    return fail(
      `Marketing purposes that do not require consent: ${list(loose)}.`,
      [ev],
      'Register marketing purposes as consent-based and gate their processing with requireConsent().',
    );
  }
  return pass(`All ${marketing.length} marketing purposes require a recorded, versioned consent.`, [ev]);
};

export const dsrOverdue: AutomatedCheck = (bundle) => {
  const ev = bundle.dsr;
  if (!ev) return missing(bundle, 'dsr');
  const now = time(bundle.collectedAt);
  const open = ev.data.requests.filter((r) => r.open);
  const overdue = open
    .filter((r) => !(time(r.dueAt) >= now))
    .map((r) => `${r.id} (${r.type}, due ${r.dueAt})`);
  if (overdue.length > 0) {
    return fail(
      `${overdue.length} data-subject requests are past their deadline: ${list(overdue)}.`,
      [ev],
      'Complete or lawfully extend these requests now and record why they were late.',
    );
  }
  return pass(
    `${open.length} open data-subject requests, none past its deadline (${ev.data.requests.length} on record).`,
    [ev],
  );
};

const MACHINE_READABLE = ['json', 'csv', 'xml'];

export const dsrCapabilities: AutomatedCheck = (bundle, params) => {
  const ev = bundle.dsr;
  if (!ev) return missing(bundle, 'dsr');
  const operation = String(params.operation ?? 'export');
  if (ev.data.sources.length === 0) {
    return fail(
      'No data source is registered with DataSubjectRequests.',
      [ev],
      'Register every store of personal data as a DSR source (export and erase).',
    );
  }
  const want = operation === 'erase' ? 'erase' : 'export';
  const lacking = ev.data.sources.filter((s) => !s[want]).map((s) => s.id);
  if (lacking.length > 0) {
    return fail(
      `Data sources that cannot ${want}: ${list(lacking)}.`,
      [ev],
      `Implement ${want} for these sources.`,
    );
  }
  const formats = ev.data.formats.filter((f) => MACHINE_READABLE.includes(f.toLowerCase()));
  if (operation === 'portability' && formats.length === 0) {
    return fail('No machine-readable export format is offered.', [ev], 'Offer JSON or CSV exports.');
  }
  // Capability shown, not declared: a recent self-test export reached every source and covered
  // every classified entity.
  const maxAgeDays = num(params, 'selfTestMaxAgeDays', 31);
  const howTo = `Seed a synthetic test subject in every store and run dsr.selfTest({ subjectId }) at least every ${maxAgeDays} days.`;
  const t = ev.data.selfTest;
  if (t === undefined) {
    return notDemonstrated(
      `${ev.data.sources.length} data sources are registered but no self-test export has run.`,
      [ev],
      howTo,
    );
  }
  const age = time(bundle.collectedAt) - time(t.at);
  if (!Number.isFinite(age) || age > maxAgeDays * DAY_MS) {
    return notDemonstrated(`The last DSR self-test (${t.at}) is older than ${maxAgeDays} days.`, [ev], howTo);
  }
  const failed = t.sources.filter((s) => !s.ok).map((s) => s.id);
  if (failed.length > 0) {
    return fail(
      `The DSR self-test export failed in: ${list(failed)}.`,
      [ev],
      'Fix these sources (their export threw or returned no array), then re-run dsr.selfTest().',
    );
  }
  const tested = new Set(t.sources.map((s) => s.id));
  const untested = ev.data.sources.filter((s) => !tested.has(s.id)).map((s) => s.id);
  const empty = t.sources.filter((s) => s.records === 0).map((s) => s.id);
  const unproven = listProblems([
    ['exported nothing for the test subject', empty],
    ['registered after the self-test', untested],
  ]);
  if (unproven !== undefined) {
    return notDemonstrated(`DSR sources not shown to work (${unproven}).`, [ev], howTo);
  }
  const cls = bundle.classification;
  if (!cls) return missing(bundle, 'classification');
  const exported = new Set(t.sources.flatMap((s) => s.types));
  const uncovered = [...new Set(cls.data.fields.map((f) => f.entity))].filter((e) => !exported.has(e));
  if (uncovered.length > 0) {
    return fail(
      `Classified entities no DSR source exported in the self-test: ${list(uncovered)}.`,
      [ev, cls],
      'Register a DSR source for each classified entity (its export returns records of that type) and seed the test subject in it.',
    );
  }
  const entities = new Set(cls.data.fields.map((f) => f.entity)).size;
  if (operation === 'portability') {
    return pass(
      `All ${ev.data.sources.length} data sources export, in ${formats.join(', ')}; the self-test at ${t.at} covered all ${entities} classified entities.`,
      [ev, cls],
    );
  }
  return pass(
    `All ${ev.data.sources.length} registered data sources support ${want}; the self-test export at ${t.at} covered all ${entities} classified entities.`,
    [ev, cls],
  );
};

export const processorAgreements: AutomatedCheck = (bundle) => {
  const ev = bundle.processors;
  if (!ev) return missing(bundle, 'processors');
  if (ev.data.processors.length === 0) {
    return notApplicable('The processor register lists no processors or other recipients.', [ev]);
  }
  if (ev.data.gaps.length > 0) {
    const gaps = ev.data.gaps.map(
      (g) => `${g.processorId}: ${g.required} ${g.reason}${g.basis ? ` (${g.basis})` : ''}`,
    );
    return fail(
      `Recipients without a required agreement in force: ${list(gaps)}.`,
      [ev],
      'Sign or renew the agreements (DPA / BAA / SCC) and record them in the ProcessorRegister.',
    );
  }
  return pass(
    `All ${ev.data.processors.length} recipients have the agreements their role requires, signed and in force.`,
    [ev],
  );
};

export const breachNotifications: AutomatedCheck = (bundle, params) => {
  const ev = bundle.breaches;
  if (!ev) return missing(bundle, 'breaches');
  const now = time(bundle.collectedAt);
  const d = ev.data.deadlines;
  if (d === undefined || !(d.authorityHours > 0) || !(d.subjectsHours > 0)) {
    return fail(
      'The breach register does not report notification deadlines.',
      [ev],
      'Register the BreachRegister (deadlines: authorityHours, subjectsHours) instead of a stand-in.',
    );
  }
  const overdue: string[] = [];
  for (const i of ev.data.incidents) {
    for (const n of i.notifications) {
      if (n.required && n.sentAt === undefined && !(time(n.dueAt) > now))
        overdue.push(`${i.id} -> ${n.audience} (due ${n.dueAt ?? 'unknown'})`);
    }
  }
  if (overdue.length > 0) {
    return fail(
      `Breach notifications past their deadline: ${list(overdue)}.`,
      [ev],
      'Send the notifications now and document the reasons for the delay.',
    );
  }
  const maxAgeDays = num(params, 'maxDrillAgeDays', 366);
  const recent = ev.data.incidents.filter((i) => {
    const age = now - time(i.detectedAt);
    return age >= -DAY_MS && age <= maxAgeDays * DAY_MS;
  });
  const drills = ev.data.incidents.filter((i) => i.drill === true).length;
  if (recent.length === 0) {
    return notDemonstrated(
      `No incident or drill recorded within ${maxAgeDays} days (${ev.data.incidents.length} on record): the incident procedure is not shown to work.`,
      [ev],
      'Run an incident-response drill at least yearly and record it: breaches.recordDrill({ title, detectedAt }).',
    );
  }
  return pass(
    `${ev.data.incidents.length} incidents on record (${drills} drills; ${recent.length} within ${maxAgeDays} days), deadlines ${d.authorityHours} h (authority) / ${d.subjectsHours} h (subjects), no notification overdue.`,
    [ev],
  );
};

export const processingRecords: AutomatedCheck = (bundle) => {
  const ev = bundle.processing;
  if (!ev) return missing(bundle, 'processing');
  if (ev.data.activities.length === 0) {
    return fail(
      'The record of processing activities is empty.',
      [ev],
      'Register each processing activity with its purposes, entities and lawful basis.',
    );
  }
  const cls = bundle.classification;
  if (!cls) return missing(bundle, 'classification');
  const purposes = new Set(ev.data.activities.flatMap((a) => a.purposes));
  const entities = new Set(ev.data.activities.flatMap((a) => a.entities ?? []));
  // A classified field is covered when an activity names its entity or its purpose.
  const uncovered = cls.data.fields
    .filter((f) => !entities.has(f.entity) && !(f.purpose !== undefined && purposes.has(f.purpose)))
    .map((f) => `${f.entity}.${f.field}`);
  const gaps = (ev.data.gaps ?? []).map((g) => `${g.activityId}: ${g.issue}`);
  const found = listProblems([
    ['classified fields no activity covers', uncovered],
    ['register defects', gaps],
  ]);
  if (found !== undefined) {
    return fail(
      `The record of processing is incomplete (${found}).`,
      [ev, cls],
      'Record an activity (purposes, entities, recipients) for every classified entity and fix the listed defects.',
    );
  }
  return pass(
    `${ev.data.activities.length} processing activities cover all ${cls.data.fields.length} classified fields.`,
    [ev, cls],
  );
};

export const dataRetention: AutomatedCheck = (bundle, params) => {
  const ev = bundle.dataRetention;
  if (!ev) return missing(bundle, 'dataRetention');
  // How recent the last purge run of every source must be (the job runs on a schedule).
  const maxPurgeAgeDays = num(params, 'maxPurgeAgeDays', 31);
  if (ev.data.sources.length === 0) {
    return fail(
      'No store of personal data is under retention management.',
      [ev],
      'Register each store of personal data with DataRetention and give it a retention rule.',
    );
  }
  const unbounded = ev.data.sources
    .filter((s) => !(typeof s.days === 'number' && s.days > 0))
    .map((s) => `${s.id} (${s.category})`);
  if (unbounded.length > 0) {
    return fail(
      `Data sources without a retention period: ${list(unbounded)}.`,
      [ev],
      'Add a retention rule for these sources or their categories, and run the purge on a schedule.',
    );
  }
  // The period alone is a promise: the last purge run shows the data is actually deleted.
  const now = time(bundle.collectedAt);
  const problems: string[] = [];
  let blocked = 0;
  for (const s of ev.data.sources) {
    const last = s.lastPurge;
    if (last === undefined) {
      problems.push(`${s.id}: never purged`);
      continue;
    }
    const age = now - time(last.at);
    if (!Number.isFinite(age) || age < -SKEW_MS) problems.push(`${s.id}: purge time ${last.at} is invalid`);
    else if (last.outcome === 'failure') problems.push(`${s.id}: the last purge (${last.at}) failed`);
    else if (age > maxPurgeAgeDays * DAY_MS)
      problems.push(`${s.id}: last purge ${last.at}, more than ${maxPurgeAgeDays} days ago`);
    else if (last.outcome === 'blocked') blocked++;
  }
  if (problems.length > 0) {
    return fail(
      `Retention periods are set but deletion is not shown: ${list(problems)}.`,
      [ev],
      `Run dataRetention.purge() on a schedule (at least every ${maxPurgeAgeDays} days) and fix the sources whose purge fails.`,
    );
  }
  const held = blocked > 0 ? `; ${blocked} were blocked by a legal hold` : '';
  return pass(
    `All ${ev.data.sources.length} data sources have a retention period (${ev.data.rules.length} rules) and were purged within ${maxPurgeAgeDays} days${held}.`,
    [ev],
  );
};
