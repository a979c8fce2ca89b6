import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ErrorCodes } from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations, bulwarkStores } from '../../src/bulwark-stores';
import { TypeOrmRevocationStore } from '../../src/typeorm-revocation-store';

async function sqlite(): Promise<{ dataSource: DataSource; drop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-revocation-'));
  const dataSource = await new DataSource({
    type: 'better-sqlite3',
    database: path.join(dir, 'revocation.sqlite'),
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    async drop() {
      await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<{ dataSource: DataSource; drop(): Promise<void> }> {
  const schema = `bw_revocation_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = await new DataSource({
    type: 'postgres',
    url: SERVICE_URLS.postgres,
    schema,
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
    logging: false,
  } as DataSourceOptions).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    async drop() {
      await dataSource.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

function behaves(open: () => Promise<{ dataSource: DataSource; drop(): Promise<void> }>): void {
  let db: { dataSource: DataSource; drop(): Promise<void> };
  beforeEach(async () => {
    db = await open();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('lists a jti until its expiry and keeps the later expiry of two revocations', async () => {
    const store = new TypeOrmRevocationStore(db.dataSource);
    const now = Date.now();
    await store.revokeToken('j1', now + 60_000);
    await store.revokeToken('j1', now + 1_000);
    expect(await store.status('j1', 'alice', now + 30_000)).toEqual({ tokenRevoked: true });
    expect(await store.status('j1', 'alice', now + 60_000)).toEqual({ tokenRevoked: false });
    expect(await store.status(undefined, 'alice', now)).toEqual({ tokenRevoked: false });
  });

  it("never moves a subject's not-before time back", async () => {
    const store = bulwarkStores(db.dataSource).revocation;
    await store.revokeSubject('alice', 200);
    await store.revokeSubject('alice', 100);
    expect(await store.status('j', 'alice', Date.now())).toEqual({ tokenRevoked: false, notBeforeSec: 200 });
    await store.revokeSubject('alice', 300);
    expect((await store.status('j', 'alice', Date.now())).notBeforeSec).toBe(300);
  });

  it('fails closed with ERR_TOKEN_REVOCATION_STORE when the database is gone', async () => {
    const store = new TypeOrmRevocationStore(db.dataSource);
    await db.dataSource.destroy();
    await expect(store.status('j', 'alice', Date.now())).rejects.toMatchObject({
      code: ErrorCodes.TOKEN_REVOCATION_STORE,
    });
    await db.dataSource.initialize();
  });
}

describe('TypeOrmRevocationStore on SQLite', () => behaves(sqlite));
describeWithService('postgres', 'TypeOrmRevocationStore on PostgreSQL', () => behaves(postgres));
