/**
 * docs/migrate-from-helmet-csurf-express-jwt.md, tested: the BEFORE app (helmet + csurf +
 * express-jwt) and the AFTER app (Bulwark) answer the same requests with the same statuses and
 * the same successful bodies; the guide quotes exactly the code run here.
 */
import { SignJWT } from 'jose';
import request from 'supertest';
import { csrf } from '@bulwark/express';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { createAfterApp } from './helmet-csurf-express-jwt/after';
import { createBeforeApp } from './helmet-csurf-express-jwt/before';
import { quotedRegions } from './guide-regions';

const JWT_SECRET = 'guide-jwt-secret-0123456789abcdef-0123'; // >= 32 bytes (HS256)
const CSRF_SECRET = 'guide-csrf-secret-0123456789abcdef-012';
const key = Buffer.from(JWT_SECRET);

const token = (sub: string, exp = '10m') =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** The same client journey against either app; returns what the client saw. */
async function journey(app: Express) {
  const seen: Record<string, unknown> = {};
  const ann = `Bearer ${await token('ann')}`;
  const health = await request(app).get('/health');
  seen.health = [
    health.status,
    health.body,
    health.headers['x-content-type-options'],
    'x-powered-by' in health.headers,
  ];
  expect(health.headers['content-security-policy']).toEqual(expect.any(String));

  seen.noToken = (await request(app).get('/api/notes')).status;
  seen.forged = (
    await request(app)
      .get('/api/notes')
      .set('Authorization', `${ann.slice(0, -4)}AAAA`)
  ).status;
  const none = `${b64({ alg: 'none' })}.${b64({ sub: 'ann', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
  seen.algNone = (await request(app).get('/api/notes').set('Authorization', `Bearer ${none}`)).status;
  const expired = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ann')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
    .sign(key);
  seen.expired = (await request(app).get('/api/notes').set('Authorization', `Bearer ${expired}`)).status;
  const empty = await request(app).get('/api/notes').set('Authorization', ann);
  seen.empty = [empty.status, empty.body];

  // CSRF: a write without the token is refused, even with a valid JWT.
  seen.postNoCsrf = (
    await request(app).post('/api/notes').set('Authorization', ann).send({ text: 'x' })
  ).status;
  const issued = await request(app).get('/csrf-token').expect(200);
  const cookie = (issued.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
  const csrfToken = issued.body.csrfToken as string;
  const post = (headers: Record<string, string>) =>
    request(app).post('/api/notes').set('Authorization', ann).set(headers).send({ text: 'hello' });
  seen.postNoCookie = (await post({ 'csrf-token': csrfToken })).status;
  seen.postTampered = (await post({ cookie, 'csrf-token': `${csrfToken.slice(0, -2)}xx` })).status;
  const created = await post({ cookie, 'csrf-token': csrfToken });
  seen.created = [created.status, created.body];
  const mine = await request(app).get('/api/notes').set('Authorization', ann);
  seen.mine = [mine.status, mine.body];
  const bob = await request(app)
    .get('/api/notes')
    .set('Authorization', `Bearer ${await token('bob')}`);
  seen.bob = [bob.status, bob.body];
  return seen;
}

describe('guide: migrate from helmet + csurf + express-jwt', () => {
  it('the before app (helmet + csurf + express-jwt) behaves as the guide says', async () => {
    expect(await journey(createBeforeApp(JWT_SECRET))).toEqual(EXPECTED);
  });

  it('the after app (Bulwark) answers the same requests the same way', async () => {
    expect(await journey(createAfterApp(JWT_SECRET, CSRF_SECRET))).toEqual(EXPECTED);
  });

  it("keeps csurf's error code for an app's own error handler", async () => {
    const app = express();
    app.use(csrf({ secret: CSRF_SECRET }));
    app.post('/form', (_req, res) => res.send('ok'));
    const codes: unknown[] = [];
    app.use(((err, _req, res, _next) => {
      codes.push(err.code);
      res.status(403).send('refused');
    }) as ErrorRequestHandler);
    await request(app).post('/form').expect(403);
    expect(codes).toEqual(['EBADCSRFTOKEN']);
  });

  it('the after app answers errors as RFC 9457 problem+json with a Bearer challenge', async () => {
    const app = createAfterApp(JWT_SECRET, CSRF_SECRET);
    const res = await request(app)
      .post('/api/notes')
      .set('Authorization', `Bearer ${await token('ann')}`)
      .send({});
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const unauth = await request(app).get('/api/notes');
    expect(unauth.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+"$/);
  });

  it('quotes in the guide exactly the code these tests run', () => {
    const quotes = quotedRegions('docs/migrate-from-helmet-csurf-express-jwt.md');
    expect(quotes.map((q) => q.where)).toHaveLength(2);
    for (const q of quotes)
      expect({ where: q.where, code: q.quoted }).toEqual({ where: q.where, code: q.source });
  });
});

const EXPECTED = {
  health: [200, { ok: true }, 'nosniff', false],
  noToken: 401,
  forged: 401,
  algNone: 401,
  expired: 401,
  empty: [200, []],
  postNoCsrf: 403,
  postNoCookie: 403,
  postTampered: 403,
  created: [201, { owner: 'ann', text: 'hello' }],
  mine: [200, [{ owner: 'ann', text: 'hello' }]],
  bob: [200, []],
};
