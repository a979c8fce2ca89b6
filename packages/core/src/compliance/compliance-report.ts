import { configError } from '../util/options';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import { AUTOMATED_CHECKS, runCheck, type CheckParams } from './automated-checks';
import type { ComplianceKit } from './compliance-kit';
import { BUILT_IN_CONTROLS, ControlCatalogue } from './control-catalogue';
import { FRAMEWORK_NAMES, FRAMEWORKS, type CheckId, type ControlDefinition, type Framework } from './control';
import type { Evidence, EvidenceBundle } from './evidence';

export type ControlStatus = 'pass' | 'fail' | 'not-demonstrated' | 'manual' | 'not-applicable';

export interface ControlResult {
  readonly id: string;
  readonly framework: Framework;
  readonly ref: string;
  readonly title: string;
  readonly requirement: string;
  readonly kind: 'automated' | 'manual';
  readonly check?: CheckId;
  readonly status: ControlStatus;
  readonly summary: string;
  readonly evidence: readonly Evidence[];
  readonly remediation?: string;
  /** Manual controls: what a person must attest to. */
  readonly guidance?: string;
}

export interface FrameworkSummary {
  readonly framework: Framework;
  readonly name: string;
  readonly passed: number;
  readonly failed: number;
  readonly notApplicable: number;
  readonly manual: number;
  /** Automated controls that count: passed + failed. */
  readonly applicable: number;
  /** passed / applicable as a percentage (one decimal), null when nothing is applicable. Manual controls never count. */
  readonly score: number | null;
}

export interface ComplianceReportResult {
  readonly generatedAt: string;
  /** When the evidence was read from the live services. */
  readonly evidenceCollectedAt: string;
  readonly tool: { readonly name: string; readonly version: string };
  readonly scope: Framework | 'all';
  readonly frameworks: readonly FrameworkSummary[];
  /** Totals over the frameworks in scope. */
  readonly totals: Omit<FrameworkSummary, 'framework' | 'name'>;
  /** Every control in scope, automated and manual, in catalogue order. */
  readonly controls: readonly ControlResult[];
  /** Registered services that could not be read. */
  readonly evidenceErrors: Readonly<Record<string, string>>;
}

export interface ComplianceReportOptions {
  /** Controls to assess. Default: the built-in catalogue. */
  catalogue?: ControlCatalogue;
  /** Parameter overrides per check, applied over each control's own (e.g. `{ 'keys.rotation': { maxAgeDays: 90 } }`). */
  params?: Partial<Record<CheckId, CheckParams>>;
  /** Verify the audit chain as part of collecting evidence (a verification at report time). Default false. */
  verifyAudit?: boolean;
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
  const passed = count('pass');
  // Not demonstrated counts as failed: a capability nothing shows working is not a pass.
  const failed = count('fail') + count('not-demonstrated');
  const applicable = passed + failed;
  return {
    passed,
    failed,
    notApplicable: count('not-applicable'),
    manual: count('manual'),
    applicable,
    score: applicable === 0 ? null : Math.round((passed / applicable) * 1000) / 10,
  };
}

/**
 * Runs the control catalogue against a kit's live evidence. Automated controls pass only on
 * evidence; manual ones are reported as `manual` (never as a pass) and left out of the score.
 */
export class ComplianceReport {
  private readonly catalogue: ControlCatalogue;
  private readonly params: Partial<Record<CheckId, CheckParams>>;
  private readonly verifyAudit: boolean;
  private readonly clock: () => Date;

  constructor(
    private readonly kit: ComplianceKit,
    options: ComplianceReportOptions = {},
  ) {
    this.catalogue = options.catalogue ?? builtInCatalogue();
    this.params = options.params ?? {};
    for (const id of Object.keys(this.params)) {
      if (!(id in AUTOMATED_CHECKS)) {
        throw configError(`compliance.params.${id}`, 'names no known check');
      }
    }
    this.verifyAudit = options.verifyAudit === true;
    this.clock = options.clock ?? (() => new Date());
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
    return evaluateControls(bundle, framework, {
      catalogue: this.catalogue,
      params: this.params,
      generatedAt: this.clock(),
    });
  }
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

/** Evaluates controls against an already collected evidence bundle (pure; used by run()). */
export function evaluateControls(
  bundle: EvidenceBundle,
  framework: Framework | 'all',
  options: {
    catalogue?: ControlCatalogue;
    params?: Partial<Record<CheckId, CheckParams>>;
    generatedAt?: Date;
  } = {},
): ComplianceReportResult {
  checkScope(framework);
  const catalogue = options.catalogue ?? builtInCatalogue();
  const overrides = options.params ?? {};
  const scope: readonly ControlDefinition[] = catalogue.list(framework === 'all' ? undefined : framework);
  const controls: ControlResult[] = scope.map((c) => {
    const base = {
      id: c.id,
      framework: c.framework,
      ref: c.ref,
      title: c.title,
      requirement: c.requirement,
    };
    if (c.manual !== undefined) {
      return {
        ...base,
        kind: 'manual',
        status: 'manual',
        summary: 'Needs a human attestation; not scored.',
        evidence: [],
        guidance: c.manual.guidance,
      };
    }
    const check = c.check as CheckId;
    const outcome = runCheck(check, bundle, { ...(c.params ?? {}), ...(overrides[check] ?? {}) });
    return {
      ...base,
      kind: 'automated',
      check,
      status: outcome.status,
      summary: outcome.summary,
      evidence: outcome.evidence,
      ...(outcome.remediation === undefined ? {} : { remediation: outcome.remediation }),
    };
  });
  const frameworks = (framework === 'all' ? catalogue.frameworks() : [framework]).map((f) => ({
    framework: f,
    name: FRAMEWORK_NAMES[f],
    ...summarise(controls.filter((c) => c.framework === f)),
  }));
  return {
    generatedAt: (options.generatedAt ?? new Date()).toISOString(),
    evidenceCollectedAt: bundle.collectedAt,
    tool: TOOL,
    scope: framework,
    frameworks,
    totals: summarise(controls),
    controls,
    evidenceErrors: { ...bundle.errors },
  };
}

/** True when any automated control failed (the CLI's exit 1). */
export function hasFailures(result: ComplianceReportResult): boolean {
  return result.controls.some((c) => c.status === 'fail' || c.status === 'not-demonstrated');
}
