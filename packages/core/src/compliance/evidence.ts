import type { GenuineVerification } from '../audit/verify-audit-log';
import type { ClassificationCategory } from '../privacy/classification-registry';

/**
 * One piece of evidence: what was read, from which live service, and when. `data` is a
 * non-secret summary (counts, parameters, ids, timestamps): never key material, hashes of
 * secrets, tokens or personal data, because reports are shared with auditors.
 */
export interface Evidence<T = unknown> {
  /** The service read, e.g. `KeyRing`, `AuditLog.verify`, `HttpApp:api`. */
  readonly source: string;
  /**
   * How it was observed: `live` (read from a registered service in this process), `observed`
   * (seen on real traffic, e.g. headers the mounted middleware sent), `snapshot` (loaded from a
   * signed evidence file), `declared` (configuration or a literal someone passed in). Declared
   * evidence never passes a control about behaviour. Absent only in evidence from before 0.2.
   */
  readonly provenance?: EvidenceProvenance;
  /** UTC ISO 8601 time the data was observed. */
  readonly observedAt: string;
  readonly data: T;
}

export type EvidenceProvenance = 'live' | 'observed' | 'snapshot' | 'declared';

/** Failed audit writes since start (`AuditLog.describe().writes`): auditing must not stop silently. */
export interface AuditWriteHealth {
  /** Appends that failed since the log was opened. */
  readonly failed: number;
  /** Appends that succeeded since the log was opened. */
  readonly succeeded: number;
  /** True while the most recent append failed (auditing is currently not recording). */
  readonly failing: boolean;
  readonly lastFailureAt?: string;
  /** Non-secret error code of the last failure, e.g. `ERR_AUDIT_STORE_LOCKED`. */
  readonly lastFailureCode?: string;
}

// ---- data read from Bulwark's own engines --------------------------------------------------

export interface ClassificationEvidence {
  fields: {
    entity: string;
    field: string;
    category: ClassificationCategory;
    encrypted: boolean;
    /** An equality blind index (the KeyRing's keyed HMAC) exists for the field. */
    blindIndexed?: boolean;
    purpose?: string;
    /** Plaintext values served from the encrypted column (rows not yet encrypted); absent when none. */
    plaintextReads?: number;
  }[];
}

export interface KeyRingEvidence {
  keys: {
    keyId: string;
    primaryVersion: number;
    /** createdAt of the primary (encrypting) version: the key's age for rotation. */
    primaryCreatedAt: string;
    /** The key's own rotation period in days (KeyRing `rotation` settings), when known. */
    rotateEvery?: number;
    /** When the primary stops encrypting (RotationPolicy.expireAfter), if the key has an expiry. */
    primaryExpiresAt?: string;
    versions: { version: number; algorithm: string; createdAt: string; state: string }[];
  }[];
}

export interface PasswordEvidence {
  algorithm: string;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  hashLength: number;
  peppered: boolean;
  meetsOwaspMinimum: boolean;
}

/** The session engine's time-outs and cookie, and what a live probe of them showed. */
export interface SessionEvidence {
  idleTimeoutSec: number;
  absoluteTimeoutSec: number;
  /** The store's class name (MemorySessionStore, RedisSessionStore, TypeOrmSessionStore, ...). */
  store: string;
  cookie: { name: string; secure: boolean; httpOnly: boolean; sameSite: string };
  tokenBits: number;
  idsAtRest: string;
  audited: boolean;
  /** Sessions stored through the engine's store and opened through the engine at collection time. */
  probe: { idleRefused: boolean; absoluteRefused: boolean; freshAccepted: boolean };
}

/** The token service's algorithms and the legacy choices it has in use (never key material). */
export interface TokenEvidence {
  /** The JWS algorithm allow-list. */
  algorithms: string[];
  /** The algorithm new tokens are signed with, when the service signs. */
  signingAlgorithm?: string;
  /** Legacy opt-ins in use (`legacyAlgorithms` that apply): `HMAC-SHORT-SECRET`, `RS256`, `RSA-2048`... */
  legacy: string[];
}

/** The password policy the hasher enforces, and what it answered to probe passwords. */
export interface PasswordPolicyEvidence {
  minLength: number;
  minLengthWithMfa: number;
  maxLength: number;
  normalization: string;
  compositionRules: boolean;
  blocklistSource: string;
  blocklistEntries: number;
  minScore: number;
  historySize: number;
  /** The policy's answers at collection time: a common password, a short one, a long passphrase. */
  probes: { commonRefused: boolean; shortRefused: boolean; passphraseAccepted: boolean };
}

export interface AuditVerificationEvidence {
  /** When the verification ran. */
  at: string;
  ok: boolean;
  checkedEntries: number;
  treeSize: number;
  /** Tree heads the verification compared (signed checkpoints plus any trusted in-memory head). */
  checkpointsVerified: number;
  /** Signed checkpoints among them: what shows checkpoint signing is configured and in use. */
  signedCheckpointsVerified: number;
  firstBad?: { seq: number; reason: string };
  /** Seq of the `audit.verified` entry that recorded this run (the log's own, right after `treeSize`). */
  recordSeq?: number;
}

export interface AuditEvidence {
  size: number;
  /**
   * Whether leaf hashes are HMAC-keyed, decided by recomputing a stored entry's leaf hash without
   * a key: `unkeyed` if it matches, `keyed` if it does not while verification passes, `unknown`
   * when no unredacted entry exists (or the log says nothing and cannot be probed).
   */
  hmac: 'keyed' | 'unkeyed' | 'unknown';
  /** `configuration`: the log's own `describe()`; `probe`: inferred from a stored leaf hash. */
  hmacSource?: 'configuration' | 'probe';
  /** What the log reports about its protection (when it can describe itself). */
  configuration?: {
    hmac: boolean;
    /** A checkpoint signer is configured. */
    signer: boolean;
    /** Checkpoints are saved apart from the log (and verify() checks against them). */
    checkpointStore: boolean;
    /** Sinks the entries are delivered to (structured log, message bus, threat detector). */
    sinks: number;
    logId?: string;
  };
  /** Write health since start, when the log reports it. */
  writes?: AuditWriteHealth;
  /** Retention days per audit category (`null`: kept forever). */
  retention: { category: string; days: number | null }[];
  lastVerification?: AuditVerificationEvidence;
  /** The latest `audit.log.reviewed` event (`AuditLog.recordReview()`): when, by what kind of actor. */
  lastReview?: AuditReviewEvidence;
}

/** The latest recorded review of the audit log (no reviewer id: evidence carries no personal data). */
export interface AuditReviewEvidence {
  at: string;
  seq: number;
  actorType: string;
  /** Period of entries the reviewer said the review covered. */
  from?: string;
  to?: string;
}

export interface MfaEvidence {
  requiredFor: readonly string[];
  allSubjects: boolean;
  maxAgeSec: number;
  methods: readonly string[];
  /** What the policy answers for each privileged role presenting no second factor. */
  probes: { role: string; required: boolean; satisfied: boolean }[];
}

export interface AuthzEvidence {
  /** A request no policy can grant (unknown subject, role, action and resource type). */
  probe: { allowed: boolean; effect: string; reasonId: string };
  /** Rules in the loaded policy (absent when the engine cannot tell). */
  rules?: { allow: number; deny: number };
  /**
   * A request the policy should grant (the configured grant probe, or one derived from an
   * unconditional allow rule) and what the engine answered: default deny is only meaningful for
   * a policy that grants something.
   */
  grantProbe?: {
    source: 'configured' | 'derived';
    action: string;
    resourceType: string;
    allowed: boolean;
    reasonId: string;
  };
  /** Whether the engine offers a break-glass grant path (`grantBreakGlass`). */
  breakGlassPath?: boolean;
  /** `authz.break_glass.granted` events in the audit log (grants and drills), and the latest one. */
  breakGlassAudited?: { count: number; lastAt?: string };
  breakGlass: {
    id: string;
    active: boolean;
    grantedAt: string;
    expiresAt: string;
    hasReason: boolean;
    /** Whether the audit log holds this grant's `authz.break_glass.granted` event (null: no audit log registered). */
    auditRecorded: boolean | null;
  }[];
}

export interface BruteForceEvidence {
  store: string;
  limits: Record<
    string,
    { maxFailures: number; windowSec: number; lockoutSec: number; maxLockoutSec: number } | false
  >;
  /** Who the account counter locks out (absent in snapshots from before the option: 'hard'). */
  lockout?: 'progressive' | 'hard';
  backoffFactor: number;
  strikeWindowSec: number;
  /** What a Redis outage does (absent in snapshots from before the option: 'fail-closed'). */
  onStoreUnavailable?: 'fail-closed' | 'local-fallback';
  /** Store calls that failed since start, and how many of them the local fallback decided. */
  storeFailures?: number;
  fallbackDecisions?: number;
}

export interface ThreatDetectionEvidence {
  /** Rule names, when the detector can describe itself. */
  rules?: string[];
  /** Listeners for `violation` events (alerting hooks). */
  violationListeners: number;
  /** Whether violations are written back to the audit log (when the detector can tell). */
  auditLogAttached?: boolean;
  /** The alert router, when one is registered: `kind:name` of each channel and its last delivery. */
  alerting?: {
    channels: string[];
    /** ISO time of the last successful delivery (a real alert or `alerts.test()`). */
    lastDeliveryAt?: string;
    lastDeliveryTest?: boolean;
    /** Integrity alarms (audit write failures, failed verification, break-glass use) are routed. */
    integrityAlarms: boolean;
  };
}

// ---- HTTP apps (registered by the Express / Koa / NestJS adapters) ------------------------

/** The security headers whose presence on real responses the adapters count. */
export const OBSERVED_SECURITY_HEADERS = Object.freeze([
  'strict-transport-security',
  'content-security-policy',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
] as const);

/** What the mounted bundle of one app saw on real traffic since it was created. */
export interface HttpTrafficEvidence {
  /** Requests that reached the bundle, and when the first and the last arrived (absent: none yet). */
  readonly requests: number;
  readonly firstSeenAt?: string;
  readonly lastSeenAt?: string;
  /** Responses that finished (headers read as sent). */
  readonly responses: number;
  /**
   * Per security header (lower case): responses that carried it, the first value seen, and how
   * many carried a different value.
   */
  readonly headers: Readonly<
    Record<string, { readonly responses: number; readonly value: string; readonly otherValues: number }>
  >;
  /** Authentication presented: bearer tokens, cookies (no bearer), neither. */
  readonly auth: { readonly bearer: number; readonly cookie: number; readonly none: number };
  /**
   * Unsafe-method requests that carried cookies and no bearer token (what CSRF is about), and the
   * CSRF step's decisions on unsafe methods: token accepted, request refused.
   */
  readonly csrf: { readonly unsafeWithCookies: number; readonly accepted: number; readonly refused: number };
  /**
   * Transport: requests over TLS terminated in this process (`direct`, per negotiated protocol and
   * cipher, counted once per connection), requests a trusted proxy reported as HTTPS
   * (`forwarded`: the terminator is declared, not observed), and plain HTTP (`plain`).
   */
  readonly tls: {
    readonly direct: number;
    readonly forwarded: number;
    readonly plain: number;
    /** Connections per negotiated protocol (`TLSv1.3`) and per cipher (`TLS_AES_256_GCM_SHA384`). */
    readonly protocols: Readonly<Record<string, number>>;
    readonly ciphers: Readonly<Record<string, number>>;
  };
}

/**
 * What an HTTP adapter reports about one app. `observed` evidence comes from the bundle's own
 * traffic recorder (`bundle.evidence()`); anything else (a literal passed to `registerHttpApp`)
 * is `declared` and never passes a control about behaviour.
 */
export interface HttpAppEvidence {
  readonly name: string;
  /** Response header name (any case) -> value: configured, or (observed) the first value sent. */
  readonly securityHeaders: Readonly<Record<string, string>>;
  readonly csrf: { readonly enabled: boolean; readonly method?: string };
  /** `traffic`: read from real responses; `probe`: one probed response; `config`: configuration. */
  readonly observedBy?: 'traffic' | 'probe' | 'config';
  /** Set by the kit: `observed` only for evidence the adapters' traffic recorder produced. */
  readonly provenance?: EvidenceProvenance;
  /** Present when `observedBy` is `traffic`. */
  readonly traffic?: HttpTrafficEvidence;
}

export interface HttpEvidence {
  apps: HttpAppEvidence[];
}

// ---- privacy services -----------------------------------------------------------------------

export interface ConsentPurposeEvidence {
  id: string;
  /** Direct marketing, profiling for marketing, or similar: consent is the only fitting basis. */
  marketing: boolean;
  /** Processing under this purpose is refused without a recorded, current consent. */
  requiresConsent: boolean;
  /** The current text version (consent proofs point at a version and its hash). */
  version?: number;
  /** Subjects whose latest record is a grant (when the store can count). */
  granted?: number;
}

export interface ConsentEvidence {
  purposes: ConsentPurposeEvidence[];
}

export interface DsrEvidence {
  requests: {
    id: string;
    type: string;
    status: string;
    /** True while the request still needs an answer. */
    open: boolean;
    receivedAt: string;
    dueAt: string;
    closedAt?: string;
  }[];
  /** Registered data sources and what each supports. */
  sources: { id: string; export: boolean; erase: boolean; rectify?: boolean }[];
  /** Export formats offered (portability needs a machine-readable one). */
  formats: string[];
  /** The last `dsr.selfTest()`: an export for a test subject through every source. */
  selfTest?: DsrSelfTestEvidence;
}

export interface DsrSelfTestEvidence {
  at: string;
  ok: boolean;
  /** Per source: whether the export ran, how many records it returned, of which record types (entities). */
  sources: { id: string; ok: boolean; records: number; types: string[] }[];
}

export interface ProcessorEvidence {
  processors: {
    id: string;
    name: string;
    role?: string;
    /** ISO 3166-1 alpha-2 country the recipient processes in, when recorded. */
    country?: string;
    /** Chapter V transfer mechanism recorded for the recipient (`none`, `adequacy`, `SCC`, ...). */
    transferMechanism?: string;
    agreements?: { type: string; signedAt?: string; expiresAt?: string }[];
  }[];
  /** Agreements a recipient needs but lacks (missing, unsigned or expired), with the rule that asks for each. */
  gaps: { processorId: string; required: string; reason: string; basis?: string }[];
}

export interface BreachEvidence {
  /** The notification clocks in force (absent: the source does not report them). */
  deadlines?: { authorityHours: number; subjectsHours: number };
  incidents: {
    id: string;
    detectedAt: string;
    /** A drill recorded with `breaches.recordDrill()` (exercises the procedure; no notification owed). */
    drill?: boolean;
    /** Notifications the incident needs, each with its deadline and when it was sent. */
    notifications: { audience: string; required: boolean; dueAt?: string; sentAt?: string }[];
  }[];
}

export interface ProcessingEvidence {
  activities: { id: string; name: string; purposes: string[]; lawfulBasis?: string; entities?: string[] }[];
  /** Defects the register itself reports (no data categories, unknown recipients...). */
  gaps?: { activityId: string; issue: string }[];
}

export interface DataRetentionEvidence {
  /** Retention rules and their periods. */
  rules: { id: string; target: string; days: number }[];
  /** Stores of personal data under retention management, with their effective rule. */
  sources: {
    id: string;
    category: string;
    ruleId?: string;
    days?: number;
    /** The last purge run over the source: `outcome` absent in evidence from before it was recorded. */
    lastPurge?: { at: string; purged: number; outcome?: 'success' | 'failure' | 'blocked' };
  }[];
}

/**
 * One configured sign-in method, as the method describes itself (`OidcRelyingParty.describe()`):
 * its kind and provider name, a one-line `summary` for the report ("OIDC sign-in configured,
 * issuer https://id.example, PKCE S256"), and non-secret facts (issuer, algorithms, whether its
 * failures go through the brute-force guard...). Never a client secret or a bind password.
 */
export interface SignInMethodEvidence {
  readonly method: string;
  readonly provider: string;
  readonly summary?: string;
  /** Whether failed sign-ins of this method are counted by a BruteForceGuard. */
  readonly bruteForce?: boolean;
  readonly [fact: string]: unknown;
}

/** The sign-in methods the deployment has configured (`kit.registerSignIn(...)`). */
export interface SignInEvidence {
  methods: SignInMethodEvidence[];
}

/** A TLS-terminating proxy or load balancer, declared by the operator (not observable from Node). */
export interface TlsTerminatorDeclaration {
  /** What terminates TLS, e.g. `nginx 1.26 on the edge hosts`, `AWS ALB (ELBSecurityPolicy-TLS13-1-2-2021-06)`. */
  readonly name: string;
  /** The lowest protocol it accepts. */
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/** Everything `ComplianceKit.collectEvidence()` read, source by source. */
export interface EvidenceBundle {
  /** UTC ISO 8601 time collection started: the reference "now" of every check. */
  readonly collectedAt: string;
  readonly settings: {
    readonly privilegedRoles: readonly string[];
    /** False only when configuration says the deployment serves no HTTP. */
    readonly httpSurface: boolean;
    /**
     * The TLS terminator in front of the apps, as the operator declared it (option
     * `tlsTerminator`): declared, never observed; it can only make a transport pass partial.
     */
    readonly tlsTerminator?: TlsTerminatorDeclaration;
  };
  readonly classification?: Evidence<ClassificationEvidence>;
  readonly keys?: Evidence<KeyRingEvidence>;
  readonly passwords?: Evidence<PasswordEvidence>;
  readonly audit?: Evidence<AuditEvidence>;
  readonly mfa?: Evidence<MfaEvidence>;
  readonly authz?: Evidence<AuthzEvidence>;
  readonly bruteForce?: Evidence<BruteForceEvidence>;
  readonly threatDetection?: Evidence<ThreatDetectionEvidence>;
  readonly http?: Evidence<HttpEvidence>;
  readonly consent?: Evidence<ConsentEvidence>;
  readonly dsr?: Evidence<DsrEvidence>;
  readonly processors?: Evidence<ProcessorEvidence>;
  readonly breaches?: Evidence<BreachEvidence>;
  readonly processing?: Evidence<ProcessingEvidence>;
  readonly dataRetention?: Evidence<DataRetentionEvidence>;
  readonly signIn?: Evidence<SignInEvidence>;
  readonly sessions?: Evidence<SessionEvidence>;
  readonly passwordPolicy?: Evidence<PasswordPolicyEvidence>;
  readonly tokens?: Evidence<TokenEvidence>;
  /** Sources that are registered but could not be read, with a non-secret message. */
  readonly errors: Readonly<Partial<Record<EvidenceSourceName, string>>>;
}

export type EvidenceSourceName = Exclude<keyof EvidenceBundle, 'collectedAt' | 'settings' | 'errors'>;

/**
 * Converts what `verifyAuditLog()` recorded about a report it returned into evidence (the root
 * hash and torn-tail offsets are dropped). The signed-checkpoint count is the one verification
 * counted itself, not one a caller computes.
 */
export function verificationEvidence(report: GenuineVerification, at: Date): AuditVerificationEvidence {
  return {
    at: at.toISOString(),
    ok: report.ok === true,
    checkedEntries: report.checkedEntries,
    treeSize: report.treeSize,
    checkpointsVerified: report.checkpointsVerified,
    signedCheckpointsVerified: report.ok === true ? report.signedCheckpointsVerified : 0,
    ...(report.firstBad ? { firstBad: { seq: report.firstBad.seq, reason: report.firstBad.reason } } : {}),
    ...(report.recordSeq !== undefined ? { recordSeq: report.recordSeq } : {}),
  };
}
