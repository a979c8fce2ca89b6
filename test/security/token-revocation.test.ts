/**
 * Token revocation over real HTTP (ASVS 5.0 V7.4.1-V7.4.3, V7.4.5) on Express and Koa: a token
 * revoked by value or by `jti`, every token of a subject revoked at once (logout everywhere), and
 * the bearer authenticator's verification cache never serving a revoked token. Two app instances
 * sharing Redis, then PostgreSQL: revoked on one, refused by the other on its next request.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import Redis from 'ioredis';
import express from 'express';
import { SignJWT } from 'jose';
import Koa from 'koa';
import request from 'supertest';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  createBulwark,
  ErrorCodes,
  type Bulwark,
  type BulwarkConfig,
  type RevocationStore,
} from '@bulwark/core';
import { bulwark as expressBulwark, privacyRouter } from '@bulwark/express';
import { bulwark as koaBulwark } from '@bulwark/koa';
import { bulwarkStoreEntities, bulwarkStoreMigrations, TypeOrmRevocationStore } from '@bulwark/typeorm';
import { describeWithService, SERVICE_URLS } from '../support/services';

const SECRET = randomBytes(32);
let offsetMs = 0;
const clock = (): Date => new Date(Date.now() + offsetMs);

function config(store: NonNullable<BulwarkConfig['revocation']>['store']): BulwarkConfig {
  return {
    clock,
    tokens: { algorithms: ['HS256'], signingKey: { key: SECRET }, issuer: 'https://id.test', clock },
    revocation: { store },
    audit: { store: 'memory' },
  };
}

type App = (kit: Bulwark) => Server;
const quiet = { log: () => undefined };

/** GET /me answers the principal; POST /logout revokes the caller's own token. */
const APPS: Record<string, App> = {
  Express(kit) {
    const app = express();
    const bw = expressBulwark(kit, { audit: false, problemDetails: quiet });
    app.use(bw);
    app.get('/me', (req, res) => {
      res.json({ id: req.principal?.id });
    });
    app.post('/logout', (req, res, next) => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /i, '');
      kit.revocation!.revoke(token, { reason: 'logout' }).then(() => res.status(204).end(), next);
    });
    app.use(bw.problemDetails());
    return app.listen(0);
  },
  Koa(kit) {
    const app = new Koa();
    app.use(koaBulwark(kit, { audit: false, problemDetails: quiet }));
    app.use(async (ctx) => {
      if (ctx.path === '/me') ctx.body = { id: ctx.state.principal?.id };
      else if (ctx.path === '/logout' && ctx.method === 'POST') {
        const token = (ctx.get('authorization') ?? '').replace(/^Bearer /i, '');
        await kit.revocation!.revoke(token, { reason: 'logout' });
        ctx.status = 204;
      }
    });
    return app.listen(0);
  },
};

const servers: Server[] = [];
const kits: Bulwark[] = [];
afterEach(async () => {
  offsetMs = 0;
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await Promise.all(kits.splice(0).map((k) => k.close()));
});

async function start(name: string, store: NonNullable<BulwarkConfig['revocation']>['store']) {
  const kit = await createBulwark(config(store));
  kits.push(kit);
  const server = APPS[name]!(kit);
  servers.push(server);
  return { kit, server };
}

const me = (server: Server, token: string) =>
  request(server).get('/me').set('Authorization', `Bearer ${token}`);

function expectRefused(res: request.Response): void {
  expect(res.status).toBe(401);
  // A revoked token answers like any invalid token: which check failed is not told.
  expect(res.body.code).toBe(ErrorCodes.TOKEN_INVALID);
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
}

describe.each(Object.keys(APPS))('token revocation on %s (memory store)', (name) => {
  it('refuses a token after logout revoked it, although its verification is cached', async () => {
    const { kit, server } = await start(name, 'memory');
    const token = await kit.tokens!.sign({}, { subject: 'alice' });
    expect((await me(server, token)).body).toEqual({ id: 'alice' }); // now cached
    expect((await me(server, token)).status).toBe(200);
    const other = await kit.tokens!.sign({}, { subject: 'alice' });
    await request(server).post('/logout').set('Authorization', `Bearer ${token}`).expect(204);
    expectRefused(await me(server, token));
    // Only that token: the user's other session stands.
    expect((await me(server, other)).status).toBe(200);
    const events = (await kit.auditLog!.query({ action: 'auth.token.revoked' })).entries;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: { id: 'alice', type: 'user' },
      outcome: 'success',
      reason: 'logout',
      details: { scope: 'token' },
    });
  });

  it('revokes by jti (an admin who never saw the token)', async () => {
    const { kit, server } = await start(name, 'memory');
    const token = await kit.tokens!.sign({}, { subject: 'alice', jwtId: 'session-42' });
    expect((await me(server, token)).status).toBe(200);
    await kit.revocation!.revoke('session-42', { actor: { id: 'admin', type: 'user' }, reason: 'admin' });
    expectRefused(await me(server, token));
  });

  it('revokeAllFor ends every token of the subject issued until then, and only those', async () => {
    const { kit, server } = await start(name, 'memory');
    const a = await kit.tokens!.sign({}, { subject: 'alice' });
    const b = await kit.tokens!.sign({}, { subject: 'alice' });
    const bob = await kit.tokens!.sign({}, { subject: 'bob' });
    expect((await me(server, a)).status).toBe(200);
    const { notBeforeSec } = await kit.revocation!.revokeAllFor('alice', { reason: 'password-changed' });
    expectRefused(await me(server, a));
    expectRefused(await me(server, b));
    expect((await me(server, bob)).status).toBe(200);
    // A token issued after the revocation's second (a fresh sign-in) is accepted.
    offsetMs = (notBeforeSec + 1) * 1000 - Date.now();
    const fresh = await kit.tokens!.sign({}, { subject: 'alice' });
    expect((await me(server, fresh)).status).toBe(200);
  });

  it('refuses a token without jti (it could not be revoked) and one living past the revocation window', async () => {
    const { kit, server } = await start(name, 'memory');
    const now = Math.floor(clock().getTime() / 1000);
    const noJti = await new SignJWT({ sub: 'alice', iss: 'https://id.test', iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(SECRET);
    expectRefused(await me(server, noJti));
    const week = await kit.tokens!.sign({}, { subject: 'alice', ttlSec: 7 * 86_400 });
    expectRefused(await me(server, week));
  });

  it('fails closed with 503 while the revocation store is down', async () => {
    const broken: RevocationStore = {
      revokeToken: async () => undefined,
      revokeSubject: async () => undefined,
      status: async () => {
        throw new Error('ECONNREFUSED 10.0.0.7:6379');
      },
    };
    const { kit, server } = await start(name, broken);
    const token = await kit.tokens!.sign({}, { subject: 'alice' });
    const res = await me(server, token);
    expect(res.status).toBe(503);
    expect(res.text).not.toMatch(/ECONNREFUSED|10\.0\.0\.7/);
  });
});

describe('token revocation on the privacy router (Express)', () => {
  it('refuses a revoked token on /privacy too (it authenticates on its own)', async () => {
    const kit = await createBulwark({ ...config('memory'), privacy: { consent: { store: 'memory' } } });
    kits.push(kit);
    const app = express().use('/privacy', privacyRouter(kit));
    const token = await kit.tokens!.sign({}, { subject: 'alice' });
    const consents = () => request(app).get('/privacy/consents').set('Authorization', `Bearer ${token}`);
    expect((await consents()).status).toBe(200);
    await kit.revocation!.revokeAllFor('alice');
    expectRefused(await consents());
  });
});

describeWithService('redis', 'token revocation across two instances sharing Redis', () => {
  const clients: Redis[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it.each(Object.keys(APPS))(
    '%s: revoked on one instance, refused by the other on its next request',
    async (name) => {
      const keyPrefix = `bw-test:revocation:${randomBytes(6).toString('hex')}:`;
      const redis = () => {
        const c = new Redis(SERVICE_URLS.redis, { lazyConnect: false });
        clients.push(c);
        return { redis: c, keyPrefix };
      };
      const one = await start(name, redis());
      const two = await start(name, redis());
      const token = await one.kit.tokens!.sign({}, { subject: 'alice' });
      const other = await one.kit.tokens!.sign({}, { subject: 'carol' });
      // Both instances have verified (and cached) the tokens.
      expect((await me(one.server, token)).status).toBe(200);
      expect((await me(two.server, token)).status).toBe(200);
      expect((await me(two.server, other)).status).toBe(200);

      await one.kit.revocation!.revoke(token);
      expectRefused(await me(two.server, token));
      expectRefused(await me(one.server, token));

      await two.kit.revocation!.revokeAllFor('carol');
      expectRefused(await me(one.server, other));
    },
  );
});

describeWithService('postgres', 'token revocation across two instances sharing PostgreSQL', () => {
  const schema = `bw_revocation_${randomBytes(6).toString('hex')}`;
  let admin: DataSource;
  const sources: DataSource[] = [];

  beforeAll(async () => {
    admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
    await admin.query(`CREATE SCHEMA "${schema}"`);
  });
  afterAll(async () => {
    await Promise.all(sources.map((s) => s.destroy()));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.destroy();
  });

  async function dataSource(migrate: boolean): Promise<DataSource> {
    const options = {
      type: 'postgres',
      url: SERVICE_URLS.postgres,
      schema,
      entities: bulwarkStoreEntities,
      migrations: bulwarkStoreMigrations,
      logging: false,
    } as DataSourceOptions;
    const ds = await new DataSource(options).initialize();
    sources.push(ds);
    if (migrate) await ds.runMigrations();
    return ds;
  }

  it('Express: revoked on one instance, refused by the other; the deny-list survives a restart', async () => {
    const one = await start('Express', new TypeOrmRevocationStore(await dataSource(true)));
    const two = await start('Express', new TypeOrmRevocationStore(await dataSource(false)));
    const token = await one.kit.tokens!.sign({}, { subject: 'alice' });
    const bob = await one.kit.tokens!.sign({}, { subject: 'bob' });
    expect((await me(two.server, token)).status).toBe(200);
    await one.kit.revocation!.revoke(token);
    expectRefused(await me(two.server, token));
    await one.kit.revocation!.revokeAllFor('bob');
    // Revoking again with an earlier time never moves the "not before" back.
    await new TypeOrmRevocationStore(sources[0]!).revokeSubject('bob', 1);
    expectRefused(await me(two.server, bob));
    // A third instance started later reads the same rows.
    const three = await start('Express', new TypeOrmRevocationStore(await dataSource(false)));
    expectRefused(await me(three.server, token));
    expectRefused(await me(three.server, bob));
  });
});
