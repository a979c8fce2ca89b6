/**
 * examples/koa-shop end to end: the real app (Koa 3 + TypeORM + Bulwark) started in-process on
 * SQLite in a temporary folder, driven over HTTP with supertest. Then the same core journey on a
 * fresh PostgreSQL database.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { generateMasterKey } from '@bulwark/core';
import { createShopApp, type ShopApp } from '../../examples/koa-shop/src/app';
import { describeWithService, SERVICE_URLS } from '../support/services';

const PAN = '5555555555554444'; // Mastercard test number
const PAN_SPACED = '5555 5555 5555 4444';
const ALICE_PAN = '4242424242424242'; // seeded for Alice
const ALICE = { email: 'alice@shop.example', password: 'alice-demo-password' };
const BOB = { email: 'bob@shop.example', password: 'bob-demo-password' };
const SAM = { email: 'sam@shop.example', password: 'sam-demo-password' };

type Agent = ReturnType<typeof request.agent>;

interface Session {
  agent: Agent;
  token: string;
  /** CSRF token bound to this principal (from GET /api/me). */
  csrf: string;
  id: string;
}

/** API login: an anonymous CSRF token first (login CSRF is refused too), then a bound one. */
async function login(url: string, who: { email: string; password: string }): Promise<Session> {
  const agent = request.agent(url);
  const anon = await agent.get('/api/csrf').expect(200);
  const res = await agent.post('/api/login').set('x-csrf-token', anon.body.csrfToken).send(who).expect(200);
  expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 3600 });
  const me = await agent.get('/api/me').set('Authorization', `Bearer ${res.body.token}`).expect(200);
  return { agent, token: res.body.token, csrf: me.body.csrfToken, id: me.body.id };
}

const hiddenCsrf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

async function allBytes(dir: string): Promise<Buffer> {
  const files = await fs.readdir(dir);
  return Buffer.concat(await Promise.all(files.map((f) => fs.readFile(path.join(dir, f)))));
}

describe('koa-shop example (SQLite)', () => {
  let dir: string;
  let shop: ShopApp;
  const serverErrors: unknown[] = [];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-koa-shop-'));
    shop = await createShopApp({
      dataDir: dir,
      allowInsecureHttp: true,
      logError: (e) => serverErrors.push(e),
    });
  });

  afterAll(async () => {
    await shop?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates its data folder on first run: SQLite files, a demo master key (0600), seeded users', async () => {
    const files = await fs.readdir(dir);
    expect(files).toEqual(
      expect.arrayContaining([
        'shop.sqlite',
        'bulwark.sqlite',
        'audit.sqlite',
        'master.key',
        'demo-secrets.json',
      ]),
    );
    expect((await fs.stat(path.join(dir, 'master.key'))).mode & 0o777).toBe(0o600);
    const rows = await shop.databases.app.query(
      'SELECT "email", "emailIndex", "passwordHash", "role" FROM shop_customer',
    );
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.email).toMatch(/^bw2\.pii\./); // the e-mail is encrypted...
      expect(row.email).not.toContain('@');
      expect(row.emailIndex).toMatch(/^[0-9a-f]{8}$/); // ...and found through its blind index
      expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    }
  });

  it('server-rendered login form: CSRF missing or forged is 403 EBADCSRFTOKEN, the real token logs in', async () => {
    const agent = request.agent(shop.url);
    const page = await agent.get('/login').expect(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    // allowInsecureHttp (the demo on http://localhost): no upgrade of form posts to https.
    expect(page.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    const token = hiddenCsrf(page.text);
    expect(token).toBeDefined();

    const missing = await agent.post('/login').type('form').send(ALICE).expect(403);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.body.code).toBe('EBADCSRFTOKEN');

    const forged = `${randomBytes(18).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    const bad = await agent
      .post('/login')
      .type('form')
      .send({ ...ALICE, _csrf: forged })
      .expect(403);
    expect(bad.body.code).toBe('EBADCSRFTOKEN');

    // A cross-site page cannot read the cookie: a request with the field but without the cookie fails.
    const noCookie = await request(shop.url)
      .post('/login')
      .type('form')
      .send({ ...ALICE, _csrf: token })
      .expect(403);
    expect(noCookie.body.code).toBe('EBADCSRFTOKEN');

    const wrong = await agent
      .post('/login')
      .type('form')
      .send({ ...ALICE, password: 'nope', _csrf: token })
      .expect(401);
    expect(wrong.text).toContain('Wrong e-mail or password.');

    const ok = await agent
      .post('/login')
      .type('form')
      .send({ ...ALICE, _csrf: token })
      .expect(303);
    expect(ok.headers.location).toBe('/account');
    const session = (ok.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('shop.session='),
    )!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Strict/);

    const account = await agent.get('/account').expect(200);
    expect(account.text).toContain('Hello Alice Shopper');
    expect(account.text).toContain('•••• •••• •••• 4242'); // last four only (PCI DSS 3.4.1)
    expect(account.text).not.toContain(ALICE_PAN);

    // The account page's forms carry a token bound to Alice: saving a card through the form works,
    // the same form without the token does not.
    const formToken = hiddenCsrf(account.text)!;
    const card = { pan: '4000 0566 5566 5556', expiry: '11/33', cardholderName: 'Alice Shopper' };
    expect((await agent.post('/account/cards').type('form').send(card).expect(403)).body.code).toBe(
      'EBADCSRFTOKEN',
    );
    await agent
      .post('/account/cards')
      .type('form')
      .send({ ...card, _csrf: formToken })
      .expect(303);
    expect((await agent.get('/account').expect(200)).text).toContain('•••• •••• •••• 5556');
  });

  it('JSON API: card writes need the x-csrf-token header bound to the caller', async () => {
    const alice = await login(shop.url, ALICE);
    const bob = await login(shop.url, BOB);
    const card = { pan: PAN_SPACED, expiry: '09/31', cardholderName: 'Alice Shopper' };

    const noHeader = await alice.agent.post('/api/cards').send(card).expect(403);
    expect(noHeader.body).toMatchObject({ code: 'EBADCSRFTOKEN', location: 'missing' });
    const forged = await alice.agent
      .post('/api/cards')
      .set('x-csrf-token', 'x'.repeat(24) + '.' + 'y'.repeat(43))
      .send(card);
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ code: 'EBADCSRFTOKEN', location: 'mismatch' });
    // Bob's valid token (with Bob's cookie) does not work for Alice's session.
    const [bobCsrfCookie] =
      ((await bob.agent.get('/api/me')).headers['set-cookie'] as unknown as string[] | undefined) ?? [];
    const stolen = await request(shop.url)
      .post('/api/cards')
      .set('Authorization', `Bearer ${alice.token}`)
      .set('Cookie', bobCsrfCookie?.split(';')[0] ?? `bulwark.csrf=${bob.csrf}`)
      .set('x-csrf-token', bob.csrf)
      .send(card);
    expect(stolen.status).toBe(403);
    expect(stolen.body).toMatchObject({ code: 'EBADCSRFTOKEN', location: 'invalid' }); // bound to Bob

    const created = await alice.agent
      .post('/api/cards')
      .set('x-csrf-token', alice.csrf)
      .send(card)
      .expect(201);
    expect(created.body).toMatchObject({
      brand: 'mastercard',
      last4: '4444',
      masked: '•••• •••• •••• 4444',
      expiry: '09/31',
    });
    expect(created.body.token).toMatch(/^card_/);
    expect(JSON.stringify(created.body)).not.toContain(PAN);
    // Saving the same card again finds it through the keyed PAN fingerprint (no duplicate row).
    const again = await alice.agent
      .post('/api/cards')
      .set('x-csrf-token', alice.csrf)
      .send({ ...card, pan: PAN })
      .expect(200);
    expect(again.body.token).toBe(created.body.token);

    const invalid = await alice.agent
      .post('/api/cards')
      .set('x-csrf-token', alice.csrf)
      .send({ ...card, pan: '5555555555554445' })
      .expect(400);
    expect(invalid.body).toMatchObject({ code: 'ERR_SHOP_INVALID_INPUT', location: 'pan' });
    expect(JSON.stringify(invalid.body)).not.toContain('5555555555554445');
  });

  it('stores the PAN, name and expiry encrypted and bound to the row; the PAN appears nowhere on disk', async () => {
    const rows = await shop.databases.app.query(
      'SELECT "id", "pan", "cardholderName", "expiry", "panLast4Index", "panFingerprint", "brand" FROM shop_payment_card',
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) {
      for (const column of ['pan', 'cardholderName', 'expiry'])
        expect(row[column]).toMatch(/^bw2\.cardholder\.1\./);
      expect(row.panLast4Index).toMatch(/^[0-9a-f]{8}$/);
      expect(row.panFingerprint).toMatch(/^[0-9a-f]{16}$/);
    }
    // The associated data binds each value to table.column and its row: a ciphertext copied onto
    // another card row does not decrypt there.
    const mine = rows.find((r: { brand: string }) => r.brand === 'mastercard');
    const other = rows.find((r: { id: string; brand: string }) => r.id !== mine.id);
    const ring = shop.bulwark.keyRing!;
    expect(ring.decryptString(mine.pan, { aad: `shop_payment_card.pan#["${mine.id}"]` })).toBe(PAN);
    expect(() => ring.decryptString(mine.pan, { aad: `shop_payment_card.pan#["${other.id}"]` })).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPTION_FAILED' }),
    );

    await shop.bulwark.auditLog!.flush();
    const disk = await allBytes(dir);
    for (const secret of [PAN, PAN_SPACED, ALICE_PAN, 'alice@shop.example']) {
      expect(disk.includes(Buffer.from(secret))).toBe(false);
    }
    const entries = (await shop.bulwark.auditLog!.query({ limit: 1000 })).entries;
    expect(JSON.stringify(entries)).not.toContain(PAN);
    expect(JSON.stringify(serverErrors)).not.toContain(PAN);
  });

  it('finds cards by last four digits and accounts by e-mail through blind indexes', async () => {
    const alice = await login(shop.url, { ...ALICE, email: '  Alice@Shop.EXAMPLE ' }); // normalised before hashing
    const all = await alice.agent.get('/api/cards').expect(200);
    expect(all.body.map((c: { last4: string }) => c.last4).sort()).toEqual(['4242', '4444', '5556']);
    const found = await alice.agent.get('/api/cards?last4=4444').expect(200);
    expect(found.body).toHaveLength(1);
    expect(found.body[0]).toMatchObject({ last4: '4444', brand: 'mastercard' });
    expect((await alice.agent.get('/api/cards?last4=0000').expect(200)).body).toEqual([]);
    expect((await alice.agent.get('/api/cards?last4=12ab').expect(400)).body.location).toBe('last4');
  });

  it('authorization: owners only for cards, staff never see cardholder data, no token is 401', async () => {
    const alice = await login(shop.url, ALICE);
    const bob = await login(shop.url, BOB);
    const sam = await login(shop.url, SAM);
    const [card] = (await alice.agent.get('/api/cards?last4=4444')).body;

    await alice.agent.get(`/api/cards/${card.token}`).expect(200);
    const denied = await bob.agent.get(`/api/cards/${card.token}`).expect(403);
    expect(denied.body).toMatchObject({ code: 'ERR_POLICY_DENIED', reasonId: 'default_deny' });
    // An unknown token is answered exactly like someone else's: tokens cannot be probed.
    const unknown = await bob.agent.get('/api/cards/card_AAAAAAAAAAAAAAAA').expect(403);
    expect(unknown.body.reasonId).toBe('default_deny');
    await bob.agent.delete(`/api/cards/${card.token}`).set('x-csrf-token', bob.csrf).expect(403);

    const staffCards = await sam.agent.get('/api/cards').expect(403);
    expect(staffCards.body.reasonId).toBe('cardholder_data_need_to_know');
    await sam.agent.get('/api/admin/orders').expect(200);
    expect((await alice.agent.get('/api/admin/orders').expect(403)).body.code).toBe('ERR_POLICY_DENIED');

    const anonymous = await request(shop.url).get('/api/cards').expect(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    await request(shop.url).get('/api/cards').set('Authorization', 'Bearer not.a.jwt').expect(401);
    expect((await request(shop.url).get('/account').expect(302)).headers.location).toBe('/login');
  });

  it('orders refer to cards by token; another customer cannot pay with them', async () => {
    const alice = await login(shop.url, ALICE);
    const bob = await login(shop.url, BOB);
    const [card] = (await alice.agent.get('/api/cards?last4=4242')).body;
    const order = await alice.agent
      .post('/api/orders')
      .set('x-csrf-token', alice.csrf)
      .send({ cardToken: card.token, items: [{ sku: 'mug', quantity: 2 }] })
      .expect(201);
    expect(order.body).toMatchObject({ totalCents: 2400, cardToken: card.token, status: 'paid' });
    const theft = await bob.agent
      .post('/api/orders')
      .set('x-csrf-token', bob.csrf)
      .send({ cardToken: card.token, items: [{ sku: 'mug', quantity: 1 }] })
      .expect(400);
    expect(theft.body.location).toBe('cardToken');
    expect((await alice.agent.get('/api/orders').expect(200)).body).toHaveLength(1);
    expect((await bob.agent.get('/api/orders').expect(200)).body).toHaveLength(0);
  });

  it('marketing e-mail needs an opt-in consent; withdrawal stops it at once', async () => {
    const bob = await login(shop.url, BOB);
    const send = () => bob.agent.post('/api/marketing/email').set('x-csrf-token', bob.csrf);

    const before = await send().expect(403);
    expect(before.body).toMatchObject({
      code: 'ERR_CONSENT_REQUIRED',
      purposeId: 'marketing',
      state: 'none',
    });

    // Consent changes are state changes: CSRF applies to the privacy API too.
    expect((await bob.agent.post('/privacy/consents/marketing').expect(403)).body.code).toBe('EBADCSRFTOKEN');
    await bob.agent.post('/privacy/consents/marketing').set('x-csrf-token', bob.csrf).send({}).expect(201);
    const sent = await send().expect(202);
    expect(sent.body).toMatchObject({ queued: true, consentVersion: 1 });

    await bob.agent.delete('/privacy/consents/marketing').set('x-csrf-token', bob.csrf).expect(200);
    const after = await send().expect(403);
    expect(after.body).toMatchObject({ code: 'ERR_CONSENT_REQUIRED', state: 'withdrawn' });

    const outbox = await shop.databases.app.query(
      'SELECT "customerId", "consentVersion" FROM shop_marketing_email',
    );
    expect(outbox).toEqual([{ customerId: bob.id, consentVersion: 1 }]);
    const history = await shop.bulwark.consent!.history(bob.id, 'marketing');
    expect(history.map((r) => r.action)).toEqual(['granted', 'withdrawn']);
    expect(history[0]!.textHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('marketing consent through the account page form (CSRF token in the form)', async () => {
    const agent = request.agent(shop.url);
    const token = hiddenCsrf((await agent.get('/login')).text)!;
    await agent
      .post('/login')
      .type('form')
      .send({ ...ALICE, _csrf: token })
      .expect(303);
    const page = await agent.get('/account').expect(200);
    expect(page.text).toContain('Status: not subscribed');
    await agent.post('/account/marketing').type('form').send({ choice: 'grant' }).expect(403);
    await agent
      .post('/account/marketing')
      .type('form')
      .send({ choice: 'grant', _csrf: hiddenCsrf(page.text) })
      .expect(303);
    expect((await agent.get('/account')).text).toContain('Status: subscribed');
  });

  it('writes audit entries (logins, card changes with [ENCRYPTED] fields, denials, consent) and the chain verifies', async () => {
    const sam = await login(shop.url, SAM);
    const verify = await sam.agent.get('/api/admin/audit/verify').expect(200);
    expect(verify.body.ok).toBe(true);
    expect(verify.body.entries).toBeGreaterThan(20);
    const alice = await login(shop.url, ALICE);
    expect((await alice.agent.get('/api/admin/audit/verify').expect(403)).body.code).toBe(
      'ERR_POLICY_DENIED',
    );

    const log = shop.bulwark.auditLog!;
    await log.flush();
    const entries = (await log.query({ limit: 1000 })).entries;
    const actions = new Set(entries.map((e) => e.action));
    for (const action of [
      'auth.login',
      'card.create',
      'order.create',
      'consent.granted',
      'consent.withdrawn',
    ]) {
      expect(actions).toContain(action);
    }
    const cardCreate = entries.find((e) => e.action === 'card.create' && e.actor?.type === 'user')!;
    expect(JSON.stringify(cardCreate.details)).toContain('[ENCRYPTED]');
    expect(cardCreate.actor).toMatchObject({ type: 'user', ip: expect.any(String) });
    expect(entries.some((e) => e.action === 'auth.login' && e.outcome === 'failure')).toBe(true);
    expect(entries.some((e) => e.outcome === 'denied' && e.details?.errorCode === 'EBADCSRFTOKEN')).toBe(
      true,
    );
    expect(
      entries.some((e) => e.outcome === 'denied' && e.details?.errorCode === 'ERR_CONSENT_REQUIRED'),
    ).toBe(true);
    expect(entries.some((e) => e.outcome === 'denied' && e.resource?.type === 'cards')).toBe(true);

    expect((await log.verify()).ok).toBe(true);
    // Rewriting history with plain SQL is caught, at the edited entry.
    const seq = cardCreate.seq;
    const [row] = await shop.databases.audit.query(
      'SELECT "outcome" FROM bulwark_audit_entry WHERE "seq" = ?',
      [seq],
    );
    await shop.databases.audit.query(`UPDATE bulwark_audit_entry SET "outcome" = 'failure' WHERE "seq" = ?`, [
      seq,
    ]);
    const tampered = await log.verify();
    expect(tampered.ok).toBe(false);
    expect(tampered.firstBad?.seq).toBe(seq);
    await shop.databases.audit.query('UPDATE bulwark_audit_entry SET "outcome" = ? WHERE "seq" = ?', [
      row.outcome,
      seq,
    ]);
    expect((await log.verify()).ok).toBe(true);
  });

  it('restarts on the same folder: keys and data survive, nothing is re-seeded, the chain continues', async () => {
    await shop.close();
    shop = await createShopApp({
      dataDir: dir,
      allowInsecureHttp: true,
      logError: (e) => serverErrors.push(e),
    });
    expect(await shop.databases.app.query('SELECT COUNT(*) AS n FROM shop_customer')).toEqual([{ n: 3 }]);
    const alice = await login(shop.url, ALICE);
    const cards = await alice.agent.get('/api/cards').expect(200);
    expect(cards.body.map((c: { last4: string }) => c.last4)).toContain('4444');
    expect((await shop.bulwark.auditLog!.verify()).ok).toBe(true);
    expect(serverErrors).toEqual([]);
  });

  it('refuses to start with another master key (fails closed, nothing served)', async () => {
    const previous = process.env.BULWARK_MASTER_KEY;
    process.env.BULWARK_MASTER_KEY = generateMasterKey(); // wins over the demo file when set
    try {
      await expect(createShopApp({ dataDir: dir, allowInsecureHttp: true })).rejects.toMatchObject({
        code: 'ERR_CRYPTO_KEY_UNWRAP_FAILED',
      });
    } finally {
      if (previous === undefined) delete process.env.BULWARK_MASTER_KEY;
      else process.env.BULWARK_MASTER_KEY = previous;
    }
    await request(shop.url).get('/health').expect(200); // the running instance is unaffected
  });
});

describeWithService('postgres', 'koa-shop example (PostgreSQL)', () => {
  const dbName = `bw_koa_shop_${randomBytes(4).toString('hex')}`;
  const databaseUrl = (() => {
    const u = new URL(SERVICE_URLS.postgres);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  let admin: DataSource;
  let dir: string;
  let shop: ShopApp;

  beforeAll(async () => {
    admin = new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres });
    await admin.initialize();
    await admin.query(`CREATE DATABASE ${dbName}`);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulwark-koa-shop-pg-'));
    shop = await createShopApp({
      dataDir: dir,
      databaseUrl,
      allowInsecureHttp: true,
      logError: () => undefined,
    });
  });

  afterAll(async () => {
    await shop?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin?.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs the shop journey on PostgreSQL: encrypted card, blind-index lookup, CSRF, consent, verified audit', async () => {
    expect(shop.databases.kind).toBe('postgres');
    // No SQLite files: the secrets (and the audit checkpoint key and checkpoints) only.
    expect((await fs.readdir(dir)).filter((f) => !f.startsWith('audit-checkpoint')).sort()).toEqual([
      'demo-secrets.json',
      'master.key',
    ]);
    const alice = await login(shop.url, ALICE);
    await alice.agent.post('/api/cards').send({ pan: PAN, expiry: '09/31', cardholderName: 'A' }).expect(403);
    await alice.agent
      .post('/api/cards')
      .set('x-csrf-token', alice.csrf)
      .send({ pan: PAN, expiry: '09/31', cardholderName: 'Alice Shopper' })
      .expect(201);
    const rows = await shop.databases.app.query('SELECT "pan", "panLast4Index" FROM shop_payment_card');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.pan).toMatch(/^bw2\.cardholder\./);
      expect(row.pan).not.toContain('4444');
    }
    expect((await alice.agent.get('/api/cards?last4=4444').expect(200)).body).toHaveLength(1);

    await alice.agent.post('/api/marketing/email').set('x-csrf-token', alice.csrf).expect(403);
    await alice.agent
      .post('/privacy/consents/marketing')
      .set('x-csrf-token', alice.csrf)
      .send({})
      .expect(201);
    await alice.agent.post('/api/marketing/email').set('x-csrf-token', alice.csrf).expect(202);

    const log = shop.bulwark.auditLog!;
    await log.flush();
    const [{ n }] = await shop.databases.audit.query('SELECT COUNT(*)::int AS n FROM bulwark_audit_entry');
    expect(n).toBeGreaterThan(5);
    expect((await log.verify()).ok).toBe(true);
  });
});
