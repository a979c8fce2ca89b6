import type { ServerResponse } from 'node:http';
import {
  Inject,
  Module,
  RequestMethod,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type Provider,
} from '@nestjs/common';
import {
  APP_FILTER,
  APP_GUARD,
  DiscoveryModule,
  DiscoveryService,
  HttpAdapterHost,
  ModuleRef,
  Reflector,
} from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/internal';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { BULWARK_AUDITED } from './audited';
import type { FastifyBodyStages } from './bulwark-http-steps';
import { BULWARK_AUTHORIZE } from './authorize';
import { attachRouteAuditInterceptor, BulwarkAuditInterceptor } from './bulwark-audit-interceptor';
import { BulwarkFieldFilterInterceptor } from './bulwark-field-filter-interceptor';
import { BulwarkExceptionFilter } from './bulwark-exception-filter';
import { BulwarkGuard } from './bulwark-guard';
import { BulwarkHttpMiddleware } from './bulwark-http-middleware';
import {
  type BulwarkModuleAsyncOptions,
  type BulwarkModuleOptions,
  type BulwarkModuleRegistration,
  type BulwarkModuleRootOptions,
} from './bulwark-module-options';
import { BulwarkRuntime } from './bulwark-runtime';
import { linkFastifyRouteAudit, markAuditedRoutesForFastify } from './route-audit';
import { answerFrameworkErrors, httpArgumentsHost } from './fastify-framework-errors';
import type { MiddlewareRequest } from './platform-middleware';
import {
  BULWARK_AUDIT_LOG,
  BULWARK_AUTHORIZER,
  BULWARK_CONSENT_MANAGER,
  BULWARK_OPTIONS,
  BULWARK_TOKEN_SERVICE,
  BULWARK_TYPEORM_ENCRYPTION,
} from './bulwark-tokens';
import { checkConsentPurpose } from './core-http';
import { BULWARK_REQUIRE_CONSENT } from './require-consent';
import { typeOrmEncryptionProvider, type BulwarkTypeOrmEncryption } from './typeorm-encryption-provider';

/** How the module was registered (internal): whether its enhancers are global. */
const BULWARK_REGISTRATION = Symbol('bulwark.nestjs.registration');
interface Registration {
  readonly globalEnhancers: boolean;
}

/** @nestjs/common's EXCEPTION_FILTERS_METADATA and INTERCEPTORS_METADATA (`@UseFilters()`, `@UseInterceptors()`). */
const EXCEPTION_FILTERS_METADATA = '__exceptionFilters__';
const INTERCEPTORS_METADATA = '__interceptors__';

/** What BulwarkModule reads of Nest's ApplicationConfig (not exported by @nestjs/core): its global enhancers. */
interface GlobalEnhancers {
  getGlobalFilters(): readonly unknown[];
  getGlobalRequestFilters(): readonly unknown[];
  getGlobalInterceptors(): readonly unknown[];
  getGlobalRequestInterceptors(): readonly unknown[];
}

const SERVICE_TOKENS = [
  BULWARK_TOKEN_SERVICE,
  BULWARK_AUTHORIZER,
  BULWARK_AUDIT_LOG,
  BULWARK_CONSENT_MANAGER,
];

/**
 * Bulwark for NestJS. `forRoot(options)` / `forRootAsync({ imports, inject, useFactory })` provide
 * the core services under the tokens of bulwark-tokens.ts, apply BulwarkHttpMiddleware (request id,
 * security headers, input guard, CSRF when configured) to every route, and, by default, register
 * BulwarkGuard and BulwarkExceptionFilter globally and put the audit interceptor on the routes that
 * are audited (`@Audited`, or all with `audit.allRequests`; see attachRouteAuditInterceptor) where
 * something besides Bulwark's filter could see their errors (routeAuditInterceptorNeeded). At application
 * bootstrap every controller is checked: a decorator whose service is missing, or a
 * `@RequireConsent` purpose the ConsentManager does not know, fails the boot instead of every request.
 */
@Module({})
export class BulwarkModule implements NestModule, OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly runtime: BulwarkRuntime,
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    @Inject(BULWARK_REGISTRATION) private readonly registration: Registration,
  ) {}

  static forRoot(options: BulwarkModuleRootOptions): DynamicModule {
    const optionsProvider: Provider = { provide: BULWARK_OPTIONS, useValue: options };
    return BulwarkModule.assemble(
      optionsProvider,
      options,
      options?.typeorm !== undefined ? { dataSourceName: options.typeorm.dataSourceName } : undefined,
      [],
    );
  }

  static forRootAsync(options: BulwarkModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'BulwarkModule.forRootAsync: useFactory must be a function',
        {
          path: 'useFactory',
        },
      );
    }
    const optionsProvider: Provider = {
      provide: BULWARK_OPTIONS,
      useFactory: options.useFactory,
      inject: options.inject ?? [],
    };
    const typeorm =
      options.typeorm === true ? {} : typeof options.typeorm === 'object' ? options.typeorm : undefined;
    return BulwarkModule.assemble(optionsProvider, options, typeorm, options.imports ?? []);
  }

  private static assemble(
    optionsProvider: Provider,
    registration: BulwarkModuleRegistration,
    typeorm: { dataSourceName?: string } | undefined,
    imports: NonNullable<DynamicModule['imports']>,
  ): DynamicModule {
    const service = (pick: (o: BulwarkModuleOptions) => unknown) => (runtime: BulwarkRuntime) =>
      pick(runtime.options) ?? null;
    const providers: Provider[] = [
      optionsProvider,
      {
        provide: BULWARK_REGISTRATION,
        useValue: Object.freeze({ globalEnhancers: registration?.globalEnhancers !== false }),
      },
      // Validation happens here, once, when the application is created.
      {
        provide: BulwarkRuntime,
        useFactory: (o: BulwarkModuleOptions) => new BulwarkRuntime(o),
        inject: [BULWARK_OPTIONS],
      },
      { provide: BULWARK_TOKEN_SERVICE, useFactory: service((o) => o.tokens), inject: [BulwarkRuntime] },
      { provide: BULWARK_AUTHORIZER, useFactory: service((o) => o.authorizer), inject: [BulwarkRuntime] },
      { provide: BULWARK_AUDIT_LOG, useFactory: service((o) => o.auditLog), inject: [BulwarkRuntime] },
      { provide: BULWARK_CONSENT_MANAGER, useFactory: service((o) => o.consent), inject: [BulwarkRuntime] },
      BulwarkGuard,
      BulwarkAuditInterceptor,
      BulwarkFieldFilterInterceptor,
      BulwarkExceptionFilter,
      BulwarkHttpMiddleware,
    ];
    const exports: NonNullable<DynamicModule['exports']> = [
      BULWARK_OPTIONS,
      BulwarkRuntime,
      ...SERVICE_TOKENS,
      BulwarkGuard,
      BulwarkAuditInterceptor,
      BulwarkFieldFilterInterceptor,
      BulwarkExceptionFilter,
    ];
    if (registration?.globalEnhancers !== false) {
      providers.push(
        { provide: APP_GUARD, useExisting: BulwarkGuard },
        // No APP_INTERCEPTOR: Nest would run every route's handler through an rxjs chain for it.
        // configure() puts the audit interceptor on the audited routes only.
        { provide: APP_FILTER, useExisting: BulwarkExceptionFilter },
      );
    }
    if (typeorm !== undefined) {
      providers.push(typeOrmEncryptionProvider(typeorm.dataSourceName));
      exports.push(BULWARK_TYPEORM_ENCRYPTION);
    }
    return {
      module: BulwarkModule,
      global: registration?.global !== false,
      imports: [DiscoveryModule, ...imports],
      providers,
      exports,
    };
  }

  /**
   * Every request, matched or not, passes the protections before any guard or handler. A global
   * module's middleware is mounted before the application's own (Nest orders global modules first).
   * Nest's built-in body parser, when on, still runs before all module middleware: the input guard
   * then checks the parsed body, and BulwarkExceptionFilter answers the parser's errors.
   */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(BulwarkHttpMiddleware).forRoutes({ path: '*', method: RequestMethod.ALL });
    // Nest registers the routes after configuring middleware, building each route's interceptor
    // chain then: the audited routes get the audit interceptor now (the global guard, which runs
    // first, tracks the request the interceptor reads its runtime from).
    if (this.registration.globalEnhancers && this.runtime.auditor !== undefined) {
      const controllers = this.discovery.getControllers();
      attachRouteAuditInterceptor(
        controllers.map((wrapper) => wrapper.metatype),
        this.runtime.auditAll,
        this.routeAuditInterceptorNeeded(controllers),
      );
    }
    // @nestjs/platform-fastify runs middleware before the body is read: the body's steps move to
    // Fastify's body parser and preValidation hook (see BulwarkHttpSteps.attachToFastify).
    let host: HttpAdapterHost | undefined;
    try {
      host = this.moduleRef.get(HttpAdapterHost, { strict: false });
    } catch {
      host = undefined; // a standalone application context: no HTTP platform
    }
    const adapter = host?.httpAdapter as { getType?(): string; getInstance?(): unknown } | undefined;
    if (host !== undefined && adapter?.getType?.() === 'fastify') {
      const instance = adapter.getInstance!() as FastifyBodyStages;
      this.runtime.http.attachToFastify(instance);
      // Middleware is configured before Nest registers the routes: their Fastify config can still
      // carry @Audited, for refusals raised before the route's handler (see routeAudit).
      const audited = markAuditedRoutesForFastify(
        this.discovery.getControllers().map((wrapper) => wrapper.metatype),
      );
      if (audited) linkRouteAuditBeforeMiddleware(host.httpAdapter as unknown as FastifyRequestHooks);
      this.answerRouterRefusals(instance, host);
    }
  }

  /**
   * What `bulwarkFrameworkErrors` (the adapter's `frameworkErrors` option) does on this instance:
   * the module's middleware steps, then the exception filter, as for a refusal on Express. A step's
   * own refusal (the input guard's check of the path) is the answer when there is one.
   */
  private answerRouterRefusals(instance: object, host: HttpAdapterHost): void {
    const middleware = new BulwarkHttpMiddleware(this.runtime);
    const filter = new BulwarkExceptionFilter(host, this.runtime);
    answerFrameworkErrors(instance, (error, request, reply) => {
      const answer = (refusal?: unknown): void =>
        filter.catch(refusal ?? error, httpArgumentsHost(request, reply));
      middleware.use(request.raw as MiddlewareRequest, reply.raw as ServerResponse, answer);
    });
  }

  /**
   * Whether an audited route needs the audit interceptor. Its one job beyond what the global guard
   * does (trackRequest with the route's @Audited) is noting the code of an error the handler
   * throws before anything else sees it; BulwarkExceptionFilter notes an error thrown after the
   * guard let the request in the same way (as thrown). So a route runs without it when that filter
   * is the only one that can catch the route's errors and nothing can intercept them before it:
   * the application's global filters (`useGlobalFilters`, APP_FILTER) are Bulwark's only, there is
   * no global interceptor, the route and its controller have no `@UseFilters` or
   * `@UseInterceptors`, and the controller is not request-scoped (its enhancers are then resolved
   * per request, from the application's settings at that time). Read from Nest's ApplicationConfig,
   * which holds every global enhancer by the time configure() runs; where it cannot be read, every
   * audited route keeps the interceptor.
   */
  private routeAuditInterceptorNeeded(
    controllers: readonly InstanceWrapper[],
  ): (controller: object, method: object) => boolean {
    const always = (): boolean => true;
    const config = (this.moduleRef as unknown as { container?: { applicationConfig?: GlobalEnhancers } })
      .container?.applicationConfig;
    try {
      if (config === undefined) return always;
      const filters = config.getGlobalFilters();
      const alone =
        filters.length > 0 &&
        filters.every((filter) => filter instanceof BulwarkExceptionFilter) &&
        config.getGlobalRequestFilters().length === 0 &&
        config.getGlobalInterceptors().length === 0 &&
        config.getGlobalRequestInterceptors().length === 0;
      if (!alone) return always;
    } catch {
      return always; // another Nest's ApplicationConfig
    }
    const staticControllers = new Set<unknown>(
      controllers
        .filter(
          (wrapper) =>
            typeof wrapper.isDependencyTreeStatic === 'function' && wrapper.isDependencyTreeStatic(),
        )
        .map((wrapper) => wrapper.metatype),
    );
    const enhanced = (target: object): boolean =>
      [EXCEPTION_FILTERS_METADATA, INTERCEPTORS_METADATA].some((key) => {
        const own = Reflect.getMetadata(key, target) as unknown[] | undefined;
        return own !== undefined && own.length > 0;
      });
    return (controller, method) =>
      !staticControllers.has(controller) || enhanced(controller) || enhanced(method);
  }

  /** Start-up checks of every controller's Bulwark decorators against the configured services. */
  onApplicationBootstrap(): void {
    const { authorizer, auditLog, consent } = this.runtime.options;
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (typeof controller !== 'function') continue;
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const where = `${controller.name}.${name}`;
        const targets = [handler, controller];
        if (
          authorizer === undefined &&
          this.reflector.getAllAndOverride(BULWARK_AUTHORIZE, targets) !== undefined
        ) {
          throw missing(`@Authorize on ${where} needs BulwarkModule options.authorizer`, 'authorizer');
        }
        if (
          auditLog === undefined &&
          this.reflector.getAllAndOverride(BULWARK_AUDITED, targets) !== undefined
        ) {
          throw missing(`@Audited on ${where} needs BulwarkModule options.auditLog`, 'auditLog');
        }
        const purposes = this.reflector.getAllAndOverride<readonly string[] | undefined>(
          BULWARK_REQUIRE_CONSENT,
          targets,
        );
        for (const purpose of purposes ?? [])
          checkConsentPurpose(consent, purpose, `RequireConsent(${where})`);
      }
    }
  }

  /** Drains queued audit events and detaches the TypeORM subscriber (the app closes its own AuditLog). */
  async onModuleDestroy(): Promise<void> {
    await this.runtime.close();
    let encryption: BulwarkTypeOrmEncryption | undefined;
    try {
      encryption = this.moduleRef.get<BulwarkTypeOrmEncryption>(BULWARK_TYPEORM_ENCRYPTION, { strict: true });
    } catch {
      encryption = undefined; // not configured
    }
    encryption?.unregister();
  }
}

function missing(message: string, path: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, message, { path });
}

/** The request-hook members of @nestjs/platform-fastify's adapter that the module uses. */
type FastifyRequestHook = (request: never, reply: unknown, done: (error?: Error) => void) => unknown;
interface FastifyRequestHooks {
  setOnRequestHook?(hook: FastifyRequestHook): void;
  onRequestHook?: FastifyRequestHook;
}

/**
 * Nest middleware on Fastify gets the Node request, which does not say which route it is for; the
 * adapter's request hook runs before it (before middie), with Fastify's request. There the route's
 * `@Audited` is linked to the Node request (`linkFastifyRouteAudit`), so a middleware's refusal is
 * audited under the route's action. A hook the app set before is kept and runs after; one it sets
 * later replaces this (refusals are then audited without the route's action, as before).
 */
function linkRouteAuditBeforeMiddleware(adapter: FastifyRequestHooks): void {
  if (typeof adapter.setOnRequestHook !== 'function') return;
  const previous = adapter.onRequestHook;
  adapter.setOnRequestHook(function (this: unknown, request, reply, done) {
    linkFastifyRouteAudit(request as Parameters<typeof linkFastifyRouteAudit>[0]);
    if (typeof previous === 'function') return previous.call(this, request, reply, done);
    done();
    return undefined;
  });
}
