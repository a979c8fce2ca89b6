/**
 * Issue 12, defect 5: the subject export's CSV formula guard missed `;`-separated cells: a clinical
 * note `Asthma;=1+1` went out unquoted, and a spreadsheet splitting on `;` (the default list
 * separator in much of Europe) evaluated `=1+1`. Replayed over HTTP against express-clinic: a
 * doctor writes the note, the patient downloads her export as CSV.
 */
import { startExample, type ExampleProcess } from './support/example-process';

jest.setTimeout(120_000);

const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const SEPARATORS = /[,;\t|\r\n]/;

/** RFC 4180 reader that insists every cell is quoted (what the export promises). */
function parseQuotedCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '"') throw new Error(`unquoted cell at ${i}: ${JSON.stringify(text.slice(i, i + 20))}`);
    let cell = '';
    i++;
    for (;;) {
      if (i >= text.length) throw new Error('unterminated quote');
      if (text[i] === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        i++;
        break;
      }
      cell += text[i++];
    }
    row.push(cell);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else throw new Error(`text after a closing quote at ${i}`);
  }
  return rows;
}

async function login(app: ExampleProcess, username: string, password: string) {
  const res = await fetch(`${app.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { token: string; user: { id: string } };
  return { token: body.token, id: body.user.id };
}

describe('subject export CSV neutralises formulas after any separator (express-clinic)', () => {
  let app: ExampleProcess;
  beforeAll(async () => {
    app = await startExample('express-clinic');
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('a note `Asthma;=1+1` is exported quoted, with the `=1+1` piece neutralised', async () => {
    const doctor = await login(app, 'dr.grey', 'grey-demo-password');
    const alice = await login(app, 'alice', 'alice-demo-password');
    for (const body of ['Asthma;=1+1', 'Wheeze|+cmd|/c calc', 'ok,@SUM(A1)', 'Cough\t-2+3']) {
      const created = await fetch(`${app.url}/patients/${alice.id}/notes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${doctor.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ body }),
      });
      expect(created.status).toBe(201);
    }

    const res = await fetch(`${app.url}/privacy/requests/export`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ format: 'csv' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await res.text();
    expect(text).toContain(`"Asthma;'=1+1"`);
    expect(text).not.toMatch(/[^"]Asthma;=1\+1/);

    const rows = parseQuotedCsv(text);
    expect(rows.length).toBeGreaterThan(1);
    const values = rows.map((r) => r[6]);
    expect(values).toEqual(
      expect.arrayContaining(["Asthma;'=1+1", "Wheeze|'+cmd|/c calc", "ok,'@SUM(A1)", "Cough\t'-2+3"]),
    );
    for (const row of rows) {
      for (const cell of row) {
        for (const piece of cell.split(SEPARATORS)) {
          expect(piece.replace(/^[ "\u00A0\u3000]+/, '')).not.toMatch(FORMULA_START);
        }
      }
    }
  });
});
