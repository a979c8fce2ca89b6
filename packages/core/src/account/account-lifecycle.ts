import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditEvent } from '../audit/audit-event';
import type { PasswordHasher } from '../crypto/password-hasher';
import type { PasswordContext } from '../crypto/password-policy';
import type { BruteForceGuard } from '../threat/brute-force-guard';
import { passwordPolicyError } from '../crypto/password-policy';
import { BulwarkIdentityError, ErrorCodes } from '../errors';
import { AUTH_AUDIT_ACTIONS } from '../identity/authentication';
import { configError, invalid, isPlainObject, rejectUnknown } from '../util/options';
import { guardedStore } from '../util/guarded-store';
import type { AccountStore, StoredAccount } from './account-store';
import { MemoryAccountStore } from './memory-account-store';

/** Who performs an administrative action (recorded in the audit event). */
export interface AccountActor {
  readonly id: string;
  readonly type?: 'user' | 'service' | 'system';
  readonly ip?: string;
}

/** What the notification hook hears (e-mail the user, page the security team...). */
export type AccountNotification =
  | { readonly type: 'disabled'; readonly userId: string; readonly reason: string }
  | { readonly type: 'enabled'; readonly userId: string }
  | { readonly type: 'unlocked'; readonly userId: string }
  | { readonly type: 'password-change-required'; readonly userId: string }
  | { readonly type: 'password-changed'; readonly userId: string }
  /** Send `token` to the user (a link); it is never stored or logged by Bulwark. */
  | {
      readonly type: 'password-reset-requested';
      readonly userId: string;
      readonly token: string;
      readonly expiresAt: number;
    }
  | { readonly type: 'password-reset'; readonly userId: string };

export interface AccountLifecycleOptions {
  /** Where states and reset tokens live. Default: a MemoryAccountStore (one process). */
  store?: AccountStore;
  /** Hashes new passwords under its policy (and the account's history). Needed for changes and resets. */
  passwords?: PasswordHasher;
  /** Ended on disable, password change (others) and reset (all): a `SessionEngine`. */
  sessions?: {
    revokeAll(
      userId: string,
      options?: { except?: string; by?: AccountActor; reason?: string },
    ): Promise<number>;
  };
  /**
   * A `BruteForceGuard`: cleared by `unlock()`; a wrong current password in `changePassword()` is
   * counted on it (account = the user id), and a locked account is refused (ERR_ACCOUNT_LOCKED).
   */
  bruteForce?: Pick<BruteForceGuard, 'reset'> & Partial<Pick<BruteForceGuard, 'reserve'>>;
  /** Events are appended here (an `AuditLog`). Strongly recommended. */
  audit?: { append(event: AuditEvent): Promise<unknown> };
  /** Called after each change (awaited: a failing hook fails the call). */
  notify?: (notification: AccountNotification) => void | Promise<void>;
  /** Lifetime of a reset token. Default 900 s; at most 3600. */
  resetTokenTtlSec?: number;
  /** Clock (epoch ms). Default `Date.now`. */
  now?: () => number;
}

const ID_BYTES = 16;
const SECRET_BYTES = 32;
const TOKEN_RE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const REASON_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function argumentError(message: string): BulwarkIdentityError {
  return new BulwarkIdentityError(ErrorCodes.ACCOUNT_INVALID_ARGUMENT, message);
}

function disabledError(): BulwarkIdentityError {
  return new BulwarkIdentityError(ErrorCodes.ACCOUNT_DISABLED, 'This account is disabled.');
}

function tokenError(): BulwarkIdentityError {
  return new BulwarkIdentityError(
    ErrorCodes.ACCOUNT_RESET_TOKEN_INVALID,
    'The password reset token is invalid, expired or already used.',
  );
}

const STORE_METHODS = [
  'get',
  'put',
  'putResetToken',
  'getResetToken',
  'consumeResetToken',
  'deleteResetTokens',
] as const;

/** A store failure that is not a Bulwark error becomes ERR_ACCOUNT_STORE (503). */
function storeError(method: string, cause: unknown): BulwarkIdentityError {
  return new BulwarkIdentityError(ErrorCodes.ACCOUNT_STORE, `account store: ${method} failed`, undefined, {
    cause,
  });
}

function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/**
 * The account lifecycle around a password: disable / enable, unlock after a brute-force lockout
 * (by an administrator), a forced password change, password changes with history, and reset
 * tokens (256-bit, single use, short-lived, only their SHA-256 stored, compared in constant
 * time). Every step is audited and can notify the user; disabling or resetting ends the user's
 * sessions.
 */
export class AccountLifecycle {
  readonly #store: AccountStore;
  readonly #options: AccountLifecycleOptions;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: AccountLifecycleOptions = {}) {
    if (!isPlainObject(options as unknown)) throw invalid('accounts', 'an object', options);
    rejectUnknown(
      options as unknown as Record<string, unknown>,
      ['store', 'passwords', 'sessions', 'bruteForce', 'audit', 'notify', 'resetTokenTtlSec', 'now'],
      'accounts.',
    );
    const ttl = options.resetTokenTtlSec ?? 900;
    if (!Number.isSafeInteger(ttl) || ttl < 60 || ttl > 3600) {
      throw invalid('accounts.resetTokenTtlSec', 'an integer from 60 to 3600', ttl);
    }
    for (const [name, method] of [
      ['sessions', 'revokeAll'],
      ['bruteForce', 'reset'],
      ['audit', 'append'],
    ] as const) {
      const service = options[name] as Record<string, unknown> | undefined;
      if (service !== undefined && typeof service[method] !== 'function') {
        throw configError(`accounts.${name}`, `must have ${method}()`);
      }
    }
    if (options.notify !== undefined && typeof options.notify !== 'function') {
      throw invalid('accounts.notify', 'a function', options.notify);
    }
    const store = options.store ?? new MemoryAccountStore();
    for (const m of STORE_METHODS) {
      if (typeof store?.[m] !== 'function')
        throw configError('accounts.store', `must be an AccountStore (missing ${m}())`);
    }
    this.#store = guardedStore(store, STORE_METHODS, storeError);
    this.#options = options;
    this.#ttlMs = ttl * 1000;
    this.#now = options.now ?? Date.now;
  }

  /** The account's state (an account never touched is active, with nothing to change). */
  async state(userId: string): Promise<StoredAccount> {
    this.#checkUser(userId);
    return (
      (await this.#store.get(userId)) ?? {
        userId,
        disabled: false,
        mustChangePassword: false,
        passwordHistory: [],
      }
    );
  }

  /** Throws ERR_ACCOUNT_DISABLED (403) for a disabled account: call it in every sign-in path. */
  async assertActive(userId: string): Promise<void> {
    if ((await this.state(userId)).disabled) {
      throw disabledError();
    }
  }

  /** Disables the account: its sessions and reset tokens end now. `reason` is a short id. */
  async disable(userId: string, options: { by: AccountActor; reason: string }): Promise<void> {
    this.#checkActor(options?.by);
    if (typeof options.reason !== 'string' || !REASON_RE.test(options.reason)) {
      throw argumentError('reason must be a short id (lowercase letters, digits, . _ -), not free text.');
    }
    const account = await this.state(userId);
    await this.#store.put({
      ...account,
      disabled: true,
      disabledAt: this.#now(),
      disabledReason: options.reason,
    });
    await this.#store.deleteResetTokens(userId);
    await this.#options.sessions?.revokeAll(userId, { by: options.by, reason: 'account-disabled' });
    await this.#record(AUTH_AUDIT_ACTIONS.accountDisabled, userId, options.by, 'success', options.reason);
    await this.#notify({ type: 'disabled', userId, reason: options.reason });
  }

  /** Enables a disabled account again. */
  async enable(userId: string, options: { by: AccountActor }): Promise<void> {
    this.#checkActor(options?.by);
    const { disabledAt: _at, disabledReason: _reason, ...account } = await this.state(userId);
    await this.#store.put({ ...account, disabled: false });
    await this.#record(AUTH_AUDIT_ACTIONS.accountEnabled, userId, options.by, 'success');
    await this.#notify({ type: 'enabled', userId });
  }

  /**
   * An administrator lifts a brute-force lockout: clears the guard's counters of `account` (the
   * name the login route counts, default the user id) and, with `ip`, of that address.
   */
  async unlock(userId: string, options: { by: AccountActor; account?: string; ip?: string }): Promise<void> {
    this.#checkActor(options?.by);
    this.#checkUser(userId);
    const guard = this.#options.bruteForce;
    if (guard === undefined)
      throw configError('accounts.bruteForce', 'is needed to unlock (a BruteForceGuard)');
    await guard.reset({
      account: options.account ?? userId,
      ...(options.ip !== undefined ? { ip: options.ip } : {}),
    });
    await this.#record(AUTH_AUDIT_ACTIONS.unlock, userId, options.by, 'success');
    await this.#notify({ type: 'unlocked', userId });
  }

  /** The next sign-in must change the password first (`state().mustChangePassword`). */
  async requirePasswordChange(userId: string, options: { by: AccountActor }): Promise<void> {
    this.#checkActor(options?.by);
    const account = await this.state(userId);
    await this.#store.put({ ...account, mustChangePassword: true });
    await this.#record(AUTH_AUDIT_ACTIONS.passwordChangeRequired, userId, options.by, 'success');
    await this.#notify({ type: 'password-change-required', userId });
  }

  /**
   * The user sets a new password, proving the current one (ASVS V6.2.3): `currentPassword` is
   * verified against `currentHash` (the hash the app stores) by the hasher, in constant time. A
   * wrong one throws ERR_ACCOUNT_CURRENT_PASSWORD_INVALID (403), is audited as a failed
   * `auth.password.changed` and counted on `bruteForce` (ERR_ACCOUNT_LOCKED, 429, once locked).
   * Then the policy and the history decide (ERR_PASSWORD_POLICY with reasons), the forced-change
   * flag is cleared, the user's other sessions end (`keepSessionId` survives). Returns the hash for
   * the app to store.
   */
  async changePassword(
    userId: string,
    change: { currentPassword: string; currentHash: string; newPassword: string },
    options: { context?: Omit<PasswordContext, 'history'>; keepSessionId?: string; ip?: string } = {},
  ): Promise<string> {
    if (
      !isPlainObject(change as unknown) ||
      typeof change.currentPassword !== 'string' ||
      typeof change.currentHash !== 'string' ||
      typeof change.newPassword !== 'string'
    ) {
      throw argumentError('changePassword needs { currentPassword, currentHash, newPassword } (strings).');
    }
    const account = await this.state(userId);
    if (account.disabled) throw disabledError();
    const actor = {
      id: userId,
      type: 'user' as const,
      ...(options.ip !== undefined ? { ip: options.ip } : {}),
    };
    await this.#verifyCurrent(userId, change.currentHash, change.currentPassword, actor);
    await this.#checkNew(account, change.newPassword, options.context);
    const hash = await this.#passwords().hashSecret(change.newPassword);
    await this.#afterNewPassword(userId, hash);
    await this.#options.sessions?.revokeAll(userId, {
      ...(options.keepSessionId !== undefined ? { except: options.keepSessionId } : {}),
      by: actor,
      reason: 'password-changed',
    });
    await this.#record(AUTH_AUDIT_ACTIONS.passwordChanged, userId, actor, 'success');
    await this.#notify({ type: 'password-changed', userId });
    return hash;
  }

  /**
   * A reset token for `userId` (replacing any earlier one), handed to the notification hook to be
   * sent, and returned. Call it whether or not the account exists in the app, answering the
   * requester the same either way. For a disabled account nothing is stored or sent (audited as
   * denied): the token returned is random and redeems nothing, so neither the answer nor its shape
   * tells a disabled account from an active one.
   */
  async requestPasswordReset(userId: string): Promise<{ token: string; expiresAt: number }> {
    const account = await this.state(userId);
    const id = randomBytes(ID_BYTES).toString('base64url');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const createdAt = this.#now();
    const expiresAt = createdAt + this.#ttlMs;
    const token = `${id}.${secret}`;
    if (account.disabled) {
      await this.#record(
        AUTH_AUDIT_ACTIONS.passwordResetRequested,
        userId,
        { id: userId },
        'failure',
        'account_disabled',
      );
      return { token, expiresAt };
    }
    await this.#store.deleteResetTokens(userId);
    await this.#store.putResetToken({ id, userId, hash: digest(secret), createdAt, expiresAt });
    await this.#record(AUTH_AUDIT_ACTIONS.passwordResetRequested, userId, { id: userId }, 'success');
    await this.#notify({ type: 'password-reset-requested', userId, token, expiresAt });
    return { token, expiresAt };
  }

  /**
   * Redeems a reset token with the new password. One error for a malformed, unknown, expired or
   * used token (ERR_ACCOUNT_RESET_TOKEN_INVALID). A password the policy refuses does not use the
   * token up. On success every session of the user ends; returns the user id and the hash to store.
   */
  async resetPassword(
    token: string,
    password: string,
    options: { context?: Omit<PasswordContext, 'history'>; ip?: string } = {},
  ): Promise<{ userId: string; hash: string }> {
    const match = typeof token === 'string' ? TOKEN_RE.exec(token) : null;
    const stored = match === null ? undefined : await this.#store.getResetToken(match[1]!);
    const expected = Buffer.from(stored?.hash ?? digest('no such token'));
    const given = Buffer.from(digest(match?.[2] ?? ''));
    // Compared in constant time whether or not the id was found.
    const same = expected.length === given.length && timingSafeEqual(expected, given);
    if (stored === undefined || !same || this.#now() >= stored.expiresAt) {
      await this.#append({
        actor: {
          id: 'anonymous',
          type: 'anonymous',
          ...(options.ip !== undefined ? { ip: options.ip } : {}),
        },
        action: AUTH_AUDIT_ACTIONS.passwordReset,
        outcome: 'failure',
        reason: 'invalid_token',
      });
      throw tokenError();
    }
    const account = await this.state(stored.userId);
    if (account.disabled) throw disabledError();
    // The policy first: a refused password leaves the link usable.
    await this.#checkNew(account, password, options.context);
    if (!(await this.#store.consumeResetToken(stored.id))) throw tokenError();
    const hash = await this.#passwords().hashSecret(password);
    await this.#afterNewPassword(stored.userId, hash);
    const actor = {
      id: stored.userId,
      type: 'user' as const,
      ...(options.ip !== undefined ? { ip: options.ip } : {}),
    };
    await this.#options.sessions?.revokeAll(stored.userId, { by: actor, reason: 'password-reset' });
    await this.#record(AUTH_AUDIT_ACTIONS.passwordReset, stored.userId, actor, 'success');
    await this.#notify({ type: 'password-reset', userId: stored.userId });
    return { userId: stored.userId, hash };
  }

  /** Verifies the current password under the brute-force guard (when it can reserve). */
  async #verifyCurrent(userId: string, hash: string, password: string, actor: AccountActor): Promise<void> {
    const passwords = this.#passwords();
    const reserve = this.#options.bruteForce?.reserve;
    const held = reserve
      ? await reserve.call(this.#options.bruteForce, {
          account: userId,
          ...(actor.ip !== undefined ? { ip: actor.ip } : {}),
        })
      : undefined;
    if (held !== undefined && !held.allowed) {
      await this.#record(AUTH_AUDIT_ACTIONS.passwordChanged, userId, actor, 'failure', 'locked');
      throw new BulwarkIdentityError(ErrorCodes.ACCOUNT_LOCKED, 'Too many wrong passwords; retry later.', {
        retryAfterSec: held.retryAfterSec,
      });
    }
    let valid: boolean;
    try {
      valid = await passwords.verify(hash, password);
    } catch (error) {
      await held?.reservation.release();
      throw error;
    }
    if (valid) {
      await held?.reservation.succeed();
      return;
    }
    await held?.reservation.fail();
    await this.#record(
      AUTH_AUDIT_ACTIONS.passwordChanged,
      userId,
      actor,
      'failure',
      'wrong_current_password',
    );
    throw new BulwarkIdentityError(
      ErrorCodes.ACCOUNT_CURRENT_PASSWORD_INVALID,
      'The current password is wrong.',
    );
  }

  #passwords(): PasswordHasher {
    const passwords = this.#options.passwords;
    if (passwords === undefined)
      throw configError('accounts.passwords', 'is needed to set passwords (a PasswordHasher)');
    return passwords;
  }

  /**
   * One rule for a changed and a reset password: the hasher's policy (NIST defaults when none is
   * configured) and the account's history. Throws ERR_PASSWORD_POLICY with the reasons.
   */
  async #checkNew(
    account: StoredAccount,
    password: string,
    context: Omit<PasswordContext, 'history'> = {},
  ): Promise<void> {
    const verdict = await this.#passwords().check(password, { ...context, history: account.passwordHistory });
    if (!verdict.ok) throw passwordPolicyError(verdict.reasons);
  }

  /**
   * Records a new password on the account as it is now, not as it was read before the (slow) hash:
   * a disable() that landed meanwhile is kept, and the change refused (ERR_ACCOUNT_DISABLED).
   */
  async #afterNewPassword(userId: string, hash: string): Promise<void> {
    const account = await this.state(userId);
    if (account.disabled) throw disabledError();
    await this.#store.put({
      ...account,
      mustChangePassword: false,
      passwordChangedAt: this.#now(),
      passwordHistory: this.#passwords().remember(account.passwordHistory, hash),
    });
    await this.#store.deleteResetTokens(userId);
  }

  #checkUser(userId: unknown): asserts userId is string {
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256) {
      throw argumentError('userId must be a non-empty string of at most 256 characters.');
    }
  }

  #checkActor(by: unknown): asserts by is AccountActor {
    if (!isPlainObject(by) || typeof by.id !== 'string' || by.id.length === 0) {
      throw argumentError('by must name who performs the action ({ id }).');
    }
  }

  async #record(
    action: string,
    userId: string,
    by: AccountActor,
    outcome: 'success' | 'failure',
    reason?: string,
  ): Promise<void> {
    await this.#append({
      actor: { id: by.id, type: by.type ?? 'user', ...(by.ip !== undefined ? { ip: by.ip } : {}) },
      action,
      outcome,
      ...(reason !== undefined ? { reason } : {}),
      resource: { type: 'account', id: userId },
    });
  }

  async #append(event: AuditEvent): Promise<void> {
    await this.#options.audit?.append(event);
  }

  async #notify(notification: AccountNotification): Promise<void> {
    await this.#options.notify?.(notification);
  }
}
