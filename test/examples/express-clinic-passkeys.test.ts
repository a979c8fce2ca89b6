/**
 * examples/express-clinic: passkeys for doctors, over real HTTP (supertest), with a software
 * authenticator that builds the same bytes a browser and a platform authenticator send (WebAuthn
 * Level 3). Registration and username-less sign-in, the step-up that removing a passkey needs, and
 * the attacks: a replayed assertion, a phishing origin, another RP id, a cloned authenticator
 * (counter regression), no user verification, and guessing past the brute-force limit.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { createClinicApp, DEMO_USERS, type ClinicApp } from '../../examples/express-clinic/src/app';
import { SoftAuthenticator } from '../../packages/core/test/mfa/soft-authenticator';

const ORIGIN = 'https://clinic.localhost';
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe('examples/express-clinic: passkeys for doctors', () => {
  let dir: string;
  let clinic: ClinicApp;
  let password: string;
  const device = new SoftAuthenticator(ORIGIN);
  const serverErrors: unknown[] = [];

  async function passwordLogin(username: string): Promise<string> {
    const user = DEMO_USERS.find((u) => u.username === username)!;
    const res = await request(clinic.app).post('/auth/login').send({ username, password: user.password });
    expect(res.status).toBe(200);
    return res.body.token as string;
  }

  const loginOptions = async () =>
    (await request(clinic.app).post('/auth/passkeys/login/options').send({})).body;
  const loginWith = (response: unknown) =>
    request(clinic.app).post('/auth/passkeys/login/verify').send({ response });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-clinic-passkeys-'));
    clinic = await createClinicApp({
      dataDir: dir,
      databaseUrl: '',
      passkeys: { rpId: 'clinic.localhost', origins: [ORIGIN] },
      logError: (e) => serverErrors.push(e),
    });
    password = await passwordLogin('dr.grey');
  });

  afterAll(async () => {
    await clinic?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(serverErrors).toEqual([]);
  });

  it('registers a doctor passkey; nurses are not offered one', async () => {
    const options = await request(clinic.app)
      .post('/auth/passkeys/registration/options')
      .set(auth(password))
      .send({});
    expect(options.status).toBe(200);
    expect(options.body).toMatchObject({
      rp: { id: 'clinic.localhost', name: 'Clinic' },
      attestation: 'none',
      authenticatorSelection: { userVerification: 'required', residentKey: 'preferred' },
    });
    // the user handle is random, not the user's id or name
    expect(Buffer.from(options.body.user.id, 'base64url').toString()).not.toMatch(/grey|doctor/i);
    const verify = await request(clinic.app)
      .post('/auth/passkeys/registration/verify')
      .set(auth(password))
      .send({ response: device.create(options.body), name: 'ward laptop' });
    expect(verify.status).toBe(201);
    const list = await request(clinic.app).get('/auth/passkeys').set(auth(password));
    expect(list.body).toEqual([expect.objectContaining({ id: verify.body.id, name: 'ward laptop' })]);

    const nurse = await passwordLogin('nurse.joy');
    const refused = await request(clinic.app)
      .post('/auth/passkeys/registration/options')
      .set(auth(nurse))
      .send({});
    expect(refused.status).toBe(403);
  });

  it('signs in with the passkey (no user name), and removing a passkey needs that fresh passkey sign-in', async () => {
    const res = await loginWith(device.get(await loginOptions()));
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ role: 'doctor' });
    const me = await request(clinic.app).get('/me').set(auth(res.body.token));
    expect(me.body).toMatchObject({ id: res.body.user.id, roles: ['doctor'] });

    // a second passkey to remove
    const options = await request(clinic.app)
      .post('/auth/passkeys/registration/options')
      .set(auth(password))
      .send({});
    const spare = new SoftAuthenticator(ORIGIN);
    const added = await request(clinic.app)
      .post('/auth/passkeys/registration/verify')
      .set(auth(password))
      .send({ response: spare.create(options.body) });
    expect(added.status).toBe(201);

    const withPassword = await request(clinic.app)
      .delete(`/auth/passkeys/${added.body.id}`)
      .set(auth(password));
    expect(withPassword.status).toBe(401);
    expect(withPassword.body).toMatchObject({
      code: 'ERR_MFA_STEP_UP_REQUIRED',
      reasonId: 'factor_required',
    });
    expect(withPassword.headers['www-authenticate']).toMatch(
      /error="insufficient_user_authentication".*max_age="300"/,
    );
    const withPasskey = await request(clinic.app)
      .delete(`/auth/passkeys/${added.body.id}`)
      .set(auth(res.body.token));
    expect(withPasskey.status).toBe(204);
  });

  it('refuses a replayed assertion', async () => {
    const assertion = device.get(await loginOptions());
    expect((await loginWith(assertion)).status).toBe(200);
    const replay = await loginWith(assertion);
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({
      code: 'ERR_MFA_WEBAUTHN_INVALID',
      detail: 'The authenticator response is not valid.',
    });
  });

  it('refuses a phishing origin, another RP id, a cloned authenticator and a missing user verification alike, then locks', async () => {
    const attacks = [
      device.get(await loginOptions(), { origin: 'https://clinic.localhost.evil.test' }),
      device.get(await loginOptions(), { rpId: 'evil.test' }),
      device.get(await loginOptions(), { counter: 1 }),
      device.get(await loginOptions(), { userVerified: false }),
      device.get(await loginOptions(), { type: 'webauthn.create' }),
    ];
    const bodies = [];
    for (const response of attacks) {
      const res = await loginWith(response);
      expect(res.status).toBe(401);
      bodies.push({ ...res.body, requestId: undefined });
    }
    // one answer for every failed check: which one failed is not told
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);

    // five failures for this doctor from this address: even a valid assertion is now refused
    const locked = await loginWith(device.get(await loginOptions()));
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('ERR_MFA_LOCKED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('records every ceremony as an auth.mfa event, the clone with its own code', async () => {
    const log = clinic.bulwark.auditLog!;
    await log.flush();
    const events = (await log.query({ limit: 1000 })).entries.filter((e) => e.action === 'auth.mfa');
    const summary = events.map((e) => [e.details?.step, e.outcome, e.reason ?? null]);
    expect(summary.filter(([step, outcome]) => step === 'register' && outcome === 'success')).toHaveLength(2);
    expect(summary.filter(([step, outcome]) => step === 'verify' && outcome === 'success')).toHaveLength(2);
    expect(summary).toContainEqual(['verify', 'failure', 'ERR_MFA_WEBAUTHN_COUNTER']);
    expect(summary).toContainEqual(['verify', 'failure', 'ERR_MFA_LOCKED']);
    expect(events.every((e) => e.details?.method === 'webauthn')).toBe(true);
  });
});
