import Router from '@koa/router';
import Koa from 'koa';
import request from 'supertest';
import { authenticate, authorize, bulwark, problemDetails, requestId, requireRecentAuth } from '../src';
import {
  ROUTES,
  STEP_UP_CASES,
  expectStepUpAnswer,
  stepUpKit,
} from '../../../test/support/step-up-scenarios';

describe('step-up over HTTP (Koa)', () => {
  const kit = stepUpKit();
  const ok: Koa.Middleware = (ctx) => {
    ctx.body = { ok: true };
  };
  const app = new Koa();
  const router = new Router();
  router.get(ROUTES.recent, requireRecentAuth(300), ok);
  router.get(ROUTES.passkey, requireRecentAuth({ factors: ['webauthn'] }), ok);
  router.get(
    ROUTES.settings,
    authorize('read', 'settings', { authorizer: kit.authorizer, mfa: kit.mfaPolicy }),
    ok,
  );
  router.get(ROUTES.sign, authorize('sign', 'prescriptions', { authorizer: kit.authorizer }), ok);
  app.use(requestId());
  app.use(problemDetails({ log: () => undefined }));
  app.use(authenticate({ tokens: kit.tokens }));
  app.use(router.routes());
  const server = app.callback();

  it.each(STEP_UP_CASES)('$name', async (c) => {
    const token = await kit.token(c.roles, c.amr, c.agoSec);
    const res = await request(server).get(c.route).set('Authorization', `Bearer ${token}`);
    expectStepUpAnswer(c, res);
  });

  it('enforces the kit mfaPolicy on bw.authorize() by default, and mfa: false turns it off per route', async () => {
    const bw = bulwark({ tokens: kit.tokens, authorizer: kit.authorizer, mfaPolicy: kit.mfaPolicy });
    const withKit = new Koa();
    const routes = new Router();
    routes.get('/a', bw.authorize('read', 'settings'), ok);
    routes.get('/b', bw.authorize('read', 'settings', { mfa: false }), ok);
    withKit.use(bw);
    withKit.use(routes.routes());
    const admin = `Bearer ${await kit.token(['admin'], ['pwd'], 60)}`;
    expect((await request(withKit.callback()).get('/a').set('Authorization', admin)).status).toBe(401);
    expect((await request(withKit.callback()).get('/b').set('Authorization', admin)).status).toBe(200);
  });

  it('answers 401 auth-required (not step-up) without a principal', async () => {
    const res = await request(server).get(ROUTES.recent);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_HTTP_AUTH_REQUIRED');
    expect(() => requireRecentAuth({ maxAgeSec: 300, extra: 1 } as never)).toThrow(/extra/);
  });
});
