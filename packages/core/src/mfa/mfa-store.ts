/**
 * Persistence for MFA state. Implementations must make `advanceTotpStep` and
 * `consumeRecoveryCode` atomic (a compare-and-set: SQL `UPDATE ... WHERE last_step < :step`,
 * Redis `WATCH`/Lua, a single-threaded memory map), because replay and single-use guarantees
 * rest on them when two requests race with the same code.
 */

export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';
export type TotpDigits = 6 | 8;

/** A user's TOTP enrolment as stored. */
export interface StoredTotp {
  /**
   * The base32 secret: a KeyRing envelope (`bw2....`, aad `mfa.totp#<userId>`) when `encrypted`,
   * else the base32 text itself (only with `allowPlaintextSecrets`).
   */
  secret: string;
  encrypted: boolean;
  algorithm: TotpAlgorithm;
  digits: TotpDigits;
  period: number;
  /** False between `enroll` and a successful `confirm`: the factor does not yet count. */
  confirmed: boolean;
  createdAt: string;
  confirmedAt?: string;
  /** Highest time step accepted so far (RFC 6238 §5.2 replay protection). */
  lastUsedStep?: number;
}

/** One recovery code as stored: only its argon2id hash. */
export interface StoredRecoveryCode {
  /** Opaque id, unique per user. */
  id: string;
  /** argon2id PHC string of the normalised code. */
  hash: string;
  /** ISO time it was used; a used code never verifies again. */
  usedAt?: string;
}

export interface MfaStore {
  getTotp(userId: string): Promise<StoredTotp | undefined>;
  /** Creates or replaces the user's enrolment. */
  putTotp(userId: string, record: StoredTotp): Promise<void>;
  deleteTotp(userId: string): Promise<void>;
  /**
   * Atomically records `step` as the last accepted time step if it is strictly greater than the
   * stored one (or none is stored). Returns false when it is not (a replay), changing nothing.
   */
  advanceTotpStep(userId: string, step: number): Promise<boolean>;
  /** Marks the enrolment confirmed (and records the confirming step, see `advanceTotpStep`). */
  confirmTotp(userId: string, at: string, step: number): Promise<boolean>;

  getRecoveryCodes(userId: string): Promise<StoredRecoveryCode[]>;
  /** Replaces all of the user's recovery codes (old ones stop working). */
  putRecoveryCodes(userId: string, codes: readonly StoredRecoveryCode[]): Promise<void>;
  /** Atomically marks code `id` used if it exists and is unused; false otherwise. */
  consumeRecoveryCode(userId: string, id: string, at: string): Promise<boolean>;
  deleteRecoveryCodes(userId: string): Promise<void>;

  /**
   * TOTP enrolments with a userId greater than `after` (all when undefined), in ascending userId
   * order, at most `limit`: only what re-wrapping needs. Optional; TotpFactor.rewrapSecrets
   * needs it and `replaceTotpSecret`.
   */
  listTotpSecrets?(
    after: string | undefined,
    limit: number,
  ): Promise<Array<{ userId: string; secret: string; encrypted: boolean }>>;
  /**
   * Compare-and-swap of an encrypted secret's envelope (re-encryption of the same secret under a
   * newer key version): replaces it only if the stored secret is still exactly `expected`, and
   * touches nothing else (the replay step, confirmation). False if it changed or is gone.
   */
  replaceTotpSecret?(userId: string, expected: string, next: string): Promise<boolean>;

  close?(): Promise<void> | void;
}
