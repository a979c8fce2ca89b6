import { canonicalBytes } from '../audit/canonical-json';
import { configError } from '../util/options';
import { BulwarkComplianceError, BulwarkConfigError, ErrorCodes } from '../errors';
import type { AttestationView } from './attestation';
import {
  COMPLIANCE_REPORT_JWS_TYPE,
  verifyComplianceJws,
  type CompliancePublicKey,
  type ComplianceSigner,
} from './compliance-signing';
import { AUTOMATED_CHECKS, runCheck, type CheckParams } from './automated-checks';
import type { ComplianceKit } from './compliance-kit';
import { BUILT_IN_CONTROLS, ControlCatalogue } from './control-catalogue';
import {
  FRAMEWORK_NAMES,
  FRAMEWORKS,
  type CheckId,
  type ControlCoverage,
  type ControlDefinition,
  type ControlSource,
  type Framework,
  type Modality,
} from './control';
import type { Evidence, EvidenceBundle } from './evidence';

/**
 * A control's status. Automated: `pass`, `fail`, `not-demonstrated` (scored as a failure) or
 * `not-applicable`. Manual: `attested` (a current attestation by a person; never a pass) or
 * `unattested` (none, expired, or one whose signature does not verify).
 */
export type ControlStatus =
  'pass' | 'fail' | 'not-demonstrated' | 'not-applicable' | 'attested' | 'unattested';

/** One evidence item, shown once in the report and referenced by the controls that rest on it. */
export interface EvidenceItem extends Evidence {
  /** Report-local id, e.g. `keyring`, `auditlog-2`. */
  readonly id: string;
}

export interface ControlResult {
  readonly id: string;
  readonly framework: Framework;
  readonly ref: string;
  readonly title: string;
  readonly requirement: string;
  readonly source?: ControlSource;
  readonly modality?: Modality;
  readonly howEvidenced?: string;
  readonly kind: 'automated' | 'manual';
  readonly check?: CheckId;
  readonly status: ControlStatus;
  /**
   * Automated controls: the catalogue's coverage declaration (absent when the catalogue declares
   * none; such a pass is counted as partial).
   */
  readonly coverage?: ControlCoverage;
  /** Passes only: `full` when the check evidences the whole clause, else `partial`. */
  readonly passLevel?: 'full' | 'partial';
  readonly summary: string;
  /** Ids of the report's `evidence` items the decision rests on. */
  readonly evidenceRefs: readonly string[];
  /** What to do (failures, not-demonstrated and unattested controls). */
  readonly remediation?: string;
  /** Manual controls: what a person must attest to. */
  readonly guidance?: string;
  /** Attested controls: the attestation that counts (the most recent current one). */
  readonly attestation?: AttestationView;
}

/**
 * Counts per framework, side by side. There is deliberately no overall percentage: a partial
 * pass is not the whole clause, and attested controls are a person's word, not evidence.
 */
export interface FrameworkSummary {
  readonly framework: Framework;
  readonly name: string;
  /** Automated controls that pass and evidence the whole clause. */
  readonly passedFull: number;
  /** Automated controls that pass on a slice of the clause (or declare no coverage). */
  readonly passedPartial: number;
  /** Automated controls that fail, including `notDemonstrated`. */
  readonly failed: number;
  /** Of `failed`: capabilities nothing shows working. */
  readonly notDemonstrated: number;
  readonly notApplicable: number;
  /** Automated controls that count: passedFull + passedPartial + failed. */
  readonly applicable: number;
  /** Manual controls with a current attestation. */
  readonly attested: number;
  /** Manual controls without one. */
  readonly unattested: number;
  /** passedFull / applicable (0..1, three decimals), null when nothing is applicable. Manual controls never count. */
  readonly automatedFullPassRate: number | null;
}

/** Who and what the report is about, and where its evidence came from. */
export interface ReportMetadata {
  /** The system or scope assessed (option `system`). */
  readonly system?: string;
  /** The period the report covers (option `period`), UTC ISO 8601. */
  readonly period?: { readonly from: string; readonly to: string };
  /** Who generated the report (option `generatedBy`). */
  readonly generatedBy?: string;
  readonly evidence: {
    /** `live`: read from the running services by this process; `snapshot`: a signed snapshot. */
    readonly source: 'live' | 'snapshot';
    readonly collectedAt: string;
    /** generatedAt - collectedAt, in whole seconds. */
    readonly ageSeconds: number;
    readonly snapshot?: { readonly signedAt: string; readonly keyId?: string };
  };
}

/** What changed since a previous report (`ComplianceReportOptions.previous`). */
export interface ReportComparison {
  readonly previousGeneratedAt: string;
  /** Controls whose status (or pass level) changed: `pass`, `pass (partial)`, `fail`... */
  readonly changed: readonly { readonly id: string; readonly from: string; readonly to: string }[];
  /** Controls in this report and not in the previous one. */
  readonly added: readonly string[];
  /** Controls in the previous report and not in this one. */
  readonly removed: readonly string[];
  readonly unchanged: number;
}

/** A detached JWS (RFC 7515 Appendix F) over the canonical JSON (RFC 8785) of the report without `signature`. */
export interface ReportSignature {
  readonly alg: 'EdDSA';
  readonly typ: typeof COMPLIANCE_REPORT_JWS_TYPE;
  readonly keyId?: string;
  /** `<protected header>..<signature>`: the payload is the report itself. */
  readonly jws: string;
}

export interface ComplianceReportResult {
  readonly generatedAt: string;
  /** When the evidence was read from the live services. */
  readonly evidenceCollectedAt: string;
  readonly tool: { readonly name: string; readonly version: string };
  readonly scope: Framework | 'all';
  readonly metadata: ReportMetadata;
  readonly frameworks: readonly FrameworkSummary[];
  /** Totals over the frameworks in scope. */
  readonly totals: Omit<FrameworkSummary, 'framework' | 'name'>;
  /** Every control in scope, automated and manual, in catalogue order. */
  readonly controls: readonly ControlResult[];
  /** Every evidence item the controls reference, once each. */
  readonly evidence: readonly EvidenceItem[];
  /** Registered services that could not be read. */
  readonly evidenceErrors: Readonly<Record<string, string>>;
  readonly comparison?: ReportComparison;
  readonly signature?: ReportSignature;
}

export interface ReportDescription {
  /** The system or scope assessed, e.g. `clinic API (production)`. */
  system?: string;
  /** The period the report covers. */
  period?: { from: Date | string; to: Date | string };
  /** Who generated the report (a person or a job). */
  generatedBy?: string;
}

export interface ComplianceReportOptions extends ReportDescription {
  /** Controls to assess. Default: the kit's catalogue (the built-in one unless the kit was given another). */
  catalogue?: ControlCatalogue;
  /** Parameter overrides per check, applied over each control's own (e.g. `{ 'keys.rotation': { maxAgeDays: 90 } }`). */
  params?: Partial<Record<CheckId, CheckParams>>;
  /** Verify the audit chain as part of collecting evidence (a verification at report time). Default false. */
  verifyAudit?: boolean;
  /** Signs the report (detached JWS over its canonical JSON): a `ComplianceSigner` of purpose `report`. */
  signer?: ComplianceSigner;
  /** A previous report to compare with (`comparison` in the result). */
  previous?: ComplianceReportResult;
  clock?: () => Date;
}

const TOOL = Object.freeze({ name: 'bulwark', version: packageVersion() });

function packageVersion(): string {
  try {
    return String(require('../../package.json').version);
  } catch {
    return '0.0.0';
  }
}

let builtIn: ControlCatalogue | undefined;

/** The built-in catalogue, validated once. */
export function builtInCatalogue(): ControlCatalogue {
  builtIn ??= new ControlCatalogue(BUILT_IN_CONTROLS, new Set(Object.keys(AUTOMATED_CHECKS)));
  return builtIn;
}

export function isFramework(value: unknown): value is Framework {
  return typeof value === 'string' && (FRAMEWORKS as readonly string[]).includes(value);
}

function summarise(controls: readonly ControlResult[]): Omit<FrameworkSummary, 'framework' | 'name'> {
  const count = (s: ControlStatus): number => controls.filter((c) => c.status === s).length;
  const passedFull = controls.filter((c) => c.status === 'pass' && c.passLevel === 'full').length;
  const passedPartial = count('pass') - passedFull;
  const notDemonstrated = count('not-demonstrated');
  // Not demonstrated counts as failed: a capability nothing shows working is not a pass.
  const failed = count('fail') + notDemonstrated;
  const applicable = passedFull + passedPartial + failed;
  return {
    passedFull,
    passedPartial,
    failed,
    notDemonstrated,
    notApplicable: count('not-applicable'),
    applicable,
    attested: count('attested'),
    unattested: count('unattested'),
    automatedFullPassRate: applicable === 0 ? null : Math.round((passedFull / applicable) * 1000) / 1000,
  };
}

/** Attestation views the kit holds, with their signatures checked (a kit without the method has none). */
async function kitAttestations(kit: ComplianceKit): Promise<readonly AttestationView[]> {
  const k = kit as Partial<Pick<ComplianceKit, 'attestations'>>;
  return typeof k.attestations === 'function' ? k.attestations() : [];
}

/**
 * Runs the control catalogue against a kit's live evidence. Automated controls pass only on
 * evidence; manual ones are `attested` (a person's current attestation, never a pass) or
 * `unattested`, and never scored.
 */
export class ComplianceReport {
  private readonly catalogue: ControlCatalogue;
  private readonly params: Partial<Record<CheckId, CheckParams>>;
  private readonly verifyAudit: boolean;
  private readonly clock: () => Date;
  private readonly description: ReportDescription;
  private readonly signer?: ComplianceSigner;
  private readonly previous?: ComplianceReportResult;

  constructor(
    private readonly kit: ComplianceKit,
    options: ComplianceReportOptions = {},
  ) {
    const kitCatalogue = (kit as Partial<Pick<ComplianceKit, 'catalogue'>>)?.catalogue;
    this.catalogue = options.catalogue ?? kitCatalogue ?? builtInCatalogue();
    this.params = options.params ?? {};
    for (const id of Object.keys(this.params)) {
      if (!(id in AUTOMATED_CHECKS)) {
        throw configError(`compliance.params.${id}`, 'names no known check');
      }
    }
    this.verifyAudit = options.verifyAudit === true;
    this.clock = options.clock ?? (() => new Date());
    this.description = checkDescription(options);
    if (options.signer !== undefined && !isReportSigner(options.signer)) {
      throw configError('compliance.report.signer', 'must be a ComplianceSigner of purpose "report"');
    }
    this.signer = options.signer;
    if (options.previous !== undefined) checkPrevious(options.previous);
    this.previous = options.previous;
  }

  /** Collects evidence now and evaluates the controls of one framework (or all). */
  async run(framework: Framework | 'all' = 'all'): Promise<ComplianceReportResult> {
    checkScope(framework);
    if (this.verifyAudit) {
      try {
        await this.kit.verifyAuditLog();
      } catch {
        // Not registered or unreadable: the audit controls fail on the missing evidence.
      }
    }
    const bundle = await this.kit.collectEvidence();
    const attestations = await kitAttestations(this.kit);
    const result = evaluateControls(bundle, framework, {
      catalogue: this.catalogue,
      params: this.params,
      generatedAt: this.clock(),
      attestations,
      ...this.description,
      ...(this.previous === undefined ? {} : { previous: this.previous }),
    });
    return this.signer === undefined ? result : signComplianceReport(result, this.signer);
  }
}

function isReportSigner(value: unknown): value is ComplianceSigner {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as ComplianceSigner).purpose === 'report' &&
    typeof (value as ComplianceSigner).sign === 'function'
  );
}

function checkScope(framework: unknown): asserts framework is Framework | 'all' {
  if (framework !== 'all' && !isFramework(framework)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `compliance.framework must be one of ${FRAMEWORKS.join(', ')} or all`,
      { path: 'compliance.framework' },
    );
  }
}

const MAX_LABEL = 200;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function label(value: unknown, path: string): string {
  if (
    typeof value !== 'string' ||
    value.trim() === '' ||
    value.length > MAX_LABEL ||
    CONTROL_CHARS.test(value)
  ) {
    throw configError(path, `must be a non-empty single-line string of at most ${MAX_LABEL} characters`);
  }
  return value;
}

function instant(value: unknown, path: string): string {
  const ms =
    value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw configError(path, 'must be a valid date (Date or ISO 8601 string)');
  return new Date(ms).toISOString();
}

interface CheckedDescription {
  system?: string;
  period?: { from: string; to: string };
  generatedBy?: string;
}

function checkDescription(d: ReportDescription): CheckedDescription {
  const out: CheckedDescription = {};
  if (d.system !== undefined) out.system = label(d.system, 'compliance.report.system');
  if (d.generatedBy !== undefined) out.generatedBy = label(d.generatedBy, 'compliance.report.generatedBy');
  if (d.period !== undefined) {
    if (d.period === null || typeof d.period !== 'object')
      throw configError('compliance.report.period', 'must be { from, to }');
    const from = instant(d.period.from, 'compliance.report.period.from');
    const to = instant(d.period.to, 'compliance.report.period.to');
    if (Date.parse(to) < Date.parse(from))
      throw configError('compliance.report.period.to', 'must not be before from');
    out.period = { from, to };
  }
  return out;
}

function checkPrevious(previous: unknown): asserts previous is ComplianceReportResult {
  const p = previous as Partial<ComplianceReportResult> | null;
  if (
    p === null ||
    typeof p !== 'object' ||
    typeof p.generatedAt !== 'string' ||
    !Array.isArray(p.controls) ||
    p.controls.some(
      (c) => c === null || typeof c !== 'object' || typeof c.id !== 'string' || typeof c.status !== 'string',
    )
  ) {
    throw configError('compliance.report.previous', 'must be an earlier report (JSON format)');
  }
}

const SKEW_MS = 5 * 60_000;

/** `pass`, `pass (partial)`, `fail`, ...: the status a comparison tracks. */
function shownStatus(c: Pick<ControlResult, 'status' | 'passLevel'>): string {
  if (c.status === 'pass') return c.passLevel === 'full' ? 'pass' : 'pass (partial)';
  // Reports from before 0.2 called unattested controls `manual`.
  return (c.status as string) === 'manual' ? 'unattested' : c.status;
}

/** What changed between two reports: status changes, and controls added or removed. */
export function compareReports(
  current: ComplianceReportResult,
  previous: ComplianceReportResult,
): ReportComparison {
  checkPrevious(previous);
  const before = new Map(previous.controls.map((c) => [c.id, shownStatus(c)]));
  const now = new Set(current.controls.map((c) => c.id));
  const changed: { id: string; from: string; to: string }[] = [];
  const added: string[] = [];
  let unchanged = 0;
  for (const c of current.controls) {
    const from = before.get(c.id);
    if (from === undefined) added.push(c.id);
    else if (from !== shownStatus(c)) changed.push({ id: c.id, from, to: shownStatus(c) });
    else unchanged++;
  }
  return {
    previousGeneratedAt: previous.generatedAt,
    changed,
    added,
    removed: previous.controls.map((c) => c.id).filter((id) => !now.has(id)),
    unchanged,
  };
}

/** Deduplicates evidence: the same item (same content) gets one id however many controls cite it. */
class EvidenceIndex {
  readonly items: EvidenceItem[] = [];
  private readonly byContent = new Map<string, string>();
  private readonly usedIds = new Set<string>();

  ref(e: Evidence): string {
    const key = JSON.stringify(e);
    const known = this.byContent.get(key);
    if (known !== undefined) return known;
    const base =
      e.source
        .toLowerCase()
        .replace(/[^a-z0-9.]+/g, '-')
        .replace(/^-+|-+$/g, '') || 'evidence';
    let id = base;
    for (let n = 2; this.usedIds.has(id); n++) id = `${base}-${n}`;
    this.usedIds.add(id);
    this.byContent.set(key, id);
    this.items.push({ id, ...e });
    return id;
  }
}

function attestationSummary(a: AttestationView): string {
  const signature =
    a.signature === 'verified'
      ? 'signed (verified)'
      : a.signature === 'unverified'
        ? 'signed (not verified: no key)'
        : 'unsigned';
  return `Attested by ${a.by} (${a.role}) on ${a.at}, valid until ${a.expiresAt}; ${signature}.`;
}

function manualResult(
  c: ControlDefinition,
  views: readonly AttestationView[],
  now: number,
): Pick<ControlResult, 'status' | 'summary' | 'remediation' | 'attestation'> {
  const newestFirst = [...views].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  const current = newestFirst.find(
    (a) => a.signature !== 'invalid' && Date.parse(a.at) <= now + SKEW_MS && Date.parse(a.expiresAt) > now,
  );
  if (current !== undefined)
    return { status: 'attested', summary: attestationSummary(current), attestation: current };
  const remediation =
    `Record a person's attestation: kit.attest('${c.id}', { by, role, statement, evidenceUri, expiresAt }) ` +
    `(configure compliance attestations with a signer so it is signed).`;
  const latest = newestFirst[0];
  let summary = 'No attestation recorded: a person must attest to this control.';
  if (latest !== undefined) {
    if (latest.signature === 'invalid')
      summary = `The latest attestation (by ${latest.by}, ${latest.at}) has a signature that does not verify: it does not count.`;
    else if (Date.parse(latest.expiresAt) <= now)
      summary = `The latest attestation (by ${latest.by}, ${latest.at}) expired at ${latest.expiresAt}.`;
    else
      summary = `The latest attestation (by ${latest.by}) is dated in the future (${latest.at}): it does not count yet.`;
  }
  return { status: 'unattested', summary, remediation };
}

/** Evaluates controls against an already collected evidence bundle (pure; used by run()). */
export function evaluateControls(
  bundle: EvidenceBundle,
  framework: Framework | 'all',
  options: ReportDescription & {
    catalogue?: ControlCatalogue;
    params?: Partial<Record<CheckId, CheckParams>>;
    generatedAt?: Date;
    /** Attestations with their signatures checked (`kit.attestations()`, or a verified snapshot's). */
    attestations?: readonly AttestationView[];
    /** Set when the bundle comes from a verified signed snapshot. */
    snapshot?: { signedAt: string; keyId?: string };
    previous?: ComplianceReportResult;
  } = {},
): ComplianceReportResult {
  checkScope(framework);
  const catalogue = options.catalogue ?? builtInCatalogue();
  const overrides = options.params ?? {};
  const description = checkDescription(options);
  const generatedAt = options.generatedAt ?? new Date();
  const now = generatedAt.getTime();
  const byControl = new Map<string, AttestationView[]>();
  for (const a of options.attestations ?? []) {
    byControl.set(a.controlId, [...(byControl.get(a.controlId) ?? []), a]);
  }
  const index = new EvidenceIndex();
  const scope: readonly ControlDefinition[] = catalogue.list(framework === 'all' ? undefined : framework);
  const controls: ControlResult[] = scope.map((c) => {
    const base = {
      id: c.id,
      framework: c.framework,
      ref: c.ref,
      title: c.title,
      requirement: c.requirement,
      ...(c.source === undefined ? {} : { source: c.source }),
      ...(c.modality === undefined ? {} : { modality: c.modality }),
      ...(c.howEvidenced === undefined ? {} : { howEvidenced: c.howEvidenced }),
    };
    if (c.manual !== undefined) {
      const m = manualResult(c, byControl.get(c.id) ?? [], now);
      return {
        ...base,
        kind: 'manual',
        status: m.status,
        summary: m.summary,
        evidenceRefs: [],
        guidance: c.manual.guidance,
        ...(m.remediation === undefined ? {} : { remediation: m.remediation }),
        ...(m.attestation === undefined ? {} : { attestation: m.attestation }),
      };
    }
    const check = c.check as CheckId;
    const outcome = runCheck(check, bundle, { ...(c.params ?? {}), ...(overrides[check] ?? {}) });
    return {
      ...base,
      kind: 'automated',
      check,
      status: outcome.status,
      ...(c.coverage === undefined ? {} : { coverage: c.coverage }),
      ...(outcome.status === 'pass'
        ? { passLevel: c.coverage?.level === 'full' && outcome.partial === undefined ? 'full' : 'partial' }
        : {}),
      summary:
        outcome.partial === undefined ? outcome.summary : `${outcome.summary} Partial: ${outcome.partial}.`,
      evidenceRefs: outcome.evidence.map((e) => index.ref(e)),
      ...(outcome.remediation === undefined ? {} : { remediation: outcome.remediation }),
    };
  });
  const frameworks = (framework === 'all' ? catalogue.frameworks() : [framework]).map((f) => ({
    framework: f,
    name: FRAMEWORK_NAMES[f],
    ...summarise(controls.filter((c) => c.framework === f)),
  }));
  const collectedAt = Date.parse(bundle.collectedAt);
  const result: ComplianceReportResult = {
    generatedAt: generatedAt.toISOString(),
    evidenceCollectedAt: bundle.collectedAt,
    tool: TOOL,
    scope: framework,
    metadata: {
      ...description,
      evidence: {
        source: options.snapshot === undefined ? 'live' : 'snapshot',
        collectedAt: bundle.collectedAt,
        ageSeconds: Number.isFinite(collectedAt) ? Math.max(0, Math.floor((now - collectedAt) / 1000)) : 0,
        ...(options.snapshot === undefined
          ? {}
          : {
              snapshot: {
                signedAt: options.snapshot.signedAt,
                ...(options.snapshot.keyId === undefined ? {} : { keyId: options.snapshot.keyId }),
              },
            }),
      },
    },
    frameworks,
    totals: summarise(controls),
    controls,
    evidence: index.items,
    evidenceErrors: { ...bundle.errors },
  };
  if (options.previous === undefined) return result;
  return { ...result, comparison: compareReports(result, options.previous) };
}

/** True when any automated control failed (the CLI's exit 1). */
export function hasFailures(result: ComplianceReportResult): boolean {
  return result.controls.some((c) => c.status === 'fail' || c.status === 'not-demonstrated');
}

function reportPayload(result: ComplianceReportResult): Uint8Array {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { signature, ...unsigned } = result;
  return canonicalBytes(unsigned);
}

/**
 * Signs a report: a detached JWS (EdDSA, typ `bulwark-compliance-report+jws`) over the RFC 8785
 * canonical JSON of the report without its `signature` member. Returns the report with `signature`.
 */
export async function signComplianceReport(
  result: ComplianceReportResult,
  signer: ComplianceSigner,
): Promise<ComplianceReportResult> {
  if (!isReportSigner(signer))
    throw configError('compliance.report.signer', 'must be a ComplianceSigner of purpose "report"');
  const [header, , sig] = (await signer.sign(reportPayload(result))).split('.');
  return {
    ...result,
    signature: {
      alg: 'EdDSA',
      typ: COMPLIANCE_REPORT_JWS_TYPE,
      ...(signer.kid === undefined ? {} : { keyId: signer.kid }),
      jws: `${header}..${sig}`,
    },
  };
}

/**
 * Verifies a report's detached signature with the signer's public key. Any change to the report
 * (a status, a count, an evidence value) fails it. Throws ERR_COMPLIANCE_REPORT_SIGNATURE_INVALID.
 */
export async function verifyComplianceReport(
  result: ComplianceReportResult,
  publicKey: CompliancePublicKey,
): Promise<{ keyId?: string }> {
  const jws = result?.signature?.jws;
  const parts = typeof jws === 'string' ? jws.split('.') : [];
  if (parts.length !== 3 || parts[1] !== '') {
    throw new BulwarkComplianceError(
      ErrorCodes.COMPLIANCE_REPORT_SIGNATURE_INVALID,
      'compliance report: has no detached signature',
    );
  }
  let payload: string;
  try {
    payload = Buffer.from(reportPayload(result)).toString('base64url');
  } catch (err) {
    throw new BulwarkComplianceError(
      ErrorCodes.COMPLIANCE_REPORT_SIGNATURE_INVALID,
      'compliance report: is not canonical JSON',
      undefined,
      { cause: err },
    );
  }
  const { header } = await verifyComplianceJws(
    `${parts[0]}.${payload}.${parts[2]}`,
    'report',
    publicKey,
    ErrorCodes.COMPLIANCE_REPORT_SIGNATURE_INVALID,
    'compliance report',
  );
  // The key id from the signed header: `signature.keyId` beside it is not covered by the signature.
  return typeof header.kid === 'string' ? { keyId: header.kid } : {};
}
