import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BUILT_IN_CONTROLS } from '../../src/compliance/control-catalogue';
import { FRAMEWORK_NAMES, FRAMEWORKS, type ControlDefinition } from '../../src/compliance/control';

// docs/compliance-mapping.md is generated from the catalogue; this renders it again from the
// TypeScript sources (no build needed) and fails when the committed page differs.

const script = path.resolve(__dirname, '../../../../scripts/compliance-mapping.js');
const { renderMapping, PAGE } = require(script) as {
  renderMapping(input: {
    controls: readonly ControlDefinition[];
    frameworks: readonly string[];
    names: Readonly<Record<string, string>>;
  }): string;
  PAGE: string;
};

const render = (controls: readonly ControlDefinition[] = BUILT_IN_CONTROLS): string =>
  renderMapping({ controls, frameworks: FRAMEWORKS, names: FRAMEWORK_NAMES });

describe('docs/compliance-mapping.md', () => {
  it('matches the catalogue', () => {
    const committed = readFileSync(PAGE, 'utf8');
    const fresh = render();
    if (committed !== fresh) {
      const a = committed.split('\n');
      const b = fresh.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      throw new Error(
        `docs/compliance-mapping.md is out of date (first difference at line ${line + 1}):\n` +
          `  committed: ${a[line] ?? '(end of file)'}\n  catalogue: ${b[line] ?? '(end of file)'}\n` +
          'Regenerate it: npm run build && node scripts/compliance-mapping.js',
      );
    }
  });

  it('has one row per control, with coverage, what is observed and what is left to attest', () => {
    const page = render();
    for (const c of BUILT_IN_CONTROLS) {
      const row = page.split('\n').find((l) => l.startsWith(`| \`${c.id}\` |`));
      expect([c.id, row !== undefined]).toEqual([c.id, true]);
      const cells = row!.split(/(?<!\\)\|/).map((s) => s.trim());
      // | id | clause | title | modality | check | coverage | observed | attest | note |
      expect(cells[4]).toBe(c.modality);
      if (c.check !== undefined) {
        expect(cells[5]).toContain(c.check);
        expect(cells[6]).toBe(c.coverage!.level);
        expect(cells[7]).toContain(c.coverage!.evidences.split('|')[0]!.trim());
      } else {
        expect(cells[5]).toBe('manual');
        expect(cells[8]).toContain(c.manual!.guidance.slice(0, 40));
      }
    }
    for (const f of FRAMEWORKS) expect(page).toContain(`## ${FRAMEWORK_NAMES[f]}`);
  });

  it('changes when the catalogue changes (the comparison can fail)', () => {
    const changed = BUILT_IN_CONTROLS.map((c, i) =>
      i === 0 ? { ...c, coverage: { level: 'full' as const, evidences: 'everything' } } : c,
    );
    expect(render(changed)).not.toBe(render());
  });

  it('keeps a table intact when a text holds a pipe or a line break', () => {
    const [first] = BUILT_IN_CONTROLS;
    const page = render([{ ...first!, title: 'a | b\nc' }]);
    const row = page.split('\n').find((l) => l.startsWith(`| \`${first!.id}\``))!;
    expect(row).toContain('a \\| b c');
    expect(row.split(/(?<!\\)\|/).length).toBe(11);
  });
});
