import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { BulwarkMfaError, ErrorCodes } from '../errors';
import { configError } from '../util/options';
import { checkUserId, guarded, storeCall, type MfaAttempt, type MfaAttemptGuard } from './mfa-attempt-guard';
import { audited, type MfaAuditSink } from './mfa-audit';
import type { MfaVerification } from './mfa-context';
import type { OtpStore, StoredOtp } from './otp-store';
import type { OtpTransport } from './otp-transport';

export interface OtpFactorOptions {
  store: OtpStore;
  transport: OtpTransport;
  /** `email` (method `email-otp`) or `sms` (method `sms-otp`). */
  channel: 'email' | 'sms';
  /**
   * Key of the HMAC that stores codes hashed (at least 32 bytes). Give every instance sharing a
   * store the same key; default: a random key per process (single-instance apps).
   */
  hashKey?: Uint8Array;
  /** Digits per code. Default 6 (NIST SP 800-63B §5.1.3.1: at least 6 decimal digits). */
  digits?: number;
  /** Seconds a code is valid. Default 300, at most 900 (800-63B: 10 minutes for e-mail / SMS). */
  ttlSec?: number;
  /**
   * Wrong codes allowed per sent code (and its resends); then the code is refused and no new one is
   * sent until it expires. Default 5.
   */
  maxAttempts?: number;
  /** Throttles guessing across codes (see MfaAttemptGuard); recommended. */
  guard?: MfaAttemptGuard;
  /** Receives `auth.mfa` events (method `email-otp` / `sms-otp`, steps `send` and `verify`). */
  audit?: MfaAuditSink;
  clock?: () => Date;
  configPath?: string;
}

/** Non-secret parameters, as compliance evidence. */
export interface OtpFactorDescription {
  readonly method: 'email-otp' | 'sms-otp';
  readonly digits: number;
  readonly ttlSec: number;
  readonly maxAttempts: number;
  readonly singleUse: true;
  readonly storedHashed: true;
  readonly throttled: boolean;
}

/** What `send()` resolves with. */
export interface OtpChallenge {
  /** ISO 8601 time after which the code is refused. */
  readonly expiresAt: string;
  /** 128 random bits (base64url) binding the code to the login attempt that asked for it. */
  readonly challenge: string;
}

const CHALLENGE_BYTES = 16;
const CHALLENGE_RE = /^[A-Za-z0-9_-]{22}$/;

function invalidCode(): BulwarkMfaError {
  return new BulwarkMfaError(ErrorCodes.MFA_INVALID_CODE, 'the code is not valid');
}

/**
 * One-time codes sent by e-mail or SMS: a code from crypto.randomInt, kept only as an HMAC,
 * valid for `ttlSec`, `maxAttempts` tries, single use, compared in constant time. A new code
 * replaces the pending one and inherits its attempt count, so resending does not buy guesses.
 * SMS is a "restricted" authenticator in NIST SP 800-63B §5.1.3.3: offer it as a fallback.
 */
export class OtpFactor {
  readonly #store: OtpStore;
  readonly #transport: OtpTransport;
  readonly #channel: 'email' | 'sms';
  readonly #method: 'email-otp' | 'sms-otp';
  readonly #key: Buffer;
  readonly #digits: number;
  readonly #ttlMs: number;
  readonly #maxAttempts: number;
  readonly #guard?: MfaAttemptGuard;
  readonly #audit?: MfaAuditSink;
  readonly #clock: () => Date;

  constructor(options: OtpFactorOptions) {
    const path = options?.configPath ?? 'mfa.otp';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    if (typeof options.store?.attemptCode !== 'function')
      throw configError(`${path}.store`, 'must be an OtpStore');
    if (typeof options.transport?.send !== 'function') {
      throw configError(`${path}.transport`, 'must be an OtpTransport (send)');
    }
    if (options.channel !== 'email' && options.channel !== 'sms') {
      throw configError(`${path}.channel`, "must be 'email' or 'sms'");
    }
    if (
      options.hashKey !== undefined &&
      (!(options.hashKey instanceof Uint8Array) || options.hashKey.length < 32)
    ) {
      throw configError(`${path}.hashKey`, 'must be at least 32 random bytes');
    }
    const digits = options.digits ?? 6;
    if (!Number.isInteger(digits) || digits < 6 || digits > 10) {
      throw configError(`${path}.digits`, 'must be an integer from 6 to 10');
    }
    const ttl = options.ttlSec ?? 300;
    if (!Number.isInteger(ttl) || ttl < 30 || ttl > 900) {
      throw configError(`${path}.ttlSec`, 'must be an integer from 30 to 900');
    }
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) {
      throw configError(`${path}.maxAttempts`, 'must be an integer from 1 to 10');
    }
    if (options.guard !== undefined && typeof options.guard?.reserve !== 'function') {
      throw configError(`${path}.guard`, 'must be a BruteForceGuard (reserve)');
    }
    if (options.audit !== undefined && typeof options.audit?.append !== 'function') {
      throw configError(`${path}.audit`, 'must be an AuditLog (append)');
    }
    this.#store = options.store;
    this.#transport = options.transport;
    this.#channel = options.channel;
    this.#method = options.channel === 'email' ? 'email-otp' : 'sms-otp';
    this.#key = options.hashKey !== undefined ? Buffer.from(options.hashKey) : randomBytes(32);
    this.#digits = digits;
    this.#ttlMs = ttl * 1000;
    this.#maxAttempts = maxAttempts;
    this.#guard = options.guard;
    this.#audit = options.audit;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Generates a code for `userId`, stores its hash and sends it to `to` (an address or phone
   * number the app has on file for the user; never one taken from the request). Resolves with
   * the expiry and the `challenge` the code is bound to (ASVS V6.6.2): keep it with the login
   * attempt that asked (its server-side session) and hand it to `verify()`; the code is refused
   * with any other. A delivery failure puts back the code pending before (or none) and throws
   * ERR_MFA_DELIVERY.
   */
  async send(userId: string, to: string, attempt?: MfaAttempt): Promise<OtpChallenge> {
    checkUserId(userId);
    if (typeof to !== 'string' || to.length === 0 || to.length > 320) {
      throw new BulwarkMfaError(ErrorCodes.MFA_INVALID_ARGUMENT, 'to must be a non-empty string');
    }
    return audited(
      this.#audit,
      { userId, factor: this.#method, step: 'send', ...(attempt ? { attempt } : {}) },
      async () => {
        const code = String(randomInt(0, 10 ** this.#digits)).padStart(this.#digits, '0');
        const challenge = randomBytes(CHALLENGE_BYTES).toString('base64url');
        const now = this.#clock().getTime();
        const previous = await storeCall(() => this.#store.getCode(userId));
        const attempts = previous !== undefined && previous.expiresAt > now ? previous.attempts : 0;
        if (attempts >= this.#maxAttempts) {
          throw new BulwarkMfaError(ErrorCodes.MFA_LOCKED, 'too many failed codes; retry later', {
            retryAfterSec: Math.ceil((previous!.expiresAt - now) / 1000),
          });
        }
        const expiresAt = now + this.#ttlMs;
        await storeCall(() =>
          this.#store.putCode(userId, {
            hash: this.#hash(challenge, code),
            channel: this.#channel,
            expiresAt,
            attempts,
          }),
        );
        try {
          await this.#transport.send({ channel: this.#channel, to, code, expiresInSec: this.#ttlMs / 1000 });
        } catch (cause) {
          await this.#restore(
            userId,
            previous !== undefined && previous.expiresAt > now ? previous : undefined,
          );
          throw new BulwarkMfaError(ErrorCodes.MFA_DELIVERY, 'the code could not be sent', undefined, {
            cause,
          });
        }
        return Object.freeze({ expiresAt: new Date(expiresAt).toISOString(), challenge });
      },
    );
  }

  /**
   * Verifies the user's pending code for `challenge` (what `send()` returned to this login
   * attempt); on success it is used up. Throws ERR_MFA_INVALID_CODE otherwise, also for the right
   * code under another attempt's challenge (counted as a wrong attempt).
   */
  async verify(
    userId: string,
    challenge: string,
    code: string,
    attempt?: MfaAttempt,
  ): Promise<MfaVerification> {
    checkUserId(userId);
    return audited(
      this.#audit,
      { userId, factor: this.#method, step: 'verify', ...(attempt ? { attempt } : {}) },
      () =>
        guarded(this.#guard, userId, attempt, async () => {
          if (typeof code !== 'string' || typeof challenge !== 'string') {
            throw new BulwarkMfaError(ErrorCodes.MFA_INVALID_ARGUMENT, 'challenge and code must be strings');
          }
          const token = code.length <= 32 ? code.replace(/[\s-]/g, '') : '';
          const record = await storeCall(() => this.#store.attemptCode(userId));
          const now = this.#clock();
          if (record === undefined || record.expiresAt <= now.getTime()) throw invalidCode();
          // An exhausted code is kept until it expires, not deleted: its attempt count is what makes
          // send() refuse (ERR_MFA_LOCKED), so deleting it would hand out a fresh set of guesses.
          if (record.attempts > this.#maxAttempts) throw invalidCode();
          const given = Buffer.from(this.#hash(challenge, token), 'hex');
          const stored = Buffer.from(record.hash, 'hex');
          const valid =
            CHALLENGE_RE.test(challenge) &&
            token.length === this.#digits &&
            /^\d+$/.test(token) &&
            stored.length === given.length &&
            timingSafeEqual(stored, given);
          if (!valid) throw invalidCode();
          // Delete-if-equal: of two requests racing with the right code, one wins.
          if (!(await storeCall(() => this.#store.consumeCode(userId, record.hash)))) {
            throw new BulwarkMfaError(ErrorCodes.MFA_REPLAY, 'this code was already used');
          }
          return Object.freeze({ userId, method: this.#method, at: now.toISOString() });
        }),
    );
  }

  describe(): OtpFactorDescription {
    return Object.freeze({
      method: this.#method,
      digits: this.#digits,
      ttlSec: this.#ttlMs / 1000,
      maxAttempts: this.#maxAttempts,
      singleUse: true,
      storedHashed: true,
      throttled: this.#guard !== undefined,
    });
  }

  /**
   * Undoes a send whose delivery failed: the pending code goes back to what it was (with the attempts
   * made since, if more), so a failed delivery never clears an attempt count.
   */
  async #restore(userId: string, previous: StoredOtp | undefined): Promise<void> {
    if (previous === undefined) {
      await storeCall(() => this.#store.deleteCode(userId));
      return;
    }
    const current = await storeCall(() => this.#store.getCode(userId));
    const attempts = Math.max(previous.attempts, current?.attempts ?? 0);
    await storeCall(() => this.#store.putCode(userId, { ...previous, attempts }));
  }

  #hash(challenge: string, code: string): string {
    return createHmac('sha256', this.#key).update(`${this.#method}:${challenge}:${code}`).digest('hex');
  }
}
