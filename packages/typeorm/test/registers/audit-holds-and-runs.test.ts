import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { createBulwark, type Bulwark } from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations, bulwarkStores } from '../../src/bulwark-stores';
import { BulwarkRegisterKinds1735690500000 } from '../../src/migrations/register-kinds-1735690500000';

interface Db {
  options: DataSourceOptions;
  drop(): Promise<void>;
}

async function sqlite(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-holds-'));
  return {
    options: {
      type: 'better-sqlite3',
      database: path.join(dir, 'app.sqlite'),
      entities: bulwarkStoreEntities,
      migrations: bulwarkStoreMigrations,
    } as DataSourceOptions,
    async drop() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<Db> {
  const schema = `bw_holds_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  return {
    options: {
      type: 'postgres',
      url: SERVICE_URLS.postgres,
      schema,
      entities: bulwarkStoreEntities,
      migrations: bulwarkStoreMigrations,
    } as DataSourceOptions,
    async drop() {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

const NOW = new Date('2026-06-01T00:00:00Z');

function suite(create: () => Promise<Db>) {
  let db: Db;
  const sources: DataSource[] = [];
  const kits: Bulwark[] = [];

  async function instance(): Promise<Bulwark> {
    const ds = await new DataSource(db.options).initialize();
    sources.push(ds);
    const bw = await createBulwark({
      clock: () => NOW,
      audit: { store: 'memory', retention: { periods: { default: 30 } } },
      privacy: { retention: { rules: [{ category: 'telemetry', days: 30, basis: 'monitoring' }] } },
      stores: bulwarkStores(ds),
    });
    kits.push(bw);
    return bw;
  }

  beforeAll(async () => {
    db = await create();
    const ds = await new DataSource(db.options).initialize();
    await ds.runMigrations();
    await ds.destroy();
  });
  afterAll(async () => {
    for (const bw of kits) await bw.close();
    for (const ds of sources) await ds.destroy();
    await db?.drop();
  });

  it('an audit-log legal hold placed on one instance is in force on another and after a restart', async () => {
    const a = await instance();
    const b = await instance();
    await a.auditLog!.addLegalHold({ id: 'case-7', reason: 'litigation', actorId: 'erin' });
    expect((await b.auditLog!.legalHolds()).map((h) => h.id)).toEqual(['case-7']);
    const restarted = await instance();
    expect(restarted.auditLog!.retention.describe().legalHolds).toBe(1);
    expect(await b.auditLog!.removeLegalHold('case-7')).toBe(true);
    expect(await a.auditLog!.legalHolds()).toEqual([]);
  });

  it("the retention job's last run on one instance is what every instance reports", async () => {
    const a = await instance();
    const b = await instance();
    const rows = [NOW.getTime() - 90 * 86_400_000];
    const source = {
      id: 'events',
      category: 'telemetry',
      purge: (olderThan: Date) => {
        const n = rows.filter((t) => t < olderThan.getTime()).length;
        rows.length = 0;
        return n;
      },
    };
    a.dataRetention!.registerSource(source);
    b.dataRetention!.registerSource(source);
    await a.dataRetention!.purge();
    expect((await b.dataRetention!.sources())[0]!.lastPurge).toEqual({
      at: NOW.toISOString(),
      purged: 1,
      outcome: 'success',
    });
  });
}

describe('audit legal holds and retention runs on SQLite', () => suite(sqlite));
describeWithService('postgres', 'audit legal holds and retention runs on PostgreSQL', () => suite(postgres));

describe('BulwarkRegisterKinds1735690500000 on a database that already has registers', () => {
  it('keeps every existing row (SQLite rebuilds the table) and then accepts the new kinds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-kinds-'));
    const options = {
      type: 'better-sqlite3',
      database: path.join(dir, 'app.sqlite'),
      entities: bulwarkStoreEntities,
    } as DataSourceOptions;
    const before = bulwarkStoreMigrations.slice(
      0,
      bulwarkStoreMigrations.findIndex((m) => m === BulwarkRegisterKinds1735690500000),
    );
    let ds = await new DataSource({ ...options, migrations: before }).initialize();
    await ds.runMigrations();
    await ds.query(
      `INSERT INTO "bulwark_register_record" ("kind", "id", "version", "body", "updated_at") VALUES (?, ?, 1, ?, ?)`,
      ['legal-hold', 'h1', JSON.stringify({ id: 'h1' }), NOW.toISOString()],
    );
    await expect(
      ds.query(
        `INSERT INTO "bulwark_register_record" ("kind", "id", "version", "body", "updated_at") VALUES (?, ?, 1, ?, ?)`,
        ['retention-run', 'r1', '{}', NOW.toISOString()],
      ),
    ).rejects.toThrow(/CHECK/);
    await ds.destroy();
    ds = await new DataSource({ ...options, migrations: bulwarkStoreMigrations }).initialize();
    await ds.runMigrations();
    try {
      const stores = bulwarkStores(ds);
      expect(await stores.legalHolds.get('h1')).toEqual({ value: { id: 'h1' }, version: 1 });
      expect(await stores.auditLegalHolds.insert('a1', { id: 'a1', reason: 'r', actorId: 'x' })).toBe(true);
      // The constraint still refuses a kind nobody declared.
      await expect(
        ds.query(
          `INSERT INTO "bulwark_register_record" ("kind", "id", "version", "body", "updated_at") VALUES (?, ?, 1, ?, ?)`,
          ['nonsense', 'n1', '{}', NOW.toISOString()],
        ),
      ).rejects.toThrow(/CHECK/);
    } finally {
      await ds.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
