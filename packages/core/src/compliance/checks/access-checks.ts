import { fail, list, missing, pass, type AutomatedCheck } from './check-outcome';

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
  return pass(`An ungranted request is denied (${p.reasonId}).`, [ev]);
};

export const breakGlassAudited: AutomatedCheck = (bundle) => {
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
  return pass(`The brute-force guard enforces an ${want} (${ok.join(', ')}).`, [ev]);
};

export const threatDetection: AutomatedCheck = (bundle) => {
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
