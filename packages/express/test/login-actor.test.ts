import express from 'express';
import request from 'supertest';
import { ErrorCodes } from '@bulwark/core';
import { auditActor, auditRoute, bulwark } from '../src';
import { testKit, type TestKit } from '../../../test/support/http-test-kit';

// The app's own login route: the account is known only after the password check, and the
// audit event must name it (the user id), not `anonymous`, without the e-mail or the password.
const USERS = new Map([['eve@example.test', { id: 'u-42', password: 'correct horse battery' }]]);

let t: TestKit;
beforeEach(async () => {
  t = await testKit();
});
afterEach(async () => {
  await t.close();
});

function app() {
  const bw = bulwark(t.kit, { authenticate: { publicPaths: ['/login'] } });
  const a = express();
  a.use(express.json());
  a.use(bw);
  a.post('/login', auditRoute({ action: 'auth.login' }), (req, res) => {
    const user = USERS.get(String(req.body?.email));
    if (user === undefined || user.password !== req.body?.password) {
      res.status(401).json({ error: 'bad credentials' });
      return;
    }
    auditActor(req, user.id);
    res.json({ ok: true });
  });
  a.use(bw.problemDetails());
  return { a, bw };
}

describe('auditActor on an app login route', () => {
  it('records the account that signed in, and anonymous for a refused attempt', async () => {
    const { a, bw } = app();
    await request(a)
      .post('/login')
      .send({ email: 'eve@example.test', password: 'correct horse battery' })
      .expect(200);
    await request(a).post('/login').send({ email: 'eve@example.test', password: 'wrong' }).expect(401);
    await bw.close();
    const logins = (await t.entries()).filter((e) => e.action === 'auth.login');
    expect(logins.map((e) => [e.actor?.id, e.actor?.type, e.outcome])).toEqual([
      ['u-42', 'user', 'success'],
      ['anonymous', 'anonymous', 'denied'],
    ]);
    expect(JSON.stringify(logins)).not.toMatch(/eve@example|correct horse|wrong/);
  });

  it('never replaces a verified principal, and refuses an unusable id', async () => {
    const bw = bulwark(t.kit);
    const a = express();
    a.use(bw);
    a.get('/act', auditRoute({ action: 'act' }), (req, res) => {
      auditActor(req, 'someone-else');
      res.json({ ok: true });
    });
    a.get('/bad', (req, res) => {
      try {
        auditActor(req, '');
        res.json({ thrown: false });
      } catch (err) {
        res.json({ thrown: (err as { code?: string }).code });
      }
    });
    a.use(bw.problemDetails());
    const token = await t.sign('alice');
    await request(a).get('/act').set('Authorization', `Bearer ${token}`).expect(200);
    expect((await request(a).get('/bad').set('Authorization', `Bearer ${token}`)).body).toEqual({
      thrown: ErrorCodes.CONFIG_INVALID,
    });
    await bw.close();
    const act = (await t.entries()).find((e) => e.action === 'act');
    expect(act?.actor?.id).toBe('alice');
  });
});
