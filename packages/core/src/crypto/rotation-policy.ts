import { invalid, isPlainObject, optionKeys, rejectUnknown } from '../util/options';
import { isValidKeyId } from './envelope';
import type { StoredKey } from './key-store';

/** One key's rotation schedule. Periods are in days (fractions allowed). */
export interface RotationPolicy {
  /** The primary version is due for rotation this many days after it was created (default 90). */
  rotateEvery?: number;
  /**
   * A version stops ENCRYPTING this many days after it was created (it still decrypts until
   * retired): encrypt() with an expired primary throws ERR_CRYPTO_KEY_EXPIRED, so a missed
   * rotation fails closed instead of silently stretching the cryptoperiod. Default: no expiry.
   * Must be longer than `rotateEvery`.
   */
  expireAfter?: number;
}

/** The ring-wide rotation settings: a default policy plus per-key overrides. */
export interface RotationOptions extends RotationPolicy {
  /** Per key id: replaces the ring-wide `rotateEvery` / `expireAfter` for that key. */
  keys?: Record<string, RotationPolicy>;
}

/**
 * Cryptoperiods to start from. Neither PCI DSS (Req. 3.6.4 / 3.7.4: "a defined cryptoperiod") nor
 * HIPAA (164.312(a)(2)(iv)) fixes a number; NIST SP 800-57 Part 1 Rev. 5 §5.3.6 allows a symmetric
 * data-encryption key an originator-usage period of up to 2 years. These presets are the shorter
 * periods assessors commonly expect: 90 days between rotations and a hard stop of one year on
 * encrypting with any version.
 */
export const ROTATION_PRESETS = Object.freeze({
  pci: Object.freeze({ rotateEvery: 90, expireAfter: 365 }),
  hipaa: Object.freeze({ rotateEvery: 90, expireAfter: 365 }),
  /** For keys of the most sensitive data (e.g. card numbers in high-volume systems). */
  strict: Object.freeze({ rotateEvery: 30, expireAfter: 90 }),
} satisfies Record<string, RotationPolicy>);

/** Default rotation period (days) when a ring gives none. */
export const DEFAULT_ROTATE_EVERY_DAYS = 90;

const DAY_MS = 86_400_000;
const KNOWN = optionKeys<RotationOptions>({ rotateEvery: true, expireAfter: true, keys: true });
const KNOWN_POLICY = optionKeys<RotationPolicy>({ rotateEvery: true, expireAfter: true });

/** A key whose primary version is due (or overdue) for rotation. */
export interface RotationDue {
  keyId: string;
  primaryVersion: number;
  /** createdAt of the primary version (ISO 8601 UTC). */
  primaryCreatedAt: string;
  rotateEvery: number;
  /** When the rotation fell due (ISO 8601 UTC). */
  dueAt: string;
  /** How long ago it fell due, in whole days (0 on the day it falls due). */
  overdueDays: number;
  /** When the primary stops encrypting, if the key has an expiry (ISO 8601 UTC). */
  expiresAt?: string;
  /** True once `expiresAt` has passed: encrypt() with this key fails until it is rotated. */
  expired: boolean;
}

interface Periods {
  rotateEveryMs: number;
  expireAfterMs: number | undefined;
}

function days(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 36_500) {
    throw invalid(path, 'a number of days above 0 (at most 36500)', value);
  }
  return value;
}

function checkPolicy(policy: RotationPolicy, path: string, fallback: Periods): Periods {
  const rotate = days(policy.rotateEvery, `${path}.rotateEvery`);
  const expire = days(policy.expireAfter, `${path}.expireAfter`);
  const periods: Periods = {
    rotateEveryMs: rotate === undefined ? fallback.rotateEveryMs : rotate * DAY_MS,
    expireAfterMs: expire === undefined ? fallback.expireAfterMs : expire * DAY_MS,
  };
  if (periods.expireAfterMs !== undefined && periods.expireAfterMs <= periods.rotateEveryMs) {
    throw invalid(
      `${path}.expireAfter`,
      'longer than rotateEvery (a key must be due before it expires)',
      expire,
    );
  }
  return periods;
}

/**
 * The validated rotation settings of a ring: each key's rotation period and expiry, and the
 * computations on a stored key (when it is due, when a version expires).
 * @internal
 */
export class RotationSchedule {
  private readonly base: Periods;
  private readonly perKey = new Map<string, Periods>();

  constructor(options: RotationOptions | undefined, path: string) {
    const defaults: Periods = { rotateEveryMs: DEFAULT_ROTATE_EVERY_DAYS * DAY_MS, expireAfterMs: undefined };
    if (options === undefined) {
      this.base = defaults;
      return;
    }
    if (!isPlainObject(options))
      throw invalid(path, 'an object ({ rotateEvery, expireAfter, keys })', options);
    rejectUnknown(options, KNOWN, `${path}.`);
    this.base = checkPolicy(options, path, defaults);
    if (options.keys === undefined) return;
    if (!isPlainObject(options.keys))
      throw invalid(`${path}.keys`, 'an object keyed by key id', options.keys);
    for (const [keyId, policy] of Object.entries(options.keys)) {
      const keyPath = `${path}.keys.${keyId}`;
      if (!isValidKeyId(keyId))
        throw invalid(`${path}.keys`, 'key ids of 1-64 characters A-Z a-z 0-9 _ -', keyId);
      if (!isPlainObject(policy)) throw invalid(keyPath, 'an object ({ rotateEvery, expireAfter })', policy);
      rejectUnknown(policy, KNOWN_POLICY, `${keyPath}.`);
      this.perKey.set(keyId, checkPolicy(policy, keyPath, this.base));
    }
  }

  private periods(keyId: string): Periods {
    return this.perKey.get(keyId) ?? this.base;
  }

  /** Rotation period of `keyId` in days. */
  rotateEvery(keyId: string): number {
    return this.periods(keyId).rotateEveryMs / DAY_MS;
  }

  /** When a version of `keyId` created at `createdAt` stops encrypting (ms), or undefined. */
  expiresAt(keyId: string, createdAt: string): number | undefined {
    const { expireAfterMs } = this.periods(keyId);
    return expireAfterMs === undefined ? undefined : Date.parse(createdAt) + expireAfterMs;
  }

  /** When the primary of `record` falls due for rotation (ms since the epoch). */
  dueAt(record: StoredKey): number {
    return Date.parse(primaryCreatedAt(record)) + this.periods(record.keyId).rotateEveryMs;
  }

  /** The rotation status of `record` at `now` if its primary is due, else undefined. */
  due(record: StoredKey, now: number): RotationDue | undefined {
    const dueAt = this.dueAt(record);
    // A primary with an unreadable createdAt is reported as due: better rotated than trusted.
    if (dueAt > now) return undefined;
    const created = primaryCreatedAt(record);
    const expiresAt = this.expiresAt(record.keyId, created);
    return {
      keyId: record.keyId,
      primaryVersion: record.primaryVersion,
      primaryCreatedAt: created,
      rotateEvery: this.rotateEvery(record.keyId),
      dueAt: Number.isFinite(dueAt) ? new Date(dueAt).toISOString() : created,
      overdueDays: Number.isFinite(dueAt) ? Math.floor((now - dueAt) / DAY_MS) : 0,
      ...(expiresAt === undefined ? {} : { expiresAt: isoOr(expiresAt, created) }),
      expired: expiresAt !== undefined && !(expiresAt > now),
    };
  }
}

function isoOr(ms: number, fallback: string): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : fallback;
}

/** createdAt of the record's primary version (rotatedAt if the version is somehow missing). */
export function primaryCreatedAt(record: StoredKey): string {
  return record.versions.find((v) => v.version === record.primaryVersion)?.createdAt ?? record.rotatedAt;
}
