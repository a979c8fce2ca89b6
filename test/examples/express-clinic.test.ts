/**
 * examples/express-clinic end to end: the app is started for real (SQLite in a temp folder, then
 * PostgreSQL in a fresh schema) and driven over HTTP with supertest. Every claim of the example's
 * README is checked here: encrypted PHI at rest, blind-index lookups, RBAC with patient-owns-record,
 * brute-force lockout, consent for research, export, erasure with crypto-shredding, and an audit
 * chain that verifies (and stops verifying when a row is edited).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createClinicApp, DEMO_USERS, type ClinicApp } from '../../examples/express-clinic/src/app';
import { describeWithService, SERVICE_URLS } from '../support/services';

type Tokens = Record<string, string>;

async function login(clinic: ClinicApp, username: string): Promise<string> {
  const user = DEMO_USERS.find((u) => u.username === username)!;
  const res = await request(clinic.app).post('/auth/login').send({ username, password: user.password });
  expect(res.status).toBe(200);
  return res.body.token as string;
}

async function loginAll(clinic: ClinicApp): Promise<Tokens> {
  const tokens: Tokens = {};
  for (const u of DEMO_USERS) tokens[u.username] = await login(clinic, u.username);
  return tokens;
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** Patient ids by demo username (a patient's login id is their record id). */
async function patientIds(clinic: ClinicApp, doctor: string): Promise<Record<string, string>> {
  const res = await request(clinic.app).get('/patients').set(auth(doctor));
  expect(res.status).toBe(200);
  const byName = (name: string) =>
    (res.body as { id: string; fullName: string }[]).find((p) => p.fullName === name)!.id;
  return { alice: byName('Alice Martin'), bob: byName('Bob Okafor') };
}

describe('examples/express-clinic on SQLite', () => {
  let dir: string;
  let clinic: ClinicApp;
  let tokens: Tokens;
  let ids: Record<string, string>;
  const serverErrors: unknown[] = [];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-clinic-'));
    clinic = await createClinicApp({ dataDir: dir, databaseUrl: '', logError: (e) => serverErrors.push(e) });
    tokens = await loginAll(clinic);
    ids = await patientIds(clinic, tokens['dr.grey']!);
  });

  afterAll(async () => {
    await clinic?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates its data folder on first run: databases and demo secrets, master key mode 0600', async () => {
    const names = await fs.readdir(dir);
    for (const f of [
      'clinic.sqlite',
      'audit.sqlite',
      'master.key',
      'keys.json',
      'jwt-signing-key.pem',
      'README.txt',
    ]) {
      expect(names).toContain(f);
    }
    expect((await fs.stat(path.join(dir, 'master.key'))).mode & 0o777).toBe(0o600);
    expect(clinic.generatedSecrets).toContain('master.key');
    // keys.json holds wrapped keys only
    const master = (await fs.readFile(path.join(dir, 'master.key'), 'utf8')).trim();
    expect(await fs.readFile(path.join(dir, 'keys.json'), 'utf8')).not.toContain(master);
  });

  describe('login', () => {
    it('issues a JWT for the right password, 401 problem+json for a wrong one or an unknown user', async () => {
      const ok = await request(clinic.app)
        .post('/auth/login')
        .send({ username: 'nurse.joy', password: 'joy-demo-password' });
      expect(ok.status).toBe(200);
      expect(ok.body.tokenType).toBe('Bearer');
      expect(ok.body.user.role).toBe('nurse');
      const me = await request(clinic.app).get('/me').set(auth(ok.body.token));
      expect(me.body).toMatchObject({ roles: ['nurse'], displayName: 'Nurse Joy' });

      const wrong = await request(clinic.app)
        .post('/auth/login')
        .send({ username: 'nurse.joy', password: 'not-her-password' });
      const unknown = await request(clinic.app)
        .post('/auth/login')
        .send({ username: 'nobody', password: 'whatever-password' });
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(res.body.code).toBe('ERR_CLINIC_INVALID_CREDENTIALS');
        expect(res.body.token).toBeUndefined();
      }
      // same answer either way: no user enumeration
      expect(wrong.body.detail).toBe(unknown.body.detail);
    });

    it('refuses a forged token (alg none) and a missing one with 401', async () => {
      const [, payload] = tokens['alice']!.split('.');
      const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
      expect((await request(clinic.app).get('/me').set(auth(none))).status).toBe(401);
      expect((await request(clinic.app).get('/patients')).status).toBe(401);
    });

    it('locks an account out after repeated failures (429 + Retry-After), even for the right password', async () => {
      let locked: request.Response | undefined;
      for (let i = 0; i < 10 && locked === undefined; i++) {
        const res = await request(clinic.app)
          .post('/auth/login')
          .send({ username: 'dr.curie', password: `guess-${i}` });
        if (res.status === 429) locked = res;
        else expect(res.status).toBe(401);
        // the failure is recorded when the response finishes: let it land before the next try
        await new Promise((r) => setImmediate(r));
      }
      expect(locked).toBeDefined();
      expect(Number(locked!.headers['retry-after'])).toBeGreaterThan(0);
      expect(locked!.body.code).toBe('ERR_HTTP_TOO_MANY_REQUESTS');
      const right = await request(clinic.app)
        .post('/auth/login')
        .send({ username: 'dr.curie', password: 'curie-demo-password' });
      expect(right.status).toBe(429);
      // other accounts are unaffected
      expect(
        (
          await request(clinic.app)
            .post('/auth/login')
            .send({ username: 'bob', password: 'bob-demo-password' })
        ).status,
      ).toBe(200);
    });
  });

  describe('encrypted PHI', () => {
    it('stores every PHI column as an envelope: no plaintext in the table or in the database files', async () => {
      const [row] = await clinic.dataSource.query('SELECT * FROM "patient" WHERE "id" = ?', [ids.alice]);
      for (const column of ['full_name', 'email', 'ssn', 'date_of_birth', 'diagnosis']) {
        expect(row[column]).toMatch(/^bw2/);
      }
      expect(JSON.stringify(row)).not.toMatch(/Alice|alice\.martin|123-45-6789|diabetes|1984-03-02/);
      const [note] = await clinic.dataSource.query(
        'SELECT "body" FROM "clinical_note" WHERE "patient_id" = ?',
        [ids.alice],
      );
      expect(note.body).toMatch(/^bw2/);
      await clinic.dataSource.query('PRAGMA wal_checkpoint(TRUNCATE)');
      for (const file of (await fs.readdir(dir)).filter((f) => f.startsWith('clinic.sqlite'))) {
        const bytes = await fs.readFile(path.join(dir, file));
        expect(bytes.includes('diabetes')).toBe(false);
        expect(bytes.includes('alice.martin@example.com')).toBe(false);
      }
      // the API decrypts for an authorised reader
      const res = await request(clinic.app).get(`/patients/${ids.alice}`).set(auth(tokens['dr.grey']!));
      expect(res.body).toMatchObject({
        fullName: 'Alice Martin',
        diagnosis: 'Type 2 diabetes mellitus',
        ssnLast4: '6789',
      });
    });

    it('refuses a ciphertext copied into another patient row (subject and row binding)', async () => {
      const [a] = await clinic.dataSource.query('SELECT "diagnosis" FROM "patient" WHERE "id" = ?', [
        ids.alice,
      ]);
      const [b] = await clinic.dataSource.query('SELECT "diagnosis" FROM "patient" WHERE "id" = ?', [
        ids.bob,
      ]);
      await clinic.dataSource.query('UPDATE "patient" SET "diagnosis" = ? WHERE "id" = ?', [
        a.diagnosis,
        ids.bob,
      ]);
      try {
        const res = await request(clinic.app).get(`/patients/${ids.bob}`).set(auth(tokens['dr.grey']!));
        // The envelope names Alice's key, the row says Bob: refused before any decryption.
        expect(res.status).toBe(500);
        expect(JSON.stringify(res.body)).not.toContain('diabetes');
        expect(res.body).toMatchObject({
          code: 'ERR_CRYPTO_SUBJECT_MISMATCH',
          detail: 'A stored value failed its integrity check and was not returned.',
        });
        expect(serverErrors.pop()).toMatchObject({ code: 'ERR_CRYPTO_SUBJECT_MISMATCH' });
      } finally {
        await clinic.dataSource.query('UPDATE "patient" SET "diagnosis" = ? WHERE "id" = ?', [
          b.diagnosis,
          ids.bob,
        ]);
      }
    });

    it('finds patients by email or SSN through the blind index, whatever the spelling', async () => {
      const doctor = auth(tokens['dr.grey']!);
      const byEmail = await request(clinic.app)
        .get('/patients/search')
        .query({ email: '  ALICE.Martin@example.com ' })
        .set(doctor);
      expect(byEmail.status).toBe(200);
      expect(byEmail.body.map((p: { id: string }) => p.id)).toEqual([ids.alice]);
      const bySsn = await request(clinic.app)
        .get('/patients/search')
        .query({ ssn: '987 65 4321' })
        .set(doctor);
      expect(bySsn.body.map((p: { id: string }) => p.id)).toEqual([ids.bob]);
      const none = await request(clinic.app)
        .get('/patients/search')
        .query({ email: 'nobody@example.com' })
        .set(doctor);
      expect(none.body).toEqual([]);
      const both = await request(clinic.app)
        .get('/patients/search')
        .query({ email: 'a@b.c', ssn: '1' })
        .set(doctor);
      expect(both.status).toBe(400);
      // the index column holds a short HMAC, not the value
      const [row] = await clinic.dataSource.query(
        'SELECT "email_index", "ssn_index" FROM "patient" WHERE "id" = ?',
        [ids.alice],
      );
      expect(row.email_index).toMatch(/^[0-9a-f]{8}$/);
      expect(row.ssn_index).toMatch(/^[0-9a-f]{8}$/);
    });
  });

  describe('access control', () => {
    const get = (url: string, who: string) => request(clinic.app).get(url).set(auth(tokens[who]!));

    it('doctor and nurse read demographics; only the doctor reads clinical notes', async () => {
      expect((await get(`/patients/${ids.alice}`, 'dr.grey')).status).toBe(200);
      expect((await get(`/patients/${ids.alice}`, 'nurse.joy')).status).toBe(200);
      expect((await get(`/patients/${ids.alice}/notes`, 'dr.grey')).status).toBe(200);
      const nurseNotes = await get(`/patients/${ids.alice}/notes`, 'nurse.joy');
      expect(nurseNotes.status).toBe(403);
      expect(nurseNotes.body.code).toBe('ERR_POLICY_DENIED');
    });

    it("a patient reads their own record and notes, never another patient's", async () => {
      const own = await get(`/patients/${ids.alice}`, 'alice');
      expect(own.status).toBe(200);
      expect(own.body.fullName).toBe('Alice Martin');
      expect((await get(`/patients/${ids.alice}/notes`, 'alice')).status).toBe(200);
      const other = await get(`/patients/${ids.bob}`, 'alice');
      expect(other.status).toBe(403);
      expect(JSON.stringify(other.body)).not.toContain('Bob');
      expect((await get('/patients', 'alice')).status).toBe(403);
    });

    it('auditors and researchers never read PHI (an explicit deny), and only doctors write', async () => {
      const res = await get(`/patients/${ids.alice}`, 'auditor.ames');
      expect(res.status).toBe(403);
      expect(res.body.reasonId).toBe('separation_of_duties');
      expect((await get(`/patients/${ids.alice}`, 'dr.curie')).status).toBe(403);

      const body = {
        fullName: 'Carol Diaz',
        dateOfBirth: '1975-07-14',
        ward: 'C3',
        email: 'carol@example.com',
      };
      expect(
        (await request(clinic.app).post('/patients').set(auth(tokens['nurse.joy']!)).send(body)).status,
      ).toBe(403);
      const created = await request(clinic.app).post('/patients').set(auth(tokens['dr.grey']!)).send(body);
      expect(created.status).toBe(201);
      expect((await get(`/patients/${created.body.id}`, 'nurse.joy')).body.fullName).toBe('Carol Diaz');
      const bad = await request(clinic.app)
        .post('/patients')
        .set(auth(tokens['dr.grey']!))
        .send({ ...body, dateOfBirth: 'yesterday' });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('ERR_CLINIC_INVALID_INPUT');
    });

    it('audits every route, denials included, with who / what / outcome', async () => {
      await get(`/patients/${ids.bob}`, 'alice'); // denied
      const events = await request(clinic.app)
        .get('/audit/events')
        .query({ outcome: 'denied', resourceId: ids.bob, limit: '10' })
        .set(auth(tokens['auditor.ames']!));
      expect(events.status).toBe(200);
      const denied = events.body.entries.find((e: { actor: { id: string } }) => e.actor.id === ids.alice);
      expect(denied).toMatchObject({
        action: 'http.get',
        outcome: 'denied',
        resource: { type: 'patients', id: ids.bob },
        details: { route: '/patients/:id', status: 403 },
      });
      // only auditors read the trail
      expect((await get('/audit/events', 'dr.grey')).status).toBe(403);
    });
  });

  describe('consent for research', () => {
    const questionnaire = (who: string) =>
      request(clinic.app)
        .post('/research/questionnaire')
        .set(auth(tokens[who]!))
        .send({ answers: { sleep: 7 } });
    const cohort = async () =>
      (await request(clinic.app).get('/research/cohort').set(auth(tokens['dr.curie']!))).body;

    it('requires consent, honours it at once, and stops the moment it is withdrawn', async () => {
      const refused = await questionnaire('alice');
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ code: 'ERR_CONSENT_REQUIRED', purposeId: 'research' });
      expect((await cohort()).size).toBe(0);

      const granted = await request(clinic.app)
        .post('/privacy/consents/research')
        .set(auth(tokens['alice']!))
        .send({});
      expect(granted.status).toBe(201);
      expect(granted.body).toMatchObject({ granted: true, state: 'granted', version: 1 });
      expect((await questionnaire('alice')).status).toBe(202);
      const withAlice = await cohort();
      expect(withAlice.size).toBe(1);
      expect(withAlice.cohort[0]).toMatchObject({ birthYear: 1984, diagnosis: 'Type 2 diabetes mellitus' });
      expect(JSON.stringify(withAlice)).not.toMatch(/Alice|alice|123-45/);

      const withdrawn = await request(clinic.app)
        .delete('/privacy/consents/research')
        .set(auth(tokens['alice']!));
      expect(withdrawn.status).toBe(200);
      expect(withdrawn.body).toMatchObject({ granted: false, state: 'withdrawn' });
      expect((await questionnaire('alice')).status).toBe(403);
      expect((await cohort()).size).toBe(0);

      const trail = await request(clinic.app)
        .get('/audit/events')
        .query({ action: 'consent.*' })
        .set(auth(tokens['auditor.ames']!));
      expect(trail.body.entries.map((e: { action: string }) => e.action)).toEqual(
        expect.arrayContaining(['consent.granted', 'consent.withdrawn']),
      );
    });
  });

  describe('data-subject requests', () => {
    it("exports the subject's own data as JSON, labelled, and nobody else's", async () => {
      const res = await request(clinic.app)
        .post('/privacy/requests/export')
        .set(auth(tokens['alice']!))
        .send({ format: 'json' });
      expect(res.status).toBe(200);
      expect(res.headers['content-disposition']).toMatch(/attachment/);
      const text =
        typeof res.body === 'object' && Object.keys(res.body).length > 0
          ? JSON.stringify(res.body)
          : res.text;
      expect(text).toContain('Alice Martin');
      expect(text).toContain('Type 2 diabetes mellitus');
      expect(text).toContain('Initial assessment');
      expect(text).toContain('"phi"');
      expect(text).not.toContain('Bob Okafor');
      expect(text).not.toContain('987-65-4321');
    });

    it('erases on request: record gone, ciphertext copies unreadable (crypto-shredding), audit redacted, chain verifies', async () => {
      // a "backup" of Bob's row taken before the erasure
      const [backup] = await clinic.dataSource.query('SELECT * FROM "patient" WHERE "id" = ?', [ids.bob]);
      const aad = `patient.diagnosis#${JSON.stringify([ids.bob])}`;
      const keyRing = clinic.bulwark.keyRing!;
      expect(await keyRing.decryptStringAsync(backup.diagnosis, { aad })).toBe('Moderate persistent asthma');
      expect((await request(clinic.app).get(`/patients/${ids.bob}`).set(auth(tokens['bob']!))).status).toBe(
        200,
      );

      const filed = await request(clinic.app)
        .post('/privacy/requests/erasure')
        .set(auth(tokens['bob']!))
        .send({});
      expect(filed.status).toBe(202);
      const requestId = filed.body.id as string;
      // only the privacy officer runs it
      expect(
        (await request(clinic.app).post(`/dsr/requests/${requestId}/erase`).set(auth(tokens['bob']!))).status,
      ).toBe(403);
      const open = await request(clinic.app).get('/dsr/requests').set(auth(tokens['dpo.dana']!));
      expect(open.body.map((r: { id: string }) => r.id)).toContain(requestId);
      expect(JSON.stringify(open.body)).not.toContain(ids.bob); // a subjectRef, not the id

      const erased = await request(clinic.app)
        .post(`/dsr/requests/${requestId}/erase`)
        .set(auth(tokens['dpo.dana']!));
      expect(erased.status).toBe(200);
      expect(erased.body.status).toBe('completed');
      expect(erased.body.summary).toMatchObject({
        shredded: true,
        sourcesErased: expect.arrayContaining(['clinic-records']),
      });
      expect(erased.body.summary.auditRedacted).toBeGreaterThan(0);
      expect(erased.body.receipt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

      // his audit entries keep their place in the chain but lose their content
      const auditor = auth(tokens['auditor.ames']!);
      const trail = await request(clinic.app)
        .get('/audit/events')
        .query({ resourceId: ids.bob })
        .set(auditor);
      expect(trail.body.entries).toEqual([]);
      const all = await request(clinic.app).get('/audit/events').query({ limit: '200' }).set(auditor);
      expect(JSON.stringify(all.body)).not.toContain(ids.bob);
      expect(all.body.entries.some((e: { redacted?: unknown }) => e.redacted !== undefined)).toBe(true);
      // gone from the database and the API; his still-unexpired token is refused
      expect(await clinic.dataSource.query('SELECT * FROM "patient" WHERE "id" = ?', [ids.bob])).toEqual([]);
      expect(
        await clinic.dataSource.query('SELECT * FROM "clinical_note" WHERE "patient_id" = ?', [ids.bob]),
      ).toEqual([]);
      expect(
        (await request(clinic.app).get(`/patients/${ids.bob}`).set(auth(tokens['dr.grey']!))).status,
      ).toBe(404);
      const stale = await request(clinic.app).get('/me').set(auth(tokens['bob']!));
      expect(stale.status).toBe(401);
      expect(stale.body.code).toBe('ERR_CLINIC_ACCOUNT_CLOSED');
      expect(
        (
          await request(clinic.app)
            .post('/auth/login')
            .send({ username: 'bob', password: 'bob-demo-password' })
        ).status,
      ).toBe(401);
      // the backup copy no longer decrypts: the subject key is destroyed
      await expect(keyRing.decryptStringAsync(backup.diagnosis, { aad })).rejects.toMatchObject({
        code: 'SUBJECT_SHREDDED',
      });
      const verify = await request(clinic.app).get('/audit/verify').set(auditor);
      expect(verify.body.ok).toBe(true);
    });
  });

  describe('audit chain', () => {
    it('checkpoints and verifies; the compliance report reads live evidence', async () => {
      const auditor = auth(tokens['auditor.ames']!);
      const cp = await request(clinic.app).post('/audit/checkpoint').set(auditor);
      expect(cp.status).toBe(201);
      expect(cp.body.treeSize).toBeGreaterThan(10);
      const verify = await request(clinic.app).get('/audit/verify').set(auditor);
      expect(verify.body).toMatchObject({ ok: true });
      expect(verify.body.checkpointsVerified).toBeGreaterThanOrEqual(1);
      // Activity review needs a recorded review: none yet, then the auditor records one.
      const reviewStatus = async (): Promise<string> =>
        (
          await request(clinic.app).get('/compliance/report').query({ framework: 'hipaa' }).set(auditor)
        ).body.controls.find((c: { id: string }) => c.id === 'hipaa-164.308-a-1-ii-d').status;
      expect(await reviewStatus()).toBe('fail');
      const nurse = auth(tokens['nurse.joy']!);
      expect((await request(clinic.app).post('/audit/reviews').set(nurse).send({ scope: 'x' })).status).toBe(
        403,
      );
      const noScope = await request(clinic.app).post('/audit/reviews').set(auditor).send({});
      expect(noScope.status).toBe(400);
      expect(noScope.headers['content-type']).toMatch(/application\/problem\+json/);
      const review = await request(clinic.app)
        .post('/audit/reviews')
        .set(auditor)
        .send({ scope: 'denied-access events of the week' });
      expect(review.status).toBe(201);
      expect(review.body.seq).toBeGreaterThan(cp.body.treeSize);
      expect(await reviewStatus()).toBe('pass');
      const report = await request(clinic.app)
        .get('/compliance/report')
        .query({ framework: 'hipaa' })
        .set(auditor);
      expect(report.status).toBe(200);
      const byCheck = Object.fromEntries(
        report.body.controls
          .filter((c: { check?: string }) => c.check)
          .map((c: { check: string; status: string }) => [c.check, c.status]),
      );
      for (const check of [
        'audit.enabled',
        'encryption.classified-fields',
        'passwords.hashing',
        'authz.default-deny',
      ]) {
        expect([check, byCheck[check]]).toEqual([check, 'pass']);
      }
      // The audit chain's verification and tamper evidence (PCI DSS 10.3.4; HIPAA no longer reads
      // them as ePHI integrity or activity review).
      const pci = await request(clinic.app)
        .get('/compliance/report')
        .query({ framework: 'pci' })
        .set(auditor);
      const pciByCheck = Object.fromEntries(
        pci.body.controls
          .filter((c: { check?: string }) => c.check)
          .map((c: { check: string; status: string }) => [c.check, c.status]),
      );
      for (const check of ['audit.verified', 'audit.tamper-evidence']) {
        expect([check, pciByCheck[check]]).toEqual([check, 'pass']);
      }
      const html = await request(clinic.app)
        .get('/compliance/report')
        .query({ framework: 'hipaa', format: 'html' })
        .set(auditor);
      expect(html.headers['content-type']).toMatch(/text\/html/);
      expect(html.text).toContain('<html');
      // the report names its system, who generated it and where its evidence came from
      expect(report.body.metadata).toMatchObject({
        system: 'express-clinic API',
        evidence: { source: 'live' },
      });
      expect(report.body.metadata.generatedBy).toMatch(/^user /);
      expect(html.text).toContain('<dd data-meta="system">express-clinic API</dd>');
      expect(html.text).toMatch(/data-provenance="/);
      expect(
        (await request(clinic.app).get('/compliance/report').set(auth(tokens['nurse.joy']!))).status,
      ).toBe(403);
    });

    it('a privacy officer attests a manual control: signed, shown as attested (never pass)', async () => {
      const officer = auth(tokens['dpo.dana']!);
      const expiresAt = new Date(Date.now() + 365 * 86_400_000).toISOString();
      const body = {
        controlId: 'set below',
        statement: 'Risk analysis for the clinic API reviewed and approved in November.',
        evidenceUri: 'https://intranet.example/training/2026-11.pdf',
        expiresAt,
      };
      const manual = await request(clinic.app)
        .get('/compliance/report')
        .query({ framework: 'hipaa' })
        .set(auth(tokens['auditor.ames']!));
      const target = manual.body.controls.find((c: { kind: string }) => c.kind === 'manual');
      body.controlId = target.id;
      expect(target.status).toBe('unattested');
      const res = await request(clinic.app).post('/compliance/attestations').set(officer).send(body);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        controlId: target.id,
        by: 'Dana (DPO)',
        role: 'privacy-officer',
        signature: 'verified',
      });
      // an automated control, an unknown one, a past expiry: 400, nothing stored
      for (const bad of [
        { ...body, controlId: 'hipaa-164.312-a-2-iv' },
        { ...body, controlId: 'nope' },
        { ...body, expiresAt: '2020-01-01T00:00:00Z' },
        { ...body, evidenceUri: 'javascript:alert(1)' },
      ]) {
        const refused = await request(clinic.app).post('/compliance/attestations').set(officer).send(bad);
        expect([JSON.stringify(bad), refused.status]).toEqual([JSON.stringify(bad), 400]);
        expect(refused.headers['content-type']).toMatch(/problem\+json/);
      }
      // only the officer may attest
      const nurse = await request(clinic.app)
        .post('/compliance/attestations')
        .set(auth(tokens['nurse.joy']!))
        .send(body);
      expect(nurse.status).toBe(403);
      const after = await request(clinic.app)
        .get('/compliance/report')
        .query({ framework: 'hipaa' })
        .set(auth(tokens['auditor.ames']!));
      const attested = after.body.controls.find((c: { id: string }) => c.id === target.id);
      expect(attested.status).toBe('attested');
      expect(attested.attestation).toMatchObject({ by: 'Dana (DPO)', signature: 'verified', expiresAt });
      expect(after.body.frameworks[0].attested).toBe(1);
      // kept durably: a second app on the same data directory still sees it
      const lines = (await fs.readFile(path.join(dir, 'compliance-attestations.jsonl'), 'utf8'))
        .trim()
        .split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!).jws).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('answers unknown routes with problem+json and strict security headers', async () => {
      const res = await request(clinic.app).get('/nope').set(auth(tokens['dr.grey']!));
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.headers['strict-transport-security']).toBeDefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('purges clinical notes past their retention period, except those under legal hold', async () => {
      const doctor = auth(tokens['dr.grey']!);
      const carol = (
        await request(clinic.app).get('/patients/search').query({ email: 'carol@example.com' }).set(doctor)
      ).body[0];
      expect(
        (
          await request(clinic.app)
            .post(`/patients/${carol.id}/notes`)
            .set(doctor)
            .send({ body: 'Follow-up.' })
        ).status,
      ).toBe(201);
      const retention = clinic.bulwark.dataRetention!;
      await retention.addHold({ id: 'litigation-alice', reason: 'pending claim', subjectId: ids.alice });
      const elevenYears = new Date(Date.now() + 11 * 365 * 86_400_000);
      const report = await retention.purge({ now: elevenYears });
      expect(report.sources.find((x) => x.sourceId === 'clinical-notes')?.purged).toBe(1);
      expect(
        await clinic.dataSource.query('SELECT "id" FROM "clinical_note" WHERE "patient_id" = ?', [carol.id]),
      ).toEqual([]);
      expect((await request(clinic.app).get(`/patients/${ids.alice}/notes`).set(doctor)).body).toHaveLength(
        1,
      );
      // not yet due: nothing purged today
      expect((await retention.purge()).total).toBe(0);
    });

    it('restarts on the same folder: keys, data and chain survive, demo data is not seeded twice', async () => {
      await clinic.close();
      clinic = await createClinicApp({
        dataDir: dir,
        databaseUrl: '',
        logError: (e) => serverErrors.push(e),
      });
      expect(clinic.generatedSecrets).toEqual([]);
      const doctor = await login(clinic, 'dr.grey');
      const list = await request(clinic.app).get('/patients').set(auth(doctor));
      expect(list.body.map((p: { fullName: string }) => p.fullName).sort()).toEqual([
        'Alice Martin',
        'Carol Diaz',
      ]);
      tokens['auditor.ames'] = await login(clinic, 'auditor.ames');
      expect(
        (await request(clinic.app).get('/audit/verify').set(auth(tokens['auditor.ames']!))).body.ok,
      ).toBe(true);
    });

    it("detects an audit row edited behind the app's back", async () => {
      const auditor = auth(tokens['auditor.ames']!);
      const denied = await request(clinic.app)
        .get('/audit/events')
        .query({ outcome: 'denied', limit: '1' })
        .set(auditor);
      const seq = denied.body.entries[0].seq as number;
      const Database = require('better-sqlite3');
      const db = new Database(path.join(dir, 'audit.sqlite'), { timeout: 5000 });
      try {
        db.prepare(`UPDATE "bulwark_audit_entry" SET "outcome" = 'success' WHERE "seq" = ?`).run(seq);
      } finally {
        db.close();
      }
      const verify = await request(clinic.app).get('/audit/verify').set(auditor);
      expect(verify.body.ok).toBe(false);
      expect(verify.body.firstBad.seq).toBe(seq);
    });
  });
});

describeWithService('postgres', 'examples/express-clinic on PostgreSQL', () => {
  const schema = `clinic_${randomBytes(5).toString('hex')}`;
  let dir: string;
  let clinic: ClinicApp;
  let tokens: Tokens;
  let ids: Record<string, string>;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-clinic-pg-'));
    clinic = await createClinicApp({
      dataDir: dir,
      databaseUrl: SERVICE_URLS.postgres,
      databaseSchema: schema,
    });
    tokens = await loginAll(clinic);
    ids = await patientIds(clinic, tokens['dr.grey']!);
  });

  afterAll(async () => {
    await clinic?.close();
    const admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps every table, keys included, in the database: no SQLite files', async () => {
    expect(clinic.database.kind).toBe('postgres');
    const names = await fs.readdir(dir);
    expect(names).not.toContain('clinic.sqlite');
    expect(names).not.toContain('keys.json');
    const tables = await clinic.dataSource.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
      [schema],
    );
    expect(tables.map((t: { table_name: string }) => t.table_name)).toEqual(
      expect.arrayContaining([
        'patient',
        'clinical_note',
        'clinic_user',
        'bulwark_key',
        'bulwark_subject_key',
        'bulwark_audit_entry',
        'bulwark_consent_record',
      ]),
    );
  });

  it('encrypts PHI, finds by blind index, enforces RBAC', async () => {
    const [row] = await clinic.dataSource.query(`SELECT * FROM "${schema}"."patient" WHERE "id" = $1`, [
      ids.alice,
    ]);
    expect(row.diagnosis).toMatch(/^bw2/);
    expect(JSON.stringify(row)).not.toMatch(/Alice|diabetes/);
    const found = await request(clinic.app)
      .get('/patients/search')
      .query({ ssn: '123456789' })
      .set(auth(tokens['dr.grey']!));
    expect(found.body.map((p: { id: string }) => p.id)).toEqual([ids.alice]);
    expect((await request(clinic.app).get(`/patients/${ids.alice}`).set(auth(tokens['alice']!))).status).toBe(
      200,
    );
    expect((await request(clinic.app).get(`/patients/${ids.bob}`).set(auth(tokens['alice']!))).status).toBe(
      403,
    );
  });

  it('consent, export and erasure with crypto-shredding; the audit chain verifies', async () => {
    expect(
      (await request(clinic.app).post('/privacy/consents/research').set(auth(tokens['bob']!)).send({}))
        .status,
    ).toBe(201);
    const cohort = await request(clinic.app).get('/research/cohort').set(auth(tokens['dr.curie']!));
    expect(cohort.body.size).toBe(1);
    const exported = await request(clinic.app)
      .post('/privacy/requests/export')
      .set(auth(tokens['bob']!))
      .send({ format: 'json' });
    expect(exported.status).toBe(200);
    expect(exported.text).toContain('Moderate persistent asthma');

    const [backup] = await clinic.dataSource.query(
      `SELECT "diagnosis" FROM "${schema}"."patient" WHERE "id" = $1`,
      [ids.bob],
    );
    const filed = await request(clinic.app)
      .post('/privacy/requests/erasure')
      .set(auth(tokens['bob']!))
      .send({});
    const erased = await request(clinic.app)
      .post(`/dsr/requests/${filed.body.id}/erase`)
      .set(auth(tokens['dpo.dana']!));
    expect(erased.status).toBe(200);
    expect(erased.body.summary.shredded).toBe(true);
    await expect(
      clinic.bulwark.keyRing!.decryptStringAsync(backup.diagnosis, {
        aad: `patient.diagnosis#${JSON.stringify([ids.bob])}`,
      }),
    ).rejects.toMatchObject({ code: 'SUBJECT_SHREDDED' });
    const keyRows = await clinic.dataSource.query(
      `SELECT "wrapped_key" FROM "${schema}"."bulwark_subject_key" WHERE "shredded_at" IS NOT NULL`,
    );
    expect(keyRows.length).toBe(1);
    expect(keyRows[0].wrapped_key).toBeNull();
    expect((await request(clinic.app).get('/research/cohort').set(auth(tokens['dr.curie']!))).body.size).toBe(
      0,
    );
    const consents = await clinic.dataSource.query(
      `SELECT count(*)::int AS n FROM "${schema}"."bulwark_consent_record" WHERE "subject_id" = $1`,
      [ids.bob],
    );
    expect(consents[0].n).toBe(0);

    const auditor = auth(tokens['auditor.ames']!);
    expect((await request(clinic.app).post('/audit/checkpoint').set(auditor)).status).toBe(201);
    const verify = await request(clinic.app).get('/audit/verify').set(auditor);
    expect(verify.body).toMatchObject({ ok: true });
  });
});
