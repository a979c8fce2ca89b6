import { DataSubjectRequests } from '@bulwark/core';
import Koa from 'koa';
import request from 'supertest';
import { bulwark, privacyRouter, type BulwarkState } from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

let t: TestKit;
let dsr: DataSubjectRequests;

beforeEach(async () => {
  t = await testKit();
  dsr = new DataSubjectRequests({
    verifyIdentity: ({ evidence }) => (evidence as { method?: string })?.method === 'bearer-token',
  });
  dsr.registerSource({
    id: 'users',
    describe: 'Your account',
    export: (subjectId) => [{ type: 'User', id: subjectId, fields: { email: `${subjectId}@example.com` } }],
  });
});
afterEach(async () => {
  await t.close();
});

function app() {
  const kit = { ...t.kit, dsr };
  const a = new Koa<BulwarkState>();
  a.silent = true;
  a.use(bulwark(kit, { authenticate: { optional: true }, problemDetails: { log: () => undefined } }));
  a.use(privacyRouter(kit));
  return a.callback();
}

describe('privacyRouter', () => {
  it('grants, lists and withdraws consent for the authenticated subject, audited', async () => {
    const auth = `Bearer ${await t.sign('alice')}`;
    const granted = await request(app()).post('/privacy/consents/marketing').set('Authorization', auth);
    expect(granted.status).toBe(201);
    expect(granted.body).toMatchObject({ purposeId: 'marketing', granted: true });
    expect((await t.consent.check('alice', 'marketing')).granted).toBe(true);
    const list = await request(app()).get('/privacy/consents').set('Authorization', auth);
    expect(list.body).toEqual([
      expect.objectContaining({ purposeId: 'marketing', granted: true, name: 'Marketing e-mails' }),
    ]);
    await request(app()).delete('/privacy/consents/marketing').set('Authorization', auth).expect(200);
    expect((await t.consent.check('alice', 'marketing')).state).toBe('withdrawn');
    const actions = (await t.entries()).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['privacy.consent.grant', 'privacy.consent.list', 'privacy.consent.withdraw']),
    );
  });

  it('refuses unauthenticated calls, unknown purposes and path tricks with problem+json 4xx, audited', async () => {
    await request(app()).get('/privacy/consents').expect(401);
    const auth = `Bearer ${await t.sign('alice')}`;
    const unknown = await request(app()).post('/privacy/consents/no-such-purpose').set('Authorization', auth);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await request(app()).post('/privacy/consents/..%2fx').set('Authorization', auth)).status).toBe(
      400,
    );
    const entries = await t.entries();
    // the router audits its own refusals; the path trick is already stopped (and audited) by the bundle's inputGuard
    expect(entries.filter((e) => e.category === 'privacy').map((e) => e.outcome)).toEqual([
      'denied',
      'failure',
    ]);
    expect(entries.filter((e) => e.details?.errorCode === 'ERR_HTTP_PATH_TRAVERSAL')).toHaveLength(1);
  });

  it.each([
    ['json', /^application\/json/, '"alice@example.com"'],
    ['csv', /^text\/csv/, 'alice@example.com'],
    ['xml', /^application\/xml/, 'alice@example.com'],
  ])('exports the subject data as %s', async (format, type, needle) => {
    const res = await request(app())
      .post('/privacy/requests/export')
      .set('Authorization', `Bearer ${await t.sign('alice')}`)
      .send({ format });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(type);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename=/);
    expect(res.text).toContain(needle);
  });

  it('logs an erasure request whose status only its subject can read', async () => {
    const res = await request(app())
      .post('/privacy/requests/erasure')
      .set('Authorization', `Bearer ${await t.sign('alice')}`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ type: 'erasure', status: 'identity-verified' });
    await request(app())
      .get(`/privacy/requests/${res.body.id}`)
      .set('Authorization', `Bearer ${await t.sign('alice')}`)
      .expect(200);
    await request(app())
      .get(`/privacy/requests/${res.body.id}`)
      .set('Authorization', `Bearer ${await t.sign('mallory')}`)
      .expect(404);
    const bad = await request(app())
      .post('/privacy/requests/export')
      .set('Authorization', `Bearer ${await t.sign('alice')}`)
      .send({ format: 'pdf' });
    expect(bad.status).toBe(400);
  });
});
