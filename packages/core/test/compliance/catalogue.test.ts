import { AUTOMATED_CHECKS } from '../../src/compliance/automated-checks';
import { BUILT_IN_CONTROLS, ControlCatalogue } from '../../src/compliance/control-catalogue';
import { FRAMEWORK_NAMES, FRAMEWORKS, type ControlDefinition } from '../../src/compliance/control';
import {
  HTTP_TYPES,
  HTTP_VALUES,
  MAIN_TYPES,
  MAIN_VALUES,
  STORE_TYPES,
  STORE_VALUES,
} from '../surface/public-surface';

// The catalogue a compliance officer signs: every control cites its source and modality, every
// automated control says how much of the clause its check covers, and the requirement text is the
// standard's obligation, never one of Bulwark's APIs.

const automated = BUILT_IN_CONTROLS.filter((c) => c.check !== undefined);
const manual = BUILT_IN_CONTROLS.filter((c) => c.manual !== undefined);
const byId = new Map(BUILT_IN_CONTROLS.map((c) => [c.id, c]));
const get = (id: string): ControlDefinition => {
  const c = byId.get(id);
  if (c === undefined) throw new Error(`no control ${id}`);
  return c;
};

/** Every public name of @bulwark/core (values and types), at least 4 characters long. */
const API_NAMES = [
  ...MAIN_VALUES,
  ...MAIN_TYPES,
  ...HTTP_VALUES,
  ...HTTP_TYPES,
  ...STORE_VALUES,
  ...STORE_TYPES,
].filter((n) => n.length >= 4);

describe('the built-in control catalogue', () => {
  it('has unique ids and builds as a catalogue', () => {
    expect(new Set(BUILT_IN_CONTROLS.map((c) => c.id)).size).toBe(BUILT_IN_CONTROLS.length);
    expect(
      () => new ControlCatalogue(BUILT_IN_CONTROLS, new Set(Object.keys(AUTOMATED_CHECKS))),
    ).not.toThrow();
  });

  it.each(BUILT_IN_CONTROLS.map((c) => [c.id, c] as const))('%s cites its source and modality', (_id, c) => {
    expect(c.source?.edition.trim()).toBeTruthy();
    expect(c.source?.clause.trim()).toBeTruthy();
    expect(['required', 'addressable', 'risk-based', 'recommended']).toContain(c.modality);
  });

  it('every automated control declares its coverage and how it is evidenced; partial ones say what is not covered', () => {
    for (const c of automated) {
      expect([c.id, c.coverage?.level]).toEqual([c.id, expect.stringMatching(/^(full|partial)$/)]);
      expect([c.id, c.coverage?.evidences.trim()]).toEqual([c.id, expect.any(String)]);
      expect(c.coverage!.evidences.trim().length).toBeGreaterThan(0);
      if (c.coverage!.level === 'partial')
        expect([c.id, c.coverage!.notCovered?.trim()]).toEqual([c.id, expect.stringMatching(/\S/)]);
      expect([c.id, c.howEvidenced?.trim()]).toEqual([c.id, expect.stringMatching(/\S/)]);
    }
    for (const c of manual) expect([c.id, c.coverage]).toEqual([c.id, undefined]);
  });

  it('claims full coverage only where the review found the check evidences the whole clause', () => {
    // Changing this list is a decision to review: a "full" pass is read as the clause being met.
    expect(
      automated
        .filter((c) => c.coverage?.level === 'full')
        .map((c) => c.id)
        .sort(),
    ).toEqual(
      [
        'gdpr-art12',
        'gdpr-art30',
        'hipaa-164.308-b-1',
        'hipaa-164.312-a-2-iv',
        'pci-10.4.1.1',
        'pci-8.3.4',
      ].sort(),
    );
    // Most mappings evidence one slice of their clause.
    expect(automated.filter((c) => c.coverage?.level === 'partial').length).toBeGreaterThan(
      automated.length * 0.8,
    );
  });

  it('keeps Bulwark API names out of requirement texts (they belong in howEvidenced)', () => {
    const offenders: string[] = [];
    for (const c of BUILT_IN_CONTROLS) {
      for (const name of API_NAMES) {
        if (new RegExp(`\\b${name}\\b`).test(c.requirement)) offenders.push(`${c.id}: ${name}`);
      }
      for (const check of Object.keys(AUTOMATED_CHECKS)) {
        if (c.requirement.includes(check)) offenders.push(`${c.id}: ${check}`);
      }
      // Code-like tokens: calls, backticks, decorators.
      if (/\w\(\)|`|@[A-Z]\w*/.test(c.requirement)) offenders.push(`${c.id}: code in requirement`);
    }
    expect(offenders).toEqual([]);
  });

  it('the guard above catches an API name in a requirement', () => {
    const bad = 'Personal data is protected by the KeyRing.';
    expect(API_NAMES.some((n) => new RegExp(`\\b${n}\\b`).test(bad))).toBe(true);
  });

  it('labels PCI DSS v4.0.1 and cites its edition on every PCI control', () => {
    expect(FRAMEWORK_NAMES.pci).toBe('PCI DSS v4.0.1');
    for (const c of BUILT_IN_CONTROLS.filter((x) => x.framework === 'pci')) {
      expect(c.source?.edition).toMatch(/^PCI DSS v4\.0\.1\b/);
      expect(c.source?.clause).toBe(`Requirement ${c.ref.replace(/^Req\. /, '')}`);
    }
    for (const f of FRAMEWORKS) expect(FRAMEWORK_NAMES[f]).not.toMatch(/PCI DSS v4\.0(?!\.1)/);
  });

  it('keeps the HIPAA designation in title and modality alike', () => {
    for (const c of BUILT_IN_CONTROLS.filter((x) => x.framework === 'hipaa')) {
      if (c.title.includes('(Addressable)')) expect([c.id, c.modality]).toEqual([c.id, 'addressable']);
      if (c.modality === 'addressable') {
        expect(c.title).toContain('(Addressable)');
        // An addressable specification is never stated as unconditional.
        expect(c.requirement).toMatch(/reasonable and appropriate/);
      }
    }
  });

  it('states risk-based and addressable encryption as conditional', () => {
    for (const id of ['gdpr-art32-1-a-encryption', 'soc2-cc6.1-encryption', 'hipaa-164.312-a-2-iv']) {
      expect([id, get(id).modality]).toEqual([id, expect.stringMatching(/^(risk-based|addressable)$/)]);
      expect(get(id).requirement).toMatch(/as appropriate|deemed appropriate|reasonable and appropriate/);
    }
  });

  it('no longer makes MFA a requirement where the clause does not', () => {
    for (const c of BUILT_IN_CONTROLS.filter((x) => x.framework !== 'pci')) {
      expect([c.id, /multi-factor|MFA|second factor/i.test(c.requirement)]).toEqual([c.id, false]);
    }
  });

  it('has removed or re-mapped the nine unsound mappings of the review', () => {
    // PCI 10.3.2 (prevent modification) is not decided by tamper detection; that is 10.3.4.
    expect(get('pci-10.3.2').check).toBeUndefined();
    expect(get('pci-10.3.4-tamper').check).toBe('audit.tamper-evidence');
    // PCI 7.2.1 (the access model) is not decided by default deny; that is 7.3.3.
    expect(get('pci-7.2.1').check).toBeUndefined();
    expect(get('pci-7.3.3').check).toBe('authz.default-deny');
    // PCI 6.4.1 (superseded) is not decided by browser headers.
    expect(byId.has('pci-6.4.1')).toBe(false);
    expect(get('pci-6.4.2').check).toBeUndefined();
    // PCI 3.6.1 (key protection) is not decided by an algorithm allow-list.
    expect(get('pci-3.6.1').check).toBeUndefined();
    expect(get('pci-12.3.3').check).toBe('keys.algorithms');
    // HIPAA 164.312(c)(1) (ePHI integrity) is not decided by the audit log's tamper evidence.
    expect(get('hipaa-164.312-c-1').check).toBeUndefined();
    expect(get('hipaa-164.312-c-2').check).toBe('encryption.classified-fields');
    // HIPAA activity review is not decided by a chain verification.
    expect(get('hipaa-164.308-a-1-ii-d').check).toBe('audit.review');
    // ISO A.8.26 (requirements specified) is not decided by headers; they are secure coding.
    expect(get('iso27001-a8.26').check).toBeUndefined();
    expect(get('iso27001-a8.28-headers').check).toBe('http.security-headers');
    // GDPR Art. 7 no longer says consent is always needed for marketing (Recital 47).
    expect(get('gdpr-art7').check).toBe('consent.records');
    expect(get('gdpr-art7').requirement).not.toMatch(/marketing/i);
    // SOC 2 CC7.3 is not decided by notification deadlines; notification is a CC7.4 point of focus.
    expect(get('soc2-cc7.3').check).toBeUndefined();
    expect(get('soc2-cc7.4-communication').check).toBe('breach.notifications');
    // No check stands for a clause it was found not to evidence.
    const unsound: [string, string][] = [
      ['pci Req. 10.3.2', 'audit.tamper-evidence'],
      ['pci Req. 7.2.1', 'authz.default-deny'],
      ['pci Req. 3.6.1', 'keys.algorithms'],
      ['hipaa 164.312(c)(1)', 'audit.tamper-evidence'],
      ['hipaa 164.308(a)(1)(ii)(D)', 'audit.verified'],
      ['iso27001 A.8.26', 'http.security-headers'],
      ['gdpr Art. 7', 'consent.marketing'],
      ['soc2 CC7.3', 'breach.notifications'],
      ['hipaa 164.312(d)', 'mfa.privileged'],
      ['pci Req. 8.4.2', 'mfa.privileged'],
    ];
    for (const [ref, check] of unsound) {
      expect(
        BUILT_IN_CONTROLS.filter((c) => `${c.framework} ${c.ref}` === ref && c.check === check).map(
          (c) => c.id,
        ),
      ).toEqual([]);
    }
  });

  it('gives each title the standard\u2019s name, not a sub-topic (the review\u2019s three titles)', () => {
    expect(get('soc2-cc6.3-emergency').title).not.toMatch(/emergency/i);
    expect(get('gdpr-art32-1-keys').title).toBe('Security of processing');
    expect(get('soc2-cc7.2-integrity').title).not.toMatch(/tamper/i);
  });

  it('keeps check parameters the clauses fix', () => {
    expect(get('hipaa-164.316-b-2-i').params).toEqual({ minDays: 2192 });
    expect(get('pci-10.5.1').params).toEqual({ minDays: 366 });
    expect(get('pci-10.4.1').params).toEqual({ maxAgeHours: 24 });
    expect(get('pci-8.3.4').params).toMatchObject({ maxFailures: 10, minLockoutSec: 1800 });
    expect(get('gdpr-art33').params).toEqual({ audience: 'authority', maxHours: 72 });
    expect(get('hipaa-164.404').params).toEqual({ audience: 'subjects', maxHours: 60 * 24 });
  });
});

describe('custom catalogues with the descriptive fields', () => {
  const known = new Set(Object.keys(AUTOMATED_CHECKS));
  const base: ControlDefinition = {
    id: 'x-1',
    framework: 'gdpr',
    ref: 'Art. 1',
    title: 't',
    requirement: 'r',
    check: 'keys.rotation',
  };
  const build = (c: Partial<ControlDefinition> & Record<string, unknown>) =>
    new ControlCatalogue([{ ...base, ...c } as ControlDefinition], known);

  it('accepts well-formed or absent fields', () => {
    expect(() => build({})).not.toThrow();
    expect(() =>
      build({
        source: { edition: 'E', clause: 'C', note: 'N' },
        modality: 'addressable',
        howEvidenced: 'h',
        coverage: { level: 'partial', evidences: 'e', notCovered: 'n' },
      }),
    ).not.toThrow();
    expect(() => build({ coverage: { level: 'full', evidences: 'e' } })).not.toThrow();
  });

  it.each([
    [{ source: 'GDPR' }, /x-1\.source must be/],
    [{ source: { edition: '', clause: 'C' } }, /x-1\.source\.edition/],
    [{ source: { edition: 'E' } }, /x-1\.source\.clause/],
    [{ source: { edition: 'E', clause: 'C', note: 7 } }, /x-1\.source\.note/],
    [{ modality: 'shall' }, /x-1\.modality must be one of required, addressable, risk-based, recommended/],
    [{ howEvidenced: '   ' }, /x-1\.howEvidenced/],
    [{ coverage: { level: 'most', evidences: 'e' } }, /x-1\.coverage\.level/],
    [{ coverage: { level: 'full' } }, /x-1\.coverage\.evidences/],
    [{ coverage: { level: 'partial', evidences: 'e' } }, /x-1\.coverage\.notCovered must say/],
    [{ coverage: null }, /x-1\.coverage must be/],
    [{ coverage: { level: 'full', evidences: 'x'.repeat(5000) } }, /at most 4096/],
    [
      { check: undefined, manual: { guidance: 'g' }, coverage: { level: 'full', evidences: 'e' } },
      /automated controls only/,
    ],
  ])('rejects %j', (fields, message) => {
    expect(() => build(fields as Record<string, unknown>)).toThrow(message);
  });
});
