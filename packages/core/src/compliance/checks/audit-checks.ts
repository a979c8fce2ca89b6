import {
  fail,
  HOUR_MS,
  list,
  missing,
  notDemonstrated,
  num,
  pass,
  SKEW_MS,
  time,
  type AutomatedCheck,
} from './check-outcome';

// The audit trail: enabled, verified, tamper-evident, retained.

export const auditEnabled: AutomatedCheck = (bundle) => {
  const ev = bundle.audit;
  if (!ev) return missing(bundle, 'audit');
  if (ev.data.size === 0) {
    return fail(
      'The audit log is registered but holds no events.',
      [ev],
      'Record security events (authentication, access, changes) through the AuditLog, e.g. with the audit middleware.',
    );
  }
  const w = ev.data.writes;
  if (w !== undefined && (w.failing || w.failed > 0)) {
    const last = w.lastFailureAt ? `, last at ${w.lastFailureAt}` : '';
    const code = w.lastFailureCode ? ` (${w.lastFailureCode})` : '';
    if (w.failing) {
      return fail(
        `Audit writes are failing: the last append failed${code}; ${w.failed} failed and ${w.succeeded} succeeded since start${last}.`,
        [ev],
        "Restore the audit store now; set the audit middleware's onFailure to 'fail-closed' for routes that read or change classified data so they refuse rather than run unrecorded.",
      );
    }
    return fail(
      `${w.failed} audit writes failed since start${code}${last} (recording has resumed; ${w.succeeded} succeeded): events were lost.`,
      [ev],
      'Investigate the lost events (store outage window), record an incident, and restart the process once reviewed to reset the counter.',
    );
  }
  if (w === undefined) {
    return notDemonstrated(
      `The audit log holds ${ev.data.size} events but does not report its write health, so failed writes cannot be ruled out.`,
      [ev],
      "Register an AuditLog whose auditLog.describe() reports writes (Bulwark's AuditLog does).",
    );
  }
  return pass(`The audit log holds ${ev.data.size} events; ${w.succeeded} writes since start, none failed.`, [
    ev,
  ]);
};

export const auditVerified: AutomatedCheck = (bundle, params) => {
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
  // The run's own `audit.verified` record, appended right after the entries it checked, is not an
  // unverified entry: the log is current when nothing else was appended since.
  const covered = v.recordSeq === v.treeSize + 1 ? v.recordSeq : v.treeSize;
  if (covered !== ev.data.size) {
    const since = ev.data.size - covered;
    return notDemonstrated(
      since > 0
        ? `Stale: the last verification (${v.at}) covered ${v.treeSize} entries; ${since} entries since are unverified.`
        : `The last verification (${v.at}) covered ${v.treeSize} entries but the log now reports ${ev.data.size}.`,
      [ev],
      howTo,
    );
  }
  return pass(
    `The audit chain (${v.treeSize} entries) was verified intact at ${v.at}, within ${maxAgeHours} h.`,
    [ev],
  );
};

export const auditTamperEvidence: AutomatedCheck = (bundle) => {
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
  } else if (ev.data.configuration === undefined || !ev.data.configuration.signer) {
    problems.push(
      ev.data.configuration === undefined
        ? 'the audit log does not describe itself, so its own checkpoint signer cannot be confirmed'
        : 'the audit log has no checkpoint signer of its own',
    );
    fixes.push('open the AuditLog with a CheckpointSigner and a checkpoint store');
  } else if (v.signedCheckpointsVerified === 0) {
    // The log's own description says why, when it has one: no signer, or no store to keep them.
    // The log has its own signer here (checked above): say why nothing signed was verified.
    const why = !ev.data.configuration!.checkpointStore
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

export const auditRetention: AutomatedCheck = (bundle, params) => {
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
