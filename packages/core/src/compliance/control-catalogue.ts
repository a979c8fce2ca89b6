import type { BulwarkConfigError } from '../errors';
import { GDPR_CONTROLS } from './catalogue/gdpr';
import { HIPAA_CONTROLS } from './catalogue/hipaa';
import { ISO27001_CONTROLS } from './catalogue/iso27001';
import { PCI_DSS_CONTROLS } from './catalogue/pci-dss';
import { SOC2_CONTROLS } from './catalogue/soc2';
import { FRAMEWORKS, type CheckId, type ControlDefinition, type Framework, type Modality } from './control';
import { configError } from '../util/options';

const MODALITIES: readonly Modality[] = ['required', 'addressable', 'risk-based', 'recommended'];
const TEXT_MAX = 4096;

const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= TEXT_MAX;

/**
 * The optional descriptive fields (source, modality, howEvidenced, coverage): a custom catalogue
 * may leave them out, but when present they must be well-formed, since reports print them next to
 * the clause. A manual control has no check, so it declares no coverage.
 */
function checkDescription(
  c: ControlDefinition,
  manual: boolean,
  invalid: (path: string, message: string) => BulwarkConfigError,
): void {
  const s = c.source as unknown;
  if (s !== undefined) {
    const src = s as Record<string, unknown>;
    if (s === null || typeof s !== 'object' || Array.isArray(s))
      throw invalid(`${c.id}.source`, 'must be { edition, clause, note? }');
    for (const field of ['edition', 'clause'] as const) {
      if (!isText(src[field]))
        throw invalid(
          `${c.id}.source.${field}`,
          `must be a non-empty string of at most ${TEXT_MAX} characters`,
        );
    }
    if (src.note !== undefined && !isText(src.note))
      throw invalid(`${c.id}.source.note`, `must be a non-empty string of at most ${TEXT_MAX} characters`);
  }
  if (c.modality !== undefined && !MODALITIES.includes(c.modality))
    throw invalid(`${c.id}.modality`, `must be one of ${MODALITIES.join(', ')}`);
  if (c.howEvidenced !== undefined && !isText(c.howEvidenced))
    throw invalid(`${c.id}.howEvidenced`, `must be a non-empty string of at most ${TEXT_MAX} characters`);
  const cov = c.coverage as unknown;
  if (cov === undefined) return;
  if (manual)
    throw invalid(`${c.id}.coverage`, 'is for automated controls only (a manual control has no check)');
  const k = cov as Record<string, unknown>;
  if (cov === null || typeof cov !== 'object' || Array.isArray(cov))
    throw invalid(`${c.id}.coverage`, "must be { level: 'full' | 'partial', evidences, notCovered? }");
  if (k.level !== 'full' && k.level !== 'partial')
    throw invalid(`${c.id}.coverage.level`, "must be 'full' or 'partial'");
  if (!isText(k.evidences))
    throw invalid(
      `${c.id}.coverage.evidences`,
      `must be a non-empty string of at most ${TEXT_MAX} characters`,
    );
  if (k.notCovered !== undefined && !isText(k.notCovered))
    throw invalid(
      `${c.id}.coverage.notCovered`,
      `must be a non-empty string of at most ${TEXT_MAX} characters`,
    );
  if (k.level === 'partial' && k.notCovered === undefined)
    throw invalid(`${c.id}.coverage.notCovered`, 'must say what a partial control does not cover');
}

// OSCAL token: the control id doubles as an OSCAL finding target id.
const TOKEN = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * The control catalogue: every framework's controls as data. Validated at construction, so a
 * custom catalogue with a typo (unknown check id, a control both automated and manual) fails at
 * start-up instead of silently dropping out of the report.
 */
export class ControlCatalogue {
  private readonly controls: readonly ControlDefinition[];
  private readonly byId = new Map<string, ControlDefinition>();

  /** `configPath` names the controls in error messages (default `compliance.controls`). */
  constructor(
    controls: readonly ControlDefinition[],
    knownChecks: ReadonlySet<string>,
    configPath = 'compliance.controls',
  ) {
    // `[0].id` joins without a dot; a control id or the list itself joins with one.
    const invalid = (path: string, message: string): BulwarkConfigError =>
      configError(
        path === '' || path.startsWith('[') ? `${configPath}${path}` : `${configPath}.${path}`,
        message,
      );
    if (!Array.isArray(controls)) throw invalid('', 'must be an array of controls');
    controls.forEach((c, i) => {
      const at = `[${i}]`;
      if (c === null || typeof c !== 'object') throw invalid(at, 'must be an object');
      if (typeof c.id !== 'string' || !TOKEN.test(c.id))
        throw invalid(`${at}.id`, 'must be a token of letters, digits, ".", "-" or "_"');
      if (this.byId.has(c.id)) throw invalid(`${c.id}`, 'is defined twice');
      if (!FRAMEWORKS.includes(c.framework))
        throw invalid(`${c.id}.framework`, `must be one of ${FRAMEWORKS.join(', ')}`);
      for (const field of ['ref', 'title', 'requirement'] as const) {
        if (typeof c[field] !== 'string' || c[field].trim() === '')
          throw invalid(`${c.id}.${field}`, 'must be a non-empty string');
      }
      const automated = c.check !== undefined;
      const manual = c.manual !== undefined;
      if (automated === manual) throw invalid(c.id, 'needs exactly one of check or manual');
      if (automated && !knownChecks.has(c.check as string))
        throw invalid(`${c.id}.check`, `names no known check ("${String(c.check)}")`);
      if (manual && (typeof c.manual?.guidance !== 'string' || c.manual.guidance.trim() === ''))
        throw invalid(`${c.id}.manual.guidance`, 'must be a non-empty string');
      if (c.params !== undefined && (c.params === null || typeof c.params !== 'object'))
        throw invalid(`${c.id}.params`, 'must be an object');
      checkDescription(c, manual, invalid);
      this.byId.set(c.id, c);
    });
    this.controls = Object.freeze([...controls]);
  }

  /** Controls of one framework, or all, in catalogue order. */
  list(framework?: Framework): readonly ControlDefinition[] {
    return framework === undefined ? this.controls : this.controls.filter((c) => c.framework === framework);
  }

  get(id: string): ControlDefinition | undefined {
    return this.byId.get(id);
  }

  /** Frameworks that have at least one control, in FRAMEWORKS order. */
  frameworks(): Framework[] {
    return FRAMEWORKS.filter((f) => this.controls.some((c) => c.framework === f));
  }

  /** Controls that run a given check. */
  usingCheck(check: CheckId): readonly ControlDefinition[] {
    return this.controls.filter((c) => c.check === check);
  }
}

/** Bulwark's built-in controls for GDPR, SOC 2, ISO 27001, HIPAA and PCI DSS v4.0.1. */
export const BUILT_IN_CONTROLS: readonly ControlDefinition[] = Object.freeze([
  ...GDPR_CONTROLS,
  ...SOC2_CONTROLS,
  ...ISO27001_CONTROLS,
  ...HIPAA_CONTROLS,
  ...PCI_DSS_CONTROLS,
]);
