import type { AuditEntry } from '../audit/audit-event';
import type { AuditPage, AuditQuery } from '../audit/audit-store';
import { AUDIT_REVIEW_ACTION } from '../audit/audit-log';
import { EntryHasher } from '../audit/entry-hasher';
import { genuineVerification, type AuditVerificationReport } from '../audit/verify-audit-log';
import type { BreakGlassGrant } from '../authz/break-glass-registry';
import type { AuthzResource, AuthzSubject, Decision } from '../authz/authorizer';
import type { PolicyDocument } from '../authz/policy-document';
import type { KeyInfo } from '../crypto/key-ring';
import type { PasswordHashParams } from '../crypto/password-hasher';
import type { PasswordPolicyDescription } from '../crypto/password-policy';
import type { SessionEngineDescription, SessionProbe } from '../session/session-engine';
import type { BulwarkConfigError } from '../errors';
import type { MfaPolicyDecision, MfaPolicyDescription } from '../mfa/mfa-policy';
import type { ClassifiedField } from '../privacy/classification-registry';
import type { BruteForceGuardDescription, BruteForceGuardStats } from '../threat/brute-force-guard';
import { isObservedHttpEvidence } from '../http/http-app-evidence';
import {
  ComplianceReport,
  type ComplianceReportOptions,
  type ComplianceReportResult,
} from './compliance-report';
import type { Framework } from './control';
import {
  verificationEvidence,
  type AuditEvidence,
  type AuditReviewEvidence,
  type AuditVerificationEvidence,
  type AuditWriteHealth,
  type TlsTerminatorDeclaration,
  type AuthzEvidence,
  type BreachEvidence,
  type ConsentEvidence,
  type DataRetentionEvidence,
  type DsrEvidence,
  type Evidence,
  type EvidenceBundle,
  type EvidenceProvenance,
  type EvidenceSourceName,
  type HttpAppEvidence,
  type SignInMethodEvidence,
  type ProcessingEvidence,
  type ProcessorEvidence,
  type ThreatDetectionEvidence,
} from './evidence';
import { adaptPrivacySource, type PrivacySource } from './privacy-evidence';
import {
  buildAttestation,
  checkAttestation,
  FileAttestationStore,
  MemoryAttestationStore,
  signAttestation,
  type AttestationInput,
  type AttestationStore,
  type AttestationView,
} from './attestation';
import { ComplianceSigner, type CompliancePublicKey } from './compliance-signing';
import { builtInCatalogue } from './compliance-report';
import type { ControlCatalogue } from './control-catalogue';
import { signEvidenceSnapshot, type SignedEvidenceSnapshot } from './snapshot';
import type { JWK } from 'jose';
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
  /** The policy `hash()` enforces (PasswordHasher's `policy`), when one is configured. */
  readonly policy?: PasswordPolicySource;
}
export interface PasswordPolicySource {
  describe(): PasswordPolicyDescription;
  evaluate(password: string, context?: { hasMfa?: boolean }): { readonly ok: boolean };
}
/** A TokenService: its algorithms and the legacy opt-ins it has in use. */
export interface TokenServiceSource {
  readonly algorithms: readonly string[];
  readonly signingAlgorithm?: { alg: string } | undefined;
  readonly legacyInUse: readonly string[];
}
/** A SessionEngine: its configuration and a live probe of its time-outs. */
export interface SessionEngineSource {
  describe(): SessionEngineDescription;
  probe(): Promise<SessionProbe>;
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
  /** The loaded policy (`PolicyEngine.policy`): rules are counted and a grant probe derived from it. */
  readonly policy?: PolicyDocument;
  /** The break-glass grant path (`PolicyEngine.grantBreakGlass`). */
  grantBreakGlass?: unknown;
}

/** A request the policy is known to grant: default deny is only meaningful for a policy that grants. */
export interface GrantProbe {
  subject: AuthzSubject;
  action: string;
  resource: AuthzResource;
}
export interface BruteForceGuardSource {
  describe(): BruteForceGuardDescription;
  /** Store health (Redis failures, local-fallback decisions), when the guard reports it. */
  stats?(): BruteForceGuardStats;
}
export interface ThreatDetectorSource {
  listenerCount(event: string): number;
  /** Optional self-description (rule names, whether an audit log is attached). */
  describe?(): { rules?: readonly string[]; auditLogAttached?: boolean };
}

/** An alert router (`AlertRouter`): its channels, last delivery and whether integrity alarms are wired. */
export interface AlertRouterSource {
  describe(): {
    readonly channels: readonly { readonly name: string; readonly kind: string }[];
    readonly lastDelivery?: { readonly at: string; readonly test: boolean };
    readonly integrityAlarms: boolean;
  };
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
  alertRouter?: AlertRouterSource;
  consent?: PrivacySource<ConsentEvidence>;
  dsr?: PrivacySource<DsrEvidence>;
  processors?: PrivacySource<ProcessorEvidence>;
  breaches?: PrivacySource<BreachEvidence>;
  processing?: PrivacySource<ProcessingEvidence>;
  dataRetention?: PrivacySource<DataRetentionEvidence>;
  sessions?: SessionEngineSource;
  tokens?: TokenServiceSource;
}

/** A configured sign-in method (an OidcRelyingParty, a SAML service provider, an LDAP authenticator). */
export interface SignInMethodSource {
  describe(): SignInMethodEvidence;
}

/**
 * An HTTP app: best the adapter's bundle itself (or `() => bundle.evidence()`), whose evidence is
 * observed on real traffic; a literal `HttpAppEvidence` is accepted but `declared`.
 */
export type HttpAppRegistration =
  HttpAppEvidence | (() => Awaitable<HttpAppEvidence>) | { evidence(): Awaitable<HttpAppEvidence> };

export interface ComplianceKitOptions {
  /** Roles that count as privileged (MFA must cover them). Default `['admin']`. */
  privilegedRoles?: readonly string[];
  /**
   * Set `false` only when the deployment serves no HTTP at all: the header and CSRF controls are
   * then not applicable. Default `true`: with no app registered they fail.
   */
  httpSurface?: boolean;
  /**
   * The TLS terminator in front of the apps when TLS does not end in Node (a reverse proxy or load
   * balancer setting X-Forwarded-Proto). Declared, not observed: with it, HTTPS reported by a
   * trusted proxy is a *partial* pass of transport security; without it, not demonstrated.
   */
  tlsTerminator?: TlsTerminatorDeclaration;
  /** Audit categories whose retention is checked. Default `['default', 'audit', 'security']`. */
  auditCategories?: readonly string[];
  clock?: () => Date;
  /**
   * A request the registered policy must grant (\`authz.default-deny\` needs a policy that grants
   * something). Default: derived from the policy's first unconditional allow rule.
   */
  grantProbe?: GrantProbe;
  /** Config path used in error messages. Default `compliance` (createBulwark's section). */
  configPath?: string;
  /** The controls `attest()` accepts (manual ones only) and reports assess by default. Default: the built-in catalogue. */
  catalogue?: ControlCatalogue;
  /** Human attestations of manual controls (`attest()`). */
  attestations?: {
    /**
     * Where they are kept: an AttestationStore, or `{ file }` for a FileAttestationStore (append-only
     * JSON lines, 0600). Default: in memory (lost on restart).
     */
    store?: AttestationStore | { file: string };
    /** Signs each new attestation (a ComplianceSigner of purpose `attestation`). */
    signer?: ComplianceSigner;
    /** Verifies stored signatures when no signer is given (the signer's public key otherwise). */
    publicKey?: CompliancePublicKey;
  };
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
  'alertRouter',
  'consent',
  'dsr',
  'processors',
  'breaches',
  'processing',
  'dataRetention',
  'sessions',
  'tokens',
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
  private readonly signInMethods: SignInMethodSource[] = [];
  private readonly privilegedRoles: readonly string[];
  private readonly httpSurface: boolean;
  private readonly tlsTerminator?: TlsTerminatorDeclaration;
  private readonly auditCategories: readonly string[];
  private readonly clock: () => Date;
  private readonly grantProbe?: GrantProbe;
  private lastVerification?: AuditVerificationEvidence;
  readonly #configPath: string;
  readonly #catalogue?: ControlCatalogue;
  readonly #attestationStore: AttestationStore;
  readonly #attestationSigner?: ComplianceSigner;
  readonly #attestationKey?: CompliancePublicKey;

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
    if (options.tlsTerminator !== undefined) {
      const t = options.tlsTerminator as Partial<TlsTerminatorDeclaration> | null;
      if (!isPlainObject(t)) throw invalid(`${path}.tlsTerminator`, 'an object { name, minVersion }', t);
      if (typeof t.name !== 'string' || t.name.trim() === '' || t.name.length > 200)
        throw this.#error('tlsTerminator.name', 'must be a non-empty string of at most 200 characters');
      if (t.minVersion !== 'TLSv1.2' && t.minVersion !== 'TLSv1.3')
        throw this.#error('tlsTerminator.minVersion', "must be 'TLSv1.2' or 'TLSv1.3'");
      this.tlsTerminator = Object.freeze({ name: t.name, minVersion: t.minVersion });
    }
    if (options.clock !== undefined && typeof options.clock !== 'function') {
      throw this.#error('clock', 'must be a function returning a Date');
    }
    this.clock = (options.clock as (() => Date) | undefined) ?? (() => new Date());
    if (options.grantProbe !== undefined)
      this.grantProbe = checkGrantProbe(options.grantProbe, `${path}.grantProbe`);
    const opts = options as ComplianceKitOptions;
    if (opts.catalogue !== undefined) {
      if (opts.catalogue === null || typeof (opts.catalogue as Partial<ControlCatalogue>).get !== 'function')
        throw this.#error('catalogue', 'must be a ControlCatalogue');
      this.#catalogue = opts.catalogue;
    }
    const a = opts.attestations;
    if (a !== undefined && (a === null || typeof a !== 'object' || Array.isArray(a)))
      throw invalid(`${path}.attestations`, 'an object', a);
    for (const key of Object.keys(a ?? {})) {
      // A misspelt `signer` must not leave attestations silently unsigned.
      if (!['store', 'signer', 'publicKey'].includes(key))
        throw this.#error(`attestations.${key}`, 'is not a known option (store, signer, publicKey)');
    }
    const given = a?.store as Partial<AttestationStore> | { file?: unknown } | null | undefined;
    let store = given as Partial<AttestationStore> | null | undefined;
    if (isPlainObject(given) && 'file' in given && !('append' in given)) {
      if (typeof given.file !== 'string' || given.file === '')
        throw this.#error('attestations.store.file', 'must be a non-empty path');
      store = new FileAttestationStore(given.file);
    }
    if (store !== undefined) {
      if (
        store === null ||
        typeof store !== 'object' ||
        typeof store.append !== 'function' ||
        typeof store.list !== 'function'
      )
        throw this.#error('attestations.store', 'must be an AttestationStore (append, list)');
    }
    if (
      a?.signer !== undefined &&
      !(a.signer instanceof ComplianceSigner && a.signer.purpose === 'attestation')
    )
      throw this.#error('attestations.signer', 'must be a ComplianceSigner of purpose "attestation"');
    this.#attestationStore = (store as AttestationStore | undefined) ?? new MemoryAttestationStore();
    this.#attestationSigner = a?.signer;
    this.#attestationKey = a?.signer?.publicKey ?? a?.publicKey;
  }

  /** The control catalogue of this kit (option `catalogue`, default the built-in one): what `attest()` accepts and what reports assess by default. */
  get catalogue(): ControlCatalogue {
    return this.#catalogue ?? builtInCatalogue();
  }

  /**
   * Records a person's attestation that a manual control is in place (signed when an attestation
   * signer is configured). An unknown control id, an automated control or a malformed attestation
   * is a BulwarkConfigError. Attested controls show as `attested` (never `pass`) until `expiresAt`.
   */
  async attest(controlId: string, attestation: AttestationInput): Promise<AttestationView> {
    let record = buildAttestation(
      this.catalogue,
      controlId,
      attestation,
      this.clock(),
      `${this.#configPath}.attest`,
    );
    if (this.#attestationSigner !== undefined)
      record = await signAttestation(record, this.#attestationSigner);
    await this.#attestationStore.append(record);
    return checkAttestation(record, this.#attestationKey);
  }

  /** Every stored attestation, oldest first, with its signature checked against the attestation key. */
  async attestations(): Promise<AttestationView[]> {
    const records = await this.#attestationStore.list();
    return Promise.all(records.map((r) => checkAttestation(r, this.#attestationKey)));
  }

  /**
   * Collects evidence now and signs it with the operator's Ed25519 key, with the attestations:
   * the document `bulwark report --config snapshot.json --public-key FILE` accepts. `privateKey`
   * is a private Ed25519 JWK (e.g. from `bulwark evidence keygen`) or a ComplianceSigner of purpose
   * `snapshot`; `keyId` names the key in the JWS header.
   */
  async snapshot(options: {
    privateKey: JWK | ComplianceSigner;
    keyId?: string;
  }): Promise<SignedEvidenceSnapshot> {
    if (!isPlainObject(options)) throw invalid(`${this.#configPath}.snapshot`, 'an object', options);
    const key = options.privateKey;
    const signer =
      key instanceof ComplianceSigner
        ? key
        : await ComplianceSigner.fromJWK('snapshot', key, {
            ...(options.keyId === undefined ? {} : { kid: options.keyId }),
            path: `${this.#configPath}.snapshot.privateKey`,
          });
    if (signer.purpose !== 'snapshot')
      throw this.#error(
        'snapshot.privateKey',
        'must be a snapshot key (ComplianceSigner of purpose "snapshot")',
      );
    const bundle = await this.collectEvidence();
    return signEvidenceSnapshot(bundle, await this.attestations(), signer, this.clock());
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

  /**
   * Registers an HTTP app, read at report time: the adapter's bundle (`kit.registerHttpApp(bw)`)
   * or a function returning `bw.evidence()` gives evidence observed on the app's real traffic. A
   * literal object (or anything the bundle's recorder did not produce) is kept as `declared`
   * evidence, which passes no control about behaviour.
   */
  registerHttpApp(app: HttpAppRegistration): this {
    if (typeof app !== 'function' && !hasEvidenceMethod(app))
      checkHttpApp(app, `${this.#configPath}.httpApps`);
    this.httpApps.push(app);
    return this;
  }

  /**
   * Registers a sign-in method, described at report time (`kit.registerSignIn(oidcRelyingParty)`):
   * the report then says which methods are configured and how (issuer, PKCE, brute-force guard).
   */
  registerSignIn(method: SignInMethodSource): this {
    if (typeof method?.describe !== 'function') {
      throw this.#error('signIn', 'must be a sign-in method with describe() (an OidcRelyingParty...)');
    }
    this.signInMethods.push(method);
    return this;
  }

  /**
   * Records the result of an audit verification run elsewhere (e.g. a scheduled job). Only a
   * report object that \`AuditLog.verify()\` / \`verifyAuditLog()\` itself returned is accepted, with
   * the values it had when returned: a hand-made or edited object is refused
   * (\`ERR_CONFIG_INVALID\`), so a control can never rest on a fabricated verification.
   */
  recordAuditVerification(report: AuditVerificationReport, at: Date = this.clock()): void {
    const genuine = genuineVerification(report);
    if (genuine === undefined) {
      throw this.#error(
        'auditVerification',
        'must be the report object AuditLog.verify() or verifyAuditLog() returned (use kit.verifyAuditLog())',
      );
    }
    if (!(at instanceof Date) || Number.isNaN(at.getTime()))
      throw this.#error('auditVerification.at', 'must be a valid Date');
    const evidence = verificationEvidence(genuine, at);
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
    this.recordAuditVerification(report, at);
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
      settings: Object.freeze({
        privilegedRoles: this.privilegedRoles,
        httpSurface: this.httpSurface,
        ...(this.tlsTerminator === undefined ? {} : { tlsTerminator: this.tlsTerminator }),
      }),
    };
    const read = async <K extends EvidenceSourceName>(
      name: K,
      source: string,
      present: boolean,
      reader: () => Promise<unknown>,
      provenance: EvidenceProvenance | ((data: unknown) => EvidenceProvenance) = 'live',
    ): Promise<void> => {
      if (!present) return;
      try {
        const data = await reader();
        (bundle as Record<string, unknown>)[name] = Object.freeze({
          source,
          provenance: typeof provenance === 'function' ? provenance(data) : provenance,
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
        ...(f.blindIndexed === true ? { blindIndexed: true } : {}),
        ...(f.purpose === undefined ? {} : { purpose: f.purpose }),
        ...(f.plaintextReads === undefined ? {} : { plaintextReads: f.plaintextReads }),
      })),
    }));
    await read('keys', 'KeyRing', s.keyRing !== undefined, async () => ({
      keys: s.keyRing!.list().map((k) => ({
        keyId: k.keyId,
        primaryVersion: k.primaryVersion,
        primaryCreatedAt: k.versions.find((v) => v.version === k.primaryVersion)?.createdAt ?? k.rotatedAt,
        rotateEvery: k.rotateEvery,
        ...optionalExpiry(k.versions.find((v) => v.version === k.primaryVersion)?.expiresAt),
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
    const policy = s.passwordHasher?.policy;
    await read('passwordPolicy', 'PasswordPolicy', policy !== undefined, async () => {
      const d = policy!.describe();
      return {
        minLength: d.minLength,
        minLengthWithMfa: d.minLengthWithMfa,
        maxLength: d.maxLength,
        normalization: d.normalization,
        compositionRules: d.compositionRules,
        blocklistSource: d.blocklist.source,
        blocklistEntries: d.blocklist.entries,
        minScore: d.minScore,
        historySize: d.historySize,
        // Behaviour, not just configuration: the policy's answers to three passwords.
        probes: {
          commonRefused: !policy!.evaluate('password123', { hasMfa: true }).ok,
          shortRefused: !policy!.evaluate('x7#Kq', { hasMfa: true }).ok,
          passphraseAccepted: policy!.evaluate('granite lullaby ferry quartz meadow').ok,
        },
      };
    });
    await read('tokens', 'TokenService', s.tokens !== undefined, async () => {
      const t = s.tokens!;
      return {
        algorithms: [...t.algorithms],
        ...(t.signingAlgorithm !== undefined ? { signingAlgorithm: t.signingAlgorithm.alg } : {}),
        legacy: [...t.legacyInUse],
      };
    });
    await read('sessions', 'SessionEngine', s.sessions !== undefined, async () => {
      const d = s.sessions!.describe();
      const probe = await s.sessions!.probe();
      return {
        idleTimeoutSec: d.idleTimeoutSec,
        absoluteTimeoutSec: d.absoluteTimeoutSec,
        store: d.store,
        cookie: { ...d.cookie },
        tokenBits: d.tokenBits,
        idsAtRest: d.idsAtRest,
        audited: d.audited,
        probe: { ...probe },
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
      const health = typeof s.bruteForceGuard!.stats === 'function' ? s.bruteForceGuard!.stats() : undefined;
      return {
        store: d.store,
        onStoreUnavailable: d.onStoreUnavailable,
        ...(health === undefined
          ? {}
          : { storeFailures: health.storeFailures, fallbackDecisions: health.fallbackDecisions }),
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
        ...(s.alertRouter !== undefined ? { alerting: alertingEvidence(s.alertRouter) } : {}),
      };
    });
    await read(
      'http',
      'HttpApps',
      this.httpApps.length > 0,
      async () => {
        const apps: HttpAppEvidence[] = [];
        for (const [i, reg] of this.httpApps.entries()) {
          const app =
            // A bundle is itself a middleware function: its evidence() comes first.
            hasEvidenceMethod(reg) ? await reg.evidence() : typeof reg === 'function' ? await reg() : reg;
          checkHttpApp(app, `${this.#configPath}.httpApps[${i}]`);
          // Observed only when the adapter's traffic recorder produced this very object.
          const observed = isObservedHttpEvidence(app);
          apps.push({
            name: app.name,
            securityHeaders: lowerCaseKeys(app.securityHeaders),
            csrf: {
              enabled: app.csrf.enabled === true,
              ...(app.csrf.method ? { method: app.csrf.method } : {}),
            },
            ...(app.observedBy ? { observedBy: app.observedBy } : {}),
            provenance: observed ? 'observed' : 'declared',
            ...(observed && app.traffic ? { traffic: app.traffic } : {}),
          });
        }
        return { apps };
      },
      // The envelope is as strong as its weakest app.
      (data) =>
        (data as { apps: HttpAppEvidence[] }).apps.every((a) => a.provenance === 'observed')
          ? 'observed'
          : 'declared',
    );
    await read('signIn', 'SignInMethods', this.signInMethods.length > 0, async () => ({
      // Each method says what it is; only plain facts are kept (no functions, no nested secrets).
      methods: this.signInMethods.map(
        (m) => JSON.parse(JSON.stringify(m.describe())) as SignInMethodEvidence,
      ),
    }));
    for (const name of ['consent', 'dsr', 'processors', 'breaches', 'processing', 'dataRetention'] as const) {
      const source = s[name];
      // A function registered in place of the service returns what someone says: declared.
      await read(
        name,
        privacySourceName(name),
        source !== undefined,
        () => adaptPrivacySource(name, source as PrivacySource<unknown>, now),
        typeof source === 'function' ? 'declared' : 'live',
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
    const review = await this.readLastReview(log);
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
      ...(described !== undefined && isWriteHealth(described.writes)
        ? {
            writes: {
              failed: described.writes.failed,
              succeeded: described.writes.succeeded,
              failing: described.writes.failing,
              ...(typeof described.writes.lastFailureAt === 'string'
                ? { lastFailureAt: described.writes.lastFailureAt }
                : {}),
              ...(typeof described.writes.lastFailureCode === 'string'
                ? { lastFailureCode: described.writes.lastFailureCode }
                : {}),
            },
          }
        : {}),
      retention: categories.map((category) => ({
        category,
        days: log.retention.periodDays(category) ?? null,
      })),
      ...(this.lastVerification ? { lastVerification: { ...this.lastVerification } } : {}),
      ...(review === undefined ? {} : { lastReview: review }),
    };
  }

  /** The latest `audit.log.reviewed` event (AuditLog.recordReview()), without the reviewer's id. */
  private async readLastReview(log: AuditLogSource): Promise<AuditReviewEvidence | undefined> {
    const page = await log.query({
      action: AUDIT_REVIEW_ACTION,
      order: 'desc',
      limit: 1,
      includeRedacted: false,
    });
    const e: AuditEntry | undefined = page.entries[0];
    // A custom log source that ignores the filter must not turn its latest entry into a review.
    if (e === undefined || e.action !== AUDIT_REVIEW_ACTION || e.actor === undefined) return undefined;
    const d = e.details ?? {};
    return {
      at: e.time,
      seq: e.seq,
      actorType: e.actor.type,
      ...(typeof d.from === 'string' ? { from: d.from } : {}),
      ...(typeof d.to === 'string' ? { to: d.to } : {}),
    };
  }

  /**
   * The configured grant probe, or one derived from the policy's unconditional allow rules (a
   * subject holding the rule's role, its first action and resource with wildcards filled in):
   * what the engine answers shows the policy grants something.
   */
  private readGrantProbe(
    engine: PolicyEngineSource,
    policy: PolicyDocument | undefined,
  ): AuthzEvidence['grantProbe'] {
    const ask = (probe: GrantProbe, source: 'configured' | 'derived') => {
      const { decision } = engine.explain(probe.subject, probe.action, probe.resource);
      return {
        source,
        action: probe.action,
        resourceType: probe.resource.type,
        allowed: decision.allowed,
        reasonId: decision.reasonId,
      };
    };
    if (this.grantProbe !== undefined) return ask(this.grantProbe, 'configured');
    if (policy === undefined || policy === null || !Array.isArray(policy.policies)) return undefined;
    let first: ReturnType<typeof ask> | undefined;
    let tried = 0;
    for (const p of policy.policies) {
      for (const r of p.rules) {
        if (r.effect !== 'allow' || r.when !== undefined || tried >= 32) continue;
        const action = typeof r.actions === 'string' ? r.actions : r.actions[0];
        const resource = typeof r.resources === 'string' ? r.resources : r.resources[0];
        if (action === undefined || resource === undefined) continue;
        tried++;
        const slash = resource.indexOf('/');
        const type = probeOf(slash === -1 ? resource : resource.slice(0, slash));
        const probe: GrantProbe = {
          subject: {
            id: 'bulwark-compliance-grant-probe',
            roles: r.roles.filter((x: string) => x !== '*').slice(0, 1),
          },
          action: probeOf(action),
          resource:
            slash === -1 ? { type, id: 'bulwark-probe' } : { type, id: probeOf(resource.slice(slash + 1)) },
        };
        const answer = ask(probe, 'derived');
        if (answer.allowed) return answer;
        first ??= answer;
      }
    }
    return first;
  }

  private async readAuthz(
    engine: PolicyEngineSource,
    log: AuditLogSource | undefined,
  ): Promise<AuthzEvidence> {
    const { decision } = engine.explain(PROBE_SUBJECT, PROBE_ACTION, PROBE_RESOURCE);
    const grants = await engine.listBreakGlass();
    let recorded: Set<string> | undefined;
    let audited: { count: number; lastAt?: string } | undefined;
    if (log !== undefined) {
      recorded = new Set();
      let count = 0;
      let lastAt: string | undefined;
      let cursor: string | undefined;
      do {
        const page = await log.query({
          action: BREAK_GLASS_GRANTED,
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        for (const e of page.entries) {
          count++;
          if (typeof e.time === 'string' && (lastAt === undefined || e.time > lastAt)) lastAt = e.time;
          const id = e.details?.grantId;
          if (typeof id === 'string') recorded.add(id);
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      audited = { count, ...(lastAt === undefined ? {} : { lastAt }) };
    }
    const policy = engine.policy;
    let rules: AuthzEvidence['rules'];
    if (policy !== undefined && policy !== null && Array.isArray(policy.policies)) {
      let allow = 0;
      let deny = 0;
      for (const p of policy.policies)
        for (const r of p.rules) {
          if (r.effect === 'allow') allow++;
          else deny++;
        }
      rules = { allow, deny };
    }
    const grantProbe = this.readGrantProbe(engine, policy);
    return {
      probe: { allowed: decision.allowed, effect: decision.effect, reasonId: decision.reasonId },
      ...(rules === undefined ? {} : { rules }),
      ...(grantProbe === undefined ? {} : { grantProbe }),
      breakGlassPath: typeof engine.grantBreakGlass === 'function',
      ...(audited === undefined ? {} : { breakGlassAudited: audited }),
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

function isWriteHealth(w: unknown): w is AuditWriteHealth {
  const h = w as AuditWriteHealth | null | undefined;
  return (
    typeof h === 'object' &&
    h !== null &&
    Number.isSafeInteger(h.failed) &&
    h.failed >= 0 &&
    Number.isSafeInteger(h.succeeded) &&
    h.succeeded >= 0 &&
    typeof h.failing === 'boolean'
  );
}

function hasEvidenceMethod(app: unknown): app is { evidence(): Awaitable<HttpAppEvidence> } {
  return (
    (typeof app === 'object' || typeof app === 'function') &&
    app !== null &&
    typeof (app as { evidence?: unknown }).evidence === 'function'
  );
}

function checkGrantProbe(probe: unknown, path: string): GrantProbe {
  const p = probe as GrantProbe | null;
  if (
    p === null ||
    typeof p !== 'object' ||
    typeof p.subject?.id !== 'string' ||
    !Array.isArray(p.subject.roles) ||
    typeof p.action !== 'string' ||
    p.action === '' ||
    typeof p.resource?.type !== 'string' ||
    p.resource.type === ''
  ) {
    throw configError(path, 'must be { subject: { id, roles }, action, resource: { type, id? } }');
  }
  return p;
}

/** `*` segments of a pattern filled with a probe value: a request the pattern matches. */
function probeOf(pattern: string): string {
  return pattern.replace(/\*/g, 'bulwark-probe');
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

/** `{ primaryExpiresAt }` when the primary has an expiry, else nothing (absent, not undefined). */
function optionalExpiry(expiresAt: string | undefined): { primaryExpiresAt?: string } {
  return expiresAt === undefined ? {} : { primaryExpiresAt: expiresAt };
}

function alertingEvidence(router: AlertRouterSource): NonNullable<ThreatDetectionEvidence['alerting']> {
  const d = router.describe();
  return {
    channels: d.channels.map((c) => `${c.kind}:${c.name}`),
    integrityAlarms: d.integrityAlarms,
    ...(d.lastDelivery !== undefined
      ? { lastDeliveryAt: d.lastDelivery.at, lastDeliveryTest: d.lastDelivery.test }
      : {}),
  };
}
