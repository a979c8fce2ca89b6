/**
 * Revocation across processes: two instances of one Express app (two Node processes, the BUILT
 * packages) share a session store, on Redis and, separately, on PostgreSQL. A session signed in
 * on one is seen by the other; revoking it (one session, all of a user's, logout) on one is
 * refused by the other on its very next request. The per-user session limit counts sessions made
 * on both, and revoking every session of every user on one ends them on the other.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { BulwarkSessionTables1735690100000 } from '@bulwark/typeorm';
import { describeWithService, SERVICE_URLS } from './support/services';

const WORKER = path.join(__dirname, 'support', 'session-instance-worker.js');
const SECRET = randomBytes(32).toString('base64url');

interface Instance {
  child: ChildProcess;
  url: string;
}

function start(env: Record<string, string>): Promise<Instance> {
  const child = fork(WORKER, [], {
    env: { ...process.env, SESSION_SECRET: SECRET, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance exited (${code})`)));
    child.once('message', (msg: { port?: number; fatal?: string }) => {
      if (msg.port === undefined) return reject(new Error(`instance failed: ${msg.fatal}`));
      resolve({ child, url: `http://127.0.0.1:${msg.port}` });
    });
  });
}

function stop(instance: Instance | undefined): Promise<void> {
  return new Promise((done) => {
    if (instance === undefined || instance.child.exitCode !== null) return done();
    instance.child.removeAllListeners('exit');
    instance.child.once('exit', () => done());
    instance.child.kill('SIGTERM');
  });
}

/** Plain HTTP with one cookie held by the test, as a browser holds it. */
async function call(
  instance: Instance,
  method: 'GET' | 'POST',
  route: string,
  cookie?: string,
  body?: object,
): Promise<{ status: number; body: Record<string, unknown>; cookie?: string }> {
  const res = await fetch(instance.url + route, {
    method,
    headers: {
      ...(cookie ? { cookie: `__Host-bulwark.sid=${cookie}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const set = res.headers.getSetCookie().find((c) => c.startsWith('__Host-bulwark.sid='));
  const value = set?.split(';')[0]!.slice('__Host-bulwark.sid='.length);
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    ...(value ? { cookie: value } : {}),
  };
}

function scenarios(env: () => Record<string, string>): void {
  let a: Instance | undefined;
  let b: Instance | undefined;
  beforeAll(async () => {
    [a, b] = await Promise.all([start(env()), start(env())]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([stop(a), stop(b)]);
  });

  it('a session signed in on one instance is seen by the other, and revoked everywhere at once', async () => {
    const login = await call(a!, 'POST', '/login', undefined, { user: 'alice' });
    const cookie = login.cookie!;
    const seen = await call(b!, 'GET', '/me', cookie);
    expect(seen.body.user).toBe('alice');
    expect(seen.body.pid).not.toBe((await call(a!, 'GET', '/me', cookie)).body.pid);
    // An admin on B ends that one session; A refuses it on the very next request.
    expect(
      (await call(b!, 'POST', '/admin/revoke', undefined, { sessionId: login.body.sessionId })).body,
    ).toEqual({
      revoked: true,
    });
    expect((await call(a!, 'GET', '/me', cookie)).body.user).toBeNull();
  });

  it('revoke-all on one instance ends every session of the user on the other', async () => {
    const laptop = (await call(a!, 'POST', '/login', undefined, { user: 'bob' })).cookie!;
    const phone = (await call(b!, 'POST', '/login', undefined, { user: 'bob' })).cookie!;
    const other = (await call(a!, 'POST', '/login', undefined, { user: 'carol' })).cookie!;
    expect((await call(b!, 'POST', '/admin/revoke-all', undefined, { user: 'bob' })).body).toEqual({
      revoked: 2,
    });
    expect((await call(a!, 'GET', '/me', laptop)).body.user).toBeNull();
    expect((await call(a!, 'GET', '/me', phone)).body.user).toBeNull();
    expect((await call(a!, 'GET', '/me', other)).body.user).toBe('carol');
  });

  it('a logout on one instance is a logout on the other', async () => {
    const cookie = (await call(a!, 'POST', '/login', undefined, { user: 'dave' })).cookie!;
    expect((await call(b!, 'POST', '/logout', cookie)).status).toBe(200);
    expect((await call(a!, 'GET', '/me', cookie)).body.user).toBeNull();
  });

  it('the session limit (2) counts sign-ins on both instances: a third ends the oldest', async () => {
    const first = (await call(a!, 'POST', '/login', undefined, { user: 'erin' })).cookie!;
    const second = (await call(b!, 'POST', '/login', undefined, { user: 'erin' })).cookie!;
    const third = (await call(a!, 'POST', '/login', undefined, { user: 'erin' })).cookie!;
    expect((await call(b!, 'GET', '/me', first)).body.user).toBeNull();
    expect((await call(b!, 'GET', '/me', second)).body.user).toBe('erin');
    expect((await call(b!, 'GET', '/me', third)).body.user).toBe('erin');
  });

  it('revoking every session of every user on one instance ends them all on the other', async () => {
    const frank = (await call(a!, 'POST', '/login', undefined, { user: 'frank' })).cookie!;
    const gina = (await call(b!, 'POST', '/login', undefined, { user: 'gina' })).cookie!;
    const revoked = (await call(b!, 'POST', '/admin/revoke-everyone')).body.revoked as number;
    expect(revoked).toBeGreaterThanOrEqual(2);
    expect((await call(a!, 'GET', '/me', frank)).body.user).toBeNull();
    expect((await call(a!, 'GET', '/me', gina)).body.user).toBeNull();
    // The store is usable again at once.
    const again = (await call(a!, 'POST', '/login', undefined, { user: 'frank' })).cookie!;
    expect((await call(b!, 'GET', '/me', again)).body.user).toBe('frank');
  });
}

describeWithService('redis', 'session revocation across two processes on Redis (needs Redis)', () => {
  const prefix = `bw-test-sess-rev:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    const redis = new Redis(SERVICE_URLS.redis);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  scenarios(() => ({
    STORE: 'redis',
    REDIS_URL: SERVICE_URLS.redis,
    SESSION_PREFIX: prefix,
    MAX_SESSIONS: '2',
  }));
});

describeWithService(
  'postgres',
  'session revocation across two processes on PostgreSQL (needs PostgreSQL)',
  () => {
    const schema = `bw_sess_rev_${randomBytes(4).toString('hex')}`;
    let admin: DataSource;
    beforeAll(async () => {
      admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const ds = await new DataSource({
        type: 'postgres',
        url: SERVICE_URLS.postgres,
        schema,
        migrations: [BulwarkSessionTables1735690100000],
      }).initialize();
      await ds.runMigrations();
      await ds.destroy();
    });
    afterAll(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    });
    scenarios(() => ({
      STORE: 'postgres',
      POSTGRES_URL: SERVICE_URLS.postgres,
      SESSION_SCHEMA: schema,
      MAX_SESSIONS: '2',
    }));
  },
);
