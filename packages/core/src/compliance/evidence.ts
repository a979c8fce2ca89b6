import type { AuditVerificationReport } from '../audit/verify-audit-log';
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
    purpose?: string;
  }[];
}

export interface KeyRingEvidence {
  keys: {
    keyId: string;
    primaryVersion: number;
    /** createdAt of the primary (encrypting) version: the key's age for rotation. */
    primaryCreatedAt: string;
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
}

// ---- HTTP apps (registered by the Express / Koa adapters) ----------------------------------

/**
 * What an HTTP adapter reports about one app: the security headers it sends (from its
 * configuration or, better, read from a probed response) and its CSRF protection.
 */
export interface HttpAppEvidence {
  readonly name: string;
  /** Response header name (any case) -> value. */
  readonly securityHeaders: Readonly<Record<string, string>>;
  readonly csrf: { readonly enabled: boolean; readonly method?: string };
  /** `probe` when the headers were read from a real response, `config` from configuration. */
  readonly observedBy?: 'probe' | 'config';
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
}

export interface ProcessorEvidence {
  processors: {
    id: string;
    name: string;
    role?: string;
    agreements?: { type: string; signedAt?: string; expiresAt?: string }[];
  }[];
  /** Agreements a recipient needs but lacks (missing, unsigned or expired), with the rule that asks for each. */
  gaps: { processorId: string; required: string; reason: string; basis?: string }[];
}

export interface BreachEvidence {
  incidents: {
    id: string;
    detectedAt: string;
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
    lastPurge?: { at: string; purged: number };
  }[];
}

/** Everything `ComplianceKit.collectEvidence()` read, source by source. */
export interface EvidenceBundle {
  /** UTC ISO 8601 time collection started: the reference "now" of every check. */
  readonly collectedAt: string;
  readonly settings: {
    readonly privilegedRoles: readonly string[];
    /** False only when configuration says the deployment serves no HTTP. */
    readonly httpSurface: boolean;
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
  /** Sources that are registered but could not be read, with a non-secret message. */
  readonly errors: Readonly<Partial<Record<EvidenceSourceName, string>>>;
}

export type EvidenceSourceName = Exclude<keyof EvidenceBundle, 'collectedAt' | 'settings' | 'errors'>;

/**
 * Converts a verification report into evidence (drops the root hash and torn-tail offsets).
 * `trustedHeads` is how many unsigned heads the verification was given: `AuditLog.verify()`
 * compares the root it holds in memory like a checkpoint and counts it in `checkpointsVerified`.
 */
export function verificationEvidence(
  report: AuditVerificationReport,
  at: Date,
  trustedHeads = 0,
): AuditVerificationEvidence {
  const counted = report.ok === true ? trustedHeads : 0;
  return {
    at: at.toISOString(),
    ok: report.ok === true,
    checkedEntries: report.checkedEntries,
    treeSize: report.treeSize,
    checkpointsVerified: report.checkpointsVerified,
    signedCheckpointsVerified: Math.max(0, report.checkpointsVerified - counted),
    ...(report.firstBad ? { firstBad: { seq: report.firstBad.seq, reason: report.firstBad.reason } } : {}),
  };
}
