import { createHmac, randomBytes } from 'node:crypto';
import type { AuditEvent } from '../audit/audit-event';
import { BulwarkIdentityError, ErrorCodes } from '../errors';
import { checkCookieOptions, readCookie, serializeCookie } from '../http/cookies';
import { AUTH_AUDIT_ACTIONS } from '../identity/authentication';
import { configError, invalid, isPlainObject, rejectUnknown } from '../util/options';
import { guardedStore } from '../util/guarded-store';
import { HttpSession, type SessionRequest } from './http-session';
import { MemorySessionStore } from './memory-session-store';
import type { SessionStore, StoredSession } from './session-store';

/** Where session events go: an `AuditLog` fits. */
export interface SessionAuditSink {
  append(event: AuditEvent): Promise<unknown>;
}

export interface SessionEngineOptions {
  /**
   * HMAC-SHA256 key (>= 32 bytes) under which cookie tokens become store ids: the store never
   * holds a value a browser could present. Every instance needs the same secret.
   */
  secret: string | Uint8Array;
  /**
   * Secrets of earlier deployments (rotation): a session stored under one of them is moved to
   * `secret` on its next request (same cookie, new store id), so rotating signs nobody out.
   */
  previousSecrets?: readonly (string | Uint8Array)[];
  /** Where sessions live. Default: a MemorySessionStore (one process only). */
  store?: SessionStore;
  /**
   * A session unused this long is dead (re-authentication needed). Default 900 s (PCI DSS 8.2.8:
   * at most 15 minutes of idle time).
   */
  idleTimeoutSec?: number;
  /** A session older than this is dead however active it is. Default 43200 s (12 hours). */
  absoluteTimeoutSec?: number;
  /**
   * Activity refreshes the idle time-out at most once per this many seconds (a store write per
   * request is avoided). The idle time-out is counted from the last refresh, so a session can end
   * up to this much early, never late. Default 60 s (at most a quarter of the idle time-out).
   */
  touchIntervalSec?: number;
  cookie?: {
    /** Default `__Host-bulwark.sid` (`bulwark.sid` with `secure: false`). */
    name?: string;
    /** Default `Lax` (top-level navigations from other sites keep the session); `Strict` for admin apps. */
    sameSite?: 'Lax' | 'Strict';
    /** Default true. `false` only for plain-HTTP development (the `__Host-` prefix needs Secure). */
    secure?: boolean;
  };
  /** Session events (created, rotated, expired, revoked) are appended here. Strongly recommended. */
  audit?: SessionAuditSink;
  /** Largest `data` a session may hold, as JSON bytes. Default 16384. */
  maxDataBytes?: number;
  /**
   * Most sessions one user may hold at once (ASVS V7.1.2). A sign-in beyond it ends the user's
   * oldest sessions (`auth.session.revoked`, reason `session_limit`), read from the store's
   * list-by-user, so the limit holds across instances. Default: no limit.
   */
  maxSessionsPerUser?: number;
  /** Clock (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** Config path in error messages. Default `sessions`. */
  configPath?: string;
}

/** The engine's configuration, as compliance evidence (no secret). */
export interface SessionEngineDescription {
  readonly idleTimeoutSec: number;
  readonly absoluteTimeoutSec: number;
  readonly touchIntervalSec: number;
  readonly store: string;
  readonly cookie: {
    readonly name: string;
    readonly secure: boolean;
    readonly httpOnly: true;
    readonly sameSite: 'Lax' | 'Strict';
  };
  /** Bits of randomness in a session token. */
  readonly tokenBits: number;
  /** How ids are kept at rest. */
  readonly idsAtRest: 'hmac-sha256';
  readonly audited: boolean;
  /** Most concurrent sessions per user; absent when unlimited. */
  readonly maxSessionsPerUser?: number;
}

/** What a live probe of the engine found (compliance evidence of behaviour, not configuration). */
export interface SessionProbe {
  /** A session just past its idle time-out was refused and deleted. */
  readonly idleRefused: boolean;
  /** A session past its absolute time-out was refused although just used. */
  readonly absoluteRefused: boolean;
  /** A fresh session was accepted (the probe itself works). */
  readonly freshAccepted: boolean;
}

/** A session as `list()` shows it to the user or an admin (never the token). */
export interface SessionInfo {
  readonly id: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
  readonly method?: string;
  readonly factors: readonly string[];
}

/** Who revokes, recorded in the audit event. */
export interface SessionActor {
  readonly id: string;
  readonly type?: 'user' | 'service' | 'system';
  readonly ip?: string;
}

const TOKEN_BYTES = 32;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
const KNOWN = [
  'secret',
  'previousSecrets',
  'store',
  'idleTimeoutSec',
  'absoluteTimeoutSec',
  'touchIntervalSec',
  'cookie',
  'audit',
  'maxDataBytes',
  'maxSessionsPerUser',
  'now',
  'configPath',
];

function secretKey(value: unknown, path: string): Buffer {
  const key =
    typeof value === 'string'
      ? Buffer.from(value, 'utf8')
      : value instanceof Uint8Array
        ? Buffer.from(value)
        : undefined;
  if (key === undefined || key.length < 32) {
    throw configError(path, 'must be a secret of at least 32 bytes (string or Uint8Array)');
  }
  return key;
}

const STORE_METHODS = ['get', 'create', 'replace', 'touch', 'delete', 'listByUser', 'deleteByUser'] as const;
const OPTIONAL_STORE_METHODS = ['deleteAll'] as const;

function storeError(method: string, cause: unknown): BulwarkIdentityError {
  return new BulwarkIdentityError(ErrorCodes.SESSION_STORE, `session store: ${method} failed`, undefined, {
    cause,
  });
}

function seconds(value: unknown, path: string, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw invalid(path, 'a positive integer', v);
  return v;
}

/**
 * Server-side sessions, framework-free: 256-bit random tokens in a `__Host-` cookie, stored under
 * their HMAC, idle and absolute time-outs, a new id at every sign-in and privilege change
 * (session fixation), and revocation of one or all of a user's sessions that every instance sees
 * on its next request (the store is read on each one). The Express, Koa and NestJS adapters call
 * `open()` per request and put the result on the request.
 */
export class SessionEngine {
  readonly #secret: Buffer;
  readonly #previous: readonly Buffer[];
  readonly #store: SessionStore;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #touchMs: number;
  readonly #cookieName: string;
  readonly #secure: boolean;
  readonly #sameSite: 'Lax' | 'Strict';
  readonly #audit?: SessionAuditSink;
  readonly #now: () => number;
  readonly #description: SessionEngineDescription;
  readonly #maxPerUser?: number;
  /** @internal the largest data JSON, read by HttpSession. */
  readonly maxDataBytes: number;

  constructor(options: SessionEngineOptions) {
    const path = options?.configPath ?? 'sessions';
    if (!isPlainObject(options)) throw invalid(path, 'an object with a secret', options);
    rejectUnknown(options, KNOWN, `${path}.`);
    this.#secret = secretKey(options.secret, `${path}.secret`);
    const previous = options.previousSecrets ?? [];
    if (!Array.isArray(previous)) throw invalid(`${path}.previousSecrets`, 'an array of secrets', previous);
    this.#previous = previous.map((p, i) => secretKey(p, `${path}.previousSecrets[${i}]`));
    const store = options.store ?? new MemorySessionStore({ now: options.now });
    if (!isPlainObject(store) && typeof store !== 'object')
      throw invalid(`${path}.store`, 'a SessionStore', store);
    for (const m of STORE_METHODS) {
      if (typeof (store as unknown as Record<string, unknown>)[m] !== 'function') {
        throw configError(`${path}.store`, `must be a SessionStore (missing ${m}())`);
      }
    }
    this.#store = guardedStore(store, [...STORE_METHODS, ...OPTIONAL_STORE_METHODS], storeError);
    const idle = seconds(options.idleTimeoutSec, `${path}.idleTimeoutSec`, 900);
    const absolute = seconds(options.absoluteTimeoutSec, `${path}.absoluteTimeoutSec`, 43_200);
    if (absolute < idle) {
      throw configError(`${path}.absoluteTimeoutSec`, `must be at least idleTimeoutSec (${idle})`);
    }
    const touch = seconds(
      options.touchIntervalSec,
      `${path}.touchIntervalSec`,
      Math.max(1, Math.min(60, Math.floor(idle / 4))),
    );
    if (touch >= idle)
      throw configError(`${path}.touchIntervalSec`, `must be less than idleTimeoutSec (${idle})`);
    this.#idleMs = idle * 1000;
    this.#absoluteMs = absolute * 1000;
    this.#touchMs = touch * 1000;

    const cookie = options.cookie ?? {};
    if (!isPlainObject(cookie)) throw invalid(`${path}.cookie`, 'an object', cookie);
    rejectUnknown(cookie, ['name', 'sameSite', 'secure'], `${path}.cookie.`);
    if (cookie.secure !== undefined && typeof cookie.secure !== 'boolean') {
      throw invalid(`${path}.cookie.secure`, 'a boolean', cookie.secure);
    }
    this.#secure = cookie.secure !== false;
    this.#cookieName = cookie.name ?? (this.#secure ? '__Host-bulwark.sid' : 'bulwark.sid');
    const sameSite = cookie.sameSite ?? 'Lax';
    if (sameSite !== 'Lax' && sameSite !== 'Strict') {
      throw configError(
        `${path}.cookie.sameSite`,
        'must be Lax or Strict (a session cookie is never sent cross-site with None)',
      );
    }
    this.#sameSite = sameSite;
    checkCookieOptions(this.#cookieName, { secure: this.#secure, sameSite }, `${path}.cookie`);

    if (options.audit !== undefined && typeof options.audit?.append !== 'function') {
      throw invalid(`${path}.audit`, 'an AuditLog (an object with append())', options.audit);
    }
    this.#audit = options.audit;
    this.maxDataBytes = seconds(options.maxDataBytes, `${path}.maxDataBytes`, 16_384);
    if (options.maxSessionsPerUser !== undefined) {
      this.#maxPerUser = seconds(options.maxSessionsPerUser, `${path}.maxSessionsPerUser`, 1);
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw invalid(`${path}.now`, 'a function', options.now);
    }
    this.#now = options.now ?? Date.now;
    this.#description = Object.freeze({
      idleTimeoutSec: idle,
      absoluteTimeoutSec: absolute,
      touchIntervalSec: touch,
      store: store.constructor?.name ?? 'custom',
      cookie: Object.freeze({
        name: this.#cookieName,
        secure: this.#secure,
        httpOnly: true as const,
        sameSite,
      }),
      tokenBits: TOKEN_BYTES * 8,
      idsAtRest: 'hmac-sha256' as const,
      audited: this.#audit !== undefined,
      ...(this.#maxPerUser !== undefined ? { maxSessionsPerUser: this.#maxPerUser } : {}),
    });
  }

  /** The configuration (compliance evidence). */
  describe(): SessionEngineDescription {
    return this.#description;
  }

  /** The name of the session cookie. */
  get cookieName(): string {
    return this.#cookieName;
  }

  /**
   * The request's session: the stored one its cookie names when that is alive, otherwise a new
   * anonymous one (not stored until something is written to it). A missing, malformed, forged,
   * unknown, expired or revoked cookie never fails the request: it only yields a fresh session
   * (and a Set-Cookie clearing the stale cookie). A store failure throws ERR_SESSION_STORE (503).
   */
  async open(request: SessionRequest): Promise<HttpSession> {
    const header = Array.isArray(request.cookieHeader)
      ? request.cookieHeader.join('; ')
      : request.cookieHeader;
    const token = readCookie(header, this.#cookieName);
    if (token === undefined) return new HttpSession(this, request, undefined);
    const stale = (): HttpSession => {
      request.setCookie(this.clearCookie());
      return new HttpSession(this, request, undefined);
    };
    if (!TOKEN_RE.test(token)) return stale();
    const id = this.idOf(token);
    const stored = (await this.#store.get(id)) ?? (await this.#migrate(token, id));
    if (stored === undefined || stored.id !== id) return stale();
    const now = this.#now();
    const ended = this.#ended(stored, now);
    if (ended !== undefined) {
      await this.#store.delete(id);
      if (stored.userId !== undefined) {
        await this.audit(AUTH_AUDIT_ACTIONS.sessionExpired, stored, request, 'success', ended);
      }
      return stale();
    }
    let current = stored;
    if (now - stored.lastSeenAt >= this.#touchMs) {
      const expiresAt = Math.min(now + this.#idleMs, stored.absoluteExpiresAt);
      if (!(await this.#store.touch(id, now, expiresAt))) return stale();
      current = { ...stored, lastSeenAt: now, expiresAt };
    }
    return new HttpSession(this, request, current);
  }

  /**
   * A session stored under a previous secret, moved to the current one (same token, new store
   * id); undefined when no previous secret knows the token.
   */
  async #migrate(token: string, id: string): Promise<StoredSession | undefined> {
    for (const key of this.#previous) {
      const old = await this.#store.get(this.#idUnder(key, token));
      if (old === undefined) continue;
      // Delete first, create only if this delete won: a revocation landing between the get and
      // here (or another instance migrating the same cookie) leaves nothing to bring back.
      if (!(await this.#store.delete(old.id))) return undefined;
      const moved = { ...old, id };
      await this.#store.create(moved);
      return moved;
    }
    return undefined;
  }

  /** 'idle' / 'absolute' when the session is over at `now`, else undefined. */
  #ended(s: StoredSession, now: number): 'idle' | 'absolute' | undefined {
    if (now >= s.absoluteExpiresAt) return 'absolute';
    if (now - s.lastSeenAt >= this.#idleMs) return 'idle';
    return undefined;
  }

  /** Ends one session now (every instance refuses it on its next request). False when it was not there. */
  async revoke(sessionId: string, by?: SessionActor, reason = 'revoked'): Promise<boolean> {
    if (typeof sessionId !== 'string' || !TOKEN_RE.test(sessionId)) return false;
    const stored = await this.#store.get(sessionId);
    if (stored === undefined) return false;
    const deleted = await this.#store.delete(sessionId);
    if (deleted && stored.userId !== undefined) {
      await this.audit(AUTH_AUDIT_ACTIONS.sessionRevoked, stored, {}, 'success', reason, by);
    }
    return deleted;
  }

  /**
   * Ends every session of a user (password change, account disabled, "sign out everywhere"),
   * except `options.except` (the caller's own session, when it should survive). Returns how many
   * were ended.
   */
  async revokeAll(
    userId: string,
    options: { except?: string; by?: SessionActor; reason?: string } = {},
  ): Promise<number> {
    this.#checkUserId(userId);
    let ended: string[];
    if (options.except === undefined) {
      ended = await this.#store.deleteByUser(userId);
    } else {
      ended = [];
      for (const s of await this.#store.listByUser(userId)) {
        if (s.id !== options.except && (await this.#store.delete(s.id))) ended.push(s.id);
      }
    }
    if (ended.length > 0) {
      await this.#append({
        actor: this.#actor(options.by, userId),
        action: AUTH_AUDIT_ACTIONS.sessionRevoked,
        outcome: 'success',
        reason: options.reason ?? 'revoked-all',
        resource: { type: 'account', id: userId },
        details: { sessions: ended.length },
      });
    }
    return ended.length;
  }

  /**
   * Ends every session of every user (a breach, a compromised session secret): every store record
   * is deleted, so each instance refuses each cookie on its next request. Appends one
   * `auth.session.revoked` (reason `revoked-everyone`, unless given) with the count. Needs a store
   * with `deleteAll()` (memory, Redis, TypeORM); throws ERR_SESSION_STORE otherwise.
   */
  async revokeAllSessions(options: { by?: SessionActor; reason?: string } = {}): Promise<number> {
    const deleteAll = this.#store.deleteAll;
    if (deleteAll === undefined) {
      throw new BulwarkIdentityError(
        ErrorCodes.SESSION_STORE,
        'session store: this store cannot delete every session (no deleteAll())',
      );
    }
    const count = await deleteAll();
    await this.#append({
      actor: this.#actor(options.by, undefined),
      action: AUTH_AUDIT_ACTIONS.sessionRevoked,
      outcome: 'success',
      reason: options.reason ?? 'revoked-everyone',
      resource: { type: 'session', id: '*' },
      details: { sessions: count },
    });
    return count;
  }

  /**
   * @internal After a sign-in stored `current`: ends the user's oldest live sessions beyond
   * `maxSessionsPerUser` (the new one always survives; expired ones do not count). Each is audited with reason `session_limit`.
   */
  async enforceSessionLimit(current: StoredSession): Promise<void> {
    const max = this.#maxPerUser;
    if (max === undefined || current.userId === undefined) return;
    const now = this.#now();
    const others = (await this.#store.listByUser(current.userId))
      .filter((s) => s.id !== current.id && this.#ended(s, now) === undefined)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    for (const old of others.slice(max - 1)) {
      if (await this.#store.delete(old.id)) {
        await this.audit(AUTH_AUDIT_ACTIONS.sessionRevoked, old, {}, 'success', 'session_limit', {
          id: 'system',
          type: 'system',
        });
      }
    }
  }

  /** The live sessions of a user (for a "where you are signed in" page or an admin). */
  async list(userId: string): Promise<SessionInfo[]> {
    this.#checkUserId(userId);
    const now = this.#now();
    return (await this.#store.listByUser(userId))
      .filter((s) => this.#ended(s, now) === undefined)
      .map((s) => ({
        id: s.id,
        createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        expiresAt: s.expiresAt,
        ...(s.authentication ? { method: s.authentication.method } : {}),
        factors: [...(s.authentication?.factors ?? [])],
      }));
  }

  /**
   * Exercises the time-outs against the real store: stores two probe sessions, one idle for longer
   * than the idle time-out and one past its absolute time-out, and one fresh; opens each through
   * `open()`; deletes them. Compliance checks read this (an idle session is refused), not only the
   * configuration.
   */
  async probe(): Promise<SessionProbe> {
    const now = this.#now();
    const make = (lastSeenAt: number, createdAt: number): { token: string; session: StoredSession } => {
      const token = randomBytes(TOKEN_BYTES).toString('base64url');
      const absoluteExpiresAt = createdAt + this.#absoluteMs;
      return {
        token,
        session: {
          id: this.idOf(token),
          createdAt,
          lastSeenAt,
          absoluteExpiresAt,
          // Kept in the store long enough to be read back: the engine, not the store, must refuse it.
          expiresAt: now + 60_000,
          data: { probe: true },
        },
      };
    };
    const idle = make(now - this.#idleMs - 1000, now - this.#idleMs - 1000);
    const old = make(now, now - this.#absoluteMs - 1000);
    const fresh = make(now, now);
    const opened: boolean[] = [];
    for (const p of [idle, old, fresh]) {
      await this.#store.create(p.session);
      try {
        const s = await this.open({ cookieHeader: `${this.#cookieName}=${p.token}`, setCookie: () => {} });
        opened.push(!s.isNew);
      } finally {
        await this.#store.delete(p.session.id);
      }
    }
    return { idleRefused: !opened[0], absoluteRefused: !opened[1], freshAccepted: opened[2] === true };
  }

  #checkUserId(userId: unknown): asserts userId is string {
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256) {
      throw new BulwarkIdentityError(
        ErrorCodes.SESSION_INVALID_ARGUMENT,
        'userId must be a non-empty string of at most 256 characters.',
      );
    }
  }

  // ---- used by HttpSession (same module family, not part of the documented API) ----

  /** @internal The store id of a cookie token. */
  idOf(token: string): string {
    return this.#idUnder(this.#secret, token);
  }

  #idUnder(key: Buffer, token: string): string {
    return createHmac('sha256', key).update(`bulwark-session\0${token}`).digest('base64url');
  }

  /** @internal A new token and the stored record it names. */
  mint(
    fields: Pick<StoredSession, 'data'> &
      Partial<Pick<StoredSession, 'userId' | 'principal' | 'authentication'>>,
    keepCreatedAt?: number,
  ): { token: string; session: StoredSession } {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const now = this.#now();
    // A rotation keeps the session's age: rotating never extends the absolute time-out.
    const createdAt = keepCreatedAt ?? now;
    const absoluteExpiresAt = createdAt + this.#absoluteMs;
    const session: StoredSession = {
      id: this.idOf(token),
      ...(fields.userId !== undefined ? { userId: fields.userId } : {}),
      ...(fields.principal !== undefined ? { principal: fields.principal } : {}),
      ...(fields.authentication !== undefined ? { authentication: fields.authentication } : {}),
      createdAt,
      lastSeenAt: now,
      absoluteExpiresAt,
      expiresAt: Math.min(now + this.#idleMs, absoluteExpiresAt),
      data: fields.data,
    };
    return { token, session };
  }

  /** @internal */
  get store(): SessionStore {
    return this.#store;
  }

  /** @internal */
  now(): number {
    return this.#now();
  }

  /** @internal The Set-Cookie value carrying a token. */
  cookieFor(token: string): string {
    return serializeCookie(this.#cookieName, token, {
      secure: this.#secure,
      httpOnly: true,
      sameSite: this.#sameSite,
      path: '/',
    });
  }

  /** @internal The Set-Cookie value deleting the cookie. */
  clearCookie(): string {
    return serializeCookie(this.#cookieName, '', {
      secure: this.#secure,
      httpOnly: true,
      sameSite: this.#sameSite,
      path: '/',
      maxAgeSec: 0,
    });
  }

  /** @internal Appends a session event about `session`. */
  async audit(
    action: string,
    session: StoredSession,
    request: Partial<Pick<SessionRequest, 'ip' | 'userAgent' | 'requestId'>>,
    outcome: 'success' | 'failure',
    reason?: string,
    by?: SessionActor,
  ): Promise<void> {
    const userId = session.userId;
    await this.#append({
      actor:
        by !== undefined
          ? this.#actor(by, undefined)
          : {
              id: userId ?? 'anonymous',
              type: userId === undefined ? 'anonymous' : (session.principal?.type ?? 'user'),
              sessionId: session.id,
              ...(request.ip !== undefined ? { ip: request.ip } : {}),
              ...(request.userAgent !== undefined ? { userAgent: request.userAgent } : {}),
            },
      action,
      outcome,
      ...(reason !== undefined ? { reason } : {}),
      ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
      resource: { type: 'session', id: session.id },
      details: {
        ...(userId !== undefined ? { userId } : {}),
        ...(session.authentication ? { method: session.authentication.method } : {}),
      },
    });
  }

  #actor(by: SessionActor | undefined, userId: string | undefined): AuditEvent['actor'] {
    if (by === undefined) return { id: userId ?? 'system', type: userId === undefined ? 'system' : 'user' };
    return { id: by.id, type: by.type ?? 'user', ...(by.ip !== undefined ? { ip: by.ip } : {}) };
  }

  async #append(event: AuditEvent): Promise<void> {
    if (this.#audit !== undefined) await this.#audit.append(event);
  }
}
