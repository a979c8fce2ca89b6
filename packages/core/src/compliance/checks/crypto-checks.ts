import {
  DAY_MS,
  fail,
  list,
  missing,
  notApplicable,
  num,
  pass,
  strings,
  time,
  type AutomatedCheck,
} from './check-outcome';

// Field encryption, key management and password hashing.

/** The cryptoperiod `keys.rotation` applies unless a control or the key says otherwise (days). */
const DEFAULT_CRYPTOPERIOD_DAYS = 90;

export const classifiedFieldsEncrypted: AutomatedCheck = (bundle, params) => {
  const ev = bundle.classification;
  if (!ev) return missing(bundle, 'classification');
  const categories = strings(params, 'categories', ['personal', 'sensitive', 'phi', 'cardholder']);
  if (ev.data.fields.length === 0) {
    return fail(
      'The classification registry is empty: no field is marked as personal, sensitive, PHI or cardholder data.',
      [ev],
      'Classify every field that holds personal, health or cardholder data (e.g. @PersonalData() / @PHI() / @CardholderData() from @bulwark/typeorm, or ClassificationRegistry.register).',
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
  // Declared encrypted, but the app is still reading rows in clear (a transitional read mode while
  // a populated table is being encrypted): not encrypted at rest yet.
  const reading = relevant
    .filter((f) => (f.plaintextReads ?? 0) > 0)
    .map((f) => `${f.entity}.${f.field} (${f.plaintextReads} plaintext read(s))`);
  if (reading.length > 0) {
    return fail(
      `${reading.length} of ${relevant.length} classified ${categories.join('/')} fields are declared encrypted but still hold plaintext rows the application reads: ${list(reading)}.`,
      [ev],
      'Encrypt the existing rows (`bulwark typeorm encrypt`, or encryptExistingRows), check its verification, then leave the transitional read mode (plaintextReads: refuse).',
    );
  }
  return pass(`All ${relevant.length} classified ${categories.join('/')} fields are stored encrypted.`, [ev]);
};

/**
 * Every data key's primary version is younger than its cryptoperiod: the key's own `rotateEvery`
 * (KeyRing `rotation` settings) or the control's `maxAgeDays` (default 90 days), whichever is
 * shorter, and no primary is past its expiry.
 */
export const keyRotation: AutomatedCheck = (bundle, params) => {
  const ev = bundle.keys;
  if (!ev) return missing(bundle, 'keys');
  const maxAgeDays = num(params, 'maxAgeDays', DEFAULT_CRYPTOPERIOD_DAYS);
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
    const limit = Math.min(maxAgeDays, k.rotateEvery ?? Infinity);
    const ageDays = (now - time(k.primaryCreatedAt)) / DAY_MS;
    const expiry = k.primaryExpiresAt === undefined ? undefined : time(k.primaryExpiresAt);
    if (!Number.isFinite(ageDays)) stale.push(`${k.keyId} v${k.primaryVersion} (no valid creation time)`);
    else if (expiry !== undefined && !(expiry > now))
      stale.push(`${k.keyId} v${k.primaryVersion} (expired ${k.primaryExpiresAt})`);
    else if (ageDays > limit)
      stale.push(`${k.keyId} v${k.primaryVersion} (${Math.floor(ageDays)} days old, period ${limit} days)`);
  }
  if (stale.length > 0) {
    return fail(
      `${stale.length} of ${ev.data.keys.length} keys are past their rotation period: ${list(stale)}.`,
      [ev],
      'Rotate these keys (`bulwark keys rotate --due`, or autoRotate), then rewrap stored values and retire old versions.',
    );
  }
  return pass(
    `All ${ev.data.keys.length} data keys have a primary version younger than their rotation period (at most ${maxAgeDays} days).`,
    [ev],
  );
};

export const keyAlgorithms: AutomatedCheck = (bundle, params) => {
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
  return pass(`All usable versions of ${ev.data.keys.length} data keys use ${allowed.join(' or ')}.`, [ev]);
};

/**
 * The token service signs and verifies with keys of the strength its algorithms need: a legacy
 * HMAC secret shorter than 32 bytes (`HMAC-SHORT-SECRET`, accepted only while an app rotates)
 * fails. No registered TokenService: no evidence, a failure like every other check's.
 */
export const tokenKeys: AutomatedCheck = (bundle) => {
  const ev = bundle.tokens;
  if (!ev) return missing(bundle, 'tokens');
  if (ev.data.legacy.includes('HMAC-SHORT-SECRET')) {
    return fail(
      'The token service accepts an HMAC secret shorter than 32 bytes (legacyAlgorithms: HMAC-SHORT-SECRET): whoever guesses it offline from one token can sign any token.',
      [ev],
      'Rotate to a 32-byte random secret under a new kid, accept both for one token lifetime, then drop the short secret and the opt-in (docs/adopting.md, "Legacy HMAC secrets").',
    );
  }
  const legacy = ev.data.legacy.length > 0 ? ` Named legacy choices in use: ${list(ev.data.legacy)}.` : '';
  return pass(`Token keys meet the strength of their algorithms (${list(ev.data.algorithms)}).${legacy}`, [
    ev,
  ]);
};

export const passwordHashing: AutomatedCheck = (bundle) => {
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
