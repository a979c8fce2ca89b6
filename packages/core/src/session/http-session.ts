import { BulwarkIdentityError, ErrorCodes } from '../errors';
import type { HttpPrincipal } from '../http/http-principal';
import {
  AUTH_AUDIT_ACTIONS,
  type AuthenticationFactor,
  type PrincipalAuthentication,
  type SignInMethod,
} from '../identity/authentication';
import { isSecondFactor } from '../identity/factor-proved-at';
import type { SessionEngine } from './session-engine';
import type { StoredSession } from './session-store';

/** What an adapter hands `SessionEngine.open()`: the Cookie header and a way to add a Set-Cookie. */
export interface SessionRequest {
  readonly cookieHeader: string | string[] | undefined;
  /** Appends one Set-Cookie header value to the response. */
  setCookie(value: string): void;
  readonly ip?: string;
  readonly userAgent?: string;
  readonly requestId?: string;
}

/** The user a sign-in puts in the session. */
export interface SessionLogin {
  /** The app's user id (becomes `principal.id`). */
  readonly id: string;
  readonly roles?: readonly string[];
  /** Default `user`. */
  readonly type?: 'user' | 'service';
  /** ABAC subject attributes (JSON). */
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** How the user signed in. Default `{ method: 'password', factors: ['password'] }`. */
  readonly authentication?: {
    readonly method?: SignInMethod;
    readonly provider?: string;
    readonly factors?: readonly AuthenticationFactor[];
    /** Epoch ms of a second factor proved during this sign-in. */
    readonly mfaAt?: number;
  };
  /** Keep the anonymous session's data (a cart) in the signed-in session. Default true. */
  readonly keepData?: boolean;
}

const MAX_ROLES = 256;

/**
 * When each factor of a sign-in was proved: now, except a factor reported with the sign-in's
 * `mfaAt` (an identity provider's `auth_time`), which keeps that older time.
 */
function signInFactorTimes(
  factors: readonly AuthenticationFactor[],
  now: number,
  mfaAt: number | undefined,
): Partial<Record<AuthenticationFactor, number>> {
  const times: Partial<Record<AuthenticationFactor, number>> = {};
  for (const f of factors) times[f] = mfaAt !== undefined && isSecondFactor(f) ? mfaAt : now;
  return times;
}

function invalidArgument(message: string): BulwarkIdentityError {
  return new BulwarkIdentityError(ErrorCodes.SESSION_INVALID_ARGUMENT, message);
}

function revoked(): BulwarkIdentityError {
  return new BulwarkIdentityError(
    ErrorCodes.SESSION_REVOKED,
    'The session was revoked or expired while this request used it; sign in again.',
  );
}

function checkRoles(roles: unknown): readonly string[] {
  if (
    !Array.isArray(roles) ||
    roles.length > MAX_ROLES ||
    !roles.every((r) => typeof r === 'string' && r.length > 0 && r.length <= 128)
  ) {
    throw invalidArgument(`roles must be an array of at most ${MAX_ROLES} non-empty strings.`);
  }
  return [...new Set(roles as string[])];
}

/**
 * One request's session, as `SessionEngine.open()` returns it and the adapters expose it
 * (`req.bulwarkSession`, `ctx.state.session`). Reads are synchronous; every write goes to the
 * store at once (no end-of-response save), so a revocation by another instance in between is
 * noticed (ERR_SESSION_REVOKED) instead of being overwritten.
 */
export class HttpSession {
  readonly #engine: SessionEngine;
  readonly #request: SessionRequest;
  #stored: StoredSession | undefined;
  #principal: HttpPrincipal | undefined;

  /** @internal built by SessionEngine.open() */
  constructor(engine: SessionEngine, request: SessionRequest, stored: StoredSession | undefined) {
    this.#engine = engine;
    this.#request = request;
    this.#stored = stored;
  }

  /** The public session id (HMAC of the cookie token, never the cookie); undefined until stored. */
  get id(): string | undefined {
    return this.#stored?.id;
  }

  /** True while nothing is stored (a new anonymous session: no cookie was set). */
  get isNew(): boolean {
    return this.#stored === undefined;
  }

  /** The signed-in user's id, if any. */
  get userId(): string | undefined {
    return this.#stored?.userId;
  }

  /** The application's data (a frozen copy; write with `set()`). */
  get data(): Readonly<Record<string, unknown>> {
    return Object.freeze({ ...(this.#stored?.data ?? {}) });
  }

  /** One value of the data. */
  get<T = unknown>(key: string): T | undefined {
    const data = this.#stored?.data;
    return data !== undefined && Object.hasOwn(data, key) ? (data[key] as T) : undefined;
  }

  /**
   * How the user authenticated, in the identity contract's shape: `method: 'session'`, the
   * session id, the factors proved at sign-in and since (step-up), and when the last second factor
   * was proved. MFA enforcement reads this.
   */
  get authentication(): PrincipalAuthentication | undefined {
    const s = this.#stored;
    if (s?.userId === undefined || s.authentication === undefined) return undefined;
    const a = s.authentication;
    return Object.freeze({
      method: 'session',
      ...(a.provider !== undefined ? { provider: a.provider } : {}),
      at: a.at,
      factors: Object.freeze([...a.factors]),
      ...(a.mfaAt !== undefined ? { mfaAt: a.mfaAt } : {}),
      ...(a.factorTimes !== undefined ? { factorTimes: Object.freeze({ ...a.factorTimes }) } : {}),
      sessionId: s.id,
    });
  }

  /** The signed-in principal (what the adapters put on `req.principal`), or undefined when anonymous. */
  get principal(): HttpPrincipal | undefined {
    const s = this.#stored;
    if (s?.userId === undefined || s.principal === undefined) return undefined;
    if (this.#principal !== undefined) return this.#principal;
    const authentication = this.authentication;
    return (this.#principal = Object.freeze({
      ...(s.principal.attributes ?? {}),
      id: s.userId,
      roles: Object.freeze([...s.principal.roles]),
      type: s.principal.type,
      claims: Object.freeze({ sub: s.userId }),
      ...(authentication !== undefined ? { authentication } : {}),
    }));
  }

  /** Merges `values` into the data and stores it (a new session is created, and its cookie set). */
  async set(values: Readonly<Record<string, unknown>>): Promise<void> {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw invalidArgument('session data must be a plain object.');
    }
    const data = this.#checkData({ ...(this.#stored?.data ?? {}), ...values });
    if (this.#stored === undefined) {
      await this.#create(this.#engine.mint({ data }));
      return;
    }
    await this.#replace({ ...this.#stored, data });
  }

  /**
   * Signs `user` in: a new session id (the old one, which the client may have been handed by an
   * attacker, is deleted: session fixation), the principal stored, `auth.session.created` audited.
   */
  async login(user: SessionLogin): Promise<void> {
    if (typeof user !== 'object' || user === null) throw invalidArgument('login needs a user.');
    if (typeof user.id !== 'string' || user.id.length === 0 || user.id.length > 256) {
      throw invalidArgument('user id must be a non-empty string of at most 256 characters.');
    }
    const roles = checkRoles(user.roles ?? []);
    const type = user.type ?? 'user';
    if (type !== 'user' && type !== 'service')
      throw invalidArgument("user type must be 'user' or 'service'.");
    const auth = user.authentication ?? {};
    const factors = auth.factors ?? ['password'];
    if (!Array.isArray(factors) || !factors.every((f) => typeof f === 'string' && f.length > 0)) {
      throw invalidArgument('authentication.factors must be an array of factor names.');
    }
    const now = this.#engine.now();
    const data = user.keepData === false ? {} : (this.#stored?.data ?? {});
    const minted = this.#engine.mint({
      userId: user.id,
      principal: {
        roles,
        type,
        ...(user.attributes !== undefined ? { attributes: this.#checkData(user.attributes) } : {}),
      },
      authentication: {
        method: auth.method ?? 'password',
        ...(auth.provider !== undefined ? { provider: auth.provider } : {}),
        at: now,
        factors: [...new Set(factors)],
        ...(auth.mfaAt !== undefined ? { mfaAt: auth.mfaAt } : {}),
        factorTimes: signInFactorTimes(factors, now, auth.mfaAt),
      },
      data,
    });
    const previous = this.#stored;
    await this.#create(minted);
    if (previous !== undefined) await this.#engine.store.delete(previous.id);
    await this.#engine.audit(
      AUTH_AUDIT_ACTIONS.sessionCreated,
      minted.session,
      this.#request,
      'success',
      'login',
    );
    await this.#engine.enforceSessionLimit(minted.session);
  }

  /**
   * Records a second factor proved now (step-up): adds it to the factors, sets `mfaAt` and its
   * own `factorTimes` entry, and rotates the id (a privilege change).
   */
  async stepUp(factor: AuthenticationFactor): Promise<void> {
    if (typeof factor !== 'string' || factor.length === 0)
      throw invalidArgument('factor must be a factor name.');
    const s = this.#signedIn();
    const a = s.authentication!;
    const now = this.#engine.now();
    await this.#rotateTo(
      {
        ...s,
        authentication: {
          ...a,
          factors: [...new Set([...a.factors, factor])],
          mfaAt: now,
          factorTimes: { ...a.factorTimes, [factor]: now },
        },
      },
      'step-up',
    );
  }

  /** Changes the signed-in user's roles (a privilege change: the id is rotated). */
  async setRoles(roles: readonly string[]): Promise<void> {
    const s = this.#signedIn();
    await this.#rotateTo(
      { ...s, principal: { ...s.principal!, roles: checkRoles(roles) } },
      'privilege-change',
    );
  }

  /** A new id for the same session (same data, same age). */
  async rotate(): Promise<void> {
    if (this.#stored === undefined) return;
    await this.#rotateTo(this.#stored, 'rotate');
  }

  /** Ends the session: deleted from the store, cookie cleared, `auth.session.revoked` (logout) audited. */
  async logout(): Promise<void> {
    const s = this.#stored;
    this.#request.setCookie(this.#engine.clearCookie());
    this.#stored = undefined;
    this.#principal = undefined;
    if (s === undefined) return;
    await this.#engine.store.delete(s.id);
    if (s.userId !== undefined) {
      await this.#engine.audit(AUTH_AUDIT_ACTIONS.sessionRevoked, s, this.#request, 'success', 'logout');
    }
  }

  #signedIn(): StoredSession {
    const s = this.#stored;
    if (s?.userId === undefined || s.authentication === undefined) {
      throw invalidArgument('this needs a signed-in session (call login() first).');
    }
    return s;
  }

  async #rotateTo(next: StoredSession, reason: string): Promise<void> {
    const previous = this.#stored!;
    const minted = this.#engine.mint(
      {
        data: next.data,
        ...(next.userId !== undefined ? { userId: next.userId } : {}),
        ...(next.principal !== undefined ? { principal: next.principal } : {}),
        ...(next.authentication !== undefined ? { authentication: next.authentication } : {}),
      },
      previous.createdAt,
    );
    // The old id must still exist (not revoked meanwhile) for the new one to be handed out.
    if (!(await this.#engine.store.delete(previous.id))) throw this.#lost();
    await this.#create(minted);
    if (next.userId !== undefined) {
      await this.#engine.audit(
        AUTH_AUDIT_ACTIONS.sessionRotated,
        minted.session,
        this.#request,
        'success',
        reason,
      );
    }
  }

  async #create(minted: { token: string; session: StoredSession }): Promise<void> {
    await this.#engine.store.create(minted.session);
    this.#stored = minted.session;
    this.#principal = undefined;
    this.#request.setCookie(this.#engine.cookieFor(minted.token));
  }

  async #replace(next: StoredSession): Promise<void> {
    if (!(await this.#engine.store.replace(next))) throw this.#lost();
    this.#stored = next;
    this.#principal = undefined;
  }

  #lost(): BulwarkIdentityError {
    this.#stored = undefined;
    this.#principal = undefined;
    this.#request.setCookie(this.#engine.clearCookie());
    return revoked();
  }

  #checkData(data: Readonly<Record<string, unknown>>): Record<string, unknown> {
    let json: string;
    try {
      json = JSON.stringify(data);
    } catch {
      throw invalidArgument('session data must be JSON.');
    }
    if (Buffer.byteLength(json) > this.#engine.maxDataBytes) {
      throw invalidArgument(`session data is larger than ${this.#engine.maxDataBytes} bytes.`);
    }
    return JSON.parse(json) as Record<string, unknown>;
  }
}
