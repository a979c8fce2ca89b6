import type { PrincipalAuthentication } from '../identity/authentication';

/** Who a signed-in session belongs to, as the adapters rebuild the principal from it. */
export interface StoredSessionPrincipal {
  readonly roles: readonly string[];
  readonly type: 'user' | 'service';
  /** ABAC subject attributes (JSON). */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

/**
 * One server-side session as a store keeps it. `id` is HMAC-SHA256 of the cookie's token under the
 * engine's secret: a dump of the store holds no value a browser could present.
 */
export interface StoredSession {
  /** HMAC of the cookie token (base64url, 43 characters). Also the public session id. */
  readonly id: string;
  /** The signed-in user; absent on an anonymous session. */
  readonly userId?: string;
  readonly principal?: StoredSessionPrincipal;
  /** How the user signed in (without `sessionId`, which is `id`). */
  readonly authentication?: Omit<PrincipalAuthentication, 'sessionId'>;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last request that refreshed the idle time-out. */
  readonly lastSeenAt: number;
  /** Epoch ms after which the session is dead whatever its activity (absolute time-out). */
  readonly absoluteExpiresAt: number;
  /** Epoch ms after which a store may drop the record: min(idle end, absolute end). */
  readonly expiresAt: number;
  /** The application's data (JSON). */
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Where sessions live: memory (one process), Redis, or SQL (@bulwark/typeorm). Every instance of an
 * app reads the store on each request (no local cache), so a revocation is seen at once by all.
 *
 * The writes that could bring back a session another instance has just revoked are conditional:
 * `replace` and `touch` change an existing record only, and report whether it was there.
 */
export interface SessionStore {
  get(id: string): Promise<StoredSession | undefined>;
  /** Stores a new session (its id is fresh: 256 random bits behind an HMAC). */
  create(session: StoredSession): Promise<void>;
  /** Replaces an existing session; false (and nothing written) when it is gone. */
  replace(session: StoredSession): Promise<boolean>;
  /** Moves the idle time-out of an existing session; false when it is gone. */
  touch(id: string, lastSeenAt: number, expiresAt: number): Promise<boolean>;
  /** Deletes one session; false when it was not there. */
  delete(id: string): Promise<boolean>;
  /** The live sessions of a user (any order). */
  listByUser(userId: string): Promise<StoredSession[]>;
  /** Deletes every session of a user and returns their ids. */
  deleteByUser(userId: string): Promise<string[]>;
  /**
   * Deletes every session of every user (anonymous ones too) and returns how many were deleted:
   * `SessionEngine.revokeAllSessions()`. Optional for custom stores; the engine refuses that call
   * (ERR_SESSION_STORE) on a store without it.
   */
  deleteAll?(): Promise<number>;
  /** Releases what the store owns (never a client it was handed). */
  close?(): Promise<void>;
}
