/**
 * examples/express-clinic's password policy over real HTTP: a password change is refused with
 * stable reasons (422 problem+json, the password never echoed), a good one is accepted and works
 * at the next login, and the compliance report's password controls pass on the live policy.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { createClinicApp, DEMO_USERS, type ClinicApp } from '../../examples/express-clinic/src/app';

describe('examples/express-clinic password policy', () => {
  let dir: string;
  let clinic: ClinicApp;
  const nurse = DEMO_USERS.find((u) => u.username === 'nurse.joy')!;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-clinic-pw-'));
    clinic = await createClinicApp({ dataDir: dir, databaseUrl: '' });
  });
  afterAll(async () => {
    await clinic?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const login = async (username: string, password: string) =>
    request(clinic.app).post('/auth/login').send({ username, password });

  it('answers the sign-up form’s check with reasons a UI can show, without an account', async () => {
    const weak = await request(clinic.app)
      .post('/auth/password-check')
      .send({ password: 'nurse.joy2024', username: 'nurse.joy' });
    expect(weak.status).toBe(200);
    expect(weak.body).toMatchObject({ ok: false, minLength: 15 });
    expect(weak.body.reasons).toEqual(expect.arrayContaining(['too-short', 'context-word']));
    const common = await request(clinic.app).post('/auth/password-check').send({ password: 'password' });
    expect(common.body.reasons).toEqual(expect.arrayContaining(['common-password', 'too-guessable']));
    const good = await request(clinic.app)
      .post('/auth/password-check')
      .send({ password: 'lantern marble oyster ferry' });
    expect(good.body).toMatchObject({ ok: true, reasons: [] });
  });

  it('refuses a weak new password with 422 ERR_PASSWORD_POLICY and its reasons, keeping the old one', async () => {
    const token = (await login('nurse.joy', nurse.password)).body.token as string;
    const tries: [string, string[]][] = [
      ['x7#Kq9', ['too-short']],
      ['1qaz2wsx3edc4rfv', ['common-password']],
      ['Bulwark Clinic is my home', ['context-word']],
      ['nurse.joy nurse.joy nurse', ['context-word']],
      ['aaaaaaaaaaaaaaaaaaaa', ['too-guessable']],
      ['x'.repeat(200), ['too-long']],
    ];
    for (const [newPassword, reasons] of tries) {
      const res = await request(clinic.app)
        .post('/auth/password')
        .set('authorization', `Bearer ${token}`)
        .send({ currentPassword: nurse.password, newPassword });
      expect([newPassword.slice(0, 20), res.status]).toEqual([newPassword.slice(0, 20), 422]);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('ERR_PASSWORD_POLICY');
      expect(res.body.reasons).toEqual(expect.arrayContaining(reasons));
      expect(JSON.stringify(res.body)).not.toContain(newPassword.slice(0, 12));
    }
    expect((await login('nurse.joy', nurse.password)).status).toBe(200);
  });

  it('accepts a passphrase without composition rules, and the next login uses it', async () => {
    const token = (await login('nurse.joy', nurse.password)).body.token as string;
    const wrongCurrent = await request(clinic.app)
      .post('/auth/password')
      .set('authorization', `Bearer ${token}`)
      .send({ currentPassword: 'not-it', newPassword: 'quiet harbor violet lantern' });
    expect(wrongCurrent.status).toBe(401);
    const ok = await request(clinic.app)
      .post('/auth/password')
      .set('authorization', `Bearer ${token}`)
      .send({ currentPassword: nurse.password, newPassword: 'quiet harbor violet lantern' });
    expect(ok.status).toBe(204);
    expect((await login('nurse.joy', nurse.password)).status).toBe(401);
    expect((await login('nurse.joy', 'quiet harbor violet lantern')).status).toBe(200);
    const events = await clinic.bulwark.auditLog!.query({ action: 'auth.password.changed' });
    expect(events.entries).toHaveLength(1);
  });

  it('audits each password login as auth.login with method password, success and failure, never the password', async () => {
    expect((await login('nurse.joy', 'not the password at all')).status).toBe(401);
    expect((await login('no.such.user', 'not the password at all')).status).toBe(401);
    const ok = await login('dr.grey', DEMO_USERS.find((u) => u.username === 'dr.grey')!.password);
    expect(ok.status).toBe(200);
    await clinic.bulwark.auditLog!.flush();
    const entries = (await clinic.bulwark.auditLog!.query({ action: 'auth.login', limit: 1000 })).entries;
    const recent = entries.slice(-3).map((e) => [e.outcome, e.resource?.id, e.details?.method]);
    expect(recent).toEqual([
      ['failure', 'nurse.joy', 'password'],
      ['failure', 'no.such.user', 'password'],
      ['success', 'dr.grey', 'password'],
    ]);
    expect(JSON.stringify(entries)).not.toContain('not the password at all');
  });

  it('makes the password controls automated and passing on the live policy (PCI 8.3.6 partially: no composition rules)', async () => {
    const hipaa = await clinic.bulwark.compliance!.report('hipaa');
    expect(hipaa.controls.find((c) => c.id === 'hipaa-164.308-a-5-ii-d-policy')).toMatchObject({
      kind: 'automated',
      status: 'pass',
    });
    const pci = await clinic.bulwark.compliance!.report('pci');
    expect(pci.controls.find((c) => c.id === 'pci-8.3.6')).toMatchObject({
      kind: 'automated',
      status: 'pass',
      passLevel: 'partial',
    });
  });
});
