import { randomBytes } from 'node:crypto';
import { PasswordHasher } from '../crypto/password-hasher';
import { BulwarkConfigError, BulwarkMfaError, ErrorCodes } from '../errors';
import { checkUserId, guarded, storeCall, type MfaAttempt, type MfaAttemptGuard } from './mfa-attempt-guard';
import { audited, type MfaAuditSink } from './mfa-audit';
import type { MfaVerification } from './mfa-context';
import type { MfaStore, StoredRecoveryCode } from './mfa-store';

export interface RecoveryCodesOptions {
  store: MfaStore;
  /** argon2id hasher for the stored codes. Default: `new PasswordHasher()` (OWASP parameters). */
  hasher?: PasswordHasher;
  /** Codes per set. Default 10. */
  count?: number;
  /** Characters per code (Crockford base32, 5 bits each). Default 10 (50 bits). */
  length?: number;
  /** Throttles guessing (see MfaAttemptGuard); strongly recommended. */
  guard?: MfaAttemptGuard;
  /** Receives `auth.mfa` events (method `recovery-code`, step `verify`) for every code tried. */
  audit?: MfaAuditSink;
  clock?: () => Date;
  /** Config path used in error messages. Default `mfa.recoveryCodes`. */
  configPath?: string;
}

export interface RecoveryCodesDescription {
  readonly method: 'recovery';
  readonly count: number;
  readonly entropyBits: number;
  readonly hashing: 'argon2id';
  readonly singleUse: true;
  readonly throttled: boolean;
}

// Crockford base32: no I, L, O, U, so codes read back unambiguously; `normalize` maps the look-alikes.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUP = 5;

function configError(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} ${message}`, { path });
}

function invalidCode(): BulwarkMfaError {
  return new BulwarkMfaError(ErrorCodes.MFA_INVALID_CODE, 'the code is not valid');
}

/**
 * One-time recovery codes (NIST SP 800-63B §5.1.2 "look-up secrets"): shown once at generation,
 * stored only as argon2id hashes, each usable once (consumed by the store's atomic
 * `consumeRecoveryCode`, so two racing requests cannot both spend one code).
 */
export class RecoveryCodes {
  readonly #store: MfaStore;
  readonly #hasher: PasswordHasher;
  readonly #count: number;
  readonly #length: number;
  readonly #guard?: MfaAttemptGuard;
  readonly #audit?: MfaAuditSink;
  readonly #clock: () => Date;

  constructor(options: RecoveryCodesOptions) {
    const path = options?.configPath ?? 'mfa.recoveryCodes';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    if (options.store === null || typeof options.store?.getRecoveryCodes !== 'function') {
      throw configError(`${path}.store`, 'must be an MfaStore');
    }
    if (options.hasher !== undefined && !(options.hasher instanceof PasswordHasher)) {
      throw configError(`${path}.hasher`, 'must be a PasswordHasher');
    }
    const count = options.count ?? 10;
    if (!Number.isInteger(count) || count < 1 || count > 50) {
      throw configError(`${path}.count`, 'must be an integer from 1 to 50');
    }
    const length = options.length ?? 10;
    // NIST SP 800-63B §5.1.2.1: look-up secrets need at least 20 bits; 8 chars (40 bits) is our floor.
    if (!Number.isInteger(length) || length < 8 || length > 32) {
      throw configError(`${path}.length`, 'must be an integer from 8 to 32 characters');
    }
    if (options.guard !== undefined && typeof options.guard?.reserve !== 'function') {
      throw configError(`${path}.guard`, 'must be a BruteForceGuard (reserve)');
    }
    this.#store = options.store;
    this.#hasher = options.hasher ?? new PasswordHasher();
    this.#count = count;
    this.#length = length;
    if (options.audit !== undefined && typeof options.audit?.append !== 'function') {
      throw configError(`${path}.audit`, 'must be an AuditLog (append)');
    }
    this.#guard = options.guard;
    this.#audit = options.audit;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * Generates a fresh set, replacing (and so invalidating) any earlier one. The returned codes are
   * the only copy: show them to the user once, never log or store them.
   */
  async generate(userId: string): Promise<string[]> {
    checkUserId(userId);
    const codes = Array.from({ length: this.#count }, () => this.#randomCode());
    const hashes = await Promise.all(codes.map((code) => this.#hasher.hashSecret(code)));
    const stored: StoredRecoveryCode[] = hashes.map((hash, i) => ({
      id: `${i + 1}.${randomBytes(6).toString('hex')}`,
      hash,
    }));
    await storeCall(() => this.#store.putRecoveryCodes(userId, stored));
    return codes.map((code) => format(code));
  }

  /**
   * Verifies and spends one code. Throws MFA_INVALID_CODE (no match), MFA_RECOVERY_CODE_USED
   * (matches a spent code), MFA_NOT_ENROLLED (no codes), MFA_LOCKED (throttled).
   */
  async verify(userId: string, code: string, attempt?: MfaAttempt): Promise<MfaVerification> {
    checkUserId(userId);
    if (typeof code !== 'string') {
      throw new BulwarkMfaError(ErrorCodes.MFA_INVALID_ARGUMENT, 'code must be a string');
    }
    const base = { userId, factor: 'recovery-code', step: 'verify', ...(attempt ? { attempt } : {}) };
    return audited(
      this.#audit,
      base,
      () => this.#verify(userId, code, attempt),
      (v) => ({
        details: { remaining: v.remaining },
      }),
    );
  }

  async #verify(userId: string, code: string, attempt: MfaAttempt | undefined): Promise<MfaVerification> {
    return guarded(this.#guard, userId, attempt, async () => {
      const stored = await storeCall(() => this.#store.getRecoveryCodes(userId));
      if (stored.length === 0) {
        throw new BulwarkMfaError(ErrorCodes.MFA_NOT_ENROLLED, 'the user has no recovery codes');
      }
      const candidate = normalize(code);
      if (candidate === undefined || candidate.length !== this.#length) throw invalidCode();
      // Check every stored hash (spent ones too) with no early exit, so the time taken does not
      // reveal which code matched or how many are left. argon2.verify compares in constant time.
      const matches = await Promise.all(
        stored.map((entry) =>
          this.#hasher.verify(entry.hash, candidate).catch(() => {
            throw new BulwarkMfaError(ErrorCodes.MFA_STORE, 'a stored recovery code hash is corrupt');
          }),
        ),
      );
      const index = matches.indexOf(true);
      if (index < 0) throw invalidCode();
      const match = stored[index]!;
      const at = this.#clock().toISOString();
      if (
        match.usedAt !== undefined ||
        !(await storeCall(() => this.#store.consumeRecoveryCode(userId, match.id, at)))
      ) {
        throw new BulwarkMfaError(ErrorCodes.MFA_RECOVERY_CODE_USED, 'this recovery code was already used');
      }
      const remaining = stored.filter((c, i) => i !== index && c.usedAt === undefined).length;
      return Object.freeze({ userId, method: 'recovery' as const, at, remaining });
    });
  }

  /** Unused codes left. */
  async remaining(userId: string): Promise<number> {
    checkUserId(userId);
    return (await storeCall(() => this.#store.getRecoveryCodes(userId))).filter((c) => c.usedAt === undefined)
      .length;
  }

  /** Deletes all of the user's codes. */
  async revoke(userId: string): Promise<void> {
    checkUserId(userId);
    await storeCall(() => this.#store.deleteRecoveryCodes(userId));
  }

  describe(): RecoveryCodesDescription {
    return Object.freeze({
      method: 'recovery',
      count: this.#count,
      entropyBits: this.#length * 5,
      hashing: 'argon2id',
      singleUse: true,
      throttled: this.#guard !== undefined,
    });
  }

  #randomCode(): string {
    // 256 is a multiple of 32, so `byte & 31` is uniform (no modulo bias).
    const bytes = randomBytes(this.#length);
    let out = '';
    for (const byte of bytes) out += ALPHABET[byte & 31];
    return out;
  }
}

/** `ABCDE-FGHJK` for display. */
function format(code: string): string {
  const groups: string[] = [];
  for (let i = 0; i < code.length; i += GROUP) groups.push(code.slice(i, i + GROUP));
  return groups.join('-');
}

/** Canonical form of typed input: no separators, upper case, Crockford look-alikes mapped. */
function normalize(input: string): string | undefined {
  if (input.length > 64) return undefined;
  const s = input.replace(/[\s-]/g, '').toUpperCase().replace(/[IL]/g, '1').replace(/O/g, '0');
  for (const ch of s) if (!ALPHABET.includes(ch)) return undefined;
  return s;
}
