import type { CheckId } from './control';
import type { Evidence, EvidenceBundle, EvidenceSourceName, HttpAppEvidence } from './evidence';

export type CheckStatus = 'pass' | 'fail' | 'not-applicable';

export interface CheckOutcome {
  readonly status: CheckStatus;
  /** One sentence saying what was observed. */
  readonly summary: string;
  /** The evidence the decision rests on (empty only for a failure caused by missing evidence). */
  readonly evidence: readonly Evidence[];
  /** What to do to make the control pass (absent on a pass). */
  readonly remediation?: string;
}

export type CheckParams = Readonly<Record<string, unknown>>;

/** A pure function of collected evidence. It may only pass on evidence it was given. */
export type AutomatedCheck = (bundle: EvidenceBundle, params: CheckParams) => CheckOutcome;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Tolerated clock skew before a timestamp "from the future" is distrusted. */
const SKEW_MS = 5 * 60_000;
const LIST_LIMIT = 20;

const SERVICE_HINTS: Record<EvidenceSourceName, string> = {
  classification: 'Register the ClassificationRegistry: kit.register({ classification })',
  keys: 'Register the KeyRing: kit.register({ keyRing })',
  passwords: 'Register the PasswordHasher: kit.register({ passwordHasher })',
  audit: 'Register the AuditLog: kit.register({ auditLog })',
  mfa: 'Register the MfaPolicy: kit.register({ mfaPolicy })',
  authz: 'Register the PolicyEngine: kit.register({ policyEngine })',
  bruteForce: 'Register the BruteForceGuard: kit.register({ bruteForceGuard })',
  threatDetection: 'Register the ThreatDetector: kit.register({ threatDetector })',
  http: 'No HTTP app registered: register each app (the Express / Koa adapters do it) with kit.registerHttpApp(...), or set httpSurface: false if the deployment serves no HTTP',
  consent: 'Register the ConsentManager: kit.register({ consent })',
  dsr: 'Register DataSubjectRequests: kit.register({ dsr })',
  processors: 'Register the ProcessorRegister: kit.register({ processors })',
  breaches: 'Register the BreachRegister: kit.register({ breaches })',
  processing:
    'Register the ProcessingRegister (record of processing activities): kit.register({ processing })',
  dataRetention: 'Register DataRetention: kit.register({ dataRetention })',
};

function pass(summary: string, evidence: readonly Evidence[]): CheckOutcome {
  return { status: 'pass', summary, evidence };
}

function fail(summary: string, evidence: readonly Evidence[], remediation: string): CheckOutcome {
  return { status: 'fail', summary, evidence, remediation };
}

function notApplicable(summary: string, evidence: readonly Evidence[]): CheckOutcome {
  return { status: 'not-applicable', summary, evidence };
}

/** The failure for evidence that is absent (service not registered) or unreadable. */
function missing(bundle: EvidenceBundle, name: EvidenceSourceName): CheckOutcome {
  const error = bundle.errors[name];
  if (error !== undefined) {
    return fail(
      `No evidence: ${error}.`,
      [],
      `Fix the ${name} service so it can be read, then re-run the report.`,
    );
  }
  return fail(`No evidence: the ${name} service is not registered.`, [], SERVICE_HINTS[name]);
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, LIST_LIMIT).join(', ');
  return items.length > LIST_LIMIT ? `${shown} and ${items.length - LIST_LIMIT} more` : shown;
}

function time(value: unknown): number {
  return typeof value === 'string' ? Date.parse(value) : Number.NaN;
}

function num(params: CheckParams, name: string, fallback: number): number {
  const v = params[name] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new TypeError(`check parameter ${name} must be a positive number`);
  }
  return v;
}

function strings(params: CheckParams, name: string, fallback: readonly string[]): readonly string[] {
  const v = params[name] ?? fallback;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    throw new TypeError(`check parameter ${name} must be an array of strings`);
  }
  return v as string[];
}

// ---------------------------------------------------------------------------------------------

const classifiedFieldsEncrypted: AutomatedCheck = (bundle, params) => {
  const ev = bundle.classification;
  if (!ev) return missing(bundle, 'classification');
  const categories = strings(params, 'categories', ['personal', 'sensitive', 'phi', 'cardholder']);
  if (ev.data.fields.length === 0) {
    return fail(
      'The classification registry is empty: no field is marked as personal, sensitive, PHI or cardholder data.',
      [ev],
      'Classify every field that holds personal, health or cardholder data (e.g. @Personal() / @PHI() / @Cardholder(), or ClassificationRegistry.register).',
    );
  }
  const relevant = ev.data.fields.filter((f) => categories.includes(f.category));
  if (relevant.length === 0) {
    return notApplicable(`No field of category ${categories.join(' / ')} is classified.`, [ev]);
  }
  const clear = relevant.filter((f) => !f.encrypted).map((f) => `${f.entity}.${f.field} (${f.category})`);
  if (clear.length > 0) {
    return fail(
      `${clear.length} of ${relevant.length} classified ${categories.join('/')} fields are stored unencrypted: ${list(clear)}.`,
      [ev],
      'Encrypt these fields (e.g. @EncryptedField() with the KeyRing) and re-encrypt existing rows.',
    );
  }
  return pass(`All ${relevant.length} classified ${categories.join('/')} fields are stored encrypted.`, [ev]);
};

const keyRotation: AutomatedCheck = (bundle, params) => {
  const ev = bundle.keys;
  if (!ev) return missing(bundle, 'keys');
  const maxAgeDays = num(params, 'maxAgeDays', 365);
  if (ev.data.keys.length === 0) {
    return fail(
      'The key ring holds no data keys.',
      [ev],
      'Create the data keys the application encrypts with (`bulwark keys generate`).',
    );
  }
  const now = time(bundle.collectedAt);
  const stale: string[] = [];
  for (const k of ev.data.keys) {
    const created = time(k.primaryCreatedAt);
    const ageDays = (now - created) / DAY_MS;
    if (!Number.isFinite(ageDays)) stale.push(`${k.keyId} v${k.primaryVersion} (no valid creation time)`);
    else if (ageDays > maxAgeDays)
      stale.push(`${k.keyId} v${k.primaryVersion} (${Math.floor(ageDays)} days old)`);
  }
  if (stale.length > 0) {
    return fail(
      `${stale.length} of ${ev.data.keys.length} keys are older than the ${maxAgeDays}-day rotation period: ${list(stale)}.`,
      [ev],
      'Rotate these keys (`bulwark keys rotate <keyId>`), then rewrap stored values and retire old versions.',
    );
  }
  return pass(
    `All ${ev.data.keys.length} data keys have a primary version younger than ${maxAgeDays} days.`,
    [ev],
  );
};

const keyAlgorithms: AutomatedCheck = (bundle, params) => {
  const ev = bundle.keys;
  if (!ev) return missing(bundle, 'keys');
  const allowed = strings(params, 'allowed', ['aes-256-gcm', 'chacha20-poly1305']);
  if (ev.data.keys.length === 0) {
    return fail(
      'The key ring holds no data keys.',
      [ev],
      'Create the data keys the application encrypts with (`bulwark keys generate`).',
    );
  }
  const bad: string[] = [];
  for (const k of ev.data.keys) {
    for (const v of k.versions) {
      if (v.state !== 'retired' && !allowed.includes(v.algorithm))
        bad.push(`${k.keyId} v${v.version} (${v.algorithm})`);
    }
  }
  if (bad.length > 0) {
    return fail(
      `Key versions use algorithms outside ${allowed.join(', ')}: ${list(bad)}.`,
      [ev],
      'Rotate to an approved algorithm and retire the old versions.',
    );
  }
  return pass(
    `All usable versions of ${ev.data.keys.length} data keys use ${allowed.join(' or ')}, wrapped by the master key.`,
    [ev],
  );
};

const passwordHashing: AutomatedCheck = (bundle) => {
  const ev = bundle.passwords;
  if (!ev) return missing(bundle, 'passwords');
  const p = ev.data;
  if (p.algorithm !== 'argon2id' || !p.meetsOwaspMinimum) {
    return fail(
      `Passwords are hashed with ${p.algorithm} m=${p.memoryCost} KiB t=${p.timeCost} p=${p.parallelism}, below the OWASP minimum.`,
      [ev],
      'Use argon2id with at least m=19456 KiB, t=2, p=1 (the PasswordHasher defaults) and drop allowWeakParameters.',
    );
  }
  return pass(
    `Passwords are hashed with argon2id m=${p.memoryCost} KiB t=${p.timeCost} p=${p.parallelism} (meets OWASP).`,
    [ev],
  );
};

const mfaPrivileged: AutomatedCheck = (bundle) => {
  const ev = bundle.mfa;
  if (!ev) return missing(bundle, 'mfa');
  const roles = bundle.settings.privilegedRoles;
  if (roles.length === 0) {
    return fail(
      'No privileged roles are declared, so MFA coverage cannot be checked.',
      [ev],
      'Set privilegedRoles in the ComplianceKit options.',
    );
  }
  const uncovered = ev.data.probes.filter((p) => !p.required || p.satisfied).map((p) => p.role);
  const unprobed = roles.filter((r) => !ev.data.probes.some((p) => p.role === r));
  const gaps = [...uncovered, ...unprobed];
  if (gaps.length > 0) {
    return fail(
      `The MFA policy does not demand a second factor from privileged roles: ${list(gaps)}.`,
      [ev],
      "Add these roles to MfaPolicy requiredFor (or use ['*']) and enforce the policy on their routes.",
    );
  }
  return pass(`The MFA policy refuses privileged roles (${roles.join(', ')}) without a second factor.`, [ev]);
};

const auditEnabled: AutomatedCheck = (bundle) => {
  const ev = bundle.audit;
  if (!ev) return missing(bundle, 'audit');
  if (ev.data.size === 0) {
    return fail(
      'The audit log is registered but holds no events.',
      [ev],
      'Record security events (authentication, access, changes) through the AuditLog, e.g. with the audit middleware.',
    );
  }
  return pass(`The audit log holds ${ev.data.size} events.`, [ev]);
};

const auditVerified: AutomatedCheck = (bundle, params) => {
  const ev = bundle.audit;
  if (!ev) return missing(bundle, 'audit');
  const maxAgeHours = num(params, 'maxAgeHours', 24);
  const v = ev.data.lastVerification;
  const howTo =
    'Verify the chain on a schedule (kit.verifyAuditLog(), `bulwark audit verify`, or `bulwark report --verify-audit`).';
  if (!v) return fail('No verification of the audit chain has been recorded.', [ev], howTo);
  if (!v.ok) {
    const where = v.firstBad ? ` at seq ${v.firstBad.seq} (${v.firstBad.reason})` : '';
    return fail(
      `The last audit chain verification (${v.at}) FAILED${where}.`,
      [ev],
      'Investigate the tampering or corruption, restore from a trusted copy, and record an incident.',
    );
  }
  const age = time(bundle.collectedAt) - time(v.at);
  if (!Number.isFinite(age) || age < -SKEW_MS) {
    return fail(`The recorded verification time (${v.at}) is invalid or in the future.`, [ev], howTo);
  }
  if (age > maxAgeHours * HOUR_MS) {
    return fail(`The last successful verification (${v.at}) is older than ${maxAgeHours} h.`, [ev], howTo);
  }
  return pass(
    `The audit chain (${v.treeSize} entries) was verified intact at ${v.at}, within ${maxAgeHours} h.`,
    [ev],
  );
};

const auditTamperEvidence: AutomatedCheck = (bundle) => {
  const ev = bundle.audit;
  if (!ev) return missing(bundle, 'audit');
  const problems: string[] = [];
  const fixes: string[] = [];
  const v = ev.data.lastVerification;
  if (ev.data.hmac === 'unkeyed') {
    problems.push('leaf hashes are not HMAC-keyed (a writer with store access can recompute the chain)');
    fixes.push('open the AuditLog with an hmacKey of at least 32 random bytes kept outside the database');
  } else if (ev.data.hmac === 'unknown') {
    problems.push('no unredacted entry exists to show whether leaf hashes are keyed');
    fixes.push('record events, then re-run the report');
  } else if (!v?.ok) {
    problems.push('keyed leaf hashes are only trusted after a successful verification');
  }
  if (!v) {
    problems.push('no verification has been recorded, so signed checkpoints were not observed');
    fixes.push('verify the chain (kit.verifyAuditLog())');
  } else if (!v.ok) {
    problems.push(
      `the last verification failed${v.firstBad ? ` at seq ${v.firstBad.seq} (${v.firstBad.reason})` : ''}`,
    );
    fixes.push('investigate the failed verification');
  } else if (v.signedCheckpointsVerified === 0) {
    // The log's own description says why, when it has one: no signer, or no store to keep them.
    const cfg = ev.data.configuration;
    const why =
      cfg === undefined
        ? ''
        : !cfg.signer
          ? ' (the audit log has no checkpoint signer)'
          : !cfg.checkpointStore
            ? ' (the audit log has no checkpoint store, so verification sees no checkpoints)'
            : ' (no checkpoint has been created yet)';
    problems.push(`no signed checkpoint was verified${why}`);
    fixes.push(
      'configure a CheckpointSigner and checkpoint store and create checkpoints on a schedule (`bulwark audit checkpoint`)',
    );
  }
  if (problems.length > 0) {
    return fail(`Audit tamper evidence is incomplete: ${problems.join('; ')}.`, [ev], `${fixes.join('; ')}.`);
  }
  return pass(
    `Leaf hashes are HMAC-keyed and ${v!.signedCheckpointsVerified} signed checkpoints verified at ${v!.at}.`,
    [ev],
  );
};

const auditRetention: AutomatedCheck = (bundle, params) => {
  const ev = bundle.audit;
  if (!ev) return missing(bundle, 'audit');
  const minDays = num(params, 'minDays', 366);
  const short = ev.data.retention.filter((r) => r.days !== null && r.days < minDays);
  if (ev.data.retention.length === 0) {
    return fail('No audit category was checked.', [ev], 'Set auditCategories in the ComplianceKit options.');
  }
  if (short.length > 0) {
    return fail(
      `Audit categories are kept for less than ${minDays} days: ${list(short.map((r) => `${r.category} (${r.days} days)`))}.`,
      [ev],
      `Set audit.retention.periods to at least ${minDays} days for these categories.`,
    );
  }
  const shown = ev.data.retention.map(
    (r) => `${r.category}: ${r.days === null ? 'kept indefinitely' : `${r.days} days`}`,
  );
  return pass(`Audit retention meets ${minDays} days (${shown.join(', ')}).`, [ev]);
};

const defaultDeny: AutomatedCheck = (bundle) => {
  const ev = bundle.authz;
  if (!ev) return missing(bundle, 'authz');
  const p = ev.data.probe;
  if (p.allowed) {
    return fail(
      `A request no policy should grant (unknown subject, action and resource) was allowed (${p.reasonId}).`,
      [ev],
      'Remove wildcard allow rules that apply to every subject; grant by role and resource.',
    );
  }
  return pass(`An ungranted request is denied (${p.reasonId}).`, [ev]);
};

const breakGlassAudited: AutomatedCheck = (bundle) => {
  const ev = bundle.authz;
  if (!ev) return missing(bundle, 'authz');
  const grants = ev.data.breakGlass;
  if (grants.length === 0) {
    return pass(
      'No break-glass grant exists; the engine refuses grants whose audit event cannot be written.',
      [ev],
    );
  }
  const audit = bundle.audit ? [bundle.audit] : [];
  if (grants.some((g) => g.auditRecorded === null)) {
    return fail(
      `${grants.length} break-glass grants exist but no audit log is registered to show they were recorded.`,
      [ev],
      'Register the AuditLog the PolicyEngine writes to: kit.register({ auditLog }).',
    );
  }
  const bad = grants.filter((g) => g.auditRecorded !== true || !g.hasReason).map((g) => g.id);
  if (bad.length > 0) {
    return fail(
      `Break-glass grants without an audit record or reason: ${list(bad)}.`,
      [ev, ...audit],
      'Investigate these grants; pass the AuditLog to the PolicyEngine so every grant is recorded.',
    );
  }
  return pass(`All ${grants.length} break-glass grants have a reason and an audit record.`, [ev, ...audit]);
};

const bruteForce: AutomatedCheck = (bundle, params) => {
  const ev = bundle.bruteForce;
  if (!ev) return missing(bundle, 'bruteForce');
  const scope = params.scope as string | undefined;
  const maxFailures = params.maxFailures as number | undefined;
  const minLockoutSec = params.minLockoutSec as number | undefined;
  const scopes = scope === undefined ? ['account', 'ip+account'] : [scope];
  const ok = scopes.filter((s) => {
    const l = ev.data.limits[s];
    if (!l) return false;
    if (maxFailures !== undefined && l.maxFailures > maxFailures) return false;
    if (minLockoutSec !== undefined && l.lockoutSec < minLockoutSec) return false;
    return true;
  });
  const want =
    `${scope ?? 'account or ip+account'} limit` +
    (maxFailures !== undefined ? ` with at most ${maxFailures} failures` : '') +
    (minLockoutSec !== undefined ? ` and a lockout of at least ${minLockoutSec} s` : '');
  if (ok.length === 0) {
    return fail(
      `The brute-force guard has no ${want}.`,
      [ev],
      `Configure BruteForceGuard limits.${scopes[0]} accordingly.`,
    );
  }
  // A requirement to lock the user ID whatever the source (PCI DSS 8.3.4) is not met by a lockout
  // that spares the account's known clients.
  if (params.lockout === 'hard' && (ev.data.lockout ?? 'hard') !== 'hard') {
    return fail(
      `The account lockout spares clients the account signed in from (lockout '${ev.data.lockout}'); this control locks the user ID whatever the source.`,
      [ev],
      "Set BruteForceGuard lockout: 'hard' (anyone can then lock an account out; see docs/brute-force.md).",
    );
  }
  return pass(`The brute-force guard enforces an ${want} (${ok.join(', ')}).`, [ev]);
};

const threatDetection: AutomatedCheck = (bundle) => {
  const ev = bundle.threatDetection;
  if (!ev) return missing(bundle, 'threatDetection');
  if (ev.data.rules !== undefined && ev.data.rules.length === 0) {
    return fail('The threat detector runs no rules.', [ev], 'Enable the built-in detection rules.');
  }
  if (ev.data.auditLogAttached === false && ev.data.violationListeners === 0) {
    return fail(
      'Violations are neither written to the audit log nor sent to any listener.',
      [ev],
      'Attach the AuditLog to the ThreatDetector or subscribe an alerting hook.',
    );
  }
  return pass(
    `A threat detector is running${ev.data.rules ? ` ${ev.data.rules.length} rules` : ''} over the audit stream (${ev.data.violationListeners} alert listeners).`,
    [ev],
  );
};

const HSTS_MIN_SEC = 31_536_000; // one year (the HSTS preload list minimum; helmet's default)

function headerProblems(app: HttpAppEvidence, required: readonly string[]): string[] {
  const h = app.securityHeaders;
  const problems: string[] = [];
  if (required.includes('hsts')) {
    const m = /max-age=(\d+)/i.exec(h['strict-transport-security'] ?? '');
    if (!m || Number(m[1]) < HSTS_MIN_SEC)
      problems.push(`Strict-Transport-Security max-age >= ${HSTS_MIN_SEC}`);
  }
  const csp = h['content-security-policy'] ?? '';
  if (required.includes('csp') && csp.trim() === '') problems.push('Content-Security-Policy');
  if (required.includes('nosniff') && (h['x-content-type-options'] ?? '').toLowerCase() !== 'nosniff')
    problems.push('X-Content-Type-Options: nosniff');
  if (required.includes('frame')) {
    const xfo = (h['x-frame-options'] ?? '').toUpperCase();
    if (xfo !== 'DENY' && xfo !== 'SAMEORIGIN' && !/frame-ancestors/i.test(csp))
      problems.push('X-Frame-Options or CSP frame-ancestors');
  }
  if (required.includes('referrer') && (h['referrer-policy'] ?? '').trim() === '')
    problems.push('Referrer-Policy');
  return problems;
}

const securityHeaders: AutomatedCheck = (bundle, params) => {
  if (!bundle.settings.httpSurface) return notApplicable('The configuration declares no HTTP surface.', []);
  const ev = bundle.http;
  if (!ev || ev.data.apps.length === 0) return missing(bundle, 'http');
  const required = strings(params, 'require', ['hsts', 'csp', 'nosniff', 'frame', 'referrer']);
  const bad = ev.data.apps
    .map((app) => ({ app: app.name, problems: headerProblems(app, required) }))
    .filter((x) => x.problems.length > 0);
  if (bad.length > 0) {
    return fail(
      `Apps missing security headers: ${bad.map((b) => `${b.app} (${b.problems.join(', ')})`).join('; ')}.`,
      [ev],
      'Enable securityHeaders() with its defaults on every app.',
    );
  }
  return pass(
    `All ${ev.data.apps.length} registered apps send the required headers (${required.join(', ')}).`,
    [ev],
  );
};

const csrf: AutomatedCheck = (bundle) => {
  if (!bundle.settings.httpSurface) return notApplicable('The configuration declares no HTTP surface.', []);
  const ev = bundle.http;
  if (!ev || ev.data.apps.length === 0) return missing(bundle, 'http');
  const off = ev.data.apps.filter((a) => !a.csrf.enabled).map((a) => a.name);
  if (off.length > 0) {
    return fail(
      `CSRF protection is off in: ${list(off)}.`,
      [ev],
      'Enable the csrf() middleware on every app that accepts state-changing browser requests.',
    );
  }
  return pass(
    `CSRF protection is on in all ${ev.data.apps.length} registered apps (${[...new Set(ev.data.apps.map((a) => a.csrf.method ?? 'unspecified'))].join(', ')}).`,
    [ev],
  );
};

const consentMarketing: AutomatedCheck = (bundle) => {
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

const dsrOverdue: AutomatedCheck = (bundle) => {
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

const dsrCapabilities: AutomatedCheck = (bundle, params) => {
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
  if (operation === 'portability') {
    const formats = ev.data.formats.filter((f) => MACHINE_READABLE.includes(f.toLowerCase()));
    if (formats.length === 0) {
      return fail('No machine-readable export format is offered.', [ev], 'Offer JSON or CSV exports.');
    }
    return pass(`All ${ev.data.sources.length} data sources export, in ${formats.join(', ')}.`, [ev]);
  }
  return pass(`All ${ev.data.sources.length} registered data sources support ${want}.`, [ev]);
};

const processorAgreements: AutomatedCheck = (bundle) => {
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

const breachNotifications: AutomatedCheck = (bundle) => {
  const ev = bundle.breaches;
  if (!ev) return missing(bundle, 'breaches');
  const now = time(bundle.collectedAt);
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
  return pass(`${ev.data.incidents.length} incidents on record, no notification overdue.`, [ev]);
};

const processingRecords: AutomatedCheck = (bundle) => {
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
  if (uncovered.length > 0 || gaps.length > 0) {
    const parts = [
      ...(uncovered.length ? [`classified fields no activity covers: ${list(uncovered)}`] : []),
      ...(gaps.length ? [`register defects: ${list(gaps)}`] : []),
    ];
    return fail(
      `The record of processing is incomplete (${parts.join('; ')}).`,
      [ev, cls],
      'Record an activity (purposes, entities, recipients) for every classified entity and fix the listed defects.',
    );
  }
  return pass(
    `${ev.data.activities.length} processing activities cover all ${cls.data.fields.length} classified fields.`,
    [ev, cls],
  );
};

const dataRetention: AutomatedCheck = (bundle) => {
  const ev = bundle.dataRetention;
  if (!ev) return missing(bundle, 'dataRetention');
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
  return pass(
    `All ${ev.data.sources.length} data sources have a retention period (${ev.data.rules.length} rules).`,
    [ev],
  );
};

/** Every automated check by id. */
export const AUTOMATED_CHECKS: Readonly<Record<CheckId, AutomatedCheck>> = Object.freeze({
  'encryption.classified-fields': classifiedFieldsEncrypted,
  'keys.rotation': keyRotation,
  'keys.algorithms': keyAlgorithms,
  'passwords.hashing': passwordHashing,
  'mfa.privileged': mfaPrivileged,
  'audit.enabled': auditEnabled,
  'audit.verified': auditVerified,
  'audit.tamper-evidence': auditTamperEvidence,
  'audit.retention': auditRetention,
  'authz.default-deny': defaultDeny,
  'authz.break-glass-audited': breakGlassAudited,
  'threat.brute-force': bruteForce,
  'threat.detection': threatDetection,
  'http.security-headers': securityHeaders,
  'http.csrf': csrf,
  'consent.marketing': consentMarketing,
  'dsr.overdue': dsrOverdue,
  'dsr.capabilities': dsrCapabilities,
  'processors.agreements': processorAgreements,
  'breach.notifications': breachNotifications,
  'privacy.processing-records': processingRecords,
  'privacy.data-retention': dataRetention,
});

/**
 * Runs one check, failing closed: a check that throws (bad parameter, malformed evidence) is a
 * failure with the reason, never a pass; an outcome claiming a pass without evidence is demoted.
 */
export function runCheck(id: CheckId, bundle: EvidenceBundle, params: CheckParams): CheckOutcome {
  const check = AUTOMATED_CHECKS[id];
  if (check === undefined) return fail(`Unknown check "${id}".`, [], 'Fix the control catalogue.');
  let outcome: CheckOutcome;
  try {
    outcome = check(bundle, params);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return fail(
      `The check could not be evaluated: ${message}.`,
      [],
      'Fix the evidence source or the check parameters.',
    );
  }
  if (outcome.status === 'pass' && outcome.evidence.length === 0) {
    return fail('The check reported a pass without evidence.', [], 'Report this as a Bulwark bug.');
  }
  return outcome;
}
