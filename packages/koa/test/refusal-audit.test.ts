import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import { ErrorCodes } from '@bulwark/core';
import { auditRoute, bulwark } from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

// A request to a route marked `auditRoute({ action })` is audited under that action even when the
// bundle refuses it before @koa/router runs (authentication, CSRF).
let t: TestKit;
beforeEach(async () => {
  t = await testKit();
});
afterEach(async () => {
  await t.close();
});

function app(options: Parameters<typeof bulwark>[1] = {}) {
  const bw = bulwark(t.kit, options);
  const a = new Koa();
  a.use(bw);
  const router = new Router();
  router.put('/users/:id', auditRoute({ action: 'user.update' }), (ctx) => {
    ctx.body = { id: ctx.params.id };
  });
  router.get('/plain', (ctx) => {
    ctx.body = { ok: true };
  });
  const admin = new Router({ prefix: '/admin' });
  admin.post('/reports/:id', auditRoute({ action: 'report.publish', category: 'security' }), (ctx) => {
    ctx.body = { ok: true };
  });
  a.use(router.routes());
  a.use(admin.routes());
  return { server: a.callback(), bw };
}

describe('refusals on audited routes (Koa)', () => {
  it("names the route's action when the bundle's authentication refuses", async () => {
    const { server, bw } = app();
    await request(server).put('/users/7').expect(401);
    await request(server).post('/admin/reports/3').expect(401);
    await request(server).get('/plain').expect(401);
    await request(server)
      .put('/users/7')
      .set('Authorization', `Bearer ${await t.sign('alice')}`)
      .expect(200);
    await bw.close();
    const entries = await t.entries();
    expect(
      entries.map((e) => [e.action, e.outcome, e.details?.errorCode ?? null, e.category ?? null]),
    ).toEqual([
      ['user.update', 'denied', ErrorCodes.HTTP_AUTH_REQUIRED, 'http'],
      ['report.publish', 'denied', ErrorCodes.HTTP_AUTH_REQUIRED, 'security'],
      ['http.get', 'denied', ErrorCodes.HTTP_AUTH_REQUIRED, 'http'],
      ['user.update', 'success', null, 'http'],
    ]);
  });

  it("names the route's action on a CSRF refusal", async () => {
    const { server, bw } = app({
      csrf: { secret: 'a-csrf-secret-of-at-least-32-bytes!!' },
      authenticate: false,
    });
    await request(server).put('/users/7').set('Cookie', 'sid=1').expect(403);
    await bw.close();
    const [entry] = await t.entries();
    expect(entry).toMatchObject({
      action: 'user.update',
      outcome: 'denied',
      details: { errorCode: ErrorCodes.CSRF_INVALID },
    });
  });
});

describe('routed requests (Koa)', () => {
  it('asks the routers for marks only when a step refused the request before routing', async () => {
    const bw = bulwark(t.kit);
    const a = new Koa();
    a.use(bw);
    const router = new Router();
    router.get('/plain', (ctx) => {
      ctx.body = { ok: true };
    });
    router.put('/plain', auditRoute({ action: 'plain.replace' }), (ctx) => {
      ctx.body = { ok: true };
    });
    a.use(router.routes());
    const match = jest.spyOn(router, 'match');
    const alice = `Bearer ${await t.sign('alice')}`;
    await request(a.callback()).get('/plain').set('Authorization', alice).expect(200);
    // Once: @koa/router's own dispatch (the audit step does not scan for a routed request).
    expect(match).toHaveBeenCalledTimes(1);
    await request(a.callback()).put('/plain').expect(401);
    // The refused one (never routed) is looked up, and labelled with its route's action.
    expect(match).toHaveBeenCalledTimes(2);
    await bw.close();
    expect((await t.entries()).map((e) => [e.action, e.details?.status])).toEqual([
      ['http.get', 200],
      ['plain.replace', 401],
    ]);
  });
});

describe('the route a refusal is audited under (Koa)', () => {
  it('is the first route @koa/router dispatches to for method and path: never a later route', async () => {
    const bw = bulwark(t.kit);
    const a = new Koa();
    a.use(bw);
    const router = new Router();
    // `/users/me` is registered first and has no marks; `/users/:id` also matches `/users/me`.
    router.get('/users/me', (ctx) => {
      ctx.body = { me: true };
    });
    router.get('/users/:id', auditRoute({ action: 'user.read' }), (ctx) => {
      ctx.body = { id: ctx.params.id };
    });
    a.use(router.routes());
    const server = a.callback();
    await request(server).get('/users/me').expect(401);
    await request(server).get('/users/7').expect(401);
    await request(server)
      .get('/users/me')
      .set('Authorization', `Bearer ${await t.sign('alice')}`)
      .expect(200, { me: true });
    await bw.close();
    const entries = await t.entries();
    expect(entries.map((e) => [e.action, e.outcome])).toEqual([
      ['http.get', 'denied'],
      ['user.read', 'denied'],
      ['http.get', 'success'],
    ]);
  });
});
