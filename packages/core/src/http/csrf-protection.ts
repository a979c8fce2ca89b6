import { configError } from '../util/options';
import { checkCookieOptions, type CookieOptions } from './cookies';
import { CSRF_SAFE_METHODS, CsrfTokens, type CsrfCookieOptions, type CsrfRequest } from './csrf-tokens';

export interface CsrfOptions {
  /** HMAC key, >= 32 bytes. */
  secret: string | Uint8Array;
  /** Earlier secrets still accepted (rotation). */
  previousSecrets?: readonly (string | Uint8Array)[];
  /** Cookie settings. Default name `__Host-bulwark.csrf` (or `bulwark.csrf` with `secure: false`). */
  cookie?: CookieOptions & { name?: string };
  /** Methods that are never checked. Default GET, HEAD, OPTIONS (csurf's `ignoreMethods`). */
  ignoreMethods?: readonly string[];
  /**
   * Also accept the token in the query string's `_csrf` (csurf did). Default false: a token in a
   * URL leaks through server logs, browser history and Referer headers (ASVS 5.0 V14.2.1).
   */
  allowTokenInQuery?: boolean;
}

/**
 * Validated CSRF configuration shared by both adapters: the token signer, the cookie and the
 * exempt methods. The adapter supplies the binding (session id or principal id).
 */
export class CsrfProtection {
  #observer?: { csrfDecision(refused: boolean): void };
  readonly tokens: CsrfTokens;
  readonly cookie: CsrfCookieOptions;
  readonly ignoreMethods: readonly string[];
  readonly allowTokenInQuery: boolean;
  /** `ignoreMethods` as a set, for the per-request test. */
  readonly #exempt: ReadonlySet<string>;

  constructor(options: CsrfOptions, path = 'csrf') {
    if (typeof options !== 'object' || options === null) {
      throw configError(path, 'must be an object with a secret');
    }
    this.tokens = new CsrfTokens({
      secret: options.secret,
      ...(options.previousSecrets !== undefined ? { previousSecrets: options.previousSecrets } : {}),
      configPath: path,
    });
    const cookie = options.cookie ?? {};
    const name = cookie.name ?? (cookie.secure === false ? 'bulwark.csrf' : '__Host-bulwark.csrf');
    checkCookieOptions(name, cookie, `${path}.cookie`);
    this.cookie = { ...cookie, name };
    const ignore = options.ignoreMethods ?? CSRF_SAFE_METHODS;
    if (!Array.isArray(ignore) || !ignore.every((m) => typeof m === 'string')) {
      throw configError(`${path}.ignoreMethods`, 'must be an array of methods');
    }
    this.ignoreMethods = ignore.map((m) => m.toUpperCase());
    this.#exempt = new Set(this.ignoreMethods);
    if (options.allowTokenInQuery !== undefined && typeof options.allowTokenInQuery !== 'boolean') {
      throw configError(`${path}.allowTokenInQuery`, 'must be a boolean');
    }
    this.allowTokenInQuery = options.allowTokenInQuery === true;
  }

  /**
   * True when requests of this method are never checked (`ignoreMethods`, default the safe methods
   * GET, HEAD, OPTIONS): adapters skip building the check's input for them. `check()` agrees.
   */
  exempt(method: string): boolean {
    // Exactly as check() decides (case-sensitive: Node hands methods over in upper case), so a
    // method is never skipped here that check() would have refused.
    return this.#exempt.has(method);
  }

  /** Throws EBADCSRFTOKEN (403) unless the request is exempt or carries a valid token. */
  check(req: CsrfRequest): void {
    const observer = this.#observer;
    if (observer === undefined)
      return this.tokens.check(req, this.cookie.name, this.ignoreMethods, this.allowTokenInQuery);
    try {
      this.tokens.check(req, this.cookie.name, this.ignoreMethods, this.allowTokenInQuery);
    } catch (err) {
      observer.csrfDecision(true);
      throw err;
    }
    if (!this.exempt(req.method)) observer.csrfDecision(false);
  }

  /** Reports each decision on a checked (non-exempt) request to `observer` (the bundle's traffic recorder). */
  observe(observer: { csrfDecision(refused: boolean): void }): void {
    this.#observer = observer;
  }

  /** The token for `csrfToken()` and, when a new one was minted, the Set-Cookie value. */
  tokenFor(
    cookieHeader: string | string[] | undefined,
    binding: string,
  ): { token: string; setCookie?: string } {
    return this.tokens.tokenFor(
      Array.isArray(cookieHeader) ? cookieHeader[0] : cookieHeader,
      binding,
      this.cookie,
    );
  }
}

/** How an adapter's `csrfToken()` reaches its request: made once per middleware, shared by every request. */
export interface CsrfTokenAccess<R> {
  /** The request's Cookie header. */
  cookieHeader(request: R): string | string[] | undefined;
  /** What the token is bound to (the adapter's `binding` option), read when the token is minted. */
  binding(request: R): string | undefined;
  /** Adds a Set-Cookie header to the request's response. */
  appendSetCookie(request: R, value: string): void;
}

/**
 * One request's `csrfToken()` (csurf's API): mints the token, and its cookie when a new one is
 * needed, on the first call, and returns the same token after. Adapters hand the request
 * `issuer.token.bind(issuer)`, callable unbound, rather than a closure made per request: measured
 * under load, closures made per request kept many of the request's objects alive through
 * young-generation collections (bench/README.md).
 */
export class CsrfTokenIssuer<R> {
  #token?: string;
  readonly #request: R;
  readonly #protection: CsrfProtection;
  readonly #access: CsrfTokenAccess<R>;

  constructor(request: R, protection: CsrfProtection, access: CsrfTokenAccess<R>) {
    this.#request = request;
    this.#protection = protection;
    this.#access = access;
  }

  token(): string {
    if (this.#token !== undefined) return this.#token;
    const request = this.#request;
    const access = this.#access;
    // Bound at issue time: the handler may have signed in (a new session id) since the check.
    const issued = this.#protection.tokenFor(access.cookieHeader(request), access.binding(request) ?? '');
    if (issued.setCookie !== undefined) access.appendSetCookie(request, issued.setCookie);
    return (this.#token = issued.token);
  }
}
