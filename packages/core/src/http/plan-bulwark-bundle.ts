import { configError } from '../util/options';
import type { HttpAppEvidence } from '../compliance/evidence';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import type { BearerRevocationCheck, BearerTokenVerifier } from './bearer-authenticator';
import type { BruteForceGateOptions } from './brute-force-gate';
import type { BulwarkHttpKit } from './http-kit';
import type { InputGuardOptions } from './input-guard';
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
  /** Off unless given (it needs a secret). */
  csrf?: Csrf | false;
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
  'requestId' | 'problemDetails' | 'securityHeaders' | 'audit' | 'inputGuard' | 'authenticate' | 'csrf';

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

function checkOption(value: unknown, path: string): void {
  if (value !== undefined && value !== false && (typeof value !== 'object' || value === null)) {
    throw configError(path, 'must be an options object or false');
  }
}

/**
 * Validates the kit and options of `bulwark(kit, options)` and decides the steps, in the order
 *   requestId -> problemDetails -> securityHeaders -> audit -> inputGuard -> authenticate -> csrf
 * problemDetails sits second so every refusal of a later step is answered as problem+json with the
 * request id; audit sits before inputGuard so refused bad input is audited too. Audit and
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
  for (const key of ['securityHeaders', 'inputGuard', 'audit', 'authenticate', 'csrf'] as const) {
    checkOption(options[key], key);
  }
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
  if (options.csrf !== undefined && options.csrf !== false) {
    plan.csrf = options.csrf;
    plan.csrfEvidence = { enabled: true, method: 'signed-double-submit-cookie' };
    order.push('csrf');
  }
  plan.order = Object.freeze(order);
  return plan;
}
