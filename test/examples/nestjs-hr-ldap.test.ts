/**
 * examples/nestjs-hr staff sign-in through LDAP, end to end: a private slapd seeded from the
 * example's own ldap/staff.ldif, the real NestJS app on SQLite in a temporary folder, supertest
 * over HTTP. Directory groups give the role, the app admits only its employees, refusals are
 * problem+json, and the token works like the local login's.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { createHrApp, type HrApp } from '../../examples/nestjs-hr/src/app';
import { describeWithSlapd, TestSlapd } from '../support/slapd';

describeWithSlapd('nestjs-hr example: staff sign in through LDAP (real slapd)', () => {
  let slapd: TestSlapd;
  let dir: string;
  let hr: HrApp;

  beforeAll(async () => {
    slapd = await TestSlapd.start({ ldif: path.join(__dirname, '../../examples/nestjs-hr/ldap/staff.ldif') });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-nestjs-hr-ldap-'));
    hr = await createHrApp({ dataDir: dir, logger: false, ldap: { url: slapd.url } });
  });

  afterAll(async () => {
    await hr?.close();
    await slapd?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const login = (username: string, password: string) =>
    request(hr.url).post('/auth/ldap/login').send({ username, password });

  it('signs Hana in with her directory password, as hr-admin by her group, with a working token', async () => {
    const res = await login('hana', 'hana-ldap-password').expect(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', employeeId: 'emp-1', roles: ['hr-admin'] });
    const list = await request(hr.url).get('/employees').set('Authorization', `Bearer ${res.body.token}`);
    expect(list.status).toBe(200);
  });

  it('gives Eve the employee role from the staff group: she cannot list everyone', async () => {
    const res = await login('eve', 'eve-ldap-password').expect(200);
    expect(res.body.roles).toEqual(['employee']);
    const own = await request(hr.url)
      .get('/employees/emp-3')
      .set('Authorization', `Bearer ${res.body.token}`);
    expect(own.status).toBe(200);
    const other = await request(hr.url)
      .get('/employees/emp-1')
      .set('Authorization', `Bearer ${res.body.token}`);
    expect(other.status).toBe(403);
  });

  it('refuses a wrong password and a filter injection with 401 problem+json, and audits them', async () => {
    for (const [username, password] of [
      ['max', 'wrong'],
      ['*', 'max-ldap-password'],
      ['m*', 'max-ldap-password'],
    ] as const) {
      const res = await login(username, password);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.type).toMatch(/signin-failed$/);
    }
    const { entries } = await hr.bulwark.auditLog!.query({ action: 'auth.login', outcome: 'failure' });
    const ldapFailures = entries.filter((e) => e.details?.method === 'ldap');
    expect(ldapFailures.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['invalid_credentials', 'invalid_credentials', 'invalid_credentials']),
    );
    expect(JSON.stringify(entries)).not.toContain('max-ldap-password');
  });

  it('refuses a directory user the HR app does not employ with 403', async () => {
    const res = await login('zoe', 'zoe-ldap-password');
    expect(res.status).toBe(403);
    expect(res.body.type).toMatch(/signin-not-provisioned$/);
  });
});
