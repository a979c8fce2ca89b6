// One application instance for test/session-revocation.test.ts: an Express app with Bulwark
// sessions on a shared store (STORE=redis: REDIS_URL + SESSION_PREFIX; STORE=postgres:
// POSTGRES_URL + SESSION_SCHEMA; MAX_SESSIONS: maxSessionsPerUser), listening on an ephemeral port reported over IPC. Uses the
// BUILT packages, as a deployed app would.
'use strict';
const express = require('express');
const { SessionEngine, RedisSessionStore } = require('@bulwark/core');
const { session, problemDetails } = require('@bulwark/express');

async function openStore() {
  if (process.env.STORE === 'redis') {
    const Redis = require('ioredis');
    const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
    return {
      store: new RedisSessionStore({ redis, keyPrefix: process.env.SESSION_PREFIX }),
      close: async () => redis.disconnect(),
    };
  }
  const { DataSource } = require('typeorm');
  const { TypeOrmSessionStore } = require('@bulwark/typeorm');
  const dataSource = await new DataSource({
    type: 'postgres',
    url: process.env.POSTGRES_URL,
    schema: process.env.SESSION_SCHEMA,
  }).initialize();
  return { store: new TypeOrmSessionStore(dataSource), close: () => dataSource.destroy() };
}

async function main() {
  const { store } = await openStore();
  const engine = new SessionEngine({
    secret: process.env.SESSION_SECRET,
    store,
    ...(process.env.MAX_SESSIONS ? { maxSessionsPerUser: Number(process.env.MAX_SESSIONS) } : {}),
  });
  const app = express();
  app.use(express.json());
  app.use(session(engine));
  const wrap = (fn) => (req, res, next) => fn(req, res).catch(next);
  app.get(
    '/me',
    wrap(async (req, res) => {
      res.json({ user: req.principal?.id ?? null, pid: process.pid });
    }),
  );
  app.post(
    '/login',
    wrap(async (req, res) => {
      await req.bulwarkSession.login({ id: String(req.body.user), roles: ['user'] });
      res.json({ sessionId: req.bulwarkSession.id });
    }),
  );
  app.post(
    '/logout',
    wrap(async (req, res) => {
      await req.bulwarkSession.logout();
      res.json({ ok: true });
    }),
  );
  app.post(
    '/admin/revoke',
    wrap(async (req, res) => {
      res.json({ revoked: await engine.revoke(String(req.body.sessionId), { id: 'admin' }) });
    }),
  );
  app.post(
    '/admin/revoke-all',
    wrap(async (req, res) => {
      res.json({ revoked: await engine.revokeAll(String(req.body.user), { by: { id: 'admin' } }) });
    }),
  );
  app.post(
    '/admin/revoke-everyone',
    wrap(async (_req, res) => {
      res.json({ revoked: await engine.revokeAllSessions({ by: { id: 'admin' } }) });
    }),
  );
  app.use(problemDetails({ log: () => undefined }));
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

main().catch((err) => {
  process.send({ fatal: String(err && err.message) });
  process.exit(1);
});
