/** An account's lifecycle state (not its credentials: the app keeps the password hash). */
export interface StoredAccount {
  readonly userId: string;
  readonly disabled: boolean;
  /** Epoch ms, when disabled. */
  readonly disabledAt?: number;
  /** Why (a short reason id such as `left-company`, `compromised`); never personal data. */
  readonly disabledReason?: string;
  /** The next sign-in must change the password first. */
  readonly mustChangePassword: boolean;
  /** Epoch ms of the last password change or reset. */
  readonly passwordChangedAt?: number;
  /** argon2id hashes of previous passwords, newest first (the policy's `historySize`). */
  readonly passwordHistory: readonly string[];
}

/**
 * A password reset token as stored: `id` names it, `hash` is SHA-256 of its secret half (the
 * secret itself is only in the link sent to the user).
 */
export interface StoredResetToken {
  readonly id: string;
  readonly userId: string;
  /** base64url SHA-256 of the secret. */
  readonly hash: string;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Where account states and reset tokens live: memory, or SQL (`TypeOrmAccountStore`). */
export interface AccountStore {
  get(userId: string): Promise<StoredAccount | undefined>;
  put(account: StoredAccount): Promise<void>;
  putResetToken(token: StoredResetToken): Promise<void>;
  getResetToken(id: string): Promise<StoredResetToken | undefined>;
  /**
   * Uses a token once: deletes it and reports true only to the one caller that did (of two
   * instances redeeming the same link at once, one wins).
   */
  consumeResetToken(id: string): Promise<boolean>;
  /** Deletes every reset token of a user (a new password, a disabled account). */
  deleteResetTokens(userId: string): Promise<void>;
}
