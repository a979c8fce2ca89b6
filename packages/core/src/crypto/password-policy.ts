import { BulwarkIdentityError, ErrorCodes } from '../errors';
import { configError, invalid, isPlainObject, rejectUnknown } from '../util/options';

/**
 * Why the policy refused a password: stable ids a UI can translate (never the password itself).
 * - `too-short` / `too-long`: outside the length limits (in Unicode code points after NFKC).
 * - `common-password`: on the list of common and breached passwords.
 * - `context-word`: contains the user name, e-mail, the application's name or another context word.
 * - `too-guessable`: the strength estimate (zxcvbn-ts) is below the policy's minimum score.
 * - `reused`: one of the user's last `historySize` passwords.
 */
export type PasswordRefusalReason =
  'too-short' | 'too-long' | 'common-password' | 'context-word' | 'too-guessable' | 'reused';

export const PASSWORD_REFUSAL_REASONS: readonly PasswordRefusalReason[] = Object.freeze([
  'too-short',
  'too-long',
  'common-password',
  'context-word',
  'too-guessable',
  'reused',
]);

export interface PasswordPolicyOptions {
  /**
   * Minimum length of a password that is the account's only factor. Default 15 (NIST SP 800-63B
   * rev. 4 §3.1.1.2: at least 15 characters when the password is used as a single factor).
   */
  minLength?: number;
  /** Minimum length when the account also has a second factor. Default 8 (rev. 4: at least 8). */
  minLengthWithMfa?: number;
  /** Maximum length. Default 64; never less (rev. 4: permit at least 64 characters). */
  maxLength?: number;
  /** Words no password may contain: the application's name, the company's, the product's. */
  contextWords?: readonly string[];
  /** Further passwords to refuse outright (an app's own breach list), compared after normalisation. */
  blocklist?: readonly string[];
  /** Lowest zxcvbn score (0-4) accepted. Default 3 (about 10^8 guesses). */
  minScore?: 0 | 1 | 2 | 3 | 4;
  /** How many previous passwords are remembered and refused (`reused`). Default 0 (no history); at most 24. */
  historySize?: number;
  /** Config path in error messages. Default `passwords.policy`. */
  configPath?: string;
}

/** Facts about the account the password is for. */
export interface PasswordContext {
  /** The user name, e-mail and display name: none of them (or their parts) may be in the password. */
  readonly userInputs?: readonly string[];
  /** True when the account has a second factor (the shorter minimum applies). */
  readonly hasMfa?: boolean;
  /** The user's previous password hashes, newest first (PasswordHasher.check() verifies against them). */
  readonly history?: readonly string[];
}

/** What `check()` found. `reasons` is empty exactly when `ok`. */
export interface PasswordCheckResult {
  readonly ok: boolean;
  readonly reasons: readonly PasswordRefusalReason[];
  /** zxcvbn-ts score, 0 (trivial) to 4 (very strong); 0 when the password was not estimated (too long). */
  readonly score: 0 | 1 | 2 | 3 | 4;
  /** log10 of the estimated guesses. */
  readonly guessesLog10: number;
  /** The minimum length that applied. */
  readonly minLength: number;
  /** zxcvbn-ts feedback keys (translation keys such as `topTen`, `repeated`), for the UI. */
  readonly feedback: { readonly warning?: string; readonly suggestions: readonly string[] };
}

/** The policy as compliance evidence (no word lists). */
export interface PasswordPolicyDescription {
  readonly minLength: number;
  readonly minLengthWithMfa: number;
  readonly maxLength: number;
  readonly normalization: 'NFKC';
  readonly compositionRules: false;
  readonly blocklist: { readonly source: string; readonly entries: number };
  readonly contextWords: number;
  readonly minScore: number;
  readonly historySize: number;
}

type ZxcvbnModule = typeof import('@zxcvbn-ts/core');
type CommonModule = typeof import('@zxcvbn-ts/language-common');
let zxcvbn: { core: ZxcvbnModule; common: CommonModule; blocked: ReadonlySet<string> } | undefined;
/** zxcvbn-ts and its ~2 MB dictionary load with the first check, not with `import '@bulwark/core'`. */
function library(): NonNullable<typeof zxcvbn> {
  if (zxcvbn === undefined) {
    const core = require('@zxcvbn-ts/core') as ZxcvbnModule;
    const common = require('@zxcvbn-ts/language-common') as CommonModule;
    zxcvbn = {
      core,
      common,
      blocked: new Set(common.dictionary['passwords-common'].map((p) => p.toLowerCase())),
    };
  }
  return zxcvbn;
}

const BLOCKLIST_SOURCE = '@zxcvbn-ts/language-common passwords-common (MIT)';
/** A whole context input shorter than this, or a part of one shorter than MIN_PART, is not searched for. */
const MIN_WHOLE = 3;
const MIN_PART = 4;
/** Parts of e-mail addresses that say nothing about the user. */
const COMMON_PARTS = new Set(['mail', 'gmail', 'email', 'info', 'example']);

function normalize(password: string): string {
  return password.normalize('NFKC');
}

/**
 * The words of a context input: the whole input and its parts of 4+ characters
 * (`jane.doe@example.org` -> jane.doe@example.org, jane.doe, jane, example).
 */
function tokens(input: string): string[] {
  const lower = normalize(input).toLowerCase();
  const parts = lower.split(/[^\p{L}\p{N}]+/u).filter((t) => t.length >= MIN_PART && !COMMON_PARTS.has(t));
  const local = lower.includes('@') ? [lower.slice(0, lower.indexOf('@'))] : [];
  return [...new Set([lower, ...local, ...parts])].filter((t) => t.length >= MIN_WHOLE);
}

function stringList(value: unknown, path: string): readonly string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    !value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 256)
  ) {
    throw invalid(path, 'an array of non-empty strings of at most 256 characters', value);
  }
  return value;
}

function intOption(value: unknown, path: string, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(path, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

/**
 * A password policy after NIST SP 800-63B rev. 4 §3.1.1.2: length limits that depend on whether
 * the password is the only factor, every Unicode character allowed (NFKC-normalised, length in
 * code points), no composition rules, and refusal of common / breached passwords, context words
 * and guessable ones (zxcvbn-ts estimate), offline. `check()` says why, in stable reason ids.
 */
export class PasswordPolicy {
  readonly #min: number;
  readonly #minMfa: number;
  readonly #max: number;
  readonly #minScore: number;
  readonly #history: number;
  readonly #context: readonly string[];
  readonly #blocklist: ReadonlySet<string>;
  #factory: InstanceType<ZxcvbnModule['ZxcvbnFactory']> | undefined;

  constructor(options: PasswordPolicyOptions = {}) {
    const path = options?.configPath ?? 'passwords.policy';
    if (!isPlainObject(options)) throw invalid(path, 'an object', options);
    rejectUnknown(
      options,
      [
        'minLength',
        'minLengthWithMfa',
        'maxLength',
        'contextWords',
        'blocklist',
        'minScore',
        'historySize',
        'configPath',
      ],
      `${path}.`,
    );
    // Rev. 4 floors: no configuration may go below them.
    this.#min = intOption(options.minLength, `${path}.minLength`, 15, 8, 64);
    this.#minMfa = intOption(options.minLengthWithMfa, `${path}.minLengthWithMfa`, 8, 8, 64);
    if (this.#minMfa > this.#min) {
      throw configError(`${path}.minLengthWithMfa`, `must not exceed minLength (${this.#min})`);
    }
    this.#max = intOption(options.maxLength, `${path}.maxLength`, 64, 64, 1024);
    this.#minScore = intOption(options.minScore, `${path}.minScore`, 3, 0, 4);
    this.#history = intOption(options.historySize, `${path}.historySize`, 0, 0, 24);
    this.#context = stringList(options.contextWords, `${path}.contextWords`).flatMap(tokens);
    this.#blocklist = new Set(
      stringList(options.blocklist, `${path}.blocklist`).map((w) => normalize(w).toLowerCase()),
    );
  }

  /** How many previous password hashes to keep (0: no history). */
  get historySize(): number {
    return this.#history;
  }

  /** The policy (compliance evidence). */
  describe(): PasswordPolicyDescription {
    return Object.freeze({
      minLength: this.#min,
      minLengthWithMfa: this.#minMfa,
      maxLength: this.#max,
      normalization: 'NFKC' as const,
      compositionRules: false as const,
      blocklist: Object.freeze({
        source:
          this.#blocklist.size > 0
            ? `${BLOCKLIST_SOURCE} + ${this.#blocklist.size} app entries`
            : BLOCKLIST_SOURCE,
        entries: library().blocked.size + this.#blocklist.size,
      }),
      contextWords: this.#context.length,
      minScore: this.#minScore,
      historySize: this.#history,
    });
  }

  /**
   * Evaluates a password (history is checked by `PasswordHasher.check()`, which can verify hashes).
   * Throws only for a non-string password; every refusal is a reason in the result.
   */
  evaluate(password: string, context: PasswordContext = {}): PasswordCheckResult {
    if (typeof password !== 'string') {
      throw new BulwarkIdentityError(ErrorCodes.PASSWORD_POLICY, 'The password must be a string.', {
        reasons: ['too-short'],
      });
    }
    const minLength = context.hasMfa === true ? this.#minMfa : this.#min;
    const reasons: PasswordRefusalReason[] = [];
    // Cheap bound before normalising (NFKC can expand a code point to at most 18).
    if (password.length > this.#max * 18) {
      return this.#result(['too-long'], minLength, 0, 0, {});
    }
    const normalized = normalize(password);
    const length = [...normalized].length;
    if (length < minLength) reasons.push('too-short');
    if (length > this.#max) return this.#result([...reasons, 'too-long'], minLength, 0, 0, {});
    const lower = normalized.toLowerCase();
    const { blocked } = library();
    if (blocked.has(lower) || this.#blocklist.has(lower)) reasons.push('common-password');
    const words = [
      ...this.#context,
      ...stringList(context.userInputs ?? [], 'context.userInputs').flatMap(tokens),
    ];
    if (words.some((w) => lower.includes(w))) reasons.push('context-word');
    const estimate = this.#zxcvbn().check(normalized, words);
    if (estimate.score < this.#minScore) reasons.push('too-guessable');
    return this.#result(reasons, minLength, estimate.score, estimate.guessesLog10, {
      ...(estimate.feedback.warning ? { warning: estimate.feedback.warning } : {}),
      suggestions: estimate.feedback.suggestions,
    });
  }

  #zxcvbn(): InstanceType<ZxcvbnModule['ZxcvbnFactory']> {
    if (this.#factory === undefined) {
      const { core, common } = library();
      this.#factory = new core.ZxcvbnFactory({
        dictionary: {
          ...common.dictionary,
          bulwarkContext: [...this.#context],
          bulwarkBlocklist: [...this.#blocklist],
        },
        graphs: common.adjacencyGraphs,
      });
    }
    return this.#factory;
  }

  #result(
    reasons: PasswordRefusalReason[],
    minLength: number,
    score: number,
    guessesLog10: number,
    feedback: { warning?: string; suggestions?: readonly string[] },
  ): PasswordCheckResult {
    const unique = [...new Set(reasons)];
    return Object.freeze({
      ok: unique.length === 0,
      reasons: Object.freeze(unique),
      score: score as PasswordCheckResult['score'],
      guessesLog10: Math.round(guessesLog10 * 100) / 100,
      minLength,
      feedback: Object.freeze({
        ...(feedback.warning !== undefined ? { warning: feedback.warning } : {}),
        suggestions: Object.freeze([...(feedback.suggestions ?? [])]),
      }),
    });
  }
}

/** The typed error `PasswordHasher.hash()` throws for a refused password (422 over HTTP, with `reasons`). */
export function passwordPolicyError(reasons: readonly PasswordRefusalReason[]): BulwarkIdentityError {
  return new BulwarkIdentityError(
    ErrorCodes.PASSWORD_POLICY,
    `The password does not meet the password policy (${reasons.join(', ')}).`,
    { reasons: [...reasons] },
  );
}
