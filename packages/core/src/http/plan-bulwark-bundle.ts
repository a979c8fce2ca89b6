import { configError } from '../util/options';
import type { HttpAppEvidence } from '../compliance/evidence';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import type { BearerRevocationCheck, BearerTokenVerifier } from './bearer-authenticator';
import type { BruteForceGateOptions } from './brute-force-gate';
import { CorsPolicy, type CorsOptions } from './cors-policy';
import type { FetchMetadataOptions } from './fetch-metadata-policy';
import type { BulwarkHttpKit } from './http-kit';
import type { InputGuardOptions } from './input-guard';
import type { RateLimitOptions } from './request-rate-limiter';
import type { RequestAuditorOptions } from './request-auditor';
import type { SecurityHeaderOptions } from './security-header-options';
import { TrustedProxies, type TrustProxyOption } from './trusted-proxies';

/** The bundle options both adapters' `bulwark(kit, options)` accept (csrf / authenticate differ in detail). */
export interface BulwarkBundleOptions<Auth extends object = object, Csrf extends object = object> {
  securityHeaders?: SecurityHeaderOptions | false;
  inputGuard?: InputGuardOptions | false;
  /** On when the kit has an auditLog. */
  audit?: Omit<RequestAuditorOptions, 'log'> | false;
  /** On when the kit has tokens. `publicPaths`: exact paths (or `/prefix/*`) that skip authentication. */
  authenticate?: (Auth & { publicPaths?: readonly string[] }) | false;
  /**
   * Off unless given (it needs a secret). Under the production preset it must be decided: options,
   * or `false` for an API without cookie or session authentication.
   */
  csrf?: Csrf | false;
  /** Cross-origin reads by exact-match allowlist (CorsPolicy). Off unless given. */
  cors?: CorsOptions | false;
  /**
   * Refuse cross-site non-navigation requests by their Fetch Metadata (FetchMetadataPolicy),
   * in front of the CSRF check. On by default; the CORS origins are trusted. `false` turns it off.
   */
  fetchMetadata?: Omit<FetchMetadataOptions, 'trustedOrigins'> | false;
  /** App-wide request rate limit per user and per IP (RequestRateLimiter). Off unless given. */
  rateLimit?: RateLimitOptions | false;
  /**
   * The production preset: refuse demo-grade bundle settings (CSRF undecided, security headers,
   * the input guard or Fetch Metadata off) with one BulwarkConfigError listing each. Default: on
   * when `NODE_ENV=production`.
   */
  production?: boolean;
  /**
   * Reverse proxies trusted to report the client address in X-Forwarded-For (audit, brute-force
   * counters, `context.ip` conditions): false (default, the header is ignored), a hop count, or
   * proxy addresses / CIDR ranges. The framework's own trust-proxy setting is not consulted.
   */
  trustProxy?: TrustProxyOption;
}

/** The route-level helpers of an adapter's bundle, bound to the kit; `Handler` is the framework's. */
export interface BulwarkBundleApi<Handler, ResourceSpec, AuthorizeOptions> {
  /** The steps in the order they run. */
  readonly order: readonly string[];
  authorize(action: string, resource: ResourceSpec, options?: AuthorizeOptions): Handler;
  requireConsent(purpose: string): Handler;
  bruteForce(options?: Omit<BruteForceGateOptions, 'guard'>): Handler;
  /** The protections enabled, in the compliance engine's HttpAppEvidence shape. */
  evidence(): HttpAppEvidence;
  /** Flushes pending audit events. */
  close(): Promise<void>;
}

export type BulwarkBundleStep =
  | 'requestId'
  | 'problemDetails'
  | 'securityHeaders'
  | 'audit'
  | 'cors'
  | 'fetchMetadata'
  | 'inputGuard'
  | 'authenticate'
  | 'rateLimit'
  | 'csrf';

/**
 * Which steps to build, with their options resolved against the kit. An absent member is a
 * step that is off; `order` lists the steps in the order they run.
 */
export interface BulwarkBundlePlan<Auth extends object = object, Csrf extends object = object> {
  readonly order: readonly BulwarkBundleStep[];
  /** The compiled `trustProxy` setting, for the requestId step (which takes the client address). */
  readonly trustProxy: TrustedProxies;
  readonly securityHeaders?: SecurityHeaderOptions;
  readonly audit?: RequestAuditorOptions;
  readonly inputGuard?: InputGuardOptions;
  readonly authenticate?: {
    readonly options: Omit<Auth, 'publicPaths'> & {
      tokens: BearerTokenVerifier;
      revocation?: BearerRevocationCheck;
    };
    /** Exact paths, or `/prefix/*` for a subtree, that skip authentication. */
    readonly publicPaths: readonly string[];
  };
  readonly csrf?: Csrf;
  readonly cors?: CorsOptions;
  readonly fetchMetadata?: FetchMetadataOptions;
  readonly rateLimit?: RateLimitOptions;
  /** The CSRF part of the compliance evidence. */
  readonly csrfEvidence: { enabled: boolean; method?: string };
}

const SERVICES = {
  authorizer: ['authorize', 'a PolicyEngine'],
  consent: ['requireConsent', 'a ConsentManager'],
  bruteForce: ['bruteForce', 'a BruteForceGuard'],
  auditLog: ['audit', 'an AuditLog'],
  tokens: ['authenticate', 'a TokenService'],
} as const;

/**
 * The kit's service for a step, or a BulwarkConfigError naming the missing member
 * (`authorize needs kit.authorizer (a PolicyEngine)`): a missing service fails the boot.
 */
export function kitService<K extends keyof typeof SERVICES>(
  kit: BulwarkHttpKit,
  key: K,
): NonNullable<BulwarkHttpKit[K]> {
  const service = kit[key];
  if (service === undefined) {
    const [step, what] = SERVICES[key];
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${step} needs kit.${key} (${what})`, {
      path: `kit.${key}`,
    });
  }
  return service as NonNullable<BulwarkHttpKit[K]>;
}

/** True when `path` is one of `publicPaths` (exact, or under a `/prefix/*` entry, or the prefix itself). */
export function isPublicPath(path: string, publicPaths: readonly string[]): boolean {
  for (const p of publicPaths) {
    if (p.endsWith('/*') ? path.startsWith(p.slice(0, -1)) || path === p.slice(0, -2) : path === p)
      return true;
  }
  return false;
}

/**
 * The bundle's part of the production preset (ASVS 5.0 V13.3.1): one error listing every
 * demo-grade setting by option path.
 */
function checkProductionBundle(options: BulwarkBundleOptions): void {
  if (options.production !== undefined && typeof options.production !== 'boolean') {
    throw configError('production', 'must be a boolean');
  }
  if (!(options.production ?? process.env.NODE_ENV === 'production')) return;
  const problems: Array<{ path: string; message: string }> = [];
  if (options.csrf === undefined) {
    problems.push({
      path: 'csrf',
      message:
        'is undecided: give the CSRF options, or csrf: false for an API without cookie or session authentication',
    });
  }
  for (const key of ['securityHeaders', 'inputGuard', 'fetchMetadata'] as const) {
    if (options[key] === false) problems.push({ path: key, message: 'is off' });
  }
  if (problems.length === 0) return;
  throw new BulwarkConfigError(
    ErrorCodes.CONFIG_NOT_PRODUCTION_READY,
    `bulwark(): the production preset (NODE_ENV=production or production: true) refuses:\n${problems
      .map((p) => `  - ${p.path} ${p.message}`)
      .join('\n')}\nFix each, or set production: false for a test or demo run.`,
    { path: 'production', problems },
  );
}

function checkOption(value: unknown, path: string): void {
  if (value !== undefined && value !== false && (typeof value !== 'object' || value === null)) {
    throw configError(path, 'must be an options object or false');
  }
}

/**
 * Validates the kit and options of `bulwark(kit, options)` and decides the steps, in the order
 *   requestId -> problemDetails -> securityHeaders -> audit -> cors -> fetchMetadata -> inputGuard
 *   -> authenticate -> rateLimit -> csrf
 * problemDetails sits second so every refusal of a later step is answered as problem+json with the
 * request id; audit sits before the refusing steps so refused requests are audited too; cors answers
 * preflights before anything needs credentials; rateLimit follows authenticate to count per user. Audit and
 * authenticate are on when the kit has their service (or options ask for them), csrf only when
 * given (it needs a secret). Bad options fail here, with a BulwarkConfigError naming the path.
 */
export function planBulwarkBundle<Auth extends object, Csrf extends object>(
  kit: BulwarkHttpKit,
  options: BulwarkBundleOptions<Auth, Csrf>,
): BulwarkBundlePlan<Auth, Csrf> {
  if (typeof kit !== 'object' || kit === null) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'bulwark(kit): kit must be an object of services',
      {
        path: 'kit',
      },
    );
  }
  for (const key of [
    'securityHeaders',
    'inputGuard',
    'audit',
    'authenticate',
    'csrf',
    'cors',
    'fetchMetadata',
    'rateLimit',
  ] as const) {
    checkOption(options[key], key);
  }
  checkProductionBundle(options);
  const order: BulwarkBundleStep[] = ['requestId', 'problemDetails'];
  const plan: {
    -readonly [K in keyof BulwarkBundlePlan<Auth, Csrf>]: BulwarkBundlePlan<Auth, Csrf>[K];
  } = {
    order,
    trustProxy: new TrustedProxies(options.trustProxy ?? false),
    csrfEvidence: { enabled: false },
  };
  if (options.securityHeaders !== false) {
    plan.securityHeaders = options.securityHeaders ?? {};
    order.push('securityHeaders');
  }
  if (options.audit !== false && (kit.auditLog !== undefined || options.audit !== undefined)) {
    if (kit.auditLog === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit needs kit.auditLog (an AuditLog)', {
        path: 'kit.auditLog',
      });
    }
    plan.audit = { ...options.audit, log: kit.auditLog };
    order.push('audit');
  }
  let corsPolicy: CorsPolicy | undefined;
  if (options.cors !== undefined && options.cors !== false) {
    corsPolicy = new CorsPolicy(options.cors); // validated here: a bad origin fails the boot
    plan.cors = options.cors;
    order.push('cors');
  }
  if (options.fetchMetadata !== false) {
    plan.fetchMetadata = {
      ...options.fetchMetadata,
      ...(corsPolicy !== undefined
        ? { trustedOrigins: (o: string | undefined) => corsPolicy.allows(o) }
        : {}),
    };
    order.push('fetchMetadata');
  }
  if (options.inputGuard !== false) {
    plan.inputGuard = options.inputGuard ?? {};
    order.push('inputGuard');
  }
  if (options.authenticate !== false && (kit.tokens !== undefined || options.authenticate !== undefined)) {
    const tokens = kitService(kit, 'tokens');
    const { publicPaths = [], ...authOptions } =
      options.authenticate ?? ({} as Auth & { publicPaths?: readonly string[] });
    if (
      !Array.isArray(publicPaths) ||
      !publicPaths.every((p) => typeof p === 'string' && p.startsWith('/'))
    ) {
      throw configError('authenticate.publicPaths', 'must be paths starting with /');
    }
    const revocation = kit.revocation;
    plan.authenticate = {
      options: { ...authOptions, tokens, ...(revocation !== undefined ? { revocation } : {}) },
      publicPaths,
    };
    order.push('authenticate');
  }
  if (options.rateLimit !== undefined && options.rateLimit !== false) {
    plan.rateLimit = options.rateLimit;
    order.push('rateLimit');
  }
  if (options.csrf !== undefined && options.csrf !== false) {
    plan.csrf = options.csrf;
    plan.csrfEvidence = { enabled: true, method: 'signed-double-submit-cookie' };
    order.push('csrf');
  }
  plan.order = Object.freeze(order);
  return plan;
}
