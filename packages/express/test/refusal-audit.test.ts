import express from 'express';
import request from 'supertest';
import { ErrorCodes } from '@bulwark/core';
import { auditRoute, bulwark } from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

// A request to a route marked `auditRoute({ action })` is audited under that action even when a
// step of the bundle refuses it before the router (authentication, CSRF), and when the app's own
// auth middleware placed after the marker refuses it.
let t: TestKit;
beforeEach(async () => {
  t = await testKit();
});
afterEach(async () => {
  await t.close();
});

function app(options: Parameters<typeof bulwark>[1] = {}) {
  const bw = bulwark(t.kit, options);
  const a = express();
  a.use(bw);
  const appAuth: express.RequestHandler = (req, res, next) => {
    if (req.get('x-app-key') !== 'ok') {
      res.status(403).json({ error: 'app key' });
      return;
    }
    next();
  };
  a.put('/users/:id', auditRoute({ action: 'user.update' }), appAuth, (req, res) => {
    res.json({ id: req.params.id });
  });
  const admin = express.Router();
  admin.post('/reports/:id', auditRoute({ action: 'report.publish', category: 'security' }), (_req, res) => {
    res.json({ ok: true });
  });
  a.use('/admin', admin);
  a.get('/plain', (_req, res) => {
    res.json({ ok: true });
  });
  a.use(bw.problemDetails());
  return { a, bw };
}

describe('refusals on audited routes (Express)', () => {
  it("names the route's action when the bundle's authentication or the app's own auth refuses", async () => {
    const { a, bw } = app();
    const token = await t.sign('alice');
    await request(a).put('/users/7').expect(401);
    await request(a).put('/users/7').set('Authorization', `Bearer ${t.attacks.forged}`).expect(401);
    await request(a).put('/users/7').set('Authorization', `Bearer ${token}`).expect(403);
    await request(a).post('/admin/reports/3').expect(401);
    await request(a).get('/plain').expect(401);
    await bw.close();
    const entries = await t.entries();
    expect(
      entries.map((e) => [e.action, e.outcome, e.details?.errorCode ?? null, e.category ?? null]),
    ).toEqual([
      ['user.update', 'denied', ErrorCodes.HTTP_AUTH_REQUIRED, 'http'],
      ['user.update', 'denied', ErrorCodes.TOKEN_SIGNATURE_INVALID, 'http'],
      ['user.update', 'denied', null, 'http'],
      ['report.publish', 'denied', ErrorCodes.HTTP_AUTH_REQUIRED, 'security'],
      ['http.get', 'denied', ErrorCodes.HTTP_AUTH_REQUIRED, 'http'],
    ]);
  });

  it("names the route's action on a CSRF refusal", async () => {
    const { a, bw } = app({ csrf: { secret: 'a-csrf-secret-of-at-least-32-bytes!!' }, authenticate: false });
    await request(a).put('/users/7').set('Cookie', 'sid=1').expect(403);
    await bw.close();
    const [entry] = await t.entries();
    expect(entry).toMatchObject({
      action: 'user.update',
      outcome: 'denied',
      details: { errorCode: ErrorCodes.CSRF_INVALID },
    });
  });
});

describe('the route a refusal is audited under (Express)', () => {
  it('is the first route that matches method and path, as Express dispatches: never a later route', async () => {
    const bw = bulwark(t.kit);
    const a = express();
    a.use(bw);
    // `/users/me` is registered first and has no marks; `/users/:id` also matches `/users/me`.
    a.get('/users/me', (_req, res) => {
      res.json({ me: true });
    });
    a.get('/users/:id', auditRoute({ action: 'user.read' }), (req, res) => {
      res.json({ id: req.params.id });
    });
    const sub = express.Router();
    sub.get('/items/new', (_req, res) => {
      res.json({ new: true });
    });
    sub.get('/items/:id', auditRoute({ action: 'item.read' }), (_req, res) => {
      res.json({ ok: true });
    });
    a.use('/shop', sub);
    a.use(bw.problemDetails());
    await request(a).get('/users/me').expect(401);
    await request(a).get('/users/7').expect(401);
    await request(a).get('/shop/items/new').expect(401);
    await request(a).get('/shop/items/9').expect(401);
    await bw.close();
    const entries = await t.entries();
    expect(entries.map((e) => [e.action, e.outcome])).toEqual([
      ['http.get', 'denied'],
      ['user.read', 'denied'],
      ['http.get', 'denied'],
      ['item.read', 'denied'],
    ]);
  });
});
