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
