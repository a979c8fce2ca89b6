import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { AuditLog, TokenService } from '@bulwark/core';
import { SignInMapper } from '@bulwark/identity';
import { LdapAuthenticator } from '@bulwark/identity/ldap';
import { SamlServiceProvider } from '@bulwark/identity/saml';
import { BulwarkModule, LdapSignInModule, SamlSignInModule } from '../src';
import { memoryAuditLog, tokenService } from './support/fixtures';
import { describeWithSlapd, LDAP_SERVICE, LDAP_SUFFIX, TestSlapd } from '../../../test/support/slapd';
import { buildLogoutRequest, parseForm, TestIdp } from '../../../test/support/saml/test-idp';

async function nestApp(imports: unknown[]): Promise<INestApplication> {
  @Module({ imports: imports as never[] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describeWithSlapd('LdapSignInModule over HTTP (real slapd)', () => {
  let slapd: TestSlapd;
  let ldap: LdapAuthenticator;
  let app: INestApplication;
  let log: AuditLog;
  let tokens: TokenService;

  beforeAll(async () => {
    slapd = await TestSlapd.start();
    log = await memoryAuditLog();
    tokens = tokenService();
    ldap = new LdapAuthenticator({
      url: slapd.url,
      bindDn: LDAP_SERVICE.dn,
      bindCredentials: LDAP_SERVICE.password,
      searchBase: `ou=people,${LDAP_SUFFIX}`,
      mapper: new SignInMapper({ roles: { [`cn=hr,ou=groups,${LDAP_SUFFIX}`]: ['hr'] }, audit: log }),
    });
    app = await nestApp([
      BulwarkModule.forRoot({ tokens, auditLog: log }),
      LdapSignInModule.forRoot({
        ldap,
        onSignIn: async (principal) => ({
          token: await tokens.sign({ roles: [...principal.roles] }, { subject: principal.id }),
        }),
      }),
    ]);
  });
  afterAll(async () => {
    await app?.close();
    await ldap?.close();
    await log?.close();
    await slapd?.stop();
  });

  it('answers the app token for the right password', async () => {
    const res = await request(app.getHttpServer())
      .post('/auth/ldap/login')
      .send({ username: 'alice', password: 'alice-password' });
    expect(res.status).toBe(200);
    expect(typeof res.body.token).toBe('string');
  });

  it('answers 401 problem+json for a wrong password or an injection, without a token', async () => {
    for (const body of [
      { username: 'alice', password: 'nope' },
      { username: '*)(uid=*', password: 'alice-password' },
      {},
    ]) {
      const res = await request(app.getHttpServer()).post('/auth/ldap/login').send(body);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.type).toMatch(/signin-failed$/);
    }
  });
});

describe('SamlSignInModule over HTTP (test IdP)', () => {
  const BASE = 'https://nest.bulwark.test';
  let idp: TestIdp;
  let app: INestApplication;
  let log: AuditLog;
  const signedIn: string[] = [];
  const loggedOut: string[] = [];
  const signedOut: string[] = [];

  beforeAll(async () => {
    idp = await TestIdp.start();
    idp.user = { nameId: 'alice@bulwark.test', attributes: { groups: ['staff'] } };
    log = await memoryAuditLog();
    const saml = new SamlServiceProvider({
      entityId: `${BASE}/saml`,
      acsUrl: `${BASE}/auth/saml/acs`,
      logoutUrl: `${BASE}/auth/saml/logout`,
      idp: {
        entityId: idp.entityId,
        ssoUrl: idp.ssoUrl,
        sloUrl: idp.sloUrl,
        certificates: [idp.key.certificate],
      },
      mapper: new SignInMapper({ roles: { staff: ['staff'] }, audit: log }),
    });
    app = await nestApp([
      BulwarkModule.forRoot({ tokens: tokenService(), auditLog: log }),
      SamlSignInModule.forRoot({
        saml,
        onSignIn: (principal) => {
          signedIn.push(principal.id);
        },
        onIdpLogout: (session) => {
          loggedOut.push(session.nameId);
        },
        sessionOf: (req) =>
          (req as { headers: Record<string, string | undefined> }).headers.cookie === 'session=s1'
            ? {
                nameId: 'alice@bulwark.test',
                nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
              }
            : undefined,
        onSignOut: () => {
          signedOut.push('s1');
        },
      }),
    ]);
  });
  afterAll(async () => {
    await app?.close();
    await log?.close();
    await idp?.stop();
  });

  it('serves metadata, signs in through the IdP, refuses the replay', async () => {
    const server = app.getHttpServer();
    expect((await request(server).get('/auth/saml/metadata')).text).toContain(`entityID="${BASE}/saml"`);
    const start = await request(server).get('/auth/saml/login?relayState=/home');
    expect(start.status).toBe(302);
    const { fields } = parseForm(await (await fetch(start.headers.location)).text());
    const acs = await request(server).post('/auth/saml/acs').type('form').send(fields);
    expect(acs.status).toBe(303);
    expect(acs.headers.location).toBe('/home');
    expect(signedIn).toEqual(['saml:alice@bulwark.test']);
    const replay = await request(server).post('/auth/saml/acs').type('form').send(fields);
    expect(replay.status).toBe(401);
    expect(replay.body.type).toMatch(/signin-failed$/);
  });

  it('SP-initiated logout ends the app session before redirecting to the IdP', async () => {
    const start = await request(app.getHttpServer()).get('/auth/saml/logout').set('cookie', 'session=s1');
    expect(start.status).toBe(302);
    expect(start.headers.location.startsWith(idp.sloUrl)).toBe(true);
    expect(signedOut).toEqual(['s1']);
  });

  it('accepts the signed LogoutRequest of the IdP once and answers with a LogoutResponse redirect', async () => {
    const body = {
      SAMLRequest: Buffer.from(
        buildLogoutRequest({
          issuer: idp.entityId,
          destination: `${BASE}/auth/saml/logout`,
          nameId: 'alice@bulwark.test',
          key: idp.key,
        }),
      ).toString('base64'),
    };
    const res = await request(app.getHttpServer()).post('/auth/saml/logout').type('form').send(body);
    expect(res.status).toBe(302);
    expect(res.headers.location.startsWith(idp.sloUrl)).toBe(true);
    expect(loggedOut).toEqual(['alice@bulwark.test']);
    const replay = await request(app.getHttpServer()).post('/auth/saml/logout').type('form').send(body);
    expect(replay.status).toBe(401);
  });

  it('redirects an off-site RelayState to /', async () => {
    const server = app.getHttpServer();
    const start = await request(server).get('/auth/saml/login?relayState=//evil.example');
    const { fields } = parseForm(await (await fetch(start.headers.location)).text());
    const acs = await request(server).post('/auth/saml/acs').type('form').send(fields);
    expect(acs.headers.location).toBe('/');
  });
});
