import { types as utilTypes } from 'node:util';
import { BulwarkConfigError, BulwarkCryptoError, ErrorCodes } from '../errors';
import {
  PasswordPolicy,
  passwordPolicyError,
  type PasswordCheckResult,
  type PasswordContext,
  type PasswordPolicyOptions,
} from './password-policy';

/**
 * OWASP Password Storage Cheat Sheet, "Argon2id" section: use Argon2id with a minimum of 19 MiB of
 * memory, an iteration count of 2 and 1 degree of parallelism. The cheat sheet lists equivalent
 * trade-offs (more memory for fewer passes and vice versa); this table is that list, as
 * `timeCost -> minimum memoryCost (KiB)`. Any configuration at or above one of these rows is
 * accepted; anything below every row is refused unless `allowWeakParameters` is set.
 * https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id
 */
const OWASP_MIN_MEMORY_BY_TIME: ReadonlyArray<readonly [timeCost: number, memoryKiB: number]> = [
  [1, 47104], // 46 MiB, t=1
  [2, 19456], // 19 MiB, t=2 (the default)
  [3, 12288], // 12 MiB, t=3
  [4, 9216], // 9 MiB, t=4
  [5, 7168], // 7 MiB, t=5
];

/** OWASP defaults: argon2id, m=19456 KiB (19 MiB), t=2, p=1. */
export const OWASP_ARGON2ID_DEFAULTS = Object.freeze({
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  hashLength: 32,
});

type Argon2 = typeof import('argon2');
let argon2Module: Argon2 | undefined;
/**
 * The native argon2 binding, loaded on the first hash or verify rather than at import: an app that
 * imports `@bulwark/core` for its key ring or audit log never loads (or needs to build) it. After
 * the first call this is one variable read.
 */
function argon2(): Argon2 {
  return (argon2Module ??= require('argon2') as Argon2);
}

/** Argon2 version 0x13 (1.3, decimal 19): the current RFC 9106 version. */
const ARGON2_VERSION = 0x13;
/** DoS guard: passwords longer than this many UTF-8 bytes are refused before hashing. */
const DEFAULT_MAX_PASSWORD_BYTES = 1024;
/** A pepper is a secret key (HMAC-style keyed hashing): 256 bits, like any other Bulwark key. */
const MIN_PEPPER_BYTES = 32;
/**
 * Upper bounds on parameters read from a stored hash. A hash string comes from a database that
 * an attacker may be able to write to; without a cap a forged `m=4294967295` would make a single
 * login attempt allocate 4 TiB.
 */
const MAX_STORED_MEMORY_KIB = 4 * 1024 * 1024; // 4 GiB
const MAX_STORED_TIME_COST = 64;
const MAX_STORED_PARALLELISM = 64;

export type UnicodeNormalization = 'NFC' | 'NFKC' | 'none';

export interface PasswordHasherOptions {
  /** Memory in KiB. Default 19456 (19 MiB, OWASP). */
  memoryCost?: number;
  /** Passes over memory. Default 2 (OWASP). */
  timeCost?: number;
  /** Lanes. Default 1 (OWASP). */
  parallelism?: number;
  /** Output length in bytes. Default 32; at least 16. */
  hashLength?: number;
  /**
   * Secret key mixed into every hash through Argon2's `secret` input (keyed hashing), stored
   * apart from the database (env / KMS). At least 32 bytes. Changing it makes every existing hash
   * unverifiable unless the old value is listed in `previousPeppers`.
   */
  pepper?: Uint8Array;
  /**
   * Older peppers still accepted by `verify`. A hash that only verifies under one of them should
   * be re-hashed (see `verifyAndCheckRehash`), after which the old pepper can be dropped.
   */
  previousPeppers?: readonly Uint8Array[];
  /** DoS guard on password size in UTF-8 bytes. Default 1024. */
  maxPasswordBytes?: number;
  /**
   * NIST SP 800-63B §5.1.1.2 recommends normalising Unicode passwords so the same password typed
   * on different keyboards/OSes hashes the same. Default 'NFKC'. Use 'none' when migrating hashes
   * made by a system that did not normalise.
   */
  unicodeNormalization?: UnicodeNormalization;
  /**
   * The password policy (NIST SP 800-63B): a `PasswordPolicy` or its options. When set, `hash()`
   * refuses a password the policy refuses (ERR_PASSWORD_POLICY, 422 over HTTP, with the reasons).
   * `check()` uses it, or the default policy when none is set.
   */
  policy?: PasswordPolicy | PasswordPolicyOptions;
  /** Accept parameters below the OWASP minimum (tests, benchmarks). Never in production. */
  allowWeakParameters?: boolean;
  /** Config path used in error messages, e.g. `passwords`. Default `passwords`. */
  configPath?: string;
}

/** The effective parameters, exposed as compliance evidence. Contains no secret. */
export interface PasswordHashParams {
  readonly algorithm: 'argon2id';
  readonly version: number;
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
  readonly hashLength: number;
  readonly peppered: boolean;
  readonly previousPepperCount: number;
  readonly maxPasswordBytes: number;
  readonly unicodeNormalization: UnicodeNormalization;
  /** True when the parameters meet the OWASP Password Storage Cheat Sheet minimum. */
  readonly meetsOwaspMinimum: boolean;
}

export interface PasswordVerification {
  readonly valid: boolean;
  /** True when `valid` and the hash should be replaced by `hash(password)` (params or pepper changed). */
  readonly needsRehash: boolean;
}

interface ParsedArgon2Hash {
  readonly id: 'argon2id' | 'argon2i' | 'argon2d';
  readonly version: number;
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
  readonly hashLength: number;
}

// PHC string format: $argon2id$v=19$<params>$<b64 salt>$<b64 hash> (unpadded standard base64).
// The reference implementation writes params as m=,t=,p= while the `argon2` package writes
// m=,p=,t=; both (any order, each once, optional data=) are accepted.
const PHC_ARGON2 =
  /^\$(argon2id|argon2i|argon2d)\$(?:v=(\d{1,3})\$)?([a-z]+=[A-Za-z0-9+/]*(?:,[a-z]+=[A-Za-z0-9+/]*){2,3})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{6,})$/;

/** Parses an argon2 PHC string; returns a reason instead of throwing. Exported for tests only. */
export function parseArgon2Hash(encoded: unknown): ParsedArgon2Hash | { reason: string } {
  if (typeof encoded !== 'string') return { reason: 'hash is not a string' };
  if (encoded.length > 512) return { reason: 'hash is too long' };
  const match = PHC_ARGON2.exec(encoded);
  if (match === null) return { reason: 'not an argon2 PHC string' };
  const [, id, v, paramList, salt, digest] = match;
  const params = new Map<string, string>();
  for (const pair of paramList.split(',')) {
    const [name, value] = pair.split('=');
    if (params.has(name) || !['m', 't', 'p', 'data'].includes(name))
      return { reason: 'unexpected parameter' };
    if (name !== 'data' && !/^\d{1,10}$/.test(value)) return { reason: 'parameter is not a number' };
    params.set(name, value);
  }
  if (!params.has('m') || !params.has('t') || !params.has('p')) return { reason: 'missing parameter' };
  const parsed: ParsedArgon2Hash = {
    id: id as ParsedArgon2Hash['id'],
    // RFC 9106 / PHC: a missing version means the original 1.0 (0x10).
    version: v === undefined ? 0x10 : Number(v),
    memoryCost: Number(params.get('m')),
    timeCost: Number(params.get('t')),
    parallelism: Number(params.get('p')),
    hashLength: Math.floor((digest.length * 3) / 4),
  };
  if (parsed.version !== 0x10 && parsed.version !== 0x13) return { reason: 'unknown argon2 version' };
  if (parsed.parallelism < 1 || parsed.parallelism > MAX_STORED_PARALLELISM)
    return { reason: 'parallelism out of range' };
  if (parsed.timeCost < 1 || parsed.timeCost > MAX_STORED_TIME_COST)
    return { reason: 'timeCost out of range' };
  // Argon2 requires at least 8 KiB per lane.
  if (parsed.memoryCost < 8 * parsed.parallelism || parsed.memoryCost > MAX_STORED_MEMORY_KIB)
    return { reason: 'memoryCost out of range' };
  if (Math.floor((salt.length * 3) / 4) < 8) return { reason: 'salt too short' };
  if (parsed.hashLength < 4) return { reason: 'digest too short' };
  return parsed;
}

function meetsOwasp(memoryCost: number, timeCost: number): boolean {
  return OWASP_MIN_MEMORY_BY_TIME.some(([t, m]) => timeCost >= t && memoryCost >= m);
}

/** The OWASP minimum memory for a given number of passes (t >= 5 uses the t=5 row). */
function owaspMinMemory(timeCost: number): number {
  const row = [...OWASP_MIN_MEMORY_BY_TIME].reverse().find(([t]) => timeCost >= t);
  return row === undefined ? Number.POSITIVE_INFINITY : row[1];
}

function configError(path: string, message: string, got: unknown): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} ${message}, got ${describe(got)}`, {
    path,
  });
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  if (typeof value === 'string') return 'a string';
  if (utilTypes.isUint8Array(value)) return `${value.byteLength} bytes`;
  return typeof value;
}

function intOption(
  options: PasswordHasherOptions,
  name: 'memoryCost' | 'timeCost' | 'parallelism' | 'hashLength' | 'maxPasswordBytes',
  fallback: number,
  min: number,
  max: number,
  path: string,
  why = '',
): number {
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw configError(`${path}.${name}`, `must be an integer >= ${min} and <= ${max}${why}`, value);
  }
  return value;
}

function pepperBuffer(value: unknown, path: string): Buffer {
  if (!utilTypes.isUint8Array(value) || value.byteLength < MIN_PEPPER_BYTES) {
    throw configError(path, `must be a Uint8Array of at least ${MIN_PEPPER_BYTES} random bytes`, value);
  }
  return Buffer.from(value); // private copy: later mutation by the caller must not change hashing
}

/**
 * Argon2id password hashing with OWASP parameters, `needsRehash` for parameter upgrades, and an
 * optional pepper (with rotation through `previousPeppers`).
 */
export class PasswordHasher {
  readonly #memoryCost: number;
  readonly #timeCost: number;
  readonly #parallelism: number;
  readonly #hashLength: number;
  readonly #maxPasswordBytes: number;
  readonly #normalization: UnicodeNormalization;
  readonly #pepper?: Buffer;
  readonly #previousPeppers: readonly Buffer[];
  readonly #params: PasswordHashParams;
  readonly #policy?: PasswordPolicy;
  #defaultPolicy?: PasswordPolicy;

  constructor(options: PasswordHasherOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw configError('passwords', 'must be an options object', options);
    }
    const path = options.configPath ?? 'passwords';
    const weakOk = options.allowWeakParameters === true;
    if (options.allowWeakParameters !== undefined && typeof options.allowWeakParameters !== 'boolean') {
      throw configError(`${path}.allowWeakParameters`, 'must be a boolean', options.allowWeakParameters);
    }

    this.#parallelism = intOption(options, 'parallelism', OWASP_ARGON2ID_DEFAULTS.parallelism, 1, 64, path);
    this.#timeCost = intOption(options, 'timeCost', OWASP_ARGON2ID_DEFAULTS.timeCost, 1, 64, path);
    const owaspMin = owaspMinMemory(this.#timeCost);
    this.#memoryCost = intOption(
      options,
      'memoryCost',
      OWASP_ARGON2ID_DEFAULTS.memoryCost,
      // Argon2 itself needs 8 KiB per lane; OWASP needs far more unless weakness is explicit.
      weakOk ? 8 * this.#parallelism : Math.max(owaspMin, 8 * this.#parallelism),
      MAX_STORED_MEMORY_KIB,
      path,
      weakOk
        ? ''
        : ` (OWASP Password Storage Cheat Sheet minimum for timeCost=${this.#timeCost}; ` +
            `set allowWeakParameters: true only for tests)`,
    );
    this.#hashLength = intOption(options, 'hashLength', OWASP_ARGON2ID_DEFAULTS.hashLength, 16, 64, path);
    this.#maxPasswordBytes = intOption(
      options,
      'maxPasswordBytes',
      DEFAULT_MAX_PASSWORD_BYTES,
      8,
      4096,
      path,
    );

    const normalization = options.unicodeNormalization ?? 'NFKC';
    if (normalization !== 'NFC' && normalization !== 'NFKC' && normalization !== 'none') {
      throw configError(`${path}.unicodeNormalization`, "must be 'NFC', 'NFKC' or 'none'", normalization);
    }
    this.#normalization = normalization;

    if (options.pepper !== undefined) this.#pepper = pepperBuffer(options.pepper, `${path}.pepper`);
    const previous = options.previousPeppers ?? [];
    if (!Array.isArray(previous)) {
      throw configError(`${path}.previousPeppers`, 'must be an array of Uint8Array', previous);
    }
    if (previous.length > 0 && this.#pepper === undefined) {
      throw configError(
        `${path}.previousPeppers`,
        'requires a current pepper (hashes would otherwise be made without one)',
        `${previous.length} entries`,
      );
    }
    this.#previousPeppers = previous.map((p, i) => pepperBuffer(p, `${path}.previousPeppers[${i}]`));

    if (options.policy !== undefined) {
      this.#policy =
        options.policy instanceof PasswordPolicy
          ? options.policy
          : new PasswordPolicy({ configPath: `${path}.policy`, ...options.policy });
    }

    this.#params = Object.freeze({
      algorithm: 'argon2id',
      version: ARGON2_VERSION,
      memoryCost: this.#memoryCost,
      timeCost: this.#timeCost,
      parallelism: this.#parallelism,
      hashLength: this.#hashLength,
      peppered: this.#pepper !== undefined,
      previousPepperCount: this.#previousPeppers.length,
      maxPasswordBytes: this.#maxPasswordBytes,
      unicodeNormalization: this.#normalization,
      meetsOwaspMinimum: meetsOwasp(this.#memoryCost, this.#timeCost),
    });
  }

  /** The effective parameters (compliance evidence; never includes the pepper). */
  get params(): PasswordHashParams {
    return this.#params;
  }

  /** The configured password policy (enforced by `hash()`), if any. */
  get policy(): PasswordPolicy | undefined {
    return this.#policy;
  }

  /**
   * Checks a password against the policy (the configured one, else NIST defaults) and, with
   * `context.history`, against the user's previous hashes (reason `reused`). Never throws for a
   * weak password: the result lists the reasons, for the UI.
   */
  async check(password: string, context: PasswordContext = {}): Promise<PasswordCheckResult> {
    const policy = this.#policy ?? (this.#defaultPolicy ??= new PasswordPolicy());
    const result = policy.evaluate(password, context);
    const history = context.history ?? [];
    if (!Array.isArray(history)) throw configError('context.history', 'must be an array of hashes', history);
    const limit = Math.min(policy.historySize > 0 ? policy.historySize : history.length, 24);
    if (result.reasons.includes('too-long') || limit === 0) return result;
    for (const previous of history.slice(0, limit)) {
      if (await this.verify(previous, password)) {
        return Object.freeze({
          ...result,
          ok: false,
          reasons: Object.freeze([...result.reasons, 'reused' as const]),
        });
      }
    }
    return result;
  }

  /**
   * The history to store after a password change: `newHash` first, then the previous ones, cut to
   * the policy's `historySize` (empty when the policy keeps no history).
   */
  remember(history: readonly string[], newHash: string): string[] {
    const size = this.#policy?.historySize ?? 0;
    return size === 0 ? [] : [newHash, ...history].slice(0, size);
  }

  /**
   * Hashes a password into a self-describing PHC string (`$argon2id$v=19$m=...`). With a policy
   * configured, a password it refuses is not hashed: ERR_PASSWORD_POLICY with `details.reasons`.
   */
  async hash(password: string, context: PasswordContext = {}): Promise<string> {
    if (this.#policy !== undefined) {
      const result = await this.check(password, context);
      if (!result.ok) throw passwordPolicyError(result.reasons);
    }
    return this.hashSecret(password);
  }

  /**
   * Hashes a machine-generated secret (a recovery code, a reset token) with the same parameters,
   * without the password policy (which is for secrets people choose).
   */
  async hashSecret(password: string): Promise<string> {
    const input = this.#preparePassword(password);
    const native = argon2();
    return native.hash(input, {
      type: native.argon2id,
      version: ARGON2_VERSION,
      memoryCost: this.#memoryCost,
      timeCost: this.#timeCost,
      parallelism: this.#parallelism,
      hashLength: this.#hashLength,
      ...(this.#pepper !== undefined ? { secret: this.#pepper } : {}),
    });
  }

  /**
   * True when `password` matches `hash`. A wrong password is `false`; a hash that is not a valid
   * argon2 PHC string throws ERR_PASSWORD_INVALID_HASH (it signals data corruption or tampering,
   * which callers should see rather than a silent "wrong password").
   */
  async verify(hash: string, password: string): Promise<boolean> {
    return (await this.verifyAndCheckRehash(hash, password)).valid;
  }

  /**
   * Verifies and, on success, says whether the stored hash should be upgraded: its parameters are
   * weaker than the current ones, or it only matched under a previous pepper. Call `hash()` and
   * store the result when `needsRehash` is true (the plaintext is only available at login).
   */
  async verifyAndCheckRehash(hash: string, password: string): Promise<PasswordVerification> {
    const input = this.#preparePassword(password);
    const parsed = this.#parse(hash);
    const peppers: Array<Buffer | undefined> = [this.#pepper, ...this.#previousPeppers];
    for (let i = 0; i < peppers.length; i++) {
      const pepper = peppers[i];
      let ok: boolean;
      try {
        // argon2.verify recomputes and compares with crypto.timingSafeEqual.
        ok = await argon2().verify(hash, input, pepper !== undefined ? { secret: pepper } : {});
      } catch (cause) {
        throw new BulwarkCryptoError(
          ErrorCodes.PASSWORD_INVALID_HASH,
          'Stored password hash could not be processed; it is corrupt or not an argon2 hash.',
          { reason: 'argon2 rejected the hash' },
          { cause: cause instanceof Error ? new Error(cause.message) : undefined },
        );
      }
      if (ok) return { valid: true, needsRehash: i > 0 || this.#weakerThanCurrent(parsed) };
    }
    return { valid: false, needsRehash: false };
  }

  /**
   * True when the hash was made with another algorithm variant or version, or with parameters
   * weaker than the current configuration (memory, passes, lanes, output length). A hash made with
   * stronger parameters is left alone: lowering the configuration never downgrades stored hashes.
   * Pepper changes cannot be seen in the hash string; use `verifyAndCheckRehash` for those.
   */
  needsRehash(hash: string): boolean {
    return this.#weakerThanCurrent(this.#parse(hash));
  }

  #weakerThanCurrent(parsed: ParsedArgon2Hash): boolean {
    return (
      parsed.id !== 'argon2id' ||
      parsed.version !== ARGON2_VERSION ||
      parsed.memoryCost < this.#memoryCost ||
      parsed.timeCost < this.#timeCost ||
      parsed.parallelism < this.#parallelism ||
      parsed.hashLength < this.#hashLength
    );
  }

  #parse(hash: unknown): ParsedArgon2Hash {
    const parsed = parseArgon2Hash(hash);
    if ('reason' in parsed) {
      throw new BulwarkCryptoError(
        ErrorCodes.PASSWORD_INVALID_HASH,
        `Stored password hash is invalid (${parsed.reason}); expected an argon2 PHC string.`,
        { reason: parsed.reason },
      );
    }
    return parsed;
  }

  #preparePassword(password: unknown): Buffer {
    if (typeof password !== 'string') {
      throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Password must be a string.', {
        got: typeof password,
      });
    }
    if (password.length === 0) {
      throw new BulwarkCryptoError(ErrorCodes.CRYPTO_INVALID_ARGUMENT, 'Password must not be empty.');
    }
    // Coarse guard before normalising, so huge input is refused before any work is done on it; the
    // exact limit applies to the UTF-8 bytes of the normalised password below.
    if (password.length > 4 * this.#maxPasswordBytes) throw this.#tooLong();
    const normalized = this.#normalization === 'none' ? password : password.normalize(this.#normalization);
    const bytes = Buffer.from(normalized, 'utf8');
    if (bytes.byteLength > this.#maxPasswordBytes) throw this.#tooLong();
    return bytes;
  }

  #tooLong(): BulwarkCryptoError {
    return new BulwarkCryptoError(
      ErrorCodes.CRYPTO_INVALID_ARGUMENT,
      `Password is longer than ${this.#maxPasswordBytes} bytes (denial-of-service guard).`,
      { maxPasswordBytes: this.#maxPasswordBytes },
    );
  }
}
