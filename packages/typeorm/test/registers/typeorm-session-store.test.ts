import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ErrorCodes, SessionEngine } from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations } from '../../src/bulwark-stores';
import { TypeOrmSessionStore } from '../../src/typeorm-session-store';

const SECRET = 'a session secret of at least thirty-two bytes!';

interface Db {
  dataSource: DataSource;
  raw(sql: string, params?: unknown[]): Promise<unknown>;
  table: string;
  drop(): Promise<void>;
}

async function sqlite(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-sessions-'));
  const dataSource = await new DataSource({
    type: 'better-sqlite3',
    database: path.join(dir, 'sessions.sqlite'),
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    raw: (sql, params = []) => dataSource.query(sql.replace(/\$\d+/g, '?'), params),
    table: '"bulwark_session"',
    async drop() {
      await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<Db> {
  const url = SERVICE_URLS.postgres;
  const schema = `bw_sessions_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = await new DataSource({
    type: 'postgres',
    url,
    schema,
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    raw: (sql, params = []) => admin.query(sql, params),
    table: `"${schema}"."bulwark_session"`,
    async drop() {
      await dataSource.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

/** A one-cookie jar. */
function jar() {
  const j = {
    value: undefined as string | undefined,
    get header() {
      return j.value === undefined ? undefined : `__Host-bulwark.sid=${j.value}`;
    },
    setCookie(v: string) {
      const pair = v.split(';')[0]!;
      j.value = /Max-Age=0/.test(v) ? undefined : pair.slice(pair.indexOf('=') + 1);
    },
  };
  return j;
}

function suite(name: string, open: () => Promise<Db>): void {
  describe(name, () => {
    let db: Db;
    let clock: { t: number };
    let engine: SessionEngine;
    let store: TypeOrmSessionStore;
    beforeAll(async () => {
      db = await open();
    });
    afterAll(async () => {
      await db.drop();
    });
    beforeEach(() => {
      clock = { t: Date.now() };
      store = new TypeOrmSessionStore(db.dataSource);
      engine = new SessionEngine({ secret: SECRET, store, idleTimeoutSec: 900, now: () => clock.t });
    });
    const openSession = (j: ReturnType<typeof jar>) =>
      engine.open({ cookieHeader: j.header, setCookie: j.setCookie });

    it('stores the HMAC of the token, never the token, and rotates at login', async () => {
      const j = jar();
      const s = await openSession(j);
      await s.set({ cart: ['a'] });
      const anonymous = j.value!;
      await s.login({ id: 'alice', roles: ['clerk'] });
      expect(j.value).not.toBe(anonymous);
      const rows = (await db.raw(`SELECT "id", "user_id", "body" FROM ${db.table}`)) as Record<
        string,
        string
      >[];
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(j.value);
      expect(rows[0]!.user_id).toBe('alice');
      const again = await openSession(j);
      expect(again.principal).toMatchObject({ id: 'alice', roles: ['clerk'] });
      expect(again.get('cart')).toEqual(['a']);
      await again.logout();
    });

    it('expires on idle, revokes all of a user’s sessions, and never resurrects a revoked one', async () => {
      const a = jar();
      const b = jar();
      await (await openSession(a)).login({ id: 'bob' });
      await (await openSession(b)).login({ id: 'bob' });
      const held = await openSession(a);
      expect(await engine.revokeAll('bob')).toBe(2);
      await expect(held.set({ x: 1 })).rejects.toMatchObject({ code: ErrorCodes.SESSION_REVOKED });
      expect((await openSession(a)).isNew).toBe(true);
      expect((await openSession(b)).isNew).toBe(true);
      const c = jar();
      await (await openSession(c)).login({ id: 'carol' });
      clock.t += 901_000;
      expect((await openSession(c)).isNew).toBe(true);
      await expect(engine.probe()).resolves.toEqual({
        idleRefused: true,
        absoluteRefused: true,
        freshAccepted: true,
      });
    });

    it('refuses a row written around the engine with ERR_SESSION_STORE', async () => {
      const id = 'B'.repeat(43);
      await db.raw(
        `INSERT INTO ${db.table} ("id", "user_id", "body", "last_seen_at", "expires_at") VALUES ($1, $2, $3, $4, $5)`,
        [id, 'mallory', JSON.stringify({ id, userId: 'mallory', data: {} }), 1, Date.now() + 60_000],
      );
      await expect(store.get(id)).rejects.toMatchObject({ code: ErrorCodes.SESSION_STORE });
      await db.raw(`DELETE FROM ${db.table} WHERE "id" = $1`, [id]);
    });

    it('revokeAllSessions deletes every row: each user, each anonymous session', async () => {
      const jars = [jar(), jar(), jar()];
      await (await openSession(jars[0]!)).login({ id: 'dora' });
      await (await openSession(jars[1]!)).login({ id: 'eli' });
      await (await openSession(jars[2]!)).set({ cart: ['b'] });
      expect(await engine.revokeAllSessions({ by: { id: 'admin' } })).toBeGreaterThanOrEqual(3);
      expect(await db.raw(`SELECT "id" FROM ${db.table}`)).toHaveLength(0);
      for (const j of jars) expect((await openSession(j)).isNew).toBe(true);
    });

    it('purges expired rows', async () => {
      const j = jar();
      await (await openSession(j)).set({ a: 1 });
      expect(await store.purgeExpired(clock.t + 2 * 3600_000)).toBeGreaterThanOrEqual(1);
      expect((await openSession(j)).isNew).toBe(true);
    });
  });
}

suite('TypeOrmSessionStore on SQLite', sqlite);
describeWithService('postgres', 'TypeOrmSessionStore on PostgreSQL (needs PostgreSQL)', () => {
  suite('store', postgres);
});
