import { fail, missing, num, partialPass, pass, type AutomatedCheck } from './check-outcome';

// Sessions and the password policy: configuration read from the live engines, and their
// answers to probes made at collection time.

export const sessionTimeouts: AutomatedCheck = (bundle, params) => {
  const ev = bundle.sessions;
  if (!ev) return missing(bundle, 'sessions');
  const maxIdleSec = num(params, 'maxIdleSec', 900);
  const s = ev.data;
  if (s.idleTimeoutSec > maxIdleSec) {
    return fail(
      `Sessions stay open after ${s.idleTimeoutSec} s of idle time, above the ${maxIdleSec} s limit.`,
      [ev],
      `Set the SessionEngine's idleTimeoutSec to at most ${maxIdleSec}.`,
    );
  }
  if (!s.probe.idleRefused || !s.probe.absoluteRefused || !s.probe.freshAccepted) {
    const broken = [
      !s.probe.idleRefused ? 'an idle session was accepted' : undefined,
      !s.probe.absoluteRefused ? 'a session past its absolute time-out was accepted' : undefined,
      !s.probe.freshAccepted ? 'a fresh session was refused (the probe could not run)' : undefined,
    ].filter((x) => x !== undefined);
    return fail(
      `The live probe of the session store (${s.store}) failed: ${broken.join('; ')}.`,
      [ev],
      'Check the session store: it must return records as written, and the engine must run with the real clock.',
    );
  }
  return pass(
    `Sessions end after ${s.idleTimeoutSec} s idle (limit ${maxIdleSec} s) and ${s.absoluteTimeoutSec} s in all; a live probe of the ${s.store} refused an idle and an expired session.`,
    [ev],
  );
};

export const passwordPolicy: AutomatedCheck = (bundle, params) => {
  const ev = bundle.passwordPolicy;
  if (!ev) return missing(bundle, 'passwordPolicy');
  const minLength = num(params, 'minLength', 8);
  const p = ev.data;
  const lowest = Math.min(p.minLength, p.minLengthWithMfa);
  if (lowest < minLength) {
    return fail(
      `The password policy accepts passwords of ${lowest} characters (${p.minLengthWithMfa} with MFA, ${p.minLength} without), below the required ${minLength}.`,
      [ev],
      `Set passwords.policy.minLength and minLengthWithMfa to at least ${minLength}.`,
    );
  }
  if (!p.probes.commonRefused || !p.probes.shortRefused || !p.probes.passphraseAccepted) {
    return fail(
      'The password policy did not answer its probes as a NIST SP 800-63B policy must (a common password or a short one accepted, or a long passphrase refused).',
      [ev],
      'Use Bulwark’s PasswordPolicy on the hasher, with its offline blocklist.',
    );
  }
  const summary = `Passwords need ${p.minLength} characters (${p.minLengthWithMfa} with MFA), up to ${p.maxLength}, NFKC-normalised, checked against ${p.blocklistEntries} common / breached passwords (${p.blocklistSource}) and a strength estimate; PasswordHasher.hash refuses what the policy refuses.`;
  if (params.composition === true && !p.compositionRules) {
    return partialPass(
      summary,
      [ev],
      'The standard also asks for numeric and alphabetic characters; the policy follows NIST SP 800-63B rev. 4, which forbids composition rules, with a longer minimum and a blocklist instead: document this as a customized approach.',
    );
  }
  return pass(summary, [ev]);
};
