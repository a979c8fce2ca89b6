/**
 * The LDAP and SAML sign-in routers of @bulwark/express and @bulwark/koa over real HTTP
 * (supertest), against a private slapd and the test IdP: the app's onSignIn issues its session,
 * refusals answer problem+json, and the attacks (wrong password, filter injection, lockout,
 * replayed or wrapped SAML responses, open redirects through RelayState) are refused.
 */
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { AuditLog, BruteForceGuard, MemoryAuditStore } from '@bulwark/core';
import {
  audit,
  ldapRouter as expressLdapRouter,
  samlRouter as expressSamlRouter,
  problemDetails,
} from '@bulwark/express';
import { ldapRouter as koaLdapRouter, samlRouter as koaSamlRouter } from '@bulwark/koa';
import { SignInMapper } from '@bulwark/identity';
import { LdapAuthenticator, type LdapAuthenticatorOptions } from '@bulwark/identity/ldap';
import { SamlServiceProvider } from '@bulwark/identity/saml';
import { bodyParser } from '@koa/bodyparser';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import { describeWithSlapd, LDAP_SERVICE, LDAP_SUFFIX, TestSlapd } from './support/slapd';
import { buildLogoutRequest, generateKeyPair, parseForm, TestIdp } from './support/saml/test-idp';

const HR = `cn=hr,ou=groups,${LDAP_SUFFIX}`;

function expectProblem(res: request.Response, status: number, slug: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.type).toMatch(new RegExp(`${slug}$`));
}

describeWithSlapd('LDAP sign-in routers over HTTP (Express and Koa, real slapd)', () => {
  let slapd: TestSlapd;
  const authenticators: LdapAuthenticator[] = [];
  beforeAll(async () => {
    slapd = await TestSlapd.start();
  });
  afterAll(async () => {
    await Promise.all(authenticators.map((a) => a.close()));
    await slapd?.stop();
  });

  function ldap(overrides: Partial<LdapAuthenticatorOptions> = {}): LdapAuthenticator {
    const a = new LdapAuthenticator({
      url: slapd.url,
      bindDn: LDAP_SERVICE.dn,
      bindCredentials: LDAP_SERVICE.password,
      searchBase: `ou=people,${LDAP_SUFFIX}`,
      mapper: new SignInMapper({ roles: { [HR]: ['hr'] } }),
      ...overrides,
    });
    authenticators.push(a);
    return a;
  }

  function expressApp(authenticator: LdapAuthenticator): express.Express {
    const app = express();
    app.use(
      '/auth/ldap',
      expressLdapRouter({
        ldap: authenticator,
        onSignIn: (principal, { res }) => {
          res.json({ id: principal.id, roles: principal.roles });
        },
      }),
    );
    app.use(problemDetails());
    return app;
  }

  function koaApp(authenticator: LdapAuthenticator): Koa {
    const app = new Koa();
    app.use(bodyParser());
    app.use(
      koaLdapRouter({
        ldap: authenticator,
        onSignIn: (_principal, { ctx }) => {
          ctx.cookies.set('session', 'issued-by-app', { httpOnly: true });
        },
      }),
    );
    return app;
  }

  it('Express: signs in with JSON and with a form, the app issuing its answer', async () => {
    const app = expressApp(ldap());
    const json = await request(app)
      .post('/auth/ldap/login')
      .send({ username: 'alice', password: 'alice-password' });
    expect(json.status).toBe(200);
    expect(json.body).toEqual({ id: `ldap:uid=alice,ou=people,${LDAP_SUFFIX}`, roles: ['hr'] });
    const form = await request(app)
      .post('/auth/ldap/login')
      .type('form')
      .send('username=bob&password=bob-password');
    expect(form.status).toBe(200);
  });

  it('Express: refuses a wrong password, an injection and a missing body with 401 problem+json', async () => {
    const app = expressApp(ldap());
    for (const body of [
      { username: 'alice', password: 'wrong' },
      { username: '*', password: 'alice-password' },
      { username: 'al*', password: 'alice-password' },
      {},
    ]) {
      const res = await request(app).post('/auth/ldap/login').send(body);
      expectProblem(res, 401, 'signin-failed');
      expect(JSON.stringify(res.body)).not.toContain('password');
    }
  });

  it('Express: the request audit event carries the refusal reason the body does not', async () => {
    const log = await AuditLog.open({ store: new MemoryAuditStore() });
    const auditing = audit({ log });
    const app = express();
    app.use(auditing);
    app.use('/auth/ldap', expressLdapRouter({ ldap: ldap(), onSignIn: () => undefined }));
    const res = await request(app)
      .post('/auth/ldap/login')
      .send({ username: 'carol', password: 'carol-password' });
    expectProblem(res, 401, 'signin-failed');
    expect(JSON.stringify(res.body)).not.toContain('account_disabled');
    await auditing.close(); // hands the pending request event to the log
    await log.flush();
    const { entries } = await log.query({});
    expect(entries.map((e) => e.details?.errorReason)).toContain('account_disabled');
    await log.close();
  });

  it('Express: answers 429 with Retry-After once the account is locked out', async () => {
    const guard = new BruteForceGuard({
      account: { maxFailures: 2, windowSec: 600, lockoutSec: 600 },
      ip: false,
      ipAccount: false,
    });
    const app = expressApp(ldap({ bruteForce: guard }));
    for (let i = 0; i < 2; i++) {
      expectProblem(
        await request(app)
          .post('/auth/ldap/login')
          .send({ username: 'bob', password: `x${i}` }),
        401,
        'signin-failed',
      );
    }
    const locked = await request(app)
      .post('/auth/ldap/login')
      .send({ username: 'bob', password: 'bob-password' });
    expectProblem(locked, 429, 'too-many-requests');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('Express: answers 503 when the directory is unreachable', async () => {
    const app = expressApp(ldap({ url: 'ldap://127.0.0.1:1', connectTimeoutMs: 1000 }));
    const res = await request(app)
      .post('/auth/ldap/login')
      .send({ username: 'alice', password: 'alice-password' });
    expectProblem(res, 503, 'unavailable');
  });

  it('Koa: signs in (204 with the app cookie) and refuses a wrong password with 401 problem+json', async () => {
    const server = koaApp(ldap()).callback();
    const ok = await request(server)
      .post('/auth/ldap/login')
      .send({ username: 'alice', password: 'alice-password' });
    expect(ok.status).toBe(204);
    expect(String(ok.headers['set-cookie'])).toContain('session=issued-by-app');
    const bad = await request(server)
      .post('/auth/ldap/login')
      .send({ username: 'alice)(uid=*', password: 'x' });
    expectProblem(bad, 401, 'signin-failed');
  });
});

describe('SAML sign-in routers over HTTP (Express and Koa, test IdP)', () => {
  const BASE = 'https://sp.bulwark.test';
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await TestIdp.start();
    idp.spLogoutUrl = `${BASE}/auth/saml/logout`;
  });
  afterAll(() => idp.stop());

  function provider(): SamlServiceProvider {
    return new SamlServiceProvider({
      entityId: `${BASE}/saml`,
      acsUrl: `${BASE}/auth/saml/acs`,
      logoutUrl: `${BASE}/auth/saml/logout`,
      idp: {
        entityId: idp.entityId,
        ssoUrl: idp.ssoUrl,
        sloUrl: idp.sloUrl,
        certificates: [idp.key.certificate],
      },
      mapper: new SignInMapper({ roles: { staff: ['staff'] } }),
    });
  }

  /** The browser's trip: our /login redirect, the IdP's answer, its auto-post form fields. */
  async function throughIdp(agent: request.Agent, relayState: string): Promise<Record<string, string>> {
    const start = await agent.get(`/auth/saml/login?relayState=${encodeURIComponent(relayState)}`);
    expect(start.status).toBe(302);
    expect(start.headers.location.startsWith(idp.ssoUrl)).toBe(true);
    const page = await fetch(start.headers.location);
    const { action, fields } = parseForm(await page.text());
    expect(action).toBe(`${BASE}/auth/saml/acs`);
    return fields;
  }

  const sessions = new Map<string, { nameId: string; nameIdFormat: string; sessionIndex?: string }>();

  function expressApp(): express.Express {
    const app = express();
    app.use(
      '/auth/saml',
      expressSamlRouter({
        saml: provider(),
        onSignIn: (_principal, { res, session }) => {
          sessions.set('s1', session);
          res.cookie('session', 's1', { httpOnly: true });
        },
        sessionOf: (req) => (req.headers.cookie?.includes('session=s1') ? sessions.get('s1') : undefined),
        onSignOut: ({ res }) => {
          res.clearCookie('session');
        },
        onIdpLogout: (session) => {
          for (const [id, s] of sessions) if (s.nameId === session.nameId) sessions.delete(id);
        },
      }),
    );
    app.use(problemDetails());
    return app;
  }

  beforeEach(() => {
    idp.user = { nameId: 'alice@bulwark.test', attributes: { groups: ['staff'] } };
  });

  it('Express: serves the SP metadata', async () => {
    const res = await request(expressApp()).get('/auth/saml/metadata');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/samlmetadata\+xml/);
    expect(res.text).toContain(`entityID="${BASE}/saml"`);
  });

  it('Express: SP-initiated login issues the app session and returns to the RelayState path', async () => {
    const agent = request.agent(expressApp());
    const fields = await throughIdp(agent, '/dashboard?tab=1');
    const acs = await agent.post('/auth/saml/acs').type('form').send(fields);
    expect(acs.status).toBe(303);
    expect(acs.headers.location).toBe('/dashboard?tab=1');
    expect(String(acs.headers['set-cookie'])).toContain('session=s1');
  });

  it('Express: a replayed response is refused with 401 problem+json', async () => {
    const agent = request.agent(expressApp());
    const fields = await throughIdp(agent, '/');
    expect((await agent.post('/auth/saml/acs').type('form').send(fields)).status).toBe(303);
    expectProblem(await agent.post('/auth/saml/acs').type('form').send(fields), 401, 'signin-failed');
  });

  it('Express: an open redirect through RelayState goes to / instead', async () => {
    for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const agent = request.agent(expressApp());
      const fields = await throughIdp(agent, evil);
      const acs = await agent
        .post('/auth/saml/acs')
        .type('form')
        .send({ ...fields, RelayState: evil });
      expect(acs.headers.location).toBe('/');
    }
  });

  it('Express: a wrapped response (evil assertion before the signed one) is refused with 401', async () => {
    const agent = request.agent(expressApp());
    const fields = await throughIdp(agent, '/');
    const doc = new DOMParser().parseFromString(
      Buffer.from(fields.SAMLResponse!, 'base64').toString(),
      'text/xml',
    );
    const assertion = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Assertion')[0]!;
    const evil = assertion.cloneNode(true) as Element;
    evil.setAttribute('ID', '_evil');
    evil.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'NameID')[0]!.textContent =
      'admin@bulwark.test';
    assertion.parentNode!.insertBefore(evil, assertion);
    const forged = Buffer.from(new XMLSerializer().serializeToString(doc)).toString('base64');
    expectProblem(
      await agent.post('/auth/saml/acs').type('form').send({ SAMLResponse: forged }),
      401,
      'signin-failed',
    );
  });

  it('Express: single logout goes through the IdP and ends the app session', async () => {
    const agent = request.agent(expressApp());
    await agent
      .post('/auth/saml/acs')
      .type('form')
      .send(await throughIdp(agent, '/'));
    const start = await agent.get('/auth/saml/logout?relayState=/bye');
    expect(start.status).toBe(302);
    expect(start.headers.location.startsWith(idp.sloUrl)).toBe(true);
    // The app session ends now, not when (if) the IdP answers.
    expect(String(start.headers['set-cookie'])).toMatch(/session=;/);
    const { action, fields } = parseForm(await (await fetch(start.headers.location)).text());
    expect(action).toBe(`${BASE}/auth/saml/logout`);
    const done = await agent.post('/auth/saml/logout').type('form').send(fields);
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/bye');
    expect(String(done.headers['set-cookie'])).toMatch(/session=;/);
  });

  it('Express: IdP-initiated logout ends the sessions of that NameID and answers the IdP', async () => {
    const agent = request.agent(expressApp());
    await agent
      .post('/auth/saml/acs')
      .type('form')
      .send(await throughIdp(agent, '/'));
    expect(sessions.size).toBe(1);
    const logoutRequest = buildLogoutRequest({
      issuer: idp.entityId,
      destination: `${BASE}/auth/saml/logout`,
      nameId: 'alice@bulwark.test',
      key: idp.key,
    });
    // A cross-site POST from the IdP: no session cookie comes with it.
    const res = await request(expressApp())
      .post('/auth/saml/logout')
      .type('form')
      .send({ SAMLRequest: Buffer.from(logoutRequest).toString('base64') });
    expect(res.status).toBe(302);
    expect(res.headers.location.startsWith(idp.sloUrl)).toBe(true);
    expect(sessions.size).toBe(0);
    const forged = buildLogoutRequest({
      issuer: idp.entityId,
      destination: `${BASE}/auth/saml/logout`,
      nameId: 'bob@bulwark.test',
      key: generateKeyPair('attacker'),
    });
    expectProblem(
      await request(expressApp())
        .post('/auth/saml/logout')
        .type('form')
        .send({ SAMLRequest: Buffer.from(forged).toString('base64') }),
      401,
      'signin-failed',
    );
  });

  it('Koa: SP-initiated logout ends the app session before redirecting to the IdP', async () => {
    const ended: string[] = [];
    const app = new Koa();
    app.use(bodyParser());
    app.use(
      koaSamlRouter({
        saml: provider(),
        onSignIn: () => undefined,
        sessionOf: (ctx) =>
          ctx.cookies.get('session') === 's1'
            ? { nameId: 'alice@bulwark.test', nameIdFormat: 'email' }
            : undefined,
        onSignOut: ({ ctx }) => {
          ended.push(ctx.cookies.get('session')!);
          ctx.cookies.set('session', null);
        },
      }),
    );
    const res = await request(app.callback()).get('/auth/saml/logout').set('cookie', 'session=s1');
    expect(res.status).toBe(302);
    expect(res.headers.location.startsWith(idp.sloUrl)).toBe(true);
    expect(ended).toEqual(['s1']);
    expect(String(res.headers['set-cookie'])).toMatch(/session=;/);
  });

  it('Koa: SP-initiated login and a refused replay', async () => {
    const app = new Koa();
    app.use(bodyParser());
    app.use(
      koaSamlRouter({
        saml: provider(),
        onSignIn: (principal, { ctx }) => {
          ctx.cookies.set('session', principal.id.replace(/[^a-z0-9]/gi, ''), { httpOnly: true });
        },
      }),
    );
    const agent = request.agent(app.callback());
    const fields = await throughIdp(agent, '/home');
    const acs = await agent.post('/auth/saml/acs').type('form').send(fields);
    expect(acs.status).toBe(303);
    expect(acs.headers.location).toBe('/home');
    expect(String(acs.headers['set-cookie'])).toContain('session=');
    expectProblem(await agent.post('/auth/saml/acs').type('form').send(fields), 401, 'signin-failed');
    expect((await agent.get('/auth/saml/metadata')).text).toContain('EntityDescriptor');
  });
});
