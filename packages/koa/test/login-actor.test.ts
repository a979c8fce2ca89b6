import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import { auditActor, auditRoute, bulwark } from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

// The app's own login route names the account for the audit event once the password checked out.
let t: TestKit;
beforeEach(async () => {
  t = await testKit();
});
afterEach(async () => {
  await t.close();
});

describe('auditActor on an app login route (Koa)', () => {
  it('records the account that signed in, and anonymous for a refused attempt', async () => {
    const bw = bulwark(t.kit, { authenticate: { publicPaths: ['/login'] } });
    const app = new Koa();
    app.use(bw);
    app.use(bodyParser());
    const router = new Router();
    router.post('/login', auditRoute({ action: 'auth.login' }), (ctx) => {
      const body = ctx.request.body as { email?: string; password?: string };
      if (body.email !== 'eve@example.test' || body.password !== 'correct horse battery') {
        ctx.status = 401;
        ctx.body = { error: 'bad credentials' };
        return;
      }
      auditActor(ctx, 'u-42');
      ctx.body = { ok: true };
    });
    app.use(router.routes());
    const server = app.callback();
    await request(server)
      .post('/login')
      .send({ email: 'eve@example.test', password: 'correct horse battery' })
      .expect(200);
    await request(server).post('/login').send({ email: 'eve@example.test', password: 'nope' }).expect(401);
    await bw.close();
    const logins = (await t.entries()).filter((e) => e.action === 'auth.login');
    expect(logins.map((e) => [e.actor?.id, e.outcome])).toEqual([
      ['u-42', 'success'],
      ['anonymous', 'denied'],
    ]);
    expect(JSON.stringify(logins)).not.toMatch(/eve@example|correct horse|nope/);
  });
});
