import express, { type Express } from 'express';
import request from 'supertest';
import { auditRoute, bulwark } from '../src';
import { flakyAuditKit, LEAKS, PATIENT } from '../../../test/support/flaky-audit-store';

// Issue 13 item 8: audit that cannot stop silently. Real Express apps over HTTP, a real AuditLog on
// a store that fails like a full disk.

type Kit = Awaited<ReturnType<typeof flakyAuditKit>>;
let t: Kit;
beforeEach(async () => {
  t = await flakyAuditKit();
});
afterEach(async () => {
  await t.close();
});

function app(audit: Record<string, unknown> = {}): Express {
  const a = express();
  const bw = bulwark(t.kit, { audit: { onError: t.onError, ...audit } });
  a.use(bw);
  const patient: express.RequestHandler = (_req, res) => {
    res.setHeader('X-Patient-Name', PATIENT.name);
    res.json(PATIENT);
  };
  a.get('/patients/:id', auditRoute({ category: 'phi', action: 'patients.read' }), patient);
  a.get('/patients/:id/stream', auditRoute({ classified: true }), (_req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    for (let i = 0; i < 50; i++) res.write(`${PATIENT.diagnosis} line ${i}\n`);
    res.end('end\n');
  });
  a.get('/consented', bw.requireConsent('marketing'), patient);
  a.get('/phi-report-only', auditRoute({ category: 'phi', onFailure: 'report' }), patient);
  a.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  a.use(bw.problemDetails());
  return a;
}

const auth = async () => ({ Authorization: `Bearer ${await t.sign('alice')}` });

describe('Express audit onFailure', () => {
  it('stores a PHI read before the response is released', async () => {
    const a = app();
    let response: express.Response | undefined;
    a.set('x-powered-by', false);
    const outer = express();
    outer.use((_req, res, next) => {
      response = res;
      next();
    });
    outer.use(a);
    let open!: () => void;
    t.store.gate = new Promise((r) => (open = r));
    const appended = new Promise<void>((r) => (t.store.onAppend = r));
    const headers = await auth();
    // supertest sends on then(): start it now.
    const pending = request(outer)
      .get('/patients/7')
      .set(headers)
      .expect(200)
      .then((r) => r);
    await appended;
    // The handler has answered, but nothing has been sent: the response waits for the store.
    expect(response!.headersSent).toBe(false);
    t.store.gate = undefined;
    open();
    const res = await pending;
    expect(res.body).toEqual(PATIENT);
    // No flush: the event was durable before the client got a byte.
    const stored = t.store.rawEntries.filter((e) => e.action === 'patients.read');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      category: 'phi',
      outcome: 'success',
      requestId: res.headers['x-request-id'],
    });
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
      type: 'https://bulwark.dev/problems/audit-unavailable',
      requestId: res.headers['x-request-id'],
    });
    expect(res.text).not.toMatch(LEAKS);
    expect(res.headers['x-patient-name']).toBeUndefined();
    expect(res.headers.etag).toBeUndefined();
    // Headers of the steps before the handler stay (security headers, request id).
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(t.auditLog.describe().writes).toMatchObject({ failing: true, lastFailureCode: 'ERR_AUDIT_STORE' });
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
    const writes = t.auditLog.describe().writes;
    expect(writes.failed).toBe(3);
    expect(writes.failing).toBe(true);
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

  it('refuses bad route markers and a bad global policy at start-up', () => {
    expect(() => auditRoute({ onFailure: 'ignore' as never })).toThrow(/auditRoute\.onFailure/);
    expect(() => auditRoute({ category: '' })).toThrow(/auditRoute\.category/);
    expect(() => auditRoute({ nope: true } as never)).toThrow(/auditRoute\.nope/);
    expect(() => bulwark(t.kit, { audit: { onFailure: 'open' as never } })).toThrow(/audit\.onFailure/);
  });
});
