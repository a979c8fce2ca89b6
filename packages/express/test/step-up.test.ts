import express from 'express';
import request from 'supertest';
import { authenticate, authorize, bulwark, problemDetails, requestId, requireRecentAuth } from '../src';
import {
  ROUTES,
  STEP_UP_CASES,
  expectStepUpAnswer,
  stepUpKit,
} from '../../../test/support/step-up-scenarios';

describe('step-up over HTTP (Express)', () => {
  const kit = stepUpKit();
  const app = express();
  const ok: express.RequestHandler = (_req, res) => {
    res.json({ ok: true });
  };
  app.use(requestId());
  app.use(authenticate({ tokens: kit.tokens }));
  app.get(ROUTES.recent, requireRecentAuth(300), ok);
  app.get(ROUTES.passkey, requireRecentAuth({ factors: ['webauthn'] }), ok);
  app.get(
    ROUTES.settings,
    authorize('read', 'settings', { authorizer: kit.authorizer, mfa: kit.mfaPolicy }),
    ok,
  );
  app.get(ROUTES.sign, authorize('sign', 'prescriptions', { authorizer: kit.authorizer }), ok);
  app.use(problemDetails({ log: () => undefined }));

  it.each(STEP_UP_CASES)('$name', async (c) => {
    const token = await kit.token(c.roles, c.amr, c.agoSec);
    const res = await request(app).get(c.route).set('Authorization', `Bearer ${token}`);
    expectStepUpAnswer(c, res);
  });

  it('enforces the kit mfaPolicy on bw.authorize() by default, and mfa: false turns it off per route', async () => {
    const bw = bulwark({ tokens: kit.tokens, authorizer: kit.authorizer, mfaPolicy: kit.mfaPolicy });
    const withKit = express();
    withKit.use(bw);
    withKit.get('/a', bw.authorize('read', 'settings'), ok);
    withKit.get('/b', bw.authorize('read', 'settings', { mfa: false }), ok);
    withKit.use(bw.problemDetails());
    const admin = `Bearer ${await kit.token(['admin'], ['pwd'], 60)}`;
    expect((await request(withKit).get('/a').set('Authorization', admin)).status).toBe(401);
    expect((await request(withKit).get('/b').set('Authorization', admin)).status).toBe(200);
  });

  it('answers 401 auth-required (not step-up) without a principal, and fails the boot on a bad requirement', async () => {
    const res = await request(app).get(ROUTES.recent);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_HTTP_AUTH_REQUIRED');
    expect(() => requireRecentAuth(0)).toThrow(/maxAgeSec/);
    expect(() => requireRecentAuth({ factors: [] })).toThrow(/factors/);
    expect(() => authorize('read', 'settings', { mfa: {} as never })).toThrow(/mfa/);
  });
});
