/**
 * docs/asvs.md cannot rot: every row of its per-requirement table has a status the document
 * defines, every met row cites a proof, every cited proof file exists in the repository and holds
 * the cited test name as a string (an `it(...)` title or a shared scenario's `name`), the files
 * that run a shared contract exist and import it, and the Counts table and the "Met: N of 132"
 * sentence equal what the rows say.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const DOC = 'docs/asvs.md';
const STATUSES = ['met', 'partial', 'not provided'] as const;
type Status = (typeof STATUSES)[number];

interface Proof {
  /** The file holding the test, relative to the repository root. */
  file: string;
  /** Files that run a shared contract (`test/support/...`), from "(Express: a, Koa: b)". */
  runners: string[];
  /** The test title, or undefined for "(whole file)". */
  name: string | undefined;
}

interface Row {
  id: string;
  chapter: string;
  level: string;
  status: string;
  proofs: Proof[];
  line: number;
}

/** Splits a Markdown table row on the pipes that are not escaped (`\|` stays in the cell). */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

// `path (Express: a, Koa: b)` › "title" — a title may hold quotes and "; ", so it ends only at a
// quote followed by the next citation or the end of the cell.
const CITATION = /`([^`]+)`\s*(?:›\s*"(.*?)"(?=\s*;\s*`|\s*$)|\(whole file\))/g;

/** Proof cells with text outside the citation grammar. */
const unparsed: string[] = [];

function parseProofs(cell: string): Proof[] {
  if (cell === '—') return [];
  const proofs: Proof[] = [];
  for (const m of cell.matchAll(CITATION)) {
    const [file, ...rest] = m[1]!.split(' ');
    const annotation = rest.join(' ');
    const runners = [...annotation.matchAll(/[A-Za-z]+: ([^,)\s]+)/g)].map((r) => r[1]!);
    proofs.push({ file: file!, runners, name: m[2] });
  }
  // Nothing in the cell may escape the citation grammar (a typo would otherwise go unchecked).
  const leftover = cell.replace(CITATION, '').replace(/[;\s]/g, '');
  if (leftover !== '') unparsed.push(`${cell.slice(0, 60)}…: ${leftover.slice(0, 80)}`);
  return proofs;
}

const text = fs.readFileSync(path.join(ROOT, DOC), 'utf8');
const lines = text.split('\n');

const rows: Row[] = lines.flatMap((line, index) => {
  if (!/^\| V\d+\.\d+\.\d+ \|/.test(line)) return [];
  const [id, level, , status, , proof] = cells(line);
  return [
    {
      id: id!,
      chapter: id!.split('.')[0]!,
      level: level!,
      status: status!,
      proofs: parseProofs(proof!),
      line: index + 1,
    },
  ];
});

/** The Counts table: chapter prefix (`V1`, or `total`) -> [selected, met, partial, not provided]. */
const counts = new Map<string, number[]>();
{
  const start = lines.indexOf('## Counts');
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    const m = /^\| (?:\*\*)?(V\d+|total)\b/.exec(line);
    if (m === null) continue;
    counts.set(
      m[1]!,
      cells(line)
        .slice(1)
        .map((cell) => Number(cell.replace(/\*/g, ''))),
    );
  }
}

function tally(selected: Row[]): number[] {
  const by = (status: Status): number => selected.filter((row) => row.status === status).length;
  return [selected.length, by('met'), by('partial'), by('not provided')];
}

/** Source text with escaped quotes undone, so `'it\'s'` matches the title "it's". */
const sources = new Map<string, string>();
function source(file: string): string {
  let body = sources.get(file);
  if (body === undefined) {
    body = fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/\\(['"`])/g, '$1');
    sources.set(file, body);
  }
  return body;
}

describe(DOC, () => {
  it('has the 132 selected requirements, each once', () => {
    expect(rows).toHaveLength(132);
    expect(new Set(rows.map((row) => row.id)).size).toBe(132);
  });

  it('gives every row a status the document defines, and every met row a proof', () => {
    const bad = rows.filter((row) => !(STATUSES as readonly string[]).includes(row.status));
    expect(bad.map((row) => `${row.id} (line ${row.line}): ${row.status}`)).toEqual([]);
    expect(unparsed).toEqual([]);
    const unproven = rows.filter((row) => row.status === 'met' && row.proofs.length === 0);
    expect(unproven.map((row) => row.id)).toEqual([]);
  });

  it('cites proof files that exist and hold the cited test names', () => {
    const problems: string[] = [];
    for (const row of rows) {
      for (const proof of row.proofs) {
        const where = `${row.id} (line ${row.line})`;
        if (!fs.existsSync(path.join(ROOT, proof.file))) {
          problems.push(`${where}: no file ${proof.file}`);
          continue;
        }
        if (proof.name !== undefined) {
          const body = source(proof.file);
          if (![`'`, `"`, '`'].some((q) => body.includes(`${q}${proof.name}${q}`))) {
            problems.push(`${where}: ${proof.file} has no test "${proof.name}"`);
          }
        }
        const contract = path.basename(proof.file, '.ts');
        for (const runner of proof.runners) {
          if (!fs.existsSync(path.join(ROOT, runner))) problems.push(`${where}: no file ${runner}`);
          else if (!source(runner).includes(contract)) {
            problems.push(`${where}: ${runner} does not run ${proof.file}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('counts per chapter and in total what the rows say', () => {
    const chapters = [...new Set(rows.map((row) => row.chapter))];
    const expected = new Map(
      chapters.map((chapter) => [chapter, tally(rows.filter((r) => r.chapter === chapter))]),
    );
    expected.set('total', tally(rows));
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(expected));
  });

  it('states the met total and the per-level split the rows give', () => {
    const [selected, met] = tally(rows);
    expect(/Met: \*\*(\d+ of \d+)\*\*/.exec(text)?.[1]).toBe(`${met} of ${selected}`);
    for (const level of ['1', '2']) {
      const stated = new RegExp(
        `L${level}: (\\d+) selected, (\\d+) met, (\\d+) partial, (\\d+) not provided`,
      ).exec(text);
      expect(stated?.slice(1).map(Number)).toEqual(tally(rows.filter((row) => row.level === level)));
    }
  });
});
