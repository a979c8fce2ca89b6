import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../audit/audit-event';
import type { PasswordHasher, PasswordVerification } from '../crypto/password-hasher';
import { BulwarkError, ErrorCodes } from '../errors';
import { AUTH_AUDIT_ACTIONS } from '../identity/authentication';
import { configError } from '../util/options';

export interface PasswordSignInOptions {
  /** Verifies the password against the stored hash (argon2id, constant time). */
  passwords: Pick<PasswordHasher, 'hashSecret' | 'verifyAndCheckRehash'>;
  /** Where `auth.login` events go (an `AuditLog`). */
  audit: { append(event: AuditEvent): Promise<unknown> };
}

/** One local sign-in attempt, as the login route has it. */
export interface PasswordSignInAttempt {
  /** The name the user typed (recorded as the resource; never the password). */
  readonly account: string;
  /** The stored hash, or undefined for an unknown account (a dummy hash is verified instead). */
  readonly hash: string | undefined;
  readonly password: string;
  /** The user id, when the account is known (the success event's actor). */
  readonly userId?: string;
  readonly ip?: string;
  readonly requestId?: string;
}

export interface PasswordSignInResult {
  readonly valid: boolean;
  /** Store `passwords.hash(password)` in place of the old hash (weaker parameters, old pepper). */
  readonly needsRehash: boolean;
}

/**
 * A local password sign-in, audited with its factor (ASVS V16.3.1): verifies the password and
 * appends `auth.login` with method `password`, success or failure (reason `invalid_credentials`:
 * an unknown account and a wrong password look the same, and take the same time, since an unknown
 * account is checked against a dummy hash). The password is never recorded.
 */
export class PasswordSignIn {
  readonly #passwords: PasswordSignInOptions['passwords'];
  readonly #audit: PasswordSignInOptions['audit'];
  #dummy?: Promise<string>;

  constructor(options: PasswordSignInOptions) {
    if (typeof options?.passwords?.verifyAndCheckRehash !== 'function') {
      throw configError('passwordSignIn.passwords', 'must be a PasswordHasher');
    }
    if (typeof options.audit?.append !== 'function') {
      throw configError('passwordSignIn.audit', 'must be an AuditLog (with append())');
    }
    this.#passwords = options.passwords;
    this.#audit = options.audit;
  }

  /** Verifies the attempt and audits it; resolves `{ valid: false }` for wrong credentials. */
  async verify(attempt: PasswordSignInAttempt): Promise<PasswordSignInResult> {
    const known = typeof attempt.hash === 'string';
    this.#dummy ??= this.#passwords.hashSecret(randomUUID());
    const result = await this.#check(known ? attempt.hash! : await this.#dummy, attempt.password);
    const valid = known && result.valid;
    const id = valid && attempt.userId !== undefined ? attempt.userId : 'anonymous';
    await this.#audit.append({
      actor: {
        id,
        type: id === 'anonymous' ? 'anonymous' : 'user',
        ...(attempt.ip !== undefined ? { ip: attempt.ip } : {}),
      },
      action: AUTH_AUDIT_ACTIONS.login,
      outcome: valid ? 'success' : 'failure',
      ...(valid ? {} : { reason: 'invalid_credentials' }),
      resource: { type: 'account', id: String(attempt.account).slice(0, 256) },
      ...(attempt.requestId !== undefined ? { requestId: attempt.requestId } : {}),
      details: { method: 'password', factors: ['password'] },
    });
    return { valid, needsRehash: valid && result.needsRehash };
  }

  /** The hasher's verdict; a password it cannot take (not a string, empty, too long) is wrong. */
  async #check(hash: string, password: unknown): Promise<PasswordVerification> {
    if (typeof password !== 'string') return { valid: false, needsRehash: false };
    try {
      return await this.#passwords.verifyAndCheckRehash(hash, password);
    } catch (error) {
      if (error instanceof BulwarkError && error.code === ErrorCodes.CRYPTO_INVALID_ARGUMENT) {
        return { valid: false, needsRehash: false };
      }
      throw error;
    }
  }
}
