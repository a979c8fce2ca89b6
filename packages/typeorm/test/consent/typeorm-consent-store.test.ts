import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ConsentManager, ErrorCodes } from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { BulwarkConsentTables1735689800000 } from '../../src/migrations/consent-tables-1735689800000';
import { bulwarkConsentEntities } from '../../src/consent-entities';
import { TypeOrmConsentStore } from '../../src/typeorm-consent-store';

interface ConsentDb {
  dataSource: DataSource;
  options: DataSourceOptions;
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  t: string;
  drop(): Promise<void>;
}

async function sqlite(): Promise<ConsentDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-consent-'));
  const options = {
    type: 'better-sqlite3',
    database: path.join(dir, 'consent.sqlite'),
    entities: bulwarkConsentEntities,
    migrations: [BulwarkConsentTables1735689800000],
    logging: false,
  } as DataSourceOptions;
  const dataSource = await new DataSource(options).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    options,
    t: '"bulwark_consent_record"',
    raw: async (sql, params = []) =>
      (await dataSource.query(sql.replace(/\$\d+/g, '?'), params)) as Record<string, unknown>[],
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<ConsentDb> {
  const url = SERVICE_URLS.postgres;
  const schema = `bw_consent_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const options = {
    type: 'postgres',
    url,
    schema,
    entities: bulwarkConsentEntities,
    migrations: [BulwarkConsentTables1735689800000],
    logging: false,
  } as DataSourceOptions;
  const dataSource = await new DataSource(options).initialize();
  await dataSource.runMigrations();
  return {
    dataSource,
    options,
    t: `"${schema}"."bulwark_consent_record"`,
    raw: async (sql, params = []) => (await admin.query(sql, params)) as Record<string, unknown>[],
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

function suite(create: () => Promise<ConsentDb>) {
  let db: ConsentDb;
  beforeAll(async () => {
    db = await create();
  });
  afterAll(async () => {
    await db?.drop();
  });

  function manager(store = new TypeOrmConsentStore(db.dataSource)) {
    let t = Date.parse('2025-02-01T10:00:00.000Z');
    const consent = new ConsentManager({ store, clock: () => new Date((t += 1)) });
    consent.registerPurpose({
      id: 'newsletter',
      name: 'Newsletter',
      version: 1,
      text: 'mail v1',
      marketing: true,
    });
    consent.registerPurpose({ id: 'analytics', name: 'Analytics', version: 1, text: 'stats' });
    return consent;
  }

  it('grant, withdraw, check and history through ConsentManager, durable across DataSources', async () => {
    const consent = manager();
    await consent.grant('alice', 'newsletter', { ip: '2001:db8::1', userAgent: 'UA/1', source: 'signup' });
    await consent.grant('alice', 'analytics');
    await consent.withdraw('alice', 'newsletter', { ip: '2001:db8::1' });
    await consent.grant('bob', 'newsletter');
    expect(await consent.check('alice', 'newsletter')).toMatchObject({
      granted: false,
      state: 'withdrawn',
      version: 1,
    });
    expect((await consent.check('alice', 'analytics')).granted).toBe(true);
    expect((await consent.check('bob', 'newsletter')).granted).toBe(true);

    // a new DataSource on the same database sees the same history
    const other = await new DataSource({ ...db.options, migrations: [] }).initialize();
    try {
      const again = manager(new TypeOrmConsentStore(other));
      const history = await again.history('alice');
      expect(history.map((r) => `${r.purposeId}:${r.action}`)).toEqual([
        'newsletter:granted',
        'analytics:granted',
        'newsletter:withdrawn',
      ]);
      expect(history[0]).toMatchObject({
        ip: '2001:db8::1',
        userAgent: 'UA/1',
        source: 'signup',
        version: 1,
      });
      expect(history[0]!.textHash).toMatch(/^[0-9a-f]{64}$/);
      expect(history[1]!.ip).toBeUndefined();
      expect((await again.check('alice', 'newsletter')).granted).toBe(false);
      expect(await again.grantCounts()).toEqual({ analytics: 1, newsletter: 1 });
    } finally {
      await other.destroy();
    }
  });

  it('orders by insertion, not by time, and renews after a minVersion bump', async () => {
    const store = new TypeOrmConsentStore(db.dataSource);
    const consent = new ConsentManager({ store, clock: () => new Date('2025-02-02T00:00:00.000Z') }); // frozen clock
    consent.registerPurpose({ id: 'newsletter', name: 'Newsletter', version: 1, text: 'mail v1' });
    await consent.grant('carol', 'newsletter');
    await consent.withdraw('carol', 'newsletter');
    await consent.grant('carol', 'newsletter');
    expect((await consent.check('carol', 'newsletter')).state).toBe('granted');
    consent.registerPurpose({
      id: 'newsletter',
      name: 'Newsletter',
      version: 2,
      text: 'mail v2',
      minVersion: 2,
    });
    expect(await consent.check('carol', 'newsletter')).toMatchObject({
      granted: false,
      state: 'outdated',
      needsRenewal: true,
    });
    await consent.grant('carol', 'newsletter');
    expect(await consent.check('carol', 'newsletter')).toMatchObject({ granted: true, version: 2 });
  });

  it('refuses rows edited around the store and malformed rows via CHECK constraints', async () => {
    const consent = manager();
    await consent.grant('dave', 'newsletter');
    await expect(
      db.raw(
        `INSERT INTO ${db.t} ("id", "subject_id", "purpose_id", "action", "version", "text_hash", "at") VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        ['x-1', 'dave', 'newsletter', 'maybe', 1, 'a'.repeat(64), '2025-01-01T00:00:00.000Z'],
      ),
    ).rejects.toThrow();
    await db.raw(`UPDATE ${db.t} SET "text_hash" = $1 WHERE "subject_id" = $2`, ['Z'.repeat(64), 'dave']);
    await expect(consent.check('dave', 'newsletter')).rejects.toMatchObject({
      code: ErrorCodes.CONSENT_STORE,
    });
  });

  it('deletes a subject only on request and reports the count', async () => {
    const store = new TypeOrmConsentStore(db.dataSource);
    const consent = manager(store);
    await consent.grant('erin', 'newsletter');
    await consent.grant('erin', 'analytics');
    expect(await store.deleteSubject('erin')).toBe(2);
    expect(await consent.history('erin')).toEqual([]);
    expect(await store.deleteSubject('erin')).toBe(0);
  });
}

describe('TypeOrmConsentStore on SQLite', () => suite(sqlite));
describeWithService('postgres', 'TypeOrmConsentStore on PostgreSQL', () => suite(postgres));
