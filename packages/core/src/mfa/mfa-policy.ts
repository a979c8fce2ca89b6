import type { PrincipalAuthentication } from '../identity/authentication';
import { FEDERATED_MFA_FACTOR } from '../identity/amr';
import { factorProvedAt } from '../identity/factor-proved-at';
import type { MfaMethod } from './mfa-context';
import { configError } from '../util/options';

export interface MfaPolicyOptions {
  /** Roles that must present a second factor; `'*'` means every subject. */
  requiredFor: readonly string[];
  /**
   * How long a verification counts (seconds since `mfaAt`) before step-up is needed again.
   * Default 43 200 (12 h, the NIST SP 800-63B AAL2 reauthentication bound).
   */
  maxAgeSec?: number;
  /**
   * Methods that satisfy the policy. Default `totp`, `recovery`, `webauthn` and `federated-mfa`
   * (an OIDC / SAML provider asserted multi-factor sign-in; leave it out to require Bulwark's own
   * second factor after a federated sign-in); `email-otp` and
   * `sms-otp` (NIST SP 800-63B "restricted" authenticators) only when listed.
   */
  methods?: readonly MfaMethod[];
  clock?: () => Date;
  /** Config path used in error messages. Default `mfa.policy`. */
  configPath?: string;
}

/** Why a subject does or does not satisfy the policy. */
export interface MfaPolicyDecision {
  readonly satisfied: boolean;
  readonly required: boolean;
  readonly reason:
    'not-required' | 'verified' | 'missing' | 'expired' | 'method-not-allowed' | 'invalid-time';
}

/** The enforced policy as plain data: compliance evidence (SOC 2 CC6.1, PCI DSS 8.4, ISO 27001 A.8.5). */
export interface MfaPolicyDescription {
  readonly kind: 'mfa-policy';
  readonly requiredFor: readonly string[];
  readonly allSubjects: boolean;
  readonly maxAgeSec: number;
  readonly methods: readonly MfaMethod[];
}

/** `PrincipalAuthentication.factors` names of the second factors, as MfaMethod. */
const FACTOR_METHODS: ReadonlyMap<string, MfaMethod> = new Map<string, MfaMethod>([
  ['totp', 'totp'],
  ['recovery-code', 'recovery'],
  ['webauthn', 'webauthn'],
  ['email-otp', 'email-otp'],
  ['sms-otp', 'sms-otp'],
  [FEDERATED_MFA_FACTOR, 'federated-mfa'],
]);

const METHODS: ReadonlySet<string> = new Set([
  'totp',
  'recovery',
  'webauthn',
  'email-otp',
  'sms-otp',
  'federated-mfa',
]);

/**
 * Who must have passed a second factor, and how recently. Reads the attributes `mfaContext()`
 * produces (`mfaVerified`, `mfaMethod`, `mfaAt`) from an authorization context. Fails closed:
 * anything other than a well-formed, recent, allowed verification does not satisfy it.
 */
export class MfaPolicy {
  readonly #roles: ReadonlySet<string>;
  readonly #all: boolean;
  readonly #maxAgeSec: number;
  readonly #methods: readonly MfaMethod[];
  readonly #clock: () => Date;

  constructor(options: MfaPolicyOptions) {
    const path = options?.configPath ?? 'mfa.policy';
    if (options === null || typeof options !== 'object') throw configError(path, 'must be an options object');
    const roles = options.requiredFor;
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || r === '')) {
      throw configError(`${path}.requiredFor`, "must be an array of role names (or ['*'])");
    }
    const maxAgeSec = options.maxAgeSec ?? 43_200;
    if (!Number.isInteger(maxAgeSec) || maxAgeSec < 1) {
      throw configError(`${path}.maxAgeSec`, `must be a positive integer, got ${String(maxAgeSec)}`);
    }
    const methods = options.methods ?? ['totp', 'recovery', 'webauthn', 'federated-mfa'];
    if (!Array.isArray(methods) || methods.length === 0 || methods.some((m) => !METHODS.has(m))) {
      throw configError(`${path}.methods`, `must be a non-empty array of ${[...METHODS].join(' / ')}`);
    }
    this.#roles = new Set(roles);
    this.#all = this.#roles.has('*');
    this.#maxAgeSec = maxAgeSec;
    this.#methods = Object.freeze([...new Set(methods)]);
    this.#clock = options.clock ?? (() => new Date());
  }

  /** True when no second factor is required of these roles, or the context shows a valid one. */
  isSatisfied(subjectRoles: readonly string[], context: object | null | undefined): boolean {
    return this.evaluate(subjectRoles, context).satisfied;
  }

  /** `isSatisfied` with the reason (for explain() output and logs). */
  evaluate(subjectRoles: readonly string[], context: object | null | undefined): MfaPolicyDecision {
    const roles = Array.isArray(subjectRoles) ? subjectRoles : [];
    const required = this.#all || roles.some((r) => this.#roles.has(r));
    if (!required) return { satisfied: true, required, reason: 'not-required' };
    const ctx = (context ?? {}) as Readonly<Record<string, unknown>>;
    if (ctx.mfaVerified !== true) return { satisfied: false, required, reason: 'missing' };
    const method = ctx.mfaMethod;
    if (typeof method !== 'string' || !(this.#methods as readonly string[]).includes(method)) {
      return { satisfied: false, required, reason: 'method-not-allowed' };
    }
    const at = ctx.mfaAt;
    const atMs = typeof at === 'string' ? Date.parse(at) : at instanceof Date ? at.getTime() : Number.NaN;
    if (!Number.isFinite(atMs)) return { satisfied: false, required, reason: 'invalid-time' };
    const ageMs = this.#clock().getTime() - atMs;
    // A verification from the future (clock skew or forgery) is not trusted either.
    if (ageMs < -60_000) return { satisfied: false, required, reason: 'invalid-time' };
    if (ageMs > this.#maxAgeSec * 1000) return { satisfied: false, required, reason: 'expired' };
    return { satisfied: true, required, reason: 'verified' };
  }

  /**
   * `evaluate` for an authenticated principal: reads `principal.authentication` (set by sessions,
   * the sign-in paths, or a bearer token's `amr` / `auth_time`). The most recent allowed second
   * factor counts, timed by its own proof (`factorProvedAt`: its `factorTimes` entry, else `mfaAt`
   * or the sign-in time when no other factor could have set them).
   */
  evaluatePrincipal(principal: {
    readonly roles: readonly string[];
    readonly authentication?: PrincipalAuthentication;
  }): MfaPolicyDecision {
    const auth = principal?.authentication;
    const proved = (Array.isArray(auth?.factors) ? auth.factors : []).filter((f) => FACTOR_METHODS.has(f));
    if (auth === undefined || proved.length === 0) return this.evaluate(principal?.roles, {});
    const allowed = proved.filter((f) => this.#methods.includes(FACTOR_METHODS.get(f)!));
    if (allowed.length === 0) {
      return this.evaluate(principal.roles, {
        mfaVerified: true,
        mfaMethod: FACTOR_METHODS.get(proved[proved.length - 1]!),
      });
    }
    // Each allowed factor is timed by its own proof: a fresh disallowed one refreshes nothing.
    let best: { factor: string; at: number } | undefined;
    for (const factor of allowed) {
      const at = factorProvedAt(auth, factor);
      if (at !== undefined && (best === undefined || at >= best.at)) best = { factor, at };
    }
    return this.evaluate(principal.roles, {
      mfaVerified: true,
      mfaMethod: FACTOR_METHODS.get(best?.factor ?? allowed[allowed.length - 1]!),
      mfaAt: best === undefined ? undefined : new Date(best.at),
    });
  }

  describe(): MfaPolicyDescription {
    return Object.freeze({
      kind: 'mfa-policy',
      requiredFor: Object.freeze([...this.#roles].sort()),
      allSubjects: this.#all,
      maxAgeSec: this.#maxAgeSec,
      methods: this.#methods,
    });
  }
}
