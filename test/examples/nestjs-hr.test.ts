/**
 * examples/nestjs-hr end to end: the real NestJS app (BulwarkModule + @nestjs/typeorm) started
 * in-process on SQLite in a temporary folder and driven over HTTP with supertest; then the core
 * journey on a fresh PostgreSQL database.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createHrApp, type HrApp } from '../../examples/nestjs-hr/src/app';
import { describeWithService, SERVICE_URLS } from '../support/services';

const PEOPLE = {
  hana: { email: 'hana@hr.example', password: 'hana-demo-password', id: 'emp-1' }, // hr-admin
  max: { email: 'max@hr.example', password: 'max-demo-password', id: 'emp-2' }, // manager of Eve
  eve: { email: 'eve@hr.example', password: 'eve-demo-password', id: 'emp-3' }, // employee
  omar: { email: 'omar@hr.example', password: 'omar-demo-password', id: 'emp-4' }, // reports to Hana
} as const;

type Person = keyof typeof PEOPLE;

async function tokensFor(url: string, ...who: Person[]): Promise<Record<Person, string>> {
  const out = {} as Record<Person, string>;
  for (const name of who) {
    const { email, password } = PEOPLE[name];
    const res = await request(url).post('/auth/login').send({ email, password }).expect(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', employeeId: PEOPLE[name].id });
    out[name] = `Bearer ${res.body.token}`;
  }
  return out;
}

describe('nestjs-hr example (SQLite)', () => {
  let dir: string;
  let hr: HrApp;
  let auth: Record<Person, string>;
  const as = (who: Person) => ({
    get: (p: string) => request(hr.url).get(p).set('Authorization', auth[who]),
    post: (p: string) => request(hr.url).post(p).set('Authorization', auth[who]),
    put: (p: string) => request(hr.url).put(p).set('Authorization', auth[who]),
    delete: (p: string) => request(hr.url).delete(p).set('Authorization', auth[who]),
  });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-nestjs-hr-'));
    hr = await createHrApp({ dataDir: dir, logger: false });
    auth = await tokensFor(hr.url, 'hana', 'max', 'eve', 'omar');
  });

  afterAll(async () => {
    await hr?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates its data folder on first run and stores salaries and national ids encrypted', async () => {
    expect(await fs.readdir(dir)).toEqual(
      expect.arrayContaining([
        'hr.sqlite',
        'bulwark.sqlite',
        'audit.sqlite',
        'master.key',
        'demo-secrets.json',
      ]),
    );
    const rows = await hr.dataSource.query(
      'SELECT "id", "email", "salary", "nationalId", "nationalIdIndex", "passwordHash" FROM hr_employee ORDER BY "id"',
    );
    expect(rows.map((r: { id: string }) => r.id)).toEqual(['emp-1', 'emp-2', 'emp-3', 'emp-4']);
    for (const row of rows) {
      for (const column of ['email', 'salary', 'nationalId']) expect(row[column]).toMatch(/^bw2\.hr\.1\./);
      expect(row.nationalIdIndex).toMatch(/^[0-9a-f]{8}$/);
      expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    }
    const eve = rows.find((r: { id: string }) => r.id === 'emp-3');
    expect(eve.salary).not.toContain('64000');
    // The plaintext is absent (a random ciphertext may contain the letters EF by chance).
    expect(eve.nationalId).not.toContain('EF 11 22 33 B');
    // A salary ciphertext copied onto another employee's row does not decrypt there (bound to the row).
    const ring = hr.bulwark.keyRing!;
    expect(ring.decryptString(eve.salary, { aad: 'hr_employee.salary#["emp-3"]' })).toBe('64000');
    expect(() => ring.decryptString(eve.salary, { aad: 'hr_employee.salary#["emp-4"]' })).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPTION_FAILED' }),
    );
  });

  it('logs in with argon2id + JWT; wrong passwords, unknown accounts and bad tokens are 401', async () => {
    await request(hr.url)
      .post('/auth/login')
      .send({ email: PEOPLE.eve.email, password: 'wrong' })
      .expect(401);
    await request(hr.url).post('/auth/login').send({ email: 'nobody@hr.example', password: 'x' }).expect(401);
    // The e-mail is found through its blind index, normalised first.
    await request(hr.url)
      .post('/auth/login')
      .send({ email: ' EVE@hr.example', password: PEOPLE.eve.password })
      .expect(200);
    const none = await request(hr.url).get('/employees/emp-3').expect(401);
    expect(none.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(hr.url).get('/employees/emp-3').set('Authorization', 'Bearer a.b.c').expect(401);
    await request(hr.url).get('/health').expect(200);
  });

  it('employee: self only', async () => {
    expect((await as('eve').get('/employees/emp-3').expect(200)).body).toMatchObject({
      name: 'Eve Engineer',
      managerId: 'emp-2',
    });
    expect((await as('eve').get('/employees/emp-3/salary').expect(200)).body).toEqual({
      id: 'emp-3',
      salary: 64000,
      currency: 'EUR',
    });
    expect((await as('eve').get('/employees/emp-3/national-id').expect(200)).body.nationalId).toBe(
      'EF 11 22 33 B',
    );
    const other = await as('eve').get('/employees/emp-4').expect(403);
    expect(other.body).toMatchObject({ code: 'ERR_POLICY_DENIED', reasonId: 'default_deny' });
    await as('eve').get('/employees/emp-2/salary').expect(403);
    await as('eve').get('/employees/emp-999').expect(403); // unknown ids look like anyone else's
    expect((await as('eve').get('/employees').expect(200)).body.map((e: { id: string }) => e.id)).toEqual([
      'emp-3',
    ]);
  });

  it("manager: own direct reports' records and salaries, never their national ids", async () => {
    expect((await as('max').get('/employees/emp-3/salary').expect(200)).body.salary).toBe(64000);
    await as('max').get('/employees/emp-4/salary').expect(403); // Omar reports to Hana
    await as('max').get('/employees/emp-3/national-id').expect(403);
    await as('max').put('/employees/emp-3/salary').send({ salary: 70000 }).expect(403);
    expect((await as('max').get('/employees').expect(200)).body.map((e: { id: string }) => e.id)).toEqual([
      'emp-2',
      'emp-3',
    ]);
  });

  it('hr-admin: everything, except raising their own salary (deny overrides allow)', async () => {
    expect((await as('hana').get('/employees/emp-4/national-id').expect(200)).body.nationalId).toBe(
      'GH 44 55 66 D',
    );
    const before = (
      await hr.dataSource.query('SELECT "salary" FROM hr_employee WHERE "id" = ?', ['emp-3'])
    )[0].salary;
    const raised = await as('hana').put('/employees/emp-3/salary').send({ salary: 66000 }).expect(200);
    expect(raised.body).toEqual({ id: 'emp-3', salary: 66000, currency: 'EUR' });
    const after = (await hr.dataSource.query('SELECT "salary" FROM hr_employee WHERE "id" = ?', ['emp-3']))[0]
      .salary;
    expect(after).toMatch(/^bw2\.hr\./);
    expect(after).not.toBe(before);
    expect((await as('eve').get('/employees/emp-3/salary').expect(200)).body.salary).toBe(66000);

    const own = await as('hana').put('/employees/emp-1/salary').send({ salary: 999999 }).expect(403);
    expect(own.body.reasonId).toBe('no_self_approval');
    await as('hana').put('/employees/emp-3/salary').send({ salary: -5 }).expect(400);
    await as('hana').get('/employees/emp-999').expect(404);
    await as('hana')
      .get('/employees/..%2Femp-1')
      .expect((res) => expect([400, 404]).toContain(res.status));
  });

  it('finds an employee by national id through the blind index (HR only)', async () => {
    const found = await as('hana').get('/employees/search').query({ nationalId: 'ef-112233-b' }).expect(200);
    expect(found.body.map((e: { id: string }) => e.id)).toEqual(['emp-3']);
    expect(
      (await as('hana').get('/employees/search').query({ nationalId: 'ZZ999999Z' }).expect(200)).body,
    ).toEqual([]);
    await as('hana').get('/employees/search').query({ nationalId: "x' OR 1=1 --" }).expect(400);
    await as('max').get('/employees/search').query({ nationalId: 'EF112233B' }).expect(403);
  });

  it('HR creates an employee: national id and salary encrypted, duplicates refused by blind index', async () => {
    const body = {
      name: 'Nia New',
      email: 'nia@hr.example',
      password: 'nia-demo-password',
      role: 'employee',
      department: 'Engineering',
      managerId: 'emp-2',
      nationalId: 'jk 12 34 56 z',
      salary: 58000,
    };
    await as('max').post('/employees').send(body).expect(403);
    const created = await as('hana').post('/employees').send(body).expect(201);
    expect(created.body).toMatchObject({ name: 'Nia New', managerId: 'emp-2' });
    expect(JSON.stringify(created.body)).not.toContain('58000');
    const [row] = await hr.dataSource.query('SELECT "nationalId", "salary" FROM hr_employee WHERE "id" = ?', [
      created.body.id,
    ]);
    expect(row.nationalId).toMatch(/^bw2\.hr\./);
    expect(row.salary).toMatch(/^bw2\.hr\./);
    const dup = await as('hana')
      .post('/employees')
      .send({ ...body, email: 'other@hr.example', nationalId: 'JK123456Z' })
      .expect(409);
    expect(dup.headers['content-type']).toMatch(/^application\/problem\+json/);
    // Her manager sees her salary at once; she logs in with her own password.
    expect((await as('max').get(`/employees/${created.body.id}/salary`).expect(200)).body.salary).toBe(58000);
    await request(hr.url)
      .post('/auth/login')
      .send({ email: body.email, password: body.password })
      .expect(200);
  });

  it('wellbeing survey needs consent; withdrawal stops it; HR sees aggregates only', async () => {
    const refused = await as('eve').post('/surveys/wellbeing').send({ score: 4 }).expect(403);
    expect(refused.body).toMatchObject({
      code: 'ERR_CONSENT_REQUIRED',
      purposeId: 'wellbeing-survey',
      state: 'none',
    });

    await as('eve').post('/consents/wellbeing-survey').expect(201);
    const answered = await as('eve')
      .post('/surveys/wellbeing')
      .send({ score: 4, comment: 'Feeling burnt out lately' })
      .expect(201);
    expect(answered.body.recorded).toBe(true);
    const [row] = await hr.dataSource.query('SELECT "comment", "consentVersion" FROM hr_survey_response');
    expect(row.comment).toMatch(/^bw2\.hr\./);
    expect(row.consentVersion).toBe(1);

    await as('eve').delete('/consents/wellbeing-survey').expect(200);
    const after = await as('eve').post('/surveys/wellbeing').send({ score: 2 }).expect(403);
    expect(after.body.state).toBe('withdrawn');
    const consents = await as('eve').get('/consents').expect(200);
    expect(consents.body).toEqual([
      expect.objectContaining({ purposeId: 'wellbeing-survey', granted: false, state: 'withdrawn' }),
    ]);
    await as('eve').post('/consents/unknown-purpose').expect(404);

    expect((await as('hana').get('/surveys/wellbeing/summary').expect(200)).body).toEqual({
      responses: 1,
      averageScore: 4,
    });
    await as('max').get('/surveys/wellbeing/summary').expect(403);
  });

  it('audits every decorated route (refusals too) and entity changes; the chain verifies and catches tampering', async () => {
    const verify = await as('hana').get('/audit/verify').expect(200);
    expect(verify.body.ok).toBe(true);
    await as('max').get('/audit/verify').expect(403);

    const log = hr.bulwark.auditLog!;
    await log.flush();
    const entries = (await log.query({ limit: 1000 })).entries;
    const find = (pred: (e: (typeof entries)[number]) => boolean) => entries.find(pred);
    expect(
      find((e) => e.action === 'salary.read' && e.actor?.id === 'emp-3' && e.outcome === 'success'),
    ).toMatchObject({
      resource: { type: 'employees', id: 'emp-3' },
    });
    expect(
      find((e) => e.action === 'employee.read' && e.actor?.id === 'emp-3' && e.outcome === 'denied'),
    ).toMatchObject({
      resource: { type: 'employees', id: 'emp-4' },
    });
    expect(
      find((e) => e.action === 'salary.update' && e.outcome === 'denied' && e.actor?.id === 'emp-1'),
    ).toBeDefined();
    expect(find((e) => e.action === 'survey.submit' && e.outcome === 'denied')?.details?.errorCode).toBe(
      'ERR_CONSENT_REQUIRED',
    );
    expect(find((e) => e.action === 'auth.login' && e.outcome === 'failure')).toBeDefined();
    expect(find((e) => e.action === 'consent.granted' && e.actor?.id === 'emp-3')).toBeDefined();
    expect(find((e) => e.action === 'consent.withdrawn' && e.actor?.id === 'emp-3')).toBeDefined();
    // @Audited entity: the salary change names the field, never the value.
    const update = find((e) => e.action === 'employee.update' && e.resource?.id === 'emp-3')!;
    expect(update.actor).toMatchObject({ id: 'emp-1', type: 'user' });
    expect(JSON.stringify(update.details)).toContain('[ENCRYPTED]');
    expect(JSON.stringify(entries)).not.toMatch(/66000|64000|EF 11 22 33 B|burnt out/);

    const trail = await as('hana')
      .get('/audit/events')
      .query({ resourceId: 'emp-3', limit: '50' })
      .expect(200);
    expect(trail.body.length).toBeGreaterThan(3);
    await as('eve').get('/audit/events').expect(403);

    const seq = update.seq;
    const [row] = await hr.databases.audit.query(
      'SELECT "actor_id" FROM bulwark_audit_entry WHERE "seq" = ?',
      [seq],
    );
    await hr.databases.audit.query(`UPDATE bulwark_audit_entry SET "actor_id" = 'emp-3' WHERE "seq" = ?`, [
      seq,
    ]);
    const tampered = await log.verify();
    expect(tampered.ok).toBe(false);
    expect(tampered.firstBad?.seq).toBe(seq);
    await hr.databases.audit.query('UPDATE bulwark_audit_entry SET "actor_id" = ? WHERE "seq" = ?', [
      row.actor_id,
      seq,
    ]);
    expect((await log.verify()).ok).toBe(true);
  });

  it('restarts on the same folder: keys and data survive, nothing is re-seeded', async () => {
    await hr.close();
    hr = await createHrApp({ dataDir: dir, logger: false });
    auth = await tokensFor(hr.url, 'eve');
    expect((await as('eve').get('/employees/emp-3/salary').expect(200)).body.salary).toBe(66000);
    expect(await hr.dataSource.query('SELECT COUNT(*) AS n FROM hr_employee')).toEqual([{ n: 5 }]);
    expect((await hr.bulwark.auditLog!.verify()).ok).toBe(true);
  });
});

describeWithService('postgres', 'nestjs-hr example (PostgreSQL)', () => {
  const dbName = `bw_nestjs_hr_${randomBytes(4).toString('hex')}`;
  const databaseUrl = (() => {
    const u = new URL(SERVICE_URLS.postgres);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  let admin: DataSource;
  let dir: string;
  let hr: HrApp;

  beforeAll(async () => {
    admin = new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres });
    await admin.initialize();
    await admin.query(`CREATE DATABASE ${dbName}`);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-nestjs-hr-pg-'));
    hr = await createHrApp({ dataDir: dir, databaseUrl, logger: false });
  });

  afterAll(async () => {
    await hr?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs the HR journey on PostgreSQL: encrypted columns, blind index, authz, consent, verified audit', async () => {
    expect(hr.databases.kind).toBe('postgres');
    const auth = await tokensFor(hr.url, 'hana', 'max', 'eve');
    const rows = await hr.dataSource.query('SELECT "salary", "nationalId" FROM hr_employee');
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.salary).toMatch(/^bw2\.hr\./);
      expect(row.nationalId).toMatch(/^bw2\.hr\./);
    }
    await request(hr.url).get('/employees/emp-3/salary').set('Authorization', auth.max).expect(200);
    await request(hr.url).get('/employees/emp-1/salary').set('Authorization', auth.max).expect(403);
    const found = await request(hr.url)
      .get('/employees/search')
      .query({ nationalId: 'cd987654a' })
      .set('Authorization', auth.hana)
      .expect(200);
    expect(found.body.map((e: { id: string }) => e.id)).toEqual(['emp-2']);

    await request(hr.url)
      .post('/surveys/wellbeing')
      .set('Authorization', auth.eve)
      .send({ score: 5 })
      .expect(403);
    await request(hr.url).post('/consents/wellbeing-survey').set('Authorization', auth.eve).expect(201);
    await request(hr.url)
      .post('/surveys/wellbeing')
      .set('Authorization', auth.eve)
      .send({ score: 5 })
      .expect(201);

    const log = hr.bulwark.auditLog!;
    await log.flush();
    const [{ n }] = await hr.databases.audit.query('SELECT COUNT(*)::int AS n FROM bulwark_audit_entry');
    expect(n).toBeGreaterThan(5);
    expect(
      (await request(hr.url).get('/audit/verify').set('Authorization', auth.hana).expect(200)).body.ok,
    ).toBe(true);
  });
});
