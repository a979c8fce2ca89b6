import Fastify, { type FastifyInstance } from 'fastify';
import request from 'supertest';
import { authenticate, authorize, bulwark, problemDetails, requestId, requireRecentAuth } from '../src';
import {
  ROUTES,
  STEP_UP_CASES,
  expectStepUpAnswer,
  stepUpKit,
} from '../../../test/support/step-up-scenarios';
import { listen } from './support';

describe('step-up over HTTP (Fastify)', () => {
  const kit = stepUpKit();
  const ok = async () => ({ ok: true });
  let app: FastifyInstance;
  let server: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    // The hooks composed by hand, without the bundle.
    app = Fastify();
    app.addHook('onRequest', requestId());
    app.addHook('preValidation', authenticate({ tokens: kit.tokens }));
    await app.register(problemDetails({ log: () => undefined }));
    app.get(ROUTES.recent, { preHandler: requireRecentAuth(300) }, ok);
    app.get(ROUTES.passkey, { preHandler: requireRecentAuth({ factors: ['webauthn'] }) }, ok);
    app.get(
      ROUTES.settings,
      { preHandler: authorize('read', 'settings', { authorizer: kit.authorizer, mfa: kit.mfaPolicy }) },
      ok,
    );
    app.get(
      ROUTES.sign,
      { preHandler: authorize('sign', 'prescriptions', { authorizer: kit.authorizer }) },
      ok,
    );
    server = await listen(app);
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(STEP_UP_CASES)('$name', async (c) => {
    const token = await kit.token(c.roles, c.amr, c.agoSec);
    const res = await request(server.url).get(c.route).set('Authorization', `Bearer ${token}`);
    expectStepUpAnswer(c, res);
  });

  it('enforces the kit mfaPolicy on bw.authorize() by default, and mfa: false turns it off per route', async () => {
    const bw = bulwark({ tokens: kit.tokens, authorizer: kit.authorizer, mfaPolicy: kit.mfaPolicy });
    const withKit = Fastify();
    await withKit.register(bw);
    withKit.get('/a', { preHandler: bw.authorize('read', 'settings') }, ok);
    withKit.get('/b', { preHandler: bw.authorize('read', 'settings', { mfa: false }) }, ok);
    const running = await listen(withKit);
    try {
      const admin = `Bearer ${await kit.token(['admin'], ['pwd'], 60)}`;
      expect((await request(running.url).get('/a').set('Authorization', admin)).status).toBe(401);
      expect((await request(running.url).get('/b').set('Authorization', admin)).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it('answers 401 auth-required (not step-up) without a principal', async () => {
    const res = await request(server.url).get(ROUTES.recent);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_HTTP_AUTH_REQUIRED');
    expect(() => requireRecentAuth({ maxAgeSec: 300, extra: 1 } as never)).toThrow(/extra/);
  });
});
