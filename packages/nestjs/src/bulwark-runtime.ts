import { validateBulwarkOptions, type BulwarkModuleOptions } from './bulwark-module-options';
import { BearerAuthenticator, RequestAuditor, TrustedProxies } from './core-http';

/**
 * The per-application objects built once from the module options and shared by the guard, the
 * interceptor and the filter: the bearer authenticator (with its verification cache) and the
 * request auditor (which queues events without ever delaying a response).
 */
export class BulwarkRuntime {
  readonly options: BulwarkModuleOptions;
  readonly authenticator: BearerAuthenticator;
  readonly auditor: RequestAuditor | undefined;
  readonly realm: string;
  /** The compiled `trustProxy` setting: how the client address is taken. */
  readonly proxies: TrustedProxies;

  constructor(options: BulwarkModuleOptions) {
    this.options = validateBulwarkOptions(options);
    const { realm, ...authentication } = options.authentication ?? {};
    this.realm = realm ?? 'bulwark';
    this.proxies = new TrustedProxies(options.trustProxy ?? false, 'BulwarkModule.trustProxy');
    this.authenticator = new BearerAuthenticator({
      ...authentication,
      tokens: options.tokens,
      configPath: 'BulwarkModule.authentication',
    });
    this.auditor =
      options.auditLog === undefined
        ? undefined
        : new RequestAuditor({
            log: options.auditLog,
            ...(options.audit?.category !== undefined ? { category: options.audit.category } : {}),
            ...(options.audit?.onError !== undefined ? { onError: options.audit.onError } : {}),
          });
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
