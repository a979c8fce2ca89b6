import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { AUTOMATED_CHECKS } from '../../src/compliance/automated-checks';
import { ComplianceKit } from '../../src/compliance/compliance-kit';
import {
  builtInCatalogue,
  ComplianceReport,
  evaluateControls,
  hasFailures,
  type ComplianceReportResult,
} from '../../src/compliance/compliance-report';
import { BUILT_IN_CONTROLS, ControlCatalogue } from '../../src/compliance/control-catalogue';
import { FRAMEWORKS, type ControlDefinition } from '../../src/compliance/control';
import { renderHtml } from '../../src/compliance/render-html';
import { renderJson } from '../../src/compliance/render-json';
import { renderMarkdown } from '../../src/compliance/render-markdown';
import { renderOscal } from '../../src/compliance/render-oscal';
import { fullKit, type FullKit } from './compliance-helpers';

const VECTORS = path.resolve(__dirname, '../vectors');
const HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>|**bold**';

let f: FullKit;
beforeEach(async () => {
  f = await fullKit();
});
afterEach(async () => {
  await f.close();
});

describe('the control catalogue', () => {
  it('has 12-30 controls per framework, at least half automated, each with its own-words requirement', () => {
    const catalogue = builtInCatalogue();
    for (const fw of FRAMEWORKS) {
      const controls = catalogue.list(fw);
      const automated = controls.filter((c) => c.check !== undefined).length;
      expect(controls.length).toBeGreaterThanOrEqual(12);
      expect(controls.length).toBeLessThanOrEqual(30);
      expect(automated * 2).toBeGreaterThanOrEqual(controls.length);
      expect(controls.some((c) => c.manual !== undefined)).toBe(true);
    }
    // every check is used by at least one control
    for (const id of Object.keys(AUTOMATED_CHECKS))
      expect(catalogue.usingCheck(id as never).length).toBeGreaterThan(0);
  });

  it('cites the clauses the issue lists', () => {
    const refs = BUILT_IN_CONTROLS.map((c) => `${c.framework} ${c.ref}`);
    for (const want of [
      'gdpr Art. 5(1)(e)',
      'gdpr Art. 5(1)(f)',
      'gdpr Art. 7',
      'gdpr Art. 15',
      'gdpr Art. 17',
      'gdpr Art. 20',
      'gdpr Art. 25(2)',
      'gdpr Art. 28(3)',
      'gdpr Art. 30',
      'gdpr Art. 33',
      'gdpr Art. 35',
      'soc2 CC6.1',
      'soc2 CC6.2',
      'soc2 CC6.3',
      'soc2 CC6.6',
      'soc2 CC6.7',
      'soc2 CC7.2',
      'soc2 CC7.3',
      'soc2 CC8.1',
      'iso27001 A.5.15',
      'iso27001 A.5.17',
      'iso27001 A.5.18',
      'iso27001 A.5.34',
      'iso27001 A.8.5',
      'iso27001 A.8.10',
      'iso27001 A.8.12',
      'iso27001 A.8.15',
      'iso27001 A.8.16',
      'iso27001 A.8.24',
      'hipaa 164.308(a)(5)(ii)(C)',
      'hipaa 164.308(a)(5)(ii)(D)',
      'hipaa 164.308(b)(1)',
      'hipaa 164.310(a)(1)',
      'hipaa 164.312(a)(1)',
      'hipaa 164.312(a)(2)(iv)',
      'hipaa 164.312(b)',
      'hipaa 164.312(c)(1)',
      'hipaa 164.312(d)',
      'hipaa 164.312(e)(1)',
      'hipaa 164.316(b)(2)(i)',
      'pci Req. 3.5.1',
      'pci Req. 3.7.4',
      'pci Req. 7.2.1',
      'pci Req. 8.3.4',
      'pci Req. 8.4.2',
      'pci Req. 10.2.1',
      'pci Req. 10.3.2',
      'pci Req. 10.3.4',
      'pci Req. 10.5.1',
      // issue 22: clauses Bulwark can evidence that were missing
      'gdpr Art. 6',
      'gdpr Art. 16',
      'gdpr Art. 44-49',
      'iso27001 A.5.12',
      'iso27001 A.5.28',
      'hipaa 164.312(c)(2)',
      'hipaa 164.404',
      'pci Req. 3.5.1.1',
      'pci Req. 7.3.3',
      'pci Req. 8.4.1',
      'pci Req. 10.7.2',
      'pci Req. 8.2.8',
      'pci Req. 8.3.6',
    ]) {
      expect(refs).toContain(want);
    }
    expect(builtInCatalogue().get('hipaa-164.316-b-2-i')?.params).toEqual({ minDays: 2192 });
    expect(builtInCatalogue().get('pci-10.5.1')?.params).toEqual({ minDays: 366 });
  });

  it('rejects malformed catalogues at construction', () => {
    const known = new Set(Object.keys(AUTOMATED_CHECKS));
    const base: ControlDefinition = {
      id: 'x-1',
      framework: 'gdpr',
      ref: 'Art. 1',
      title: 't',
      requirement: 'r',
      check: 'keys.rotation',
    };
    expect(() => new ControlCatalogue([base, base], known)).toThrow(/defined twice/);
    expect(() => new ControlCatalogue([{ ...base, check: 'nope' as never }], known)).toThrow(
      /names no known check/,
    );
    expect(() => new ControlCatalogue([{ ...base, manual: { guidance: 'g' } }], known)).toThrow(
      /exactly one of check or manual/,
    );
    expect(() => new ControlCatalogue([{ ...base, id: 'has space' }], known)).toThrow(/token/);
    expect(() => new ControlCatalogue([{ ...base, framework: 'sox' as never }], known)).toThrow(/framework/);
  });
});

describe('ComplianceReport', () => {
  it('counts automated controls only: manual ones are unattested (never passed, never counted)', async () => {
    const result = await new ComplianceReport(f.kit).run('all');
    expect(hasFailures(result)).toBe(false);
    for (const s of result.frameworks) {
      expect(s.unattested).toBeGreaterThan(0);
      expect(s.attested).toBe(0);
      expect(s.failed).toBe(0);
      expect(s.applicable).toBe(s.passedFull + s.passedPartial + s.failed);
      expect(s.automatedFullPassRate).toBe(
        s.applicable === 0 ? null : Math.round((s.passedFull / s.applicable) * 1000) / 1000,
      );
    }
    const manual = result.controls.filter((c) => c.kind === 'manual');
    expect(
      manual.every(
        (c) => c.status === 'unattested' && c.evidenceRefs.length === 0 && c.guidance && c.remediation,
      ),
    ).toBe(true);
    const passes = result.controls.filter((c) => c.status === 'pass');
    expect(passes.every((c) => c.kind === 'automated' && c.evidenceRefs.length > 0)).toBe(true);
    // a pass is full only when the catalogue declares full coverage
    for (const c of passes) expect(c.passLevel).toBe(c.coverage?.level === 'full' ? 'full' : 'partial');
  });

  it('counts failures (not-demonstrated included) and passes by coverage', async () => {
    f.classification.register({ entity: 'Patient', field: 'ssn', category: 'phi', encrypted: false });
    const result = await new ComplianceReport(f.kit).run('hipaa');
    expect(result.frameworks).toHaveLength(1);
    const h = result.frameworks[0]!;
    // Two HIPAA controls read the PHI fields' encryption: (a)(2)(iv) encryption, (c)(2) authentication.
    expect(h.failed).toBe(2);
    const hipaa = result.controls;
    expect(h.passedFull).toBe(hipaa.filter((c) => c.status === 'pass' && c.passLevel === 'full').length);
    expect(h.passedPartial).toBe(
      hipaa.filter((c) => c.status === 'pass' && c.passLevel === 'partial').length,
    );
    expect(result.controls.every((c) => c.framework === 'hipaa')).toBe(true);
    expect(result.controls.find((c) => c.id === 'hipaa-164.312-a-2-iv')).toMatchObject({ status: 'fail' });
    expect(result.controls.find((c) => c.id === 'hipaa-164.312-c-2')).toMatchObject({ status: 'fail' });
    expect(hasFailures(result)).toBe(true);
  });

  it('an empty kit passes nothing: every automated control fails and manual ones are unattested', async () => {
    const result = await new ComplianceReport(new ComplianceKit()).run('all');
    expect(result.totals.passedFull + result.totals.passedPartial).toBe(0);
    expect(result.totals.failed).toBe(result.controls.filter((c) => c.kind === 'automated').length);
    for (const s of result.frameworks) expect(s.automatedFullPassRate).toBe(0);
  });

  it('applies check parameter overrides and verifies the audit log when asked', async () => {
    const g = await fullKit({ verify: false });
    const r1 = await new ComplianceReport(g.kit).run('pci');
    expect(r1.controls.find((c) => c.id === 'pci-10.3.4')?.status).toBe('fail');
    const r2 = await new ComplianceReport(g.kit, {
      verifyAudit: true,
      params: { 'keys.rotation': { maxAgeDays: 90 } },
    }).run('pci');
    expect(r2.controls.find((c) => c.id === 'pci-10.3.4')?.status).toBe('pass');
    await g.close();
    expect(() => new ComplianceReport(g.kit, { params: { nope: {} } as never })).toThrow(
      /names no known check/,
    );
    await expect(new ComplianceReport(g.kit).run('sox' as never)).rejects.toThrow(/framework/);
  });
});

describe('output formats', () => {
  let result: ComplianceReportResult;
  beforeEach(async () => {
    f.classification.register({ entity: HOSTILE, field: 'notes', category: 'phi', encrypted: false });
    result = await new ComplianceReport(f.kit).run('all');
  });

  it('JSON has the summary, totals and every control with evidence', () => {
    const parsed = JSON.parse(renderJson(result));
    expect(parsed).toMatchObject({ scope: 'all', tool: { name: 'bulwark' } });
    expect(parsed.frameworks.map((x: { framework: string }) => x.framework)).toEqual([...FRAMEWORKS]);
    expect(parsed.controls).toHaveLength(BUILT_IN_CONTROLS.length);
    const failed = parsed.controls.find((c: { id: string }) => c.id === 'gdpr-art5-1-f');
    expect(failed).toMatchObject({
      status: 'fail',
      kind: 'automated',
      check: 'encryption.classified-fields',
    });
    const cited = parsed.evidence.find((e: { id: string }) => e.id === failed.evidenceRefs[0]);
    expect(cited).toMatchObject({ source: 'ClassificationRegistry' });
    // evidence is listed once, however many controls cite it
    const ids = parsed.evidence.map((e: { id: string }) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const contents = parsed.evidence.map((e: { id: string }) => JSON.stringify({ ...e, id: undefined }));
    expect(new Set(contents).size).toBe(contents.length);
    expect(
      parsed.controls.filter((c: { evidenceRefs: string[] }) => c.evidenceRefs.includes(cited.id)).length,
    ).toBeGreaterThan(1);
    expect(typeof failed.remediation).toBe('string');
  });

  it('Markdown lists each control and escapes hostile text', () => {
    const md = renderMarkdown(result);
    for (const c of BUILT_IN_CONTROLS) expect(md).toContain(c.id.replace(/_/g, '\\_'));
    // outside the fenced raw-evidence blocks, hostile text is escaped
    const prose = md.split('### Raw evidence')[0]!;
    expect(prose).not.toContain('<script>');
    expect(prose).toContain('&lt;script&gt;');
    expect(md).toContain('### Manual controls');
    // a hostile pipe cannot add a table column
    const row = md.split('\n').find((l) => l.startsWith('| gdpr-art5-1-f '))!;
    expect(row.split(/(?<!\\)\|/).length).toBe(9);
    // the raw JSON cannot close its fence
    const fences = md.split('\n').filter((l) => /^`{3,}/.test(l));
    expect(fences.length % 2).toBe(0);
  });

  it('HTML is self-contained and escapes hostile text', () => {
    const html = renderHtml(result);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain("default-src 'none'");
    expect((html.match(/<svg /g) ?? []).length).toBe(FRAMEWORKS.length);
    expect((html.match(/<tr class="control"/g) ?? []).length).toBe(BUILT_IN_CONTROLS.length);
  });

  it('OSCAL validates against the NIST assessment-results 1.0.4 schema', () => {
    const schema = JSON.parse(
      readFileSync(path.join(VECTORS, 'oscal_assessment-results_schema_v1.0.4.json'), 'utf8'),
    );
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    const doc = JSON.parse(renderOscal(result));
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // a result per framework, an observation per control, a finding per scored control
    const results = doc['assessment-results'].results;
    expect(results).toHaveLength(FRAMEWORKS.length);
    const gdpr = results[0];
    const gdprControls = result.controls.filter((c) => c.framework === 'gdpr');
    expect(gdpr.observations).toHaveLength(gdprControls.length);
    expect(gdpr.findings).toHaveLength(
      gdprControls.filter(
        (c) => c.status === 'pass' || c.status === 'fail' || c.status === 'not-demonstrated',
      ).length,
    );
    const finding = gdpr.findings.find(
      (x: { target: { 'target-id': string } }) => x.target['target-id'] === 'gdpr-art5-1-f',
    );
    expect(finding.target.status.state).toBe('not-satisfied');
    const obs = gdpr.observations.find(
      (o: { uuid: string }) => o.uuid === finding['related-observations'][0]['observation-uuid'],
    );
    expect(obs['relevant-evidence'][0].remarks).toContain('notes');
    // and a broken document does not validate (the test would notice a renderer regression)
    delete doc['assessment-results']['import-ap'];
    expect(validate(doc)).toBe(false);
  });

  it('evaluateControls works on a JSON round-tripped evidence snapshot', async () => {
    const snapshot = JSON.parse(JSON.stringify(await f.kit.collectEvidence()));
    const again = evaluateControls(snapshot, 'gdpr');
    expect(again.controls.map((c) => c.status)).toEqual(
      result.controls.filter((c) => c.framework === 'gdpr').map((c) => c.status),
    );
  });
});
