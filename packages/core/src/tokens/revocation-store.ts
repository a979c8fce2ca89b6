/**
 * Where revoked tokens are remembered: a deny-list of token ids (`jti`), each entry kept until the
 * token would have expired anyway, and per subject a "not before" time (every token of the subject
 * issued at or before it is refused: logout everywhere, password change, disabled account).
 * Implementations: `MemoryRevocationStore` (one process), `RedisRevocationStore` (many instances),
 * `TypeOrmRevocationStore` in @bulwark/typeorm (SQL). All instances of an app share one store, so a
 * revocation made on one is seen by every other on its next request.
 */
export interface RevocationStore {
  /** Lists `jti` as revoked until `expiresAtMs` (epoch ms). Idempotent; a later expiry wins. */
  revokeToken(jti: string, expiresAtMs: number): Promise<void>;
  /**
   * Refuses every token of `subject` issued at or before `notBeforeSec` (epoch seconds, the unit of
   * `iat`). Never moves an existing time back: the later of the stored and the given one is kept.
   */
  revokeSubject(subject: string, notBeforeSec: number): Promise<void>;
  /**
   * What is recorded for one token, in one round trip (this is on every authenticated request):
   * whether its `jti` is listed, and the subject's "not before" time if any. `jti` undefined: only
   * the subject is looked up.
   */
  status(jti: string | undefined, subject: string, nowMs: number): Promise<RevocationStatus>;
  close?(): Promise<void>;
}

export interface RevocationStatus {
  /** The token id is on the deny-list (and its entry has not expired). */
  readonly tokenRevoked: boolean;
  /** Tokens of the subject issued at or before this (epoch seconds) are refused. */
  readonly notBeforeSec?: number;
}

/** The methods createBulwark checks a given store for. */
export const REVOCATION_STORE_METHODS = ['revokeToken', 'revokeSubject', 'status'] as const;
