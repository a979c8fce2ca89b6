import Fastify from 'fastify';
import request from 'supertest';
import { auditRoute, bulwark, requireConsent } from '../src';
import { flakyAuditKit, LEAKS, PATIENT } from '../../../test/support/flaky-audit-store';
import { listen } from './support';

// The fail-closed audit hold on Fastify: route markers (auditRoute, requireConsent) install it on
// the request they mark; a route without them is served while the store fails.

type Kit = Awaited<ReturnType<typeof flakyAuditKit>>;
let t: Kit;
const running: Array<{ close(): Promise<void> }> = [];
beforeEach(async () => {
  t = await flakyAuditKit();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
  await t.close();
});

async function start(audit: Record<string, unknown> = {}) {
  const bw = bulwark(t.kit, { production: false, audit: { onError: t.onError, ...audit } });
  const app = Fastify();
  await app.register(bw);
  const patient = async () => PATIENT;
  app.get(
    '/patients/:id',
    { preHandler: [auditRoute({ category: 'phi', action: 'patients.read' })] },
    patient,
  );
  app.get('/consented', { preHandler: [requireConsent('marketing')] }, patient);
  app.get(
    '/phi-report-only',
    { preHandler: [auditRoute({ category: 'phi', onFailure: 'report' })] },
    patient,
  );
  app.get('/hello', async () => ({ hello: 'world' }));
  const srv = await listen(app);
  running.push({ close: async () => (await srv.close(), await bw.close()) });
  return srv.url;
}

const auth = async () => ({ Authorization: `Bearer ${await t.sign('alice')}` });

describe('Fastify audit onFailure', () => {
  it('answers 503 problem+json for a PHI read (auditRoute) it cannot record, leaking nothing', async () => {
    const url = await start();
    await request(url)
      .get('/patients/7')
      .set(await auth())
      .expect(200);
    t.store.failing = true;
    const res = await request(url)
      .get('/patients/7')
      .set(await auth())
      .expect(503);
    expect(res.body).toMatchObject({ status: 503, code: 'ERR_AUDIT_UNAVAILABLE' });
    expect(res.text).not.toMatch(LEAKS);
  });

  it('treats a requireConsent route as classified (fail-closed)', async () => {
    const url = await start();
    await request(url)
      .get('/consented')
      .set(await auth())
      .expect(200);
    t.store.failing = true;
    const res = await request(url)
      .get('/consented')
      .set(await auth())
      .expect(503);
    expect(res.text).not.toMatch(LEAKS);
  });

  it("serves an unmarked route and a classified route whose own policy is 'report' while the store fails", async () => {
    const url = await start();
    t.store.failing = true;
    await request(url)
      .get('/hello')
      .set(await auth())
      .expect(200, { hello: 'world' });
    const res = await request(url)
      .get('/phi-report-only')
      .set(await auth())
      .expect(200);
    expect(res.body).toEqual(PATIENT);
  });

  it("fails every route closed with a global onFailure: 'fail-closed'", async () => {
    const url = await start({ onFailure: 'fail-closed' });
    t.store.failing = true;
    const res = await request(url)
      .get('/hello')
      .set(await auth())
      .expect(503);
    expect(res.body.code).toBe('ERR_AUDIT_UNAVAILABLE');
  });
});
