import Router from '@koa/router';
import Koa from 'koa';
import { PassThrough } from 'node:stream';
import type { ServerResponse } from 'node:http';
import request from 'supertest';
import { auditRoute, bulwark } from '../src';
import { flakyAuditKit, LEAKS, PATIENT } from '../../../test/support/flaky-audit-store';

// Issue 13 item 8: audit that cannot stop silently. Real Koa apps over HTTP, a real AuditLog on a
// store that fails like a full disk.

type Kit = Awaited<ReturnType<typeof flakyAuditKit>>;
let t: Kit;
let lastResponse: ServerResponse | undefined;
beforeEach(async () => {
  t = await flakyAuditKit();
});
afterEach(async () => {
  await t.close();
});

function app(audit: Record<string, unknown> = {}) {
  const a = new Koa();
  a.use((ctx, next) => {
    lastResponse = ctx.res;
    return next();
  });
  const bw = bulwark(t.kit, { audit: { onError: t.onError, ...audit } });
  a.use(bw);
  const router = new Router();
  const patient = (ctx: Koa.Context) => {
    ctx.set('X-Patient-Name', PATIENT.name);
    ctx.body = PATIENT;
  };
  router.get('/patients/:id', auditRoute({ category: 'phi', action: 'patients.read' }), patient);
  router.get('/patients/:id/stream', auditRoute({ classified: true }), (ctx) => {
    const body = new PassThrough();
    ctx.type = 'text/plain';
    ctx.body = body;
    for (let i = 0; i < 50; i++) body.write(`${PATIENT.diagnosis} line ${i}\n`);
    body.end('end\n');
  });
  router.get('/consented', bw.requireConsent('marketing'), patient);
  router.get('/phi-report-only', auditRoute({ category: 'phi', onFailure: 'report' }), patient);
  router.get('/hello', (ctx) => {
    ctx.body = { hello: 'world' };
  });
  a.use(router.routes());
  return a.callback();
}

const auth = async () => ({ Authorization: `Bearer ${await t.sign('alice')}` });

describe('Koa audit onFailure', () => {
  it('stores a PHI read before the response is released', async () => {
    let open!: () => void;
    t.store.gate = new Promise((r) => (open = r));
    const appended = new Promise<void>((r) => (t.store.onAppend = r));
    const headers = await auth();
    const pending = request(app())
      .get('/patients/7')
      .set(headers)
      .expect(200)
      .then((r) => r);
    await appended;
    expect(lastResponse!.headersSent).toBe(false);
    t.store.gate = undefined;
    open();
    const res = await pending;
    expect(res.body).toEqual(PATIENT);
    const stored = t.store.rawEntries.filter((e) => e.action === 'patients.read');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ category: 'phi', outcome: 'success' });
  });

  it('answers 503 problem+json for a PHI read it cannot record, and leaks neither body nor headers', async () => {
    t.store.failing = true;
    const res = await request(app())
      .get('/patients/7')
      .set(await auth())
      .expect(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 503,
      code: 'ERR_AUDIT_UNAVAILABLE',
      requestId: res.headers['x-request-id'],
    });
    expect(res.text).not.toMatch(LEAKS);
    expect(res.headers['x-patient-name']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(t.auditLog.describe().writes).toMatchObject({ failing: true });
  });

  it('withholds a streamed PHI response too, and delivers it whole when the store works', async () => {
    const ok = await request(app())
      .get('/patients/7/stream')
      .set(await auth())
      .expect(200);
    expect(ok.text.split('\n').filter(Boolean)).toHaveLength(51);
    t.store.failing = true;
    const refused = await request(app())
      .get('/patients/7/stream')
      .set(await auth())
      .expect(503);
    expect(refused.text).not.toMatch(LEAKS);
  });

  it('treats a requireConsent route as classified (fail-closed)', async () => {
    const a = app();
    await request(a)
      .get('/consented')
      .set(await auth())
      .expect(200);
    t.store.failing = true;
    const res = await request(a)
      .get('/consented')
      .set(await auth())
      .expect(503);
    expect(res.text).not.toMatch(LEAKS);
  });

  it('serves a non-classified route while the store fails, counts every loss and reports the burst once', async () => {
    t.store.failing = true;
    const a = app();
    for (let i = 0; i < 3; i++) {
      await request(a)
        .get('/hello')
        .set(await auth())
        .expect(200, { hello: 'world' });
    }
    await t.auditLog.flush();
    expect(t.auditLog.describe().writes).toMatchObject({ failed: 3, failing: true });
    expect(t.reported).toHaveLength(1);
    expect(t.writeFailures).toHaveLength(1);
  });

  it("serves a classified route whose own policy is 'report'", async () => {
    t.store.failing = true;
    const res = await request(app())
      .get('/phi-report-only')
      .set(await auth())
      .expect(200);
    expect(res.body).toEqual(PATIENT);
  });

  it("fails every route closed with a global onFailure: 'fail-closed'", async () => {
    t.store.failing = true;
    const res = await request(app({ onFailure: 'fail-closed' }))
      .get('/hello')
      .set(await auth())
      .expect(503);
    expect(res.body.code).toBe('ERR_AUDIT_UNAVAILABLE');
  });
});
