import type { AuditEntry } from '../audit/audit-event';
import type { AuditPage, AuditQuery } from '../audit/audit-store';
import { EntryHasher } from '../audit/entry-hasher';
import type { AuditVerificationReport } from '../audit/verify-audit-log';
import type { BreakGlassGrant } from '../authz/break-glass-registry';
import type { AuthzResource, AuthzSubject, Decision } from '../authz/authorizer';
import type { KeyInfo } from '../crypto/key-ring';
import type { PasswordHashParams } from '../crypto/password-hasher';
import type { BulwarkConfigError } from '../errors';
import type { MfaPolicyDecision, MfaPolicyDescription } from '../mfa/mfa-policy';
import type { ClassifiedField } from '../privacy/classification-registry';
import type { BruteForceGuardDescription } from '../threat/brute-force-guard';
import {
  ComplianceReport,
  type ComplianceReportOptions,
  type ComplianceReportResult,
} from './compliance-report';
import type { Framework } from './control';
import {
  verificationEvidence,
  type AuditEvidence,
  type AuditVerificationEvidence,
  type AuditWriteHealth,
  type AuthzEvidence,
  type BreachEvidence,
  type ConsentEvidence,
  type DataRetentionEvidence,
  type DsrEvidence,
  type Evidence,
  type EvidenceBundle,
  type EvidenceSourceName,
  type HttpAppEvidence,
  type ProcessingEvidence,
  type ProcessorEvidence,
} from './evidence';
import { adaptPrivacySource, type PrivacySource } from './privacy-evidence';
import { configError, invalid, isPlainObject } from '../util/options';

type Awaitable<T> = T | Promise<T>;

// Structural views of the engines: exactly what the evidence collector reads, so a kit can be
// fed the real services (KeyRing, AuditLog, ...) or, in tests, anything with the same surface.
export interface ClassificationSource {
  list(): readonly ClassifiedField[];
}
export interface KeyRingSource {
  list(): readonly KeyInfo[];
}
export interface PasswordHasherSource {
  readonly params: PasswordHashParams;
}
/** What an audit log says about its own protection (`AuditLog.describe()`); never key material. */
export interface AuditLogDescription {
  readonly hmac: boolean;
  readonly signer: boolean;
  readonly checkpointStore: boolean;
  readonly logId?: string;
  readonly sinks: number;
  /** Append successes and failures since the log was opened. */
  readonly writes?: AuditWriteHealth;
}
export interface AuditLogSource {
  readonly size: number;
  verify(): Promise<AuditVerificationReport>;
  query(filter?: AuditQuery): Promise<AuditPage>;
  readonly retention: {
    periodDays(category: string): number | undefined;
    /** Every configured category's period (null: kept forever), when the policy can list them. */
    periods?(): Readonly<Record<string, number | null>>;
  };
  /** Self-description; preferred over probing a stored leaf hash for the HMAC question. */
  describe?(): AuditLogDescription;
}
export interface MfaPolicySource {
  describe(): MfaPolicyDescription;
  evaluate(subjectRoles: readonly string[], context: object | null | undefined): MfaPolicyDecision;
}
export interface PolicyEngineSource {
  explain(subject: AuthzSubject, action: string, resource: AuthzResource): { readonly decision: Decision };
  listBreakGlass(filter?: { active?: boolean }): BreakGlassGrant[] | Promise<BreakGlassGrant[]>;
}
export interface BruteForceGuardSource {
  describe(): BruteForceGuardDescription;
}
export interface ThreatDetectorSource {
  listenerCount(event: string): number;
  /** Optional self-description (rule names, whether an audit log is attached). */
  describe?(): { rules?: readonly string[]; auditLogAttached?: boolean };
}

/** The live services a kit reads. Register what the deployment has; missing ones fail their checks. */
export interface ComplianceServices {
  classification?: ClassificationSource;
  keyRing?: KeyRingSource;
  passwordHasher?: PasswordHasherSource;
  auditLog?: AuditLogSource;
  mfaPolicy?: MfaPolicySource;
  policyEngine?: PolicyEngineSource;
  bruteForceGuard?: BruteForceGuardSource;
  threatDetector?: ThreatDetectorSource;
  consent?: PrivacySource<ConsentEvidence>;
  dsr?: PrivacySource<DsrEvidence>;
  processors?: PrivacySource<ProcessorEvidence>;
  breaches?: PrivacySource<BreachEvidence>;
  processing?: PrivacySource<ProcessingEvidence>;
  dataRetention?: PrivacySource<DataRetentionEvidence>;
}

export type HttpAppRegistration = HttpAppEvidence | (() => Awaitable<HttpAppEvidence>);

export interface ComplianceKitOptions {
  /** Roles that count as privileged (MFA must cover them). Default `['admin']`. */
  privilegedRoles?: readonly string[];
  /**
   * Set `false` only when the deployment serves no HTTP at all: the header and CSRF controls are
   * then not applicable. Default `true`: with no app registered they fail.
   */
  httpSurface?: boolean;
  /** Audit categories whose retention is checked. Default `['default', 'audit', 'security']`. */
  auditCategories?: readonly string[];
  clock?: () => Date;
  /** Config path used in error messages. Default `compliance` (createBulwark's section). */
  configPath?: string;
}

const SERVICE_NAMES: readonly (keyof ComplianceServices)[] = [
  'classification',
  'keyRing',
  'passwordHasher',
  'auditLog',
  'mfaPolicy',
  'policyEngine',
  'bruteForceGuard',
  'threatDetector',
  'consent',
  'dsr',
  'processors',
  'breaches',
  'processing',
  'dataRetention',
];

const PROBE_SUBJECT: AuthzSubject = Object.freeze({ id: 'bulwark-compliance-probe', roles: [] });
const PROBE_ACTION = 'bulwark.compliance.probe';
const PROBE_RESOURCE: AuthzResource = Object.freeze({ type: 'bulwark-compliance-probe', id: 'probe' });
const BREAK_GLASS_GRANTED = 'authz.break_glass.granted';

function stringList(value: unknown, path: string, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw configError(path, 'must be an array of non-empty strings');
  }
  return Object.freeze([...value]);
}

/** Error text safe for a report: the message of a BulwarkError or Error, truncated. */
function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 300 ? `${message.slice(0, 300)}...` : message;
}

/**
 * The registry of live services a compliance report reads. The app (or `createBulwark`)
 * registers what it runs; `collectEvidence()` reads each at report time, so every automated
 * control is decided on what the running system does, not on what someone says it does.
 */
export class ComplianceKit {
  private readonly services: ComplianceServices = {};
  private readonly httpApps: HttpAppRegistration[] = [];
  private readonly privilegedRoles: readonly string[];
  private readonly httpSurface: boolean;
  private readonly auditCategories: readonly string[];
  private readonly clock: () => Date;
  private lastVerification?: AuditVerificationEvidence;
  readonly #configPath: string;

  constructor(options: ComplianceKitOptions = {}) {
    const path =
      isPlainObject(options) && typeof options.configPath === 'string' ? options.configPath : 'compliance';
    if (!isPlainObject(options)) throw invalid(path, 'an object', options);
    this.#configPath = path;
    this.privilegedRoles = stringList(options.privilegedRoles, `${path}.privilegedRoles`, ['admin']);
    this.auditCategories = stringList(options.auditCategories, `${path}.auditCategories`, [
      'default',
      'audit',
      'security',
    ]);
    if (options.httpSurface !== undefined && typeof options.httpSurface !== 'boolean') {
      throw this.#error('httpSurface', 'must be a boolean');
    }
    this.httpSurface = options.httpSurface ?? true;
    if (options.clock !== undefined && typeof options.clock !== 'function') {
      throw this.#error('clock', 'must be a function returning a Date');
    }
    this.clock = (options.clock as (() => Date) | undefined) ?? (() => new Date());
  }

  #error(path: string, message: string): BulwarkConfigError {
    return configError(`${this.#configPath}.${path}`, message);
  }

  /** Registers live services (replacing earlier registrations of the same name). */
  register(services: ComplianceServices): this {
    if (services === null || typeof services !== 'object') throw this.#error('services', 'must be an object');
    for (const [name, service] of Object.entries(services)) {
      if (!SERVICE_NAMES.includes(name as keyof ComplianceServices)) {
        throw this.#error(`services.${name}`, `is not a known service (${SERVICE_NAMES.join(', ')})`);
      }
      if (service === undefined) continue;
      if (service === null || (typeof service !== 'object' && typeof service !== 'function')) {
        throw this.#error(`services.${name}`, 'must be a service object');
      }
      (this.services as Record<string, unknown>)[name] = service;
    }
    return this;
  }

  /** Registers an HTTP app's evidence (adapters call this; a function is read at report time). */
  registerHttpApp(app: HttpAppRegistration): this {
    if (typeof app !== 'function') checkHttpApp(app, `${this.#configPath}.httpApps`);
    this.httpApps.push(app);
    return this;
  }

  /**
   * Records the result of an audit verification run elsewhere (e.g. a scheduled job). Pass
   * `trustedHeads: 1` for a report from `AuditLog.verify()` with default options on a non-empty
   * log: it counts the log's in-memory root as a verified head, which is not a signed checkpoint.
   */
  recordAuditVerification(
    report: AuditVerificationReport,
    at: Date = this.clock(),
    options: { trustedHeads?: number } = {},
  ): void {
    if (report === null || typeof report !== 'object' || typeof report.ok !== 'boolean') {
      throw this.#error('auditVerification', 'must be an AuditVerificationReport');
    }
    if (!(at instanceof Date) || Number.isNaN(at.getTime()))
      throw this.#error('auditVerification.at', 'must be a valid Date');
    const trusted = options.trustedHeads ?? 0;
    if (!Number.isInteger(trusted) || trusted < 0)
      throw this.#error('auditVerification.trustedHeads', 'must be a non-negative integer');
    const evidence = verificationEvidence(report, at, trusted);
    // Keep the most recent run: an older success must not hide a newer failure.
    if (this.lastVerification === undefined || evidence.at >= this.lastVerification.at) {
      this.lastVerification = evidence;
    }
  }

  /** Verifies the registered audit log now and records the result. */
  async verifyAuditLog(): Promise<AuditVerificationReport> {
    const log = this.services.auditLog;
    if (log === undefined) throw this.#error('services.auditLog', 'is not registered');
    const at = this.clock();
    const report = await log.verify();
    // AuditLog.verify() adds the root it holds in memory as one trusted (unsigned) head when non-empty.
    this.recordAuditVerification(report, at, { trustedHeads: log.size > 0 ? 1 : 0 });
    return report;
  }

  /**
   * Collects evidence now and evaluates the control catalogue for one framework (or all): a
   * shortcut for `new ComplianceReport(kit, options).run(framework)`.
   */
  async report(
    framework: Framework | 'all' = 'all',
    options: ComplianceReportOptions = {},
  ): Promise<ComplianceReportResult> {
    return new ComplianceReport(this, options).run(framework);
  }

  /** Reads every registered service. Never throws for a failing source: its error is recorded. */
  async collectEvidence(): Promise<EvidenceBundle> {
    const now = this.clock();
    const errors: Partial<Record<EvidenceSourceName, string>> = {};
    const bundle: { -readonly [K in keyof EvidenceBundle]?: EvidenceBundle[K] } = {
      collectedAt: now.toISOString(),
      settings: Object.freeze({ privilegedRoles: this.privilegedRoles, httpSurface: this.httpSurface }),
    };
    const read = async <K extends EvidenceSourceName>(
      name: K,
      source: string,
      present: boolean,
      reader: () => Promise<unknown>,
    ): Promise<void> => {
      if (!present) return;
      try {
        const data = await reader();
        (bundle as Record<string, unknown>)[name] = Object.freeze({
          source,
          observedAt: this.clock().toISOString(),
          data,
        } satisfies Evidence);
      } catch (err) {
        errors[name] = `${source} could not be read: ${describeError(err)}`;
      }
    };
    const s = this.services;
    await read('classification', 'ClassificationRegistry', s.classification !== undefined, async () => ({
      fields: s.classification!.list().map((f) => ({
        entity: f.entity,
        field: f.field,
        category: f.category,
        encrypted: f.encrypted === true,
        ...(f.purpose === undefined ? {} : { purpose: f.purpose }),
      })),
    }));
    await read('keys', 'KeyRing', s.keyRing !== undefined, async () => ({
      keys: s.keyRing!.list().map((k) => ({
        keyId: k.keyId,
        primaryVersion: k.primaryVersion,
        primaryCreatedAt: k.versions.find((v) => v.version === k.primaryVersion)?.createdAt ?? k.rotatedAt,
        versions: k.versions.map((v) => ({
          version: v.version,
          algorithm: v.algorithm,
          createdAt: v.createdAt,
          state: v.state,
        })),
      })),
    }));
    await read('passwords', 'PasswordHasher', s.passwordHasher !== undefined, async () => {
      const p = s.passwordHasher!.params;
      return {
        algorithm: p.algorithm,
        memoryCost: p.memoryCost,
        timeCost: p.timeCost,
        parallelism: p.parallelism,
        hashLength: p.hashLength,
        peppered: p.peppered,
        meetsOwaspMinimum: p.meetsOwaspMinimum === true,
      };
    });
    await read('audit', 'AuditLog', s.auditLog !== undefined, () => this.readAudit(s.auditLog!));
    await read('mfa', 'MfaPolicy', s.mfaPolicy !== undefined, async () => {
      const d = s.mfaPolicy!.describe();
      return {
        requiredFor: [...d.requiredFor],
        allSubjects: d.allSubjects,
        maxAgeSec: d.maxAgeSec,
        methods: [...d.methods],
        // Behaviour, not just configuration: ask the policy about a privileged user with no factor.
        probes: this.privilegedRoles.map((role) => {
          const decision = s.mfaPolicy!.evaluate([role], {});
          return { role, required: decision.required, satisfied: decision.satisfied };
        }),
      };
    });
    await read('authz', 'PolicyEngine', s.policyEngine !== undefined, () =>
      this.readAuthz(s.policyEngine!, s.auditLog),
    );
    await read('bruteForce', 'BruteForceGuard', s.bruteForceGuard !== undefined, async () => {
      const d = s.bruteForceGuard!.describe();
      return {
        store: d.store,
        limits: { ...d.limits },
        lockout: d.lockout,
        backoffFactor: d.backoffFactor,
        strikeWindowSec: d.strikeWindowSec,
      };
    });
    await read('threatDetection', 'ThreatDetector', s.threatDetector !== undefined, async () => {
      const t = s.threatDetector!;
      const described = typeof t.describe === 'function' ? t.describe() : undefined;
      return {
        violationListeners: t.listenerCount('violation'),
        ...(described?.rules ? { rules: [...described.rules] } : {}),
        ...(typeof described?.auditLogAttached === 'boolean'
          ? { auditLogAttached: described.auditLogAttached }
          : {}),
      };
    });
    await read('http', 'HttpApps', this.httpApps.length > 0, async () => {
      const apps: HttpAppEvidence[] = [];
      for (const [i, reg] of this.httpApps.entries()) {
        const app = typeof reg === 'function' ? await reg() : reg;
        checkHttpApp(app, `${this.#configPath}.httpApps[${i}]`);
        apps.push({
          name: app.name,
          securityHeaders: lowerCaseKeys(app.securityHeaders),
          csrf: {
            enabled: app.csrf.enabled === true,
            ...(app.csrf.method ? { method: app.csrf.method } : {}),
          },
          ...(app.observedBy ? { observedBy: app.observedBy } : {}),
        });
      }
      return { apps };
    });
    for (const name of ['consent', 'dsr', 'processors', 'breaches', 'processing', 'dataRetention'] as const) {
      const source = s[name];
      await read(name, privacySourceName(name), source !== undefined, () =>
        adaptPrivacySource(name, source as PrivacySource<unknown>, now),
      );
    }
    bundle.errors = Object.freeze(errors);
    return Object.freeze(bundle) as EvidenceBundle;
  }

  private async readAudit(log: AuditLogSource): Promise<AuditEvidence> {
    const described = typeof log.describe === 'function' ? log.describe() : undefined;
    let hmac: AuditEvidence['hmac'] = 'unknown';
    let hmacSource: AuditEvidence['hmacSource'];
    if (described !== undefined && typeof described.hmac === 'boolean') {
      // The log knows whether it holds a key; that beats inferring it from one stored entry
      // (which needs an unredacted entry to exist at all).
      hmac = described.hmac ? 'keyed' : 'unkeyed';
      hmacSource = 'configuration';
    } else {
      const page = await log.query({ includeRedacted: false, limit: 1, order: 'desc' });
      const entry: AuditEntry | undefined = page.entries[0];
      if (entry !== undefined && entry.redacted === undefined) {
        // A leaf hash an unkeyed hasher reproduces proves there is no HMAC key; one it cannot
        // reproduce means a key (verification, which uses the log's key, tells tamper apart).
        hmac = new EntryHasher().matches(entry) ? 'unkeyed' : 'keyed';
        hmacSource = 'probe';
      }
    }
    // The categories checked: the configured ones (e.g. `default`, `audit`, `security`) plus every
    // category the retention policy sets a period for, so a short period set anywhere is seen.
    const configured =
      typeof log.retention.periods === 'function' ? Object.keys(log.retention.periods()).sort() : [];
    const categories = [...new Set([...this.auditCategories, ...configured])];
    return {
      size: log.size,
      hmac,
      ...(hmacSource === undefined ? {} : { hmacSource }),
      ...(described === undefined
        ? {}
        : {
            configuration: {
              hmac: described.hmac === true,
              signer: described.signer === true,
              checkpointStore: described.checkpointStore === true,
              sinks: typeof described.sinks === 'number' ? described.sinks : 0,
              ...(typeof described.logId === 'string' ? { logId: described.logId } : {}),
            },
          }),
      retention: categories.map((category) => ({
        category,
        days: log.retention.periodDays(category) ?? null,
      })),
      ...(this.lastVerification ? { lastVerification: { ...this.lastVerification } } : {}),
    };
  }

  private async readAuthz(
    engine: PolicyEngineSource,
    log: AuditLogSource | undefined,
  ): Promise<AuthzEvidence> {
    const { decision } = engine.explain(PROBE_SUBJECT, PROBE_ACTION, PROBE_RESOURCE);
    const grants = await engine.listBreakGlass();
    let recorded: Set<string> | undefined;
    if (log !== undefined && grants.length > 0) {
      recorded = new Set();
      let cursor: string | undefined;
      do {
        const page = await log.query({
          action: BREAK_GLASS_GRANTED,
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        for (const e of page.entries) {
          const id = e.details?.grantId;
          if (typeof id === 'string') recorded.add(id);
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    }
    return {
      probe: { allowed: decision.allowed, effect: decision.effect, reasonId: decision.reasonId },
      breakGlass: grants.map((g) => ({
        id: g.id,
        active: g.active,
        grantedAt: g.grantedAt,
        expiresAt: g.expiresAt,
        hasReason: typeof g.reason === 'string' && g.reason.trim() !== '',
        auditRecorded: recorded === undefined ? null : recorded.has(g.id),
      })),
    };
  }
}

function privacySourceName(name: string): string {
  return {
    consent: 'ConsentManager',
    dsr: 'DataSubjectRequests',
    processors: 'ProcessorRegister',
    breaches: 'BreachRegister',
    processing: 'ProcessingRegister',
    dataRetention: 'DataRetention',
  }[name] as string;
}

function checkHttpApp(app: unknown, path: string): asserts app is HttpAppEvidence {
  const a = app as HttpAppEvidence | null;
  if (a === null || typeof a !== 'object') throw configError(path, 'must be { name, securityHeaders, csrf }');
  if (typeof a.name !== 'string' || a.name === '')
    throw configError(`${path}.name`, 'must be a non-empty string');
  if (a.securityHeaders === null || typeof a.securityHeaders !== 'object')
    throw configError(`${path}.securityHeaders`, 'must be an object of header name to value');
  for (const [k, v] of Object.entries(a.securityHeaders)) {
    if (typeof v !== 'string') throw configError(`${path}.securityHeaders.${k}`, 'must be a string');
  }
  if (a.csrf === null || typeof a.csrf !== 'object' || typeof a.csrf.enabled !== 'boolean')
    throw configError(`${path}.csrf.enabled`, 'must be a boolean');
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
