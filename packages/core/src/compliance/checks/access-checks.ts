import {
  DAY_MS,
  fail,
  list,
  missing,
  notDemonstrated,
  num,
  pass,
  time,
  type AutomatedCheck,
} from './check-outcome';

// Access control: MFA for privileged roles, default deny, break-glass, brute-force and threat detection.

export const mfaPrivileged: AutomatedCheck = (bundle) => {
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

export const defaultDeny: AutomatedCheck = (bundle) => {
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
  const rules = ev.data.rules;
  if (rules !== undefined && rules.allow === 0) {
    return notDemonstrated(
      `The policy has no allow rule (${rules.deny} deny rules): refusing everything shows nothing about default deny.`,
      [ev],
      'Load the policy the application enforces (allow rules per role and resource).',
    );
  }
  const g = ev.data.grantProbe;
  if (g === undefined || !g.allowed) {
    return notDemonstrated(
      g === undefined
        ? 'No request the policy grants is known, so the refusal of an ungranted one proves nothing.'
        : `The ${g.source} grant probe (${g.action} on ${g.resourceType}) was refused (${g.reasonId}): the policy is not shown to grant anything.`,
      [ev],
      'Set ComplianceKit grantProbe to a request the policy must allow (subject with a role, action, resource).',
    );
  }
  return pass(
    `An ungranted request is denied (${p.reasonId}) while a granted one (${g.action} on ${g.resourceType}, ${g.source}) is allowed${rules ? `; ${rules.allow} allow and ${rules.deny} deny rules` : ''}.`,
    [ev],
  );
};

export const breakGlassAudited: AutomatedCheck = (bundle, params) => {
  const ev = bundle.authz;
  if (!ev) return missing(bundle, 'authz');
  const grants = ev.data.breakGlass;
  const audit = bundle.audit ? [bundle.audit] : [];
  if (ev.data.breakGlassPath === false) {
    return fail(
      'The policy engine offers no break-glass (emergency access) grant path.',
      [ev],
      'Use the PolicyEngine (grantBreakGlass) with an audit log so emergency access is granted, bounded and recorded.',
    );
  }
  const maxAgeDays = num(params, 'maxTestAgeDays', 366);
  const audited = ev.data.breakGlassAudited;
  const lastAt = audited?.lastAt;
  const recent = lastAt !== undefined && time(bundle.collectedAt) - time(lastAt) <= maxAgeDays * DAY_MS;
  if (grants.length === 0 && !recent) {
    return notDemonstrated(
      audited === undefined
        ? 'No break-glass grant exists and no audit log is registered to show one was ever granted or tested.'
        : `No break-glass grant or test is recorded in the audit log within ${maxAgeDays} days${lastAt ? ` (last: ${lastAt})` : ''}.`,
      [ev, ...audit],
      'Test the emergency access path at least yearly: grant a short break-glass (policyEngine.grantBreakGlass({ actor, reason: "drill", actions, resources, durationMs: 60000 })) and review its audit record.',
    );
  }
  if (grants.length === 0) {
    return pass(
      `No break-glass grant is live; the path was last exercised at ${lastAt} (${audited!.count} grants recorded in the audit log).`,
      [ev, ...audit],
    );
  }
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

export const bruteForce: AutomatedCheck = (bundle, params) => {
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
  const signIn = bundle.signIn;
  if (signIn === undefined)
    return pass(`The brute-force guard enforces an ${want} (${ok.join(', ')}).`, [ev]);
  // The configured sign-in methods are cited with it: which ways in exist, and which the guard counts.
  const methods = signIn.data.methods.map(
    (m) =>
      `${m.summary ?? `${m.method} sign-in (${m.provider})`}${m.bruteForce === false ? ' (not counted by the guard)' : ''}`,
  );
  return pass(
    `The brute-force guard enforces an ${want} (${ok.join(', ')}). Sign-in methods: ${list(methods)}.`,
    [ev, signIn],
  );
};

/** A channel that has not delivered for this long is not shown to work. */
const ALERT_DELIVERY_MAX_AGE_DAYS = 30;

export const threatDetection: AutomatedCheck = (bundle) => {
  const ev = bundle.threatDetection;
  if (!ev) return missing(bundle, 'threatDetection');
  if (ev.data.rules !== undefined && ev.data.rules.length === 0) {
    return fail('The threat detector runs no rules.', [ev], 'Enable the built-in detection rules.');
  }
  const alerting = ev.data.alerting;
  const remediation =
    "Configure alert channels (createBulwark({ alerts: { channels } })) and send alerts.test(); a bare threatDetector.on('violation') hook is no evidence that a person is reached.";
  if (ev.data.violationListeners === 0 || alerting === undefined || alerting.channels.length === 0) {
    const written =
      ev.data.auditLogAttached === true ? ' (violations are only written back to the audit log)' : '';
    return notDemonstrated(
      `The threat detector has no alert channel: a detected violation may alert nobody${written}.`,
      [ev],
      remediation,
    );
  }
  const at = alerting.lastDeliveryAt;
  if (at === undefined || time(bundle.collectedAt) - time(at) > ALERT_DELIVERY_MAX_AGE_DAYS * DAY_MS) {
    return notDemonstrated(
      `Alert channels are configured (${alerting.channels.join(', ')}) but no delivery succeeded in the last ${ALERT_DELIVERY_MAX_AGE_DAYS} days.`,
      [ev],
      'Send a test alert (alerts.test()) and check it arrives; fix the channel if it is queued.',
    );
  }
  return pass(
    `A threat detector is running${ev.data.rules ? ` ${ev.data.rules.length} rules` : ''} over the audit stream; alerts reach ${alerting.channels.join(', ')} (last delivery ${at}${alerting.lastDeliveryTest === true ? ', a test alert' : ''}).`,
    [ev],
  );
};
