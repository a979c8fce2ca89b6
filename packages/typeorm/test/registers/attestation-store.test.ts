import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ComplianceSigner, createBulwark, ErrorCodes, type Bulwark } from '@bulwark/core';
import { SERVICE_URLS, describeWithService } from '../../../../test/support/services';
import { bulwarkStoreEntities, bulwarkStoreMigrations, bulwarkStores } from '../../src/bulwark-stores';
import { TypeOrmAttestationStore } from '../../src/typeorm-attestation-store';

const DAY = 86_400_000;

interface Db {
  options: DataSourceOptions;
  /** Runs SQL around the store (an operator or attacker with database access); `$n` placeholders. */
  raw(sql: string, params?: unknown[]): Promise<unknown>;
  table: string;
  drop(): Promise<void>;
}

async function open(options: DataSourceOptions): Promise<DataSource> {
  const ds = await new DataSource(options).initialize();
  await ds.runMigrations();
  return ds;
}

async function sqlite(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-attest-'));
  const options = {
    type: 'better-sqlite3',
    database: path.join(dir, 'attest.sqlite'),
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
  } as DataSourceOptions;
  const admin = await open(options);
  return {
    options,
    raw: (sql, params = []) => admin.query(sql.replace(/\$\d+/g, '?'), params),
    table: '"bulwark_attestation"',
    async drop() {
      await admin.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<Db> {
  const schema = `bw_attest_${randomBytes(6).toString('hex')}`;
  const admin = await new DataSource({ type: 'postgres', url: SERVICE_URLS.postgres }).initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const options = {
    type: 'postgres',
    url: SERVICE_URLS.postgres,
    schema,
    entities: bulwarkStoreEntities,
    migrations: bulwarkStoreMigrations,
  } as DataSourceOptions;
  await (await open(options)).destroy();
  return {
    options,
    raw: (sql, params = []) => admin.query(sql, params),
    table: `"${schema}"."bulwark_attestation"`,
    async drop() {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

function suite(create: () => Promise<Db>) {
  let db: Db;
  const opened: DataSource[] = [];
  const kits: Bulwark[] = [];
  let signer: ComplianceSigner;

  /** One application instance: its own DataSource, every store from bulwarkStores. */
  async function instance(): Promise<Bulwark> {
    const ds = await new DataSource(db.options).initialize();
    opened.push(ds);
    const bw = await createBulwark({
      stores: bulwarkStores(ds),
      compliance: { attestations: { signer } },
    });
    kits.push(bw);
    return bw;
  }

  beforeAll(async () => {
    db = await create();
    signer = await ComplianceSigner.generate('attestation', { kid: 'att-test' });
  });
  afterAll(async () => {
    for (const bw of kits) await bw.close();
    for (const ds of opened) await ds.destroy();
    await db?.drop();
  });

  const manualControl = (bw: Bulwark): string =>
    bw.compliance!.catalogue.list().find((c) => c.manual !== undefined)!.id;

  it('an attestation made on one instance is read, signature verified, on another and after a restart', async () => {
    const a = await instance();
    const controlId = manualControl(a);
    const expiresAt = new Date(Date.now() + 30 * DAY);
    await a.compliance!.attest(controlId, {
      by: 'Ada Lovelace',
      role: 'CISO',
      statement: 'Policy v3 approved by the board.',
      expiresAt,
    });
    await a.compliance!.attest(controlId, {
      by: 'Grace Hopper',
      role: 'DPO',
      statement: 'Policy v4 approved by the board.',
      expiresAt,
    });
    const b = await instance();
    const seen = await b.compliance!.attestations();
    expect(seen.map((v) => [v.controlId, v.by, v.signature])).toEqual([
      [controlId, 'Ada Lovelace', 'verified'],
      [controlId, 'Grace Hopper', 'verified'],
    ]);
  });

  it('appends only: the same attestation id twice is refused, the first stays', async () => {
    const ds = await new DataSource(db.options).initialize();
    opened.push(ds);
    const store = new TypeOrmAttestationStore(ds);
    const [first] = await store.list();
    await expect(store.append({ ...first!, statement: 'overwritten' })).rejects.toMatchObject({
      code: ErrorCodes.COMPLIANCE_ATTESTATION_STORE,
    });
    expect((await store.list())[0]!.statement).toBe(first!.statement);
  });

  it('a row edited around the store: a changed body no longer verifies, a broken row fails closed', async () => {
    const bw = await instance();
    const [first] = await bw.compliance!.attestations();
    const rows = (await db.raw(`SELECT "body" FROM ${db.table} WHERE "id" = $1`, [first!.id])) as {
      body: string;
    }[];
    const forged = {
      ...JSON.parse(rows[0]!.body),
      expiresAt: new Date(Date.now() + 900 * DAY).toISOString(),
    };
    await db.raw(`UPDATE ${db.table} SET "body" = $1 WHERE "id" = $2`, [JSON.stringify(forged), first!.id]);
    expect((await bw.compliance!.attestations())[0]!.signature).toBe('invalid');

    await db.raw(`UPDATE ${db.table} SET "body" = $1 WHERE "id" = $2`, ['{"format":"nope"}', first!.id]);
    await expect(bw.compliance!.attestations()).rejects.toMatchObject({
      code: ErrorCodes.COMPLIANCE_ATTESTATION_STORE,
    });
  });
}

describe('TypeOrmAttestationStore on SQLite', () => suite(sqlite));
describeWithService('postgres', 'TypeOrmAttestationStore on PostgreSQL', () => suite(postgres));
