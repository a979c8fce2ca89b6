import fc from 'fast-check';
import {
  csvCell,
  formatSubjectExport,
  SUBJECT_EXPORT_CSV_HEADER,
  SUBJECT_EXPORT_FORMAT,
  type SubjectExport,
} from '../../src/privacy/format-subject-export';
import { parseCsv } from './export-parsers';

/** What a spreadsheet takes as the start of a formula (OWASP CSV Injection, plus full-width forms). */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
/** Every separator a spreadsheet's import may split a cell on, and line breaks. */
const SEPARATORS = /[,;\t|\r\n]/;

/** The pieces a spreadsheet could see in one (unquoted) cell, with padding spaces and quotes removed. */
function pieces(cell: string): string[] {
  return cell.split(SEPARATORS).map((p) => p.replace(/^[ "\u00A0\u3000]+/, ''));
}

function exportOf(values: string[]): SubjectExport {
  return {
    format: SUBJECT_EXPORT_FORMAT,
    requestId: 'req-1',
    subjectId: 'patient-1',
    generatedAt: '2026-01-01T00:00:00.000Z',
    sources: [
      {
        id: 'clinic',
        description: 'notes',
        records: [
          {
            type: 'ClinicalNote',
            id: 'n1',
            fields: values.map((v, i) => ({ name: `f${i}`, classification: 'phi' as const, value: v })),
          },
        ],
      },
    ],
  };
}

const ATTACKS = [
  'Asthma;=1+1',
  'Asthma,=1+1',
  'Asthma|=1+1',
  'Asthma\t=1+1',
  'Asthma\r\n=1+1',
  'Asthma; =1+1',
  'Asthma;"=1+1"',
  'ok;+cmd|/c calc',
  'ok;-2+3',
  'ok;@SUM(A1)',
  'ok;\uFF1D1+1',
  '=HYPERLINK("http://evil.example","x")',
  '\t=1',
  '\r=1',
  '  =1+1',
];

describe('subject export CSV formula guard', () => {
  it.each(ATTACKS)('neutralises every formula start in %j', (attack) => {
    const cell = parseCsv(`${csvCell(attack)}\r\n`)[0]![0]!;
    for (const piece of pieces(cell)) expect(piece).not.toMatch(FORMULA_START);
  });

  it('writes `Asthma;=1+1` quoted with the piece after `;` neutralised', () => {
    expect(csvCell('Asthma;=1+1')).toBe(`"Asthma;'=1+1"`);
  });

  it('leaves text without formula starts unchanged apart from quoting', () => {
    expect(csvCell('Asthma; mild, seasonal')).toBe('"Asthma; mild, seasonal"');
    expect(csvCell('a-b=c')).toBe('"a-b=c"');
    expect(csvCell('')).toBe('""');
  });

  it('quotes every cell of the export, the header included', () => {
    const body = formatSubjectExport(exportOf(['plain', 'Asthma;=1+1']), 'csv').body;
    const lines = body.split('\r\n').filter((l) => l !== '');
    expect(lines[0]).toBe(SUBJECT_EXPORT_CSV_HEADER.map((h) => `"${h}"`).join(','));
    for (const line of lines) expect(line).toMatch(/^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$/);
    const rows = parseCsv(body);
    expect(rows[2]![6]).toBe("Asthma;'=1+1");
  });

  it('property: no cell of the export, re-split on any separator, starts a formula', () => {
    const formulaish = fc.constantFrom(
      '=',
      '+',
      '-',
      '@',
      '\t',
      '\r',
      '\n',
      ',',
      ';',
      '|',
      ' ',
      '"',
      "'",
      '\uFF1D',
      '\uFF0B',
      '\uFF0D',
      '\uFF20',
      '\u00A0',
      '\u3000',
      'a',
      '1',
    );
    const value = fc.oneof(
      fc.array(formulaish, { maxLength: 24 }).map((cs) => cs.join('')),
      fc.string({ maxLength: 24 }),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), (values) => {
        const rows = parseCsv(formatSubjectExport(exportOf(values), 'csv').body);
        expect(rows.slice(1).map((r) => r[6])).toHaveLength(values.length);
        for (const row of rows) {
          expect(row).toHaveLength(7);
          for (const cell of row) {
            for (const piece of pieces(cell)) expect(piece).not.toMatch(FORMULA_START);
          }
        }
        // The guard only adds: removing the inserted quotes gives the value back.
        rows.slice(1).forEach((r, i) => expect(r[6]!.replace(/'/g, '')).toBe(values[i]!.replace(/'/g, '')));
      }),
      { numRuns: 500 },
    );
  });
});
