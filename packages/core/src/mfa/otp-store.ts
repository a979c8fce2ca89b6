/**
 * Persistence for pending one-time codes (e-mail / SMS). Only a keyed hash of each code is kept.
 * `attemptCode` and `consumeCode` must be atomic (an increment-and-return, a delete-if-equal),
 * because the attempt limit and single use rest on them when requests race.
 */

/** A user's pending code, as stored. */
export interface StoredOtp {
  /** HMAC-SHA256 of the code (hex), under the factor's hash key. */
  hash: string;
  /** `email` or `sms`. */
  channel: string;
  /** Epoch milliseconds after which the code is refused. */
  expiresAt: number;
  /** Verification attempts made against this code (and the codes it replaced). */
  attempts: number;
}

export interface OtpStore {
  getCode(userId: string): Promise<StoredOtp | undefined>;
  /** Creates or replaces the user's pending code. */
  putCode(userId: string, record: StoredOtp): Promise<void>;
  /** Atomically adds one attempt and returns the updated record (undefined when none is pending). */
  attemptCode(userId: string): Promise<StoredOtp | undefined>;
  /** Atomically deletes the pending code if its hash is still `hash`; false otherwise. */
  consumeCode(userId: string, hash: string): Promise<boolean>;
  deleteCode(userId: string): Promise<void>;
  close?(): Promise<void> | void;
}

/** In-process OtpStore (tests, single-instance apps); atomic on Node's single thread. */
export class MemoryOtpStore implements OtpStore {
  readonly #codes = new Map<string, StoredOtp>();

  async getCode(userId: string): Promise<StoredOtp | undefined> {
    const record = this.#codes.get(userId);
    return record === undefined ? undefined : { ...record };
  }

  async putCode(userId: string, record: StoredOtp): Promise<void> {
    this.#codes.set(userId, { ...record });
  }

  async attemptCode(userId: string): Promise<StoredOtp | undefined> {
    const record = this.#codes.get(userId);
    if (record === undefined) return undefined;
    record.attempts += 1;
    return { ...record };
  }

  async consumeCode(userId: string, hash: string): Promise<boolean> {
    const record = this.#codes.get(userId);
    if (record === undefined || record.hash !== hash) return false;
    return this.#codes.delete(userId);
  }

  async deleteCode(userId: string): Promise<void> {
    this.#codes.delete(userId);
  }
}
