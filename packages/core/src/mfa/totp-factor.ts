import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyRing } from '../crypto/key-ring';
import type { RewrapReport } from '../crypto/rewrap';
import { BulwarkError, BulwarkMfaError, ErrorCodes } from '../errors';
import { checkUserId, guarded, storeCall, type MfaAttempt, type MfaAttemptGuard } from './mfa-attempt-guard';
import { audited, type MfaAuditSink } from './mfa-audit';
import type { MfaVerification } from './mfa-context';
import { base32Decode, base32Encode } from './base32';
import type { MfaStore, StoredTotp, TotpAlgorithm, TotpDigits } from './mfa-store';
import { totpCode, totpStep } from './totp-code';
import { configError } from '../util/options';

export interface TotpFactorOptions {
  store: MfaStore;
  /** Shown by authenticator apps above the account label (otpauth `issuer`). */
  issuer: string;
  /**
   * Encrypts secrets at rest (AEAD, aad `mfa.totp#<userId>`, so a secret copied to another user's
   * record does not decrypt). Production deployments must pass one: a TOTP secret read from a
   * database dump is a second factor handed to the attacker.
   */
  keyRing?: KeyRing;
  /** Key id in the ring (created on first use). Default `mfa`. */
  keyId?: string;
  /** Store secrets unencrypted when no keyRing is given. Tests and development only. */
  allowPlaintextSecrets?: boolean;
  /** HMAC algorithm. Default `sha1`: the only one every authenticator app supports (RFC 6238 §1.2). */
  algorithm?: TotpAlgorithm;
  /** Default 6. */
  digits?: TotpDigits;
  /** Time step in seconds. Default 30 (RFC 6238 §5.2). */
  period?: number;
  /** Steps accepted either side of now for clock drift. Default 1 (RFC 6238 §6), at most 2. */
  window?: number;
  /** Secret size. Default: the HMAC output size (RFC 4226 §4 R6: >= 160 bits; 20/32/64 bytes). */
  secretBytes?: number;
  /** Throttles guessing (see MfaAttemptGuard); strongly recommended. */
  guard?: MfaAttemptGuard;
  /** Receives `auth.mfa` events (method `totp`, steps `confirm` / `verify`) for every code tried. */
  audit?: MfaAuditSink;
  clock?: () => Date;
  /** Config path used in error messages. Default `mfa.totp`. */
  configPath?: string;
}

/** Returned once by `enroll`: show the URI as a QR code, and the secret for manual entry. */
export interface TotpEnrollment {
  readonly secret: string;
  readonly uri: string;
  readonly algorithm: TotpAlgorithm;
  readonly digits: TotpDigits;
  readonly period: number;
}

/** Non-secret parameters, as compliance evidence. */
export interface TotpFactorDescription {
  readonly method: 'totp';
  readonly standard: 'RFC 6238';
  readonly algorithm: TotpAlgorithm;
  readonly digits: TotpDigits;
  readonly period: number;
  readonly window: number;
  readonly secretBits: number;
  readonly replayProtection: true;
  readonly secretsEncrypted: boolean;
  readonly throttled: boolean;
}

const ALGORITHMS: ReadonlySet<string> = new Set(['sha1', 'sha256', 'sha512']);
const DEFAULT_SECRET_BYTES: Record<TotpAlgorithm, number> = { sha1: 20, sha256: 32, sha512: 64 };
const LABEL_MAX = 256;

function invalidCode(): BulwarkMfaError {
  return new BulwarkMfaError(ErrorCodes.MFA_INVALID_CODE, 'the code is not valid');
}

/**
 * TOTP second factor (RFC 6238 over RFC 4226 HOTP): enrolment with a confirmation code,
 * verification within ±`window` steps, and replay rejection: a time step once accepted for a
 * user is never accepted again, nor any earlier one (RFC 6238 §5.2), enforced by the store's
 * atomic `advanceTotpStep` so two racing requests with one code cannot both pass.
 */
export class TotpFactor {
  readonly #store: MfaStore;
  readonly #issuer: string;
  readonly #ring?: KeyRing;
  readonly #keyId: string;
  readonly #algorithm: TotpAlgorithm;
  readonly #digits: TotpDigits;
  readonly #period: number;
  readonly #window: number;
  readonly #secretBytes: number;
  readonly #guard?: MfaAttemptGuard;
  readonly #audit?: MfaAuditSink;
  readonly #clock: () => Date;
  #keyReady?: Promise<unknown>;

  constructor(options: TotpFactorOptions) {
    const path = options?.configPath ?? 'mfa.totp';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    if (options.store === null || typeof options.store?.getTotp !== 'function') {
      throw configError(`${path}.store`, 'must be an MfaStore');
    }
    if (typeof options.issuer !== 'string' || options.issuer.trim() === '' || options.issuer.length > 128) {
      throw configError(`${path}.issuer`, 'must be a non-empty string of at most 128 characters');
    }
    if (options.issuer.includes(':')) throw configError(`${path}.issuer`, "must not contain ':'");
    if (options.keyRing === undefined && options.allowPlaintextSecrets !== true) {
      throw configError(
        `${path}.keyRing`,
        'is required to encrypt TOTP secrets at rest (set allowPlaintextSecrets: true only for tests)',
      );
    }
    if (options.keyRing !== undefined && typeof options.keyRing?.encrypt !== 'function') {
      throw configError(`${path}.keyRing`, 'must be a KeyRing');
    }
    const keyId = options.keyId ?? 'mfa';
    if (typeof keyId !== 'string' || keyId === '')
      throw configError(`${path}.keyId`, 'must be a non-empty string');
    const algorithm = options.algorithm ?? 'sha1';
    if (!ALGORITHMS.has(algorithm))
      throw configError(`${path}.algorithm`, "must be 'sha1', 'sha256' or 'sha512'");
    const digits = options.digits ?? 6;
    if (digits !== 6 && digits !== 8) throw configError(`${path}.digits`, 'must be 6 or 8');
    const period = options.period ?? 30;
    if (!Number.isInteger(period) || period < 15 || period > 300) {
      throw configError(`${path}.period`, 'must be an integer number of seconds from 15 to 300');
    }
    const window = options.window ?? 1;
    if (!Number.isInteger(window) || window < 0 || window > 2) {
      throw configError(`${path}.window`, 'must be 0, 1 or 2 steps');
    }
    const secretBytes = options.secretBytes ?? DEFAULT_SECRET_BYTES[algorithm];
    if (!Number.isInteger(secretBytes) || secretBytes < 20 || secretBytes > 64) {
      throw configError(`${path}.secretBytes`, 'must be an integer from 20 (160 bits, RFC 4226 §4) to 64');
    }
    if (options.guard !== undefined && typeof options.guard?.reserve !== 'function') {
      throw configError(`${path}.guard`, 'must be a BruteForceGuard (reserve)');
    }
    this.#store = options.store;
    this.#issuer = options.issuer;
    this.#ring = options.keyRing;
    this.#keyId = keyId;
    this.#algorithm = algorithm;
    this.#digits = digits;
    this.#period = period;
    this.#window = window;
    this.#secretBytes = secretBytes;
    if (options.audit !== undefined && typeof options.audit?.append !== 'function') {
      throw configError(`${path}.audit`, 'must be an AuditLog (append)');
    }
    this.#guard = options.guard;
    this.#audit = options.audit;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Starts (or, with `replace`, restarts) enrolment: a fresh secret, stored unconfirmed. The
   * factor counts only after `confirm` with a code from the user's app, which proves the app holds
   * the secret. Replacing a confirmed factor should itself require a fresh second factor.
   */
  async enroll(userId: string, options: { label: string; replace?: boolean }): Promise<TotpEnrollment> {
    checkUserId(userId);
    const label = options?.label;
    if (typeof label !== 'string' || label.trim() === '' || label.length > LABEL_MAX || label.includes(':')) {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_INVALID_ARGUMENT,
        `label must be a non-empty string of at most ${LABEL_MAX} characters without ':'`,
      );
    }
    const existing = await storeCall(() => this.#store.getTotp(userId));
    if (existing?.confirmed === true && options.replace !== true) {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_ALREADY_ENROLLED,
        'a confirmed TOTP factor exists; pass replace: true (after re-verifying the user) to replace it',
      );
    }
    const secret = base32Encode(randomBytes(this.#secretBytes));
    const record: StoredTotp = {
      secret: await this.#seal(userId, secret),
      encrypted: this.#ring !== undefined,
      algorithm: this.#algorithm,
      digits: this.#digits,
      period: this.#period,
      confirmed: false,
      createdAt: this.#clock().toISOString(),
    };
    await storeCall(() => this.#store.putTotp(userId, record));
    // Key URI format (Google Authenticator wiki): otpauth://totp/Issuer:label?secret=...&issuer=...
    const params = new URLSearchParams({
      secret,
      issuer: this.#issuer,
      algorithm: this.#algorithm.toUpperCase(),
      digits: String(this.#digits),
      period: String(this.#period),
    });
    const uri = `otpauth://totp/${encodeURIComponent(this.#issuer)}:${encodeURIComponent(label)}?${params
      .toString()
      .replace(/\+/g, '%20')}`;
    return Object.freeze({
      secret,
      uri,
      algorithm: this.#algorithm,
      digits: this.#digits,
      period: this.#period,
    });
  }

  /** Confirms a pending enrolment with the first code from the user's app. */
  async confirm(userId: string, code: string, attempt?: MfaAttempt): Promise<MfaVerification> {
    checkUserId(userId);
    const base = { userId, factor: 'totp', step: 'confirm', ...(attempt ? { attempt } : {}) };
    return audited(this.#audit, base, () => this.#confirm(userId, code, attempt));
  }

  async #confirm(userId: string, code: string, attempt: MfaAttempt | undefined): Promise<MfaVerification> {
    return guarded(this.#guard, userId, attempt, async () => {
      const record = await storeCall(() => this.#store.getTotp(userId));
      if (record === undefined || record.confirmed) {
        throw new BulwarkMfaError(ErrorCodes.MFA_NOT_ENROLLED, 'no pending TOTP enrolment for this user');
      }
      const now = this.#clock();
      const step = await this.#check(userId, record, code, now);
      if (!(await storeCall(() => this.#store.confirmTotp(userId, now.toISOString(), step)))) {
        throw new BulwarkMfaError(ErrorCodes.MFA_REPLAY, 'this code was already used');
      }
      return Object.freeze({ userId, method: 'totp' as const, at: now.toISOString(), step });
    });
  }

  /** Verifies a code for a confirmed factor. Throws a BulwarkMfaError when it is not accepted. */
  async verify(userId: string, code: string, attempt?: MfaAttempt): Promise<MfaVerification> {
    checkUserId(userId);
    const base = { userId, factor: 'totp', step: 'verify', ...(attempt ? { attempt } : {}) };
    return audited(this.#audit, base, () => this.#verify(userId, code, attempt));
  }

  async #verify(userId: string, code: string, attempt: MfaAttempt | undefined): Promise<MfaVerification> {
    return guarded(this.#guard, userId, attempt, async () => {
      const record = await storeCall(() => this.#store.getTotp(userId));
      if (record === undefined || !record.confirmed) {
        throw new BulwarkMfaError(ErrorCodes.MFA_NOT_ENROLLED, 'the user has no confirmed TOTP factor');
      }
      const now = this.#clock();
      const step = await this.#check(userId, record, code, now);
      // Compare-and-set in the store: a step at or below the last accepted one is a replay.
      if (!(await storeCall(() => this.#store.advanceTotpStep(userId, step)))) {
        throw new BulwarkMfaError(ErrorCodes.MFA_REPLAY, 'this code was already used');
      }
      return Object.freeze({ userId, method: 'totp' as const, at: now.toISOString(), step });
    });
  }

  /** True when the user has a confirmed TOTP factor. */
  async isEnrolled(userId: string): Promise<boolean> {
    checkUserId(userId);
    return (await storeCall(() => this.#store.getTotp(userId)))?.confirmed === true;
  }

  /** Removes the factor (pending or confirmed). */
  async disable(userId: string): Promise<void> {
    checkUserId(userId);
    await storeCall(() => this.#store.deleteTotp(userId));
  }

  /**
   * Re-encrypts every stored TOTP secret whose envelope is not under its key's current primary
   * version (KeyRing.needsRewrap), so retiring old key versions does not lock users out of MFA.
   * Run it after `keyRing.rotate(<keyId>)` (default key `mfa`) and before `retire`.
   *
   * Each secret is decrypted with its user's aad, re-encrypted and swapped in by the store's
   * compare-and-swap (replaceTotpSecret), which touches neither the replay step nor the
   * confirmation, so it is safe while users sign in. Resumable: secrets already at primary are
   * skipped. A secret that fails (tampered, retired key, changed meanwhile) is reported by user
   * id with its code and left as it is.
   */
  async rewrapSecrets(options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<RewrapReport> {
    const ring = this.#ring;
    const store = this.#store;
    if (ring === undefined) {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_STORE,
        'no keyRing is configured: TOTP secrets are not encrypted',
      );
    }
    if (typeof store.listTotpSecrets !== 'function' || typeof store.replaceTotpSecret !== 'function') {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_STORE,
        'this MfaStore cannot re-wrap secrets (it needs listTotpSecrets and replaceTotpSecret)',
      );
    }
    const batchSize = options.batchSize ?? 200;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw configError('rewrapSecrets.batchSize', 'must be a positive integer');
    }
    const report: RewrapReport = { processed: 0, rewrapped: 0, skipped: 0, failed: [] };
    let after: string | undefined;
    for (;;) {
      const page = await storeCall(() => store.listTotpSecrets!(after, batchSize));
      for (const { userId, secret, encrypted } of page) {
        if (options.signal?.aborted) return report;
        report.processed++;
        if (!encrypted) {
          report.failed.push({ id: userId, code: ErrorCodes.MFA_STORE });
          continue;
        }
        try {
          if (!ring.needsRewrap(secret)) {
            report.skipped++;
            continue;
          }
          const next = ring.reencrypt(secret, { aad: `mfa.totp#${userId}` });
          if (await storeCall(() => store.replaceTotpSecret!(userId, secret, next))) report.rewrapped++;
          else report.failed.push({ id: userId, code: ErrorCodes.CRYPTO_REWRAP_WRITE_FAILED });
        } catch (error) {
          report.failed.push({
            id: userId,
            code: error instanceof BulwarkError ? error.code : ErrorCodes.MFA_STORE,
          });
        }
      }
      if (page.length < batchSize) return report;
      after = page[page.length - 1]!.userId;
    }
  }

  /** The enforced parameters (no secret), for compliance evidence. */
  describe(): TotpFactorDescription {
    return Object.freeze({
      method: 'totp',
      standard: 'RFC 6238',
      algorithm: this.#algorithm,
      digits: this.#digits,
      period: this.#period,
      window: this.#window,
      secretBits: this.#secretBytes * 8,
      replayProtection: true,
      secretsEncrypted: this.#ring !== undefined,
      throttled: this.#guard !== undefined,
    });
  }

  /** Returns the matching time step, or throws MFA_INVALID_CODE. */
  async #check(userId: string, record: StoredTotp, code: unknown, now: Date): Promise<number> {
    if (typeof code !== 'string') {
      throw new BulwarkMfaError(ErrorCodes.MFA_INVALID_ARGUMENT, 'code must be a string');
    }
    const token = code.length <= 32 ? code.replace(/[\s-]/g, '') : '';
    if (
      !ALGORITHMS.has(record.algorithm) ||
      (record.digits !== 6 && record.digits !== 8) ||
      !Number.isInteger(record.period) ||
      record.period < 15 ||
      record.period > 300
    ) {
      throw new BulwarkMfaError(ErrorCodes.MFA_STORE, 'the stored TOTP record is corrupt');
    }
    if (token.length !== record.digits || !/^\d+$/.test(token)) throw invalidCode();
    const secret = base32Decode(await this.#open(userId, record));
    if (secret === undefined || secret.length < 16) {
      throw new BulwarkMfaError(ErrorCodes.MFA_STORE, 'the stored TOTP record is corrupt');
    }
    const given = Buffer.from(token, 'ascii');
    const current = totpStep(now.getTime(), record.period);
    // Compare against every step in the window without an early exit (timingSafeEqual), so the
    // time taken does not say which step matched.
    let matched: number | undefined;
    for (let step = current - this.#window; step <= current + this.#window; step++) {
      const expected = Buffer.from(totpCode(secret, step, record.algorithm, record.digits), 'ascii');
      if (timingSafeEqual(expected, given) && matched === undefined) matched = step;
    }
    secret.fill(0);
    if (matched === undefined) throw invalidCode();
    return matched;
  }

  async #seal(userId: string, secret: string): Promise<string> {
    if (this.#ring === undefined) return secret;
    const ring = this.#ring;
    this.#keyReady ??= ring.ensureKey(this.#keyId).catch((error: unknown) => {
      this.#keyReady = undefined;
      throw error;
    });
    try {
      await this.#keyReady;
      return ring.encrypt(this.#keyId, secret, { aad: `mfa.totp#${userId}` });
    } catch (cause) {
      throw new BulwarkMfaError(ErrorCodes.MFA_STORE, 'could not encrypt the TOTP secret', undefined, {
        cause,
      });
    }
  }

  async #open(userId: string, record: StoredTotp): Promise<string> {
    // Fail closed on a mismatch: a plaintext secret where encryption is configured may have been
    // planted by someone with write access to the store.
    if (record.encrypted !== (this.#ring !== undefined) || typeof record.secret !== 'string') {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_STORE,
        record.encrypted
          ? 'the stored TOTP secret is encrypted but no keyRing is configured'
          : 'the stored TOTP secret is not encrypted but a keyRing is configured; re-enrol the user',
      );
    }
    if (this.#ring === undefined) return record.secret;
    try {
      return await this.#ring.decryptStringAsync(record.secret, { aad: `mfa.totp#${userId}` });
    } catch (cause) {
      throw new BulwarkMfaError(
        ErrorCodes.MFA_STORE,
        'the stored TOTP secret could not be decrypted (wrong key, or copied from another user)',
        cause instanceof BulwarkError ? { cause: cause.code } : undefined,
        { cause },
      );
    }
  }
}
