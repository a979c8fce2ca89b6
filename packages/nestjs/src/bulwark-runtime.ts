import { validateBulwarkOptions, type BulwarkModuleOptions } from './bulwark-module-options';
import { bulwarkHttpSteps, type BulwarkHttpSteps } from './bulwark-http-steps';
import { BearerAuthenticator, RequestAuditor, TrustedProxies } from './core-http';
import { RequestRateLimiter, type RateLimitOptions } from '@bulwark/core/http';
import type { RateLimitMetadata } from './rate-limit';
import { trackRequest, type PlatformRequest } from './request-tracking';

/**
 * The per-application objects built once from the module options and shared by the middleware,
 * the guard, the interceptor and the filter: the request-level protections (security headers,
 * input guard, CSRF), the bearer authenticator (with its verification cache) and the request
 * auditor (which queues events without ever delaying a response).
 */
export class BulwarkRuntime {
  readonly options: BulwarkModuleOptions;
  readonly authenticator: BearerAuthenticator;
  readonly auditor: RequestAuditor | undefined;
  readonly realm: string;
  /** Security headers, input guard and CSRF, run by BulwarkHttpMiddleware on every request. */
  readonly http: BulwarkHttpSteps;
  /** The compiled `trustProxy` setting: how the client address is taken. */
  readonly proxies: TrustedProxies;
  /** The app-wide rate limit (module option `rateLimit`), counted by the guard. */
  readonly rateLimiter: RequestRateLimiter | undefined;
  /** `Cache-Control: no-store` on authenticated responses (`authentication.noStore`, default true). */
  readonly noStore: boolean;
  readonly #routeLimiters = new WeakMap<RateLimitMetadata, RequestRateLimiter>();

  constructor(options: BulwarkModuleOptions) {
    this.options = validateBulwarkOptions(options);
    const { realm, noStore, ...authentication } = options.authentication ?? {};
    this.realm = realm ?? 'bulwark';
    this.noStore = noStore !== false;
    this.rateLimiter =
      options.rateLimit === undefined || options.rateLimit === false
        ? undefined
        : new RequestRateLimiter({ configPath: 'BulwarkModule.rateLimit', ...options.rateLimit });
    this.proxies = new TrustedProxies(options.trustProxy ?? false, 'BulwarkModule.trustProxy');
    this.authenticator = new BearerAuthenticator({
      ...authentication,
      tokens: options.tokens,
      ...(options.revocation !== undefined ? { revocation: options.revocation } : {}),
      configPath: 'BulwarkModule.authentication',
    });
    this.auditor =
      options.auditLog === undefined
        ? undefined
        : new RequestAuditor({
            log: options.auditLog,
            ...(options.audit?.category !== undefined ? { category: options.audit.category } : {}),
            ...(options.audit?.onError !== undefined ? { onError: options.audit.onError } : {}),
            ...(options.audit?.onFailure !== undefined ? { onFailure: options.audit.onFailure } : {}),
            ...(options.audit?.holdTimeoutMs !== undefined
              ? { holdTimeoutMs: options.audit.holdTimeoutMs }
              : {}),
          });
    // The request id is given (and an `audit.allRequests` event started) before any other step,
    // so a refusal by the input guard or CSRF carries the id and is audited too.
    this.http = bulwarkHttpSteps(options, (req, res, next) => {
      trackRequest(this, req as unknown as PlatformRequest, res);
      next();
    });
  }

  /**
   * The limiter of a `@RateLimit` route, built on first use from the decorator's options over the
   * module's store settings (`rateLimit.redis`, `keyPrefix`, `onStoreUnavailable`).
   */
  routeLimiter(metadata: RateLimitMetadata): RequestRateLimiter {
    let limiter = this.#routeLimiters.get(metadata);
    if (limiter === undefined) {
      const shared: RateLimitOptions = {};
      const base = this.options.rateLimit;
      if (base !== undefined && base !== false) {
        for (const key of [
          'redis',
          'keyPrefix',
          'onStoreUnavailable',
          'onError',
          'readyTimeoutMs',
        ] as const) {
          if (base[key] !== undefined) Object.assign(shared, { [key]: base[key] });
        }
      }
      limiter = new RequestRateLimiter({
        ...shared,
        ...metadata,
        configPath: `@RateLimit(${metadata.name})`,
      });
      this.#routeLimiters.set(metadata, limiter);
    }
    return limiter;
  }

  /** How the app's own HttpExceptions are answered (`appErrors`, default `'nest'`: untouched). */
  get appErrors(): 'nest' | 'problem' {
    return this.options.appErrors ?? 'nest';
  }

  /** Answer unmatched routes as a fixed 404 problem (default true). */
  get notFound(): boolean {
    return this.options.notFound !== false;
  }

  readonly #pending = new Set<Promise<unknown>>();

  /** Keeps a background step (an audit event still resolving its resource) for `close()` to wait on. */
  defer(step: Promise<unknown>): void {
    this.#pending.add(step);
    void step.finally(() => this.#pending.delete(step));
  }

  /** Waits until every queued audit event is stored (the module calls it on shutdown). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    await this.auditor?.close();
  }

  /** Audit every request, not only `@Audited` routes. */
  get auditAll(): boolean {
    return this.options.audit?.allRequests === true && this.auditor !== undefined;
  }
}
