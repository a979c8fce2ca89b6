import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import {
  BulwarkConfigError,
  ErrorCodes,
  type Authorizer,
  type AuthzContext,
  type KeyRing,
  type SessionEngine,
  type SessionEngineOptions,
  type TokenClaims,
} from '@bulwark/core';
import {
  type CorsOptions,
  type FetchMetadataOptions,
  type InputGuardOptions,
  type PrincipalMfaPolicy,
  type RateLimitOptions,
  type SecurityHeaderOptions,
} from '@bulwark/core/http';
import type { BulwarkRequestContext } from './bulwark-request-context';
import type { BulwarkCsrfOptions } from './csrf';
import {
  TrustedProxies,
  type BearerTokenVerifier,
  type BearerRevocationCheck,
  type ConsentChecker,
  type HttpPrincipal,
  type AuditFailurePolicy,
  type RequestAuditLog,
  type TrustProxyOption,
} from './core-http';

export interface BulwarkAuthenticationOptions {
  /**
   * Authorization schemes whose credential is a token for `tokens`, case-insensitive. Default
   * `['Bearer']`; e.g. `['Bearer', 'Token']` for clients that send `Authorization: Token <jwt>`.
   * The `WWW-Authenticate` challenge names the first.
   */
  schemes?: readonly string[];
  /** Claim holding the roles (array of strings or a space-separated string). Default `roles`. */
  rolesClaim?: string;
  /** Builds the principal from verified claims. Default `{ id: sub, roles, type: 'user', claims }`. */
  principal?: (claims: TokenClaims) => HttpPrincipal;
  /** Seconds a verified token is remembered (never past its `exp`); 0 disables. Default 30. */
  cacheTtlSec?: number;
  /** Most remembered tokens. Default 10 000. */
  cacheMaxEntries?: number;
  /** Realm of the `WWW-Authenticate: Bearer` challenge on 401. Default `bulwark`. */
  realm?: string;
  /**
   * `Cache-Control: no-store` on every authenticated response unless the handler sets its own
   * (ASVS 5.0 V14.3.2). Default true.
   */
  noStore?: boolean;
}

export interface BulwarkAuditOptions {
  /** Retention category of request events (an `@Audited` category overrides it). Default `http`. */
  category?: string;
  /**
   * Called once per failure burst when events cannot be stored (not per request). Default:
   * `console.error` of the error code. Never reaches the request.
   */
  onError?: (error: unknown) => void;
  /**
   * What an audited route without its own `@Audited({ onFailure })` does when its event cannot be
   * stored: `'report'` (default) serves and reports; `'fail-closed'` withholds the response until
   * the event is durable, else 503. Classified routes (a classification category, or
   * `@RequireConsent`) fail closed whatever this says.
   */
  onFailure?: AuditFailurePolicy;
  /** Longest a fail-closed response waits for its event before it is refused. Default 10 000 ms. */
  holdTimeoutMs?: number;
  /**
   * Audit every HTTP request, not only `@Audited` routes (action `http.<method>`). Default false.
   * This also covers requests refused before Bulwark's guard ran (e.g. by another global guard).
   */
  allRequests?: boolean;
}

/** Field encryption through @bulwark/typeorm on a @nestjs/typeorm DataSource. */
export interface BulwarkTypeOrmOptions {
  /** The key ring the encryption subscriber encrypts with. */
  keyRing: KeyRing;
  /** Name of the @nestjs/typeorm DataSource (`TypeOrmModule.forRoot({ name })`); default the unnamed one. */
  dataSourceName?: string;
  /** Key of fields without their own `keyId`. Default `default`. */
  defaultKeyId?: string;
  /** Create keys named by entities when missing (default true); false: a missing key fails the boot. */
  createKeys?: boolean;
}

export interface BulwarkModuleOptions {
  /** Verifies bearer JWTs (a `TokenService`: algorithm allow-list, signature, exp/nbf/iss/aud). Required. */
  tokens: BearerTokenVerifier;
  authentication?: BulwarkAuthenticationOptions;
  /**
   * Token revocations (`bulwark.revocation` of createBulwark, a `TokenRevocation`): asked on every
   * authenticated request, cached verification or not, so a token revoked on any instance is
   * refused on the next request.
   */
  revocation?: BearerRevocationCheck;
  /** Decides `@Authorize` routes: a `PolicyEngine`, or CASL / casbin behind the `Authorizer` interface. */
  authorizer?: Authorizer;
  /** Server-side facts for ABAC conditions (`context.*`); `ip` is always the request's own. */
  authzContext?: (request: BulwarkRequestContext) => AuthzContext;
  /**
   * Explain an `@Authorize` 403 in its body (`explanation`: the deciding deny rule, or the nearest
   * allow rule and the condition that failed; ids, policy text and type names, never attribute
   * values). Default: on when `NODE_ENV=development` only. The audit entry has it in every mode.
   */
  explainDenials?: boolean;
  /**
   * An `MfaPolicy`, enforced on every `@Authorize` route after the authorizer allowed it: roles it
   * names need a recent second factor (read from `principal.authentication`), else 401
   * ERR_MFA_STEP_UP_REQUIRED. `@RequireRecentAuth` adds a per-route requirement.
   */
  mfaPolicy?: PrincipalMfaPolicy;
  /** Where `@Audited` routes write (an `AuditLog`). */
  auditLog?: RequestAuditLog;
  audit?: BulwarkAuditOptions;
  /** Answers `@RequireConsent` (a `ConsentManager`). */
  consent?: ConsentChecker;
  /** Registers the @bulwark/typeorm encryption subscriber on the @nestjs/typeorm DataSource. */
  typeorm?: BulwarkTypeOrmOptions;
  /**
   * helmet with Bulwark's strict defaults (the headers @bulwark/express and @bulwark/koa send), on
   * every response, error answers included. Options override per header. On by default; `false`
   * turns it off.
   */
  securityHeaders?: SecurityHeaderOptions | false;
  /**
   * Core's InputGuard on every request: body size (413), depth and key count (422), prototype-
   * pollution keys, NUL bytes, path traversal (400). On by default; `false` turns it off.
   */
  inputGuard?: InputGuardOptions | false;
  /** CSRF protection for cookie-authenticated apps (signed double-submit, csurf's API). Off unless given. */
  csrf?: BulwarkCsrfOptions | false;
  /** CORS by exact-match allowlist (core's CorsPolicy), preflights answered by the middleware. Off unless given. */
  cors?: CorsOptions | false;
  /**
   * Fetch Metadata resource isolation: cross-site non-navigation requests refused with 403 before
   * any route runs (core's FetchMetadataPolicy; the CORS origins are trusted). On by default.
   */
  fetchMetadata?: Omit<FetchMetadataOptions, 'trustedOrigins'> | false;
  /**
   * App-wide rate limit per principal and per client address (core's RequestRateLimiter), counted
   * by BulwarkGuard after authentication; its `redis` / `keyPrefix` / `onStoreUnavailable` also
   * serve the `@RateLimit` routes. Off unless given.
   */
  rateLimit?: RateLimitOptions | false;
  /**
   * The production preset (default: on when `NODE_ENV=production`): `csrf` must be decided
   * (options, or `false` for a bearer-token API) and securityHeaders, inputGuard, fetchMetadata
   * must not be off; one start-up error lists every problem.
   */
  production?: boolean;
  /**
   * Answer requests no route matches as a 404 problem+json with a fixed detail, instead of Nest's
   * `Cannot GET /path` (which echoes the URL). Default true.
   */
  notFound?: boolean;
  /**
   * The app's own HttpExceptions (not Bulwark's refusals): `'nest'` (default) answers them exactly
   * as Nest does without Bulwark (status and body untouched: field-level `errors`, ValidationPipe
   * messages, string bodies); `'problem'` answers them as RFC 9457 problem+json like Bulwark's
   * errors (message as `detail`, a validation message list or an `errors` member as `errors`).
   */
  appErrors?: 'nest' | 'problem';
  /**
   * Reverse proxies trusted to report the client address in X-Forwarded-For (audit events,
   * `context.ip` conditions, `clientIp(req)` for brute-force counters): false (default, the header
   * is ignored), a hop count, or proxy addresses / CIDR ranges. Decided by @bulwark/core's
   * TrustedProxies, the same as @bulwark/express and @bulwark/koa; Express's `trust proxy`
   * setting (and so `req.ip`) is not consulted.
   */
  trustProxy?: TrustProxyOption;
  /**
   * Server-side sessions (a `SessionEngine`, or its options): `req.bulwarkSession` on every
   * request, opened before CSRF (tokens are then bound to the session id); on a request without
   * an Authorization header the guard takes the principal (with `principal.authentication`) from
   * a signed-in session. Off unless given.
   */
  sessions?: SessionEngine | SessionEngineOptions;
}

/** How the module is registered (known before any provider is built, so not part of async options). */
export interface BulwarkModuleRegistration {
  /** Make the providers injectable in every module (default true); false: only in importing modules. */
  global?: boolean;
  /**
   * Register BulwarkGuard and BulwarkExceptionFilter as global enhancers (APP_GUARD / APP_FILTER)
   * and put the audit interceptor on every audited route (`@Audited` on the method or its
   * controller; every route with `audit.allRequests`) at start-up, so routes that are not audited
   * run without an interceptor chain. Default true. With false, apply them yourself with
   * `@UseGuards` / `@UseInterceptors(BulwarkAuditInterceptor)` / `@UseFilters` on the controllers
   * that need them.
   */
  globalEnhancers?: boolean;
}

export type BulwarkModuleRootOptions = BulwarkModuleOptions & BulwarkModuleRegistration;

export interface BulwarkModuleAsyncOptions
  extends BulwarkModuleRegistration, Pick<ModuleMetadata, 'imports'> {
  // Nest's own factory signature: the injected values arrive positionally, in `inject` order.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  useFactory: (...args: any[]) => BulwarkModuleOptions | Promise<BulwarkModuleOptions>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /**
   * Register the TypeORM encryption subscriber: `true` (the unnamed DataSource) or the DataSource
   * name. The factory must then return `typeorm: { keyRing }`. Needed here because the DataSource
   * to inject must be known before the factory runs.
   */
  typeorm?: boolean | { dataSourceName?: string };
}

function invalid(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `BulwarkModule: ${path} ${message}`, { path });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Checks the options once, at start-up; messages name the offending field. */
export function validateBulwarkOptions(options: unknown): BulwarkModuleOptions {
  if (!isObject(options)) throw invalid('options', 'must be an object');
  const o = options as Partial<BulwarkModuleOptions>;
  if (typeof o.tokens?.verify !== 'function')
    throw invalid('tokens', 'must be a TokenService (with verify())');
  if (o.revocation !== undefined && typeof o.revocation?.check !== 'function') {
    throw invalid('revocation', 'must be a TokenRevocation (with check())');
  }
  if (o.authentication !== undefined && !isObject(o.authentication))
    throw invalid('authentication', 'must be an object');
  const realm: unknown = o.authentication?.realm;
  if (
    realm !== undefined &&
    (typeof realm !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e ]{1,64}$/.test(realm))
  ) {
    // The realm is written into a quoted-string of the WWW-Authenticate header (RFC 9110 §11.6.1).
    throw invalid('authentication.realm', 'must be 1-64 printable characters without quotes or backslashes');
  }
  if (o.authorizer !== undefined && typeof o.authorizer?.check !== 'function') {
    throw invalid('authorizer', 'must implement check() (a PolicyEngine or an Authorizer)');
  }
  if (o.authzContext !== undefined && typeof o.authzContext !== 'function') {
    throw invalid('authzContext', 'must be a function of the request');
  }
  if (o.explainDenials !== undefined && typeof o.explainDenials !== 'boolean') {
    throw invalid('explainDenials', 'must be a boolean');
  }
  if (o.mfaPolicy !== undefined && typeof o.mfaPolicy?.evaluatePrincipal !== 'function') {
    throw invalid('mfaPolicy', 'must be an MfaPolicy (with evaluatePrincipal())');
  }
  if (o.auditLog !== undefined && typeof o.auditLog?.append !== 'function') {
    throw invalid('auditLog', 'must be an AuditLog (with append())');
  }
  if (o.audit !== undefined && !isObject(o.audit)) throw invalid('audit', 'must be an object');
  if (o.audit?.allRequests !== undefined && typeof o.audit.allRequests !== 'boolean') {
    throw invalid('audit.allRequests', 'must be a boolean');
  }
  if (
    o.consent !== undefined &&
    (typeof o.consent?.check !== 'function' || typeof o.consent?.purpose !== 'function')
  ) {
    throw invalid('consent', 'must be a ConsentManager (with check() and purpose())');
  }
  for (const key of [
    'securityHeaders',
    'inputGuard',
    'csrf',
    'cors',
    'fetchMetadata',
    'rateLimit',
  ] as const) {
    const value: unknown = o[key];
    if (value !== undefined && value !== false && (!isObject(value) || Array.isArray(value))) {
      throw invalid(key, 'must be an options object or false');
    }
  }
  if (o.sessions !== undefined && !isObject(o.sessions)) {
    throw invalid('sessions', 'must be a SessionEngine or its options');
  }
  if (o.appErrors !== undefined && o.appErrors !== 'nest' && o.appErrors !== 'problem') {
    throw invalid('appErrors', "must be 'nest' or 'problem'");
  }
  if (o.notFound !== undefined && typeof o.notFound !== 'boolean') {
    throw invalid('notFound', 'must be a boolean');
  }
  if (o.production !== undefined && typeof o.production !== 'boolean') {
    throw invalid('production', 'must be a boolean');
  }
  if (o.authentication?.noStore !== undefined && typeof o.authentication.noStore !== 'boolean') {
    throw invalid('authentication.noStore', 'must be a boolean');
  }
  // Throws a BulwarkConfigError naming BulwarkModule.trustProxy for anything but false, 1..32 or addresses.
  new TrustedProxies(o.trustProxy ?? false, 'BulwarkModule.trustProxy');
  if (o.typeorm !== undefined) {
    if (!isObject(o.typeorm) || !isObject(o.typeorm.keyRing))
      throw invalid('typeorm.keyRing', 'must be a KeyRing');
    if (o.typeorm.dataSourceName !== undefined && typeof o.typeorm.dataSourceName !== 'string') {
      throw invalid('typeorm.dataSourceName', 'must be a string');
    }
  }
  return o as BulwarkModuleOptions;
}
