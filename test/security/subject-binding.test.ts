/**
 * Attack (issue 12, defect 2): with write access to the clinic database, move a clinical note to
 * another patient (plain SQL UPDATE of `patient_id`). The note's body is encrypted under the first
 * patient's key, and the envelope names that key, so it used to decrypt and be served to the other
 * patient as theirs (notes list, data export). Now the envelope's subject is checked against the
 * row's subject column on every load: the request fails with an integrity problem that carries
 * none of the note, and the failure is logged with its code.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { describeWithService } from '../support/services';
import { startExample, stillServing, type ExampleProcess } from './support/example-process';

jest.setTimeout(120_000);

const PASSWORDS: Record<string, string> = {
  'dr.grey': 'grey-demo-password',
  'dpo.dana': 'dana-demo-password',
  'auditor.ames': 'ames-demo-password',
  alice: 'alice-demo-password',
  bob: 'bob-demo-password',
};

/** Plain SQL on the app's own database, as an attacker (or a careless operator) with DB access has it. */
async function moveNote(app: ExampleProcess, noteId: string, toPatient: string): Promise<void> {
  const ds =
    app.databaseUrl !== undefined
      ? new DataSource({ type: 'postgres', url: app.databaseUrl })
      : new DataSource({
          type: 'better-sqlite3',
          database: path.join(app.dataDir, 'clinic.sqlite'),
          timeout: 5_000,
        } as ConstructorParameters<typeof DataSource>[0]);
  await ds.initialize();
  try {
    const sql =
      app.databaseUrl !== undefined
        ? 'UPDATE "clinical_note" SET "patient_id" = $1 WHERE "id" = $2'
        : 'UPDATE "clinical_note" SET "patient_id" = ? WHERE "id" = ?';
    await ds.query(sql, [toPatient, noteId]);
    const check = app.databaseUrl !== undefined ? '$1' : '?';
    const rows = (await ds.query(`SELECT "patient_id" FROM "clinical_note" WHERE "id" = ${check}`, [
      noteId,
    ])) as Array<{ patient_id: string }>;
    expect(rows[0]?.patient_id).toBe(toPatient);
  } finally {
    await ds.destroy();
  }
}

async function call(
  app: ExampleProcess,
  method: string,
  pathName: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; type: string; text: string; json: () => Record<string, unknown> }> {
  const res = await fetch(`${app.url}${pathName}`, {
    method,
    headers: {
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

async function login(app: ExampleProcess, username: string): Promise<string> {
  const res = await call(app, 'POST', '/auth/login', undefined, { username, password: PASSWORDS[username] });
  expect(res.status).toBe(200);
  return res.json().token as string;
}

function attack(database: 'sqlite' | 'postgres'): void {
  let app: ExampleProcess;
  let doctor: string;
  let bobToken: string;
  let ids: { alice: string; bob: string };
  const secret = `Alice confided: ${randomUUID()}`;
  let noteId: string;

  beforeAll(async () => {
    app = await startExample('express-clinic', { database });
    doctor = await login(app, 'dr.grey');
    bobToken = await login(app, 'bob');
    const list = await call(app, 'GET', '/patients', doctor);
    expect(list.status).toBe(200);
    const patients = JSON.parse(list.text) as Array<{ id: string; fullName: string }>;
    const idOf = (name: string) => patients.find((p) => p.fullName === name)!.id;
    ids = { alice: idOf('Alice Martin'), bob: idOf('Bob Okafor') };

    const created = await call(app, 'POST', `/patients/${ids.alice}/notes`, doctor, { body: secret });
    expect(created.status).toBe(201);
    noteId = created.json().id as string;
    // Before the attack: Alice's note reads back, and Bob's list does not hold it.
    const aliceNotes = await call(app, 'GET', `/patients/${ids.alice}/notes`, doctor);
    expect(aliceNotes.text).toContain(secret);

    await moveNote(app, noteId, ids.bob);
  });
  afterAll(() => app?.stop());

  it('the moved note is not served to the other patient, decrypted or otherwise', async () => {
    const res = await call(app, 'GET', `/patients/${ids.bob}/notes`, bobToken);
    expect(res.text).not.toContain(secret);
    expect(res.text).not.toContain('Alice confided');
    // An integrity failure of stored data: a clean problem body, typed, with nothing of the note.
    expect(res.status).toBe(500);
    expect(res.type).toContain('application/problem+json');
    const problem = res.json();
    expect(problem).toMatchObject({
      status: 500,
      code: 'ERR_CRYPTO_SUBJECT_MISMATCH',
      title: 'Stored data failed an integrity check',
    });
    expect(res.text).not.toContain(ids.alice);
    expect(res.text).not.toMatch(/ClinicalNote|clinical_note|stack|bw[12]s/);
  });

  it('nor to a doctor reading the other patient, who sees the same integrity failure', async () => {
    const res = await call(app, 'GET', `/patients/${ids.bob}/notes`, doctor);
    expect(res.text).not.toContain(secret);
    expect(res.status).toBe(500);
    expect(res.json().code).toBe('ERR_CRYPTO_SUBJECT_MISMATCH');
  });

  it("the moved note does not enter the other patient's data export", async () => {
    const res = await call(app, 'POST', '/privacy/requests/export', bobToken, { format: 'json' });
    expect(res.text).not.toContain(secret);
    expect(res.text).not.toContain('Alice confided');
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.type).toContain('application/problem+json');
    expect(res.text).not.toMatch(/stack|bw[12]s|clinical_note/);
  });

  it('the failure is logged as an integrity failure, and the process keeps serving', async () => {
    expect(app.output()).toContain('ERR_CRYPTO_SUBJECT_MISMATCH');
    expect(app.output()).not.toContain(secret);
    // ...and in the tamper-evident audit trail, as a failed read of the other patient's notes.
    const auditor = await login(app, 'auditor.ames');
    const trail = await call(
      app,
      'GET',
      `/audit/events?resourceType=patients&resourceId=${ids.bob}&outcome=failure`,
      auditor,
    );
    expect(trail.status).toBe(200);
    const entries = trail.json().entries as Array<{ details?: { errorCode?: string } }>;
    expect(entries.some((e) => e.details?.errorCode === 'ERR_CRYPTO_SUBJECT_MISMATCH')).toBe(true);
    expect(trail.text).not.toContain(secret);
    expect(await stillServing(app, '/health')).toBe(200);
    // Alice's other data is untouched.
    const alice = await call(app, 'GET', `/patients/${ids.alice}`, doctor);
    expect(alice.status).toBe(200);
  });

  it("the other patient's erasure neither erases nor shreds the moved note: it stops, and the note is recoverable", async () => {
    const filed = await call(app, 'POST', '/privacy/requests/erasure', bobToken, {});
    expect(filed.status).toBe(202);
    const dpo = await login(app, 'dpo.dana');
    const run = await call(app, 'POST', `/dsr/requests/${filed.json().id as string}/erase`, dpo);
    expect(run.text).not.toContain(secret);
    expect(run.status).toBeGreaterThanOrEqual(500);
    expect(run.type).toContain('application/problem+json');
    // The erasure stopped before deleting or shredding anything: put the row back, and it is
    // Alice's note again, intact.
    await moveNote(app, noteId, ids.alice);
    const aliceNotes = await call(app, 'GET', `/patients/${ids.alice}/notes`, doctor);
    expect(aliceNotes.status).toBe(200);
    expect(aliceNotes.text).toContain(secret);
    expect((await call(app, 'GET', `/patients/${ids.bob}/notes`, bobToken)).status).toBe(200);
  });
}

describe('express-clinic on SQLite: a note moved to another patient by SQL is refused', () =>
  attack('sqlite'));
describeWithService(
  'postgres',
  'express-clinic on PostgreSQL: a note moved to another patient by SQL is refused',
  () => attack('postgres'),
);
