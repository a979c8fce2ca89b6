import type { AuditActor, AuditEvent } from '../audit/audit-event';
import { BulwarkError, BulwarkTokenError, ErrorCodes } from '../errors';
import { AUTH_AUDIT_ACTIONS } from '../identity/authentication';
import { configError, hasMethods, positiveInt } from '../util/options';
import { REVOCATION_STORE_METHODS, type RevocationStore } from './revocation-store';
import type { TokenClaims, VerifiedToken } from './token-service';

export interface TokenRevocationOptions {
  /** Shared by every instance of the app: `RedisRevocationStore`, `TypeOrmRevocationStore`, or memory for one process. */
  store: RevocationStore;
  /** Verifies a token handed to `revoke(token)` (a `TokenService`), so only genuine tokens are listed. */
  tokens?: { verify(token: string): Promise<VerifiedToken> };
  /**
   * Longest lifetime (`exp - iat`) of an accepted token, in seconds. A deny-list entry for a bare
   * `jti` is kept this long, so a longer-lived token is refused outright (it could outlive its
   * entry). Default 86 400 (one day).
   */
  maxTokenLifetimeSec?: number;
  /**
   * Accept tokens without a `jti` (e.g. an identity provider's access tokens that carry none):
   * they can then be revoked only all at once, with `revokeAllFor(subject)`. Weakens V7.4.1 (a
   * single logged-out token stays valid). Default false: such tokens are refused.
   */
  allowTokensWithoutJti?: boolean;
  /** Where `auth.token.revoked` events go (an `AuditLog`). Strongly recommended (ASVS V16.3.1). */
  auditLog?: { append(event: AuditEvent): unknown };
  clock?: () => Date;
  configPath?: string;
}

/** Who revoked, and why (kept in the audit event; never a secret). */
export interface RevokeOptions {
  /** Default: the token's own subject for `revoke(token)`, else `system`. */
  actor?: AuditActor;
  /** Short reason for the audit trail, e.g. `logout`, `password-changed`, `admin`. */
  reason?: string;
  /** For a bare `jti`: when the token expires (its entry is kept until then). Default now + maxTokenLifetimeSec. */
  expiresAt?: Date;
  /** Request id for the audit event. */
  requestId?: string;
}

/** Compact JWS: three base64url segments (RFC 7515 §7.1). Anything else handed to revoke() is a token id. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_ID_LENGTH = 256;
/**
 * The store subject under which `revokeEveryone()` keeps its "not before" time. A token whose
 * subject is this is refused, and `revokeAllFor()` refuses it, so no user can shift everyone's.
 */
const EVERYONE = 'bulwark:revocation:everyone';

function claimInvalid(message: string): BulwarkTokenError {
  return new BulwarkTokenError(ErrorCodes.TOKEN_CLAIM_INVALID, message);
}

/**
 * Token revocation (ASVS 5.0 V7.4.1-V7.4.3, V7.4.5): a `jti` deny-list and a per-subject
 * "not before" time, kept in a store all instances share, checked by the bearer authenticator on
 * every request (its verified-token cache included). Fails closed: a token without `jti` or `iat`,
 * or living longer than `maxTokenLifetimeSec`, is refused, as is every token while the store fails.
 */
export class TokenRevocation {
  readonly #store: RevocationStore;
  readonly #tokens?: TokenRevocationOptions['tokens'];
  readonly #maxLifetimeSec: number;
  readonly #audit?: TokenRevocationOptions['auditLog'];
  readonly #clock: () => Date;
  readonly #jtiOptional: boolean;

  constructor(options: TokenRevocationOptions) {
    const path = options?.configPath ?? 'revocation';
    if (!hasMethods(options?.store, ...REVOCATION_STORE_METHODS)) {
      throw configError(
        `${path}.store`,
        `must be a revocation store (${REVOCATION_STORE_METHODS.join(', ')})`,
      );
    }
    if (options.tokens !== undefined && !hasMethods(options.tokens, 'verify')) {
      throw configError(`${path}.tokens`, 'must be a TokenService');
    }
    if (options.auditLog !== undefined && !hasMethods(options.auditLog, 'append')) {
      throw configError(`${path}.auditLog`, 'must be an AuditLog (with append())');
    }
    if (options.clock !== undefined && typeof options.clock !== 'function') {
      throw configError(`${path}.clock`, 'must be a function returning a Date');
    }
    this.#store = options.store;
    this.#tokens = options.tokens;
    this.#maxLifetimeSec = positiveInt(options.maxTokenLifetimeSec, `${path}.maxTokenLifetimeSec`, 86_400);
    this.#audit = options.auditLog;
    this.#clock = options.clock ?? (() => new Date());
    if (options.allowTokensWithoutJti !== undefined && typeof options.allowTokensWithoutJti !== 'boolean') {
      throw configError(`${path}.allowTokensWithoutJti`, 'must be a boolean');
    }
    this.#jtiOptional = options.allowTokensWithoutJti === true;
  }

  /**
   * Refuses a verified token that was revoked: its `jti` is listed, or it was issued at or before
   * its subject's "not before" time. One store round trip. Throws ERR_TOKEN_REVOKED (answered as
   * 401 invalid_token), ERR_TOKEN_CLAIM_INVALID for a token that cannot be revoked, or
   * ERR_TOKEN_REVOCATION_STORE (503) when the store fails.
   */
  async check(claims: TokenClaims): Promise<void> {
    const { sub, iat, exp, jti } = claims;
    if (typeof sub !== 'string' || sub.length === 0 || sub === EVERYONE)
      throw claimInvalid('The token does not identify a subject.');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) {
      throw claimInvalid('The token has no iat: it cannot be checked against revocations.');
    }
    const noJti = jti === undefined && this.#jtiOptional;
    if (!noJti && (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_ID_LENGTH)) {
      throw claimInvalid('The token has no usable jti: it could not be revoked.');
    }
    if (typeof exp !== 'number' || exp - iat > this.#maxLifetimeSec) {
      throw claimInvalid('The token lives longer than revocation.maxTokenLifetimeSec.');
    }
    let status;
    let everyone;
    try {
      const now = this.#clock().getTime();
      // The subject's record and the global one, read in parallel (revokeEveryone()).
      [status, everyone] = await Promise.all([
        this.#store.status(noJti ? undefined : (jti as string), sub, now),
        this.#store.status(undefined, EVERYONE, now),
      ]);
    } catch (err) {
      throw asStoreError(err);
    }
    const notBefore = Math.max(status.notBeforeSec ?? -Infinity, everyone.notBeforeSec ?? -Infinity);
    if (status.tokenRevoked || iat <= notBefore) {
      throw new BulwarkTokenError(ErrorCodes.TOKEN_REVOKED, 'The token has been revoked.');
    }
  }

  /**
   * Revokes one token, given as the token itself (verified first, so only genuine tokens are
   * listed; an already expired one needs nothing) or as its `jti`. Appends `auth.token.revoked`.
   */
  async revoke(tokenOrJti: string, options: RevokeOptions = {}): Promise<void> {
    if (typeof tokenOrJti !== 'string' || tokenOrJti.length === 0) {
      throw new BulwarkTokenError(ErrorCodes.TOKEN_MALFORMED, 'revoke() needs a token or a token id.');
    }
    let jti: string;
    let expiresAtMs: number;
    let subject: string | undefined;
    if (COMPACT_JWS.test(tokenOrJti)) {
      if (this.#tokens === undefined)
        throw configError('revocation.tokens', 'is needed to revoke a token by value');
      let verified: VerifiedToken;
      try {
        verified = await this.#tokens.verify(tokenOrJti);
      } catch (err) {
        // An expired token is refused everywhere already: there is nothing left to revoke.
        if (err instanceof BulwarkError && err.code === ErrorCodes.TOKEN_EXPIRED) return;
        throw err;
      }
      const p = verified.payload;
      if (typeof p.jti !== 'string' || p.jti.length === 0 || p.jti.length > MAX_ID_LENGTH) {
        throw claimInvalid('The token has no usable jti: revoke its subject with revokeAllFor().');
      }
      jti = p.jti;
      subject = typeof p.sub === 'string' ? p.sub : undefined;
      expiresAtMs = typeof p.exp === 'number' ? p.exp * 1000 : this.#now() + this.#maxLifetimeSec * 1000;
    } else {
      if (tokenOrJti.length > MAX_ID_LENGTH) throw claimInvalid('A token id is at most 256 characters.');
      jti = tokenOrJti;
      const at = options.expiresAt;
      if (at !== undefined && !(at instanceof Date && Number.isFinite(at.getTime()))) {
        throw configError('revoke.expiresAt', 'must be a valid Date');
      }
      expiresAtMs = at?.getTime() ?? this.#now() + this.#maxLifetimeSec * 1000;
    }
    try {
      await this.#store.revokeToken(jti, expiresAtMs);
    } catch (err) {
      throw asStoreError(err);
    }
    await this.#append(options, subject, { type: 'token', id: jti }, { scope: 'token' });
  }

  /**
   * Revokes every token of `subject` issued up to now (logout everywhere, password or factor
   * change, disabled account: ASVS V7.4.2, V7.4.3, V7.4.5). `iat` has one-second resolution, so a
   * token issued in the same second is refused too: issue the next one from `notBeforeSec + 1` on.
   * Appends `auth.token.revoked` with scope `subject`.
   */
  async revokeAllFor(
    subject: string,
    options: Omit<RevokeOptions, 'expiresAt'> = {},
  ): Promise<{ notBeforeSec: number }> {
    if (
      typeof subject !== 'string' ||
      subject.length === 0 ||
      subject.length > MAX_ID_LENGTH ||
      subject === EVERYONE
    ) {
      throw configError('revokeAllFor.subject', 'must be a subject id of 1-256 characters');
    }
    const notBeforeSec = Math.floor(this.#now() / 1000);
    try {
      await this.#store.revokeSubject(subject, notBeforeSec);
    } catch (err) {
      throw asStoreError(err);
    }
    await this.#append(options, subject, { type: 'user', id: subject }, { scope: 'subject', notBeforeSec });
    return { notBeforeSec };
  }

  /**
   * Revokes every token of every subject issued up to now (ASVS V7.4.5: a breach, a leaked signing
   * key): a global "not before" time in the shared store, so every instance refuses them on its
   * next request. Tokens issued in the same second are refused too. Appends `auth.token.revoked`
   * with scope `everyone`.
   */
  async revokeEveryone(options: RevokeOptions = {}): Promise<{ notBeforeSec: number }> {
    const notBeforeSec = Math.floor(this.#now() / 1000);
    try {
      await this.#store.revokeSubject(EVERYONE, notBeforeSec);
    } catch (err) {
      throw asStoreError(err);
    }
    await this.#append(options, undefined, { type: 'token', id: '*' }, { scope: 'everyone', notBeforeSec });
    return { notBeforeSec };
  }

  #now(): number {
    return this.#clock().getTime();
  }

  async #append(
    options: RevokeOptions,
    subject: string | undefined,
    resource: { type: string; id: string },
    details: Record<string, unknown>,
  ): Promise<void> {
    if (this.#audit === undefined) return;
    const actor =
      options.actor ??
      (subject !== undefined
        ? { id: subject, type: 'user' as const }
        : { id: 'system', type: 'system' as const });
    await this.#audit.append({
      actor,
      action: AUTH_AUDIT_ACTIONS.tokenRevoked,
      resource,
      outcome: 'success',
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
      details,
    });
  }
}

function asStoreError(err: unknown): BulwarkError {
  if (err instanceof BulwarkError) return err;
  return new BulwarkTokenError(
    ErrorCodes.TOKEN_REVOCATION_STORE,
    'The token revocation store failed; the token was not accepted.',
    undefined,
    { cause: err },
  );
}
