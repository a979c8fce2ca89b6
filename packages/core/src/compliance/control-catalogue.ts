import type { BulwarkConfigError } from '../errors';
import { GDPR_CONTROLS } from './catalogue/gdpr';
import { HIPAA_CONTROLS } from './catalogue/hipaa';
import { ISO27001_CONTROLS } from './catalogue/iso27001';
import { PCI_DSS_CONTROLS } from './catalogue/pci-dss';
import { SOC2_CONTROLS } from './catalogue/soc2';
import { FRAMEWORKS, type CheckId, type ControlDefinition, type Framework } from './control';
import { configError } from '../util/options';

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

/** Bulwark's built-in controls for GDPR, SOC 2, ISO 27001, HIPAA and PCI DSS 4.0. */
export const BUILT_IN_CONTROLS: readonly ControlDefinition[] = Object.freeze([
  ...GDPR_CONTROLS,
  ...SOC2_CONTROLS,
  ...ISO27001_CONTROLS,
  ...HIPAA_CONTROLS,
  ...PCI_DSS_CONTROLS,
]);
