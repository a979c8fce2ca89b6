import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions, type EntitySchema, type MixedList } from 'typeorm';
import { EnvKeyProvider, generateMasterKey, KeyRing, MemoryKeyStore, type KeyStore } from '@bulwark/core';
import { SERVICE_URLS } from '../../../../test/support/services';

/** A fresh database (SQLite file in a temp dir, or a PostgreSQL schema) plus plain SQL access. */
export interface EncryptionDb {
  kind: 'sqlite' | 'postgres' | 'mariadb';
  dataSource: DataSource;
  /** Plain SQL with `$1` placeholders (rewritten to `?` on SQLite), bypassing TypeORM entities. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Quoted, schema-qualified table name. */
  t(name: string): string;
  /** Options to open another DataSource on the same database. */
  options: DataSourceOptions;
  drop(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type EntityTarget = Function;

export type Backend = {
  name: 'SQLite' | 'PostgreSQL' | 'MariaDB';
  create(
    entities: MixedList<EntityTarget | string | EntitySchema>,
    extra?: Partial<DataSourceOptions>,
  ): Promise<EncryptionDb>;
};

export const sqlite: Backend = {
  name: 'SQLite',
  async create(entities, extra = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-enc-'));
    const options = {
      type: 'better-sqlite3',
      database: path.join(dir, 'db.sqlite'),
      entities,
      synchronize: true,
      logging: false,
      ...extra,
    } as DataSourceOptions;
    const dataSource = await new DataSource(options).initialize();
    return {
      kind: 'sqlite',
      dataSource,
      options: { ...options, synchronize: false } as DataSourceOptions,
      t: (name) => `"${name}"`,
      async raw(sql, params = []) {
        return (await dataSource.query(sql.replace(/\$\d+/g, '?'), params)) as Record<string, unknown>[];
      },
      async drop() {
        if (dataSource.isInitialized) await dataSource.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgres: Backend = {
  name: 'PostgreSQL',
  async create(entities, extra = {}) {
    const url = SERVICE_URLS.postgres;
    const schema = `bw_enc_${randomBytes(6).toString('hex')}`;
    const admin = await new DataSource({ type: 'postgres', url }).initialize();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const options = {
      type: 'postgres',
      url,
      schema,
      entities,
      synchronize: true,
      logging: false,
      ...extra,
    } as DataSourceOptions;
    const dataSource = await new DataSource(options).initialize();
    return {
      kind: 'postgres',
      dataSource,
      options: { ...options, synchronize: false } as DataSourceOptions,
      t: (name) => `"${schema}"."${name}"`,
      async raw(sql, params = []) {
        return (await admin.query(sql, params)) as Record<string, unknown>[];
      },
      async drop() {
        if (dataSource.isInitialized) await dataSource.destroy();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.destroy();
      },
    };
  },
};

/**
 * MariaDB (`MARIADB_URL`): a database of its own per suite. Tests write plain SQL with `"id"` and
 * `$1`: rewritten to backticks and `?` (no test SQL has a double quote inside a string literal).
 */
export const mariadb: Backend = {
  name: 'MariaDB',
  async create(entities, extra = {}) {
    const url = SERVICE_URLS.mariadb;
    const database = `bw_enc_${randomBytes(6).toString('hex')}`;
    const admin = await new DataSource({ type: 'mariadb', url }).initialize();
    await admin.query(`CREATE DATABASE \`${database}\``);
    const base = new URL(url);
    base.pathname = `/${database}`;
    const options = {
      type: 'mariadb',
      url: base.toString(),
      entities,
      synchronize: true,
      logging: false,
      ...extra,
    } as DataSourceOptions;
    const dataSource = await new DataSource(options).initialize();
    return {
      kind: 'mariadb',
      dataSource,
      options: { ...options, synchronize: false } as DataSourceOptions,
      t: (name) => `\`${database}\`.\`${name}\``,
      async raw(sql, params = []) {
        return (await admin.query(sql.replace(/\$\d+/g, '?').replace(/"/g, '`'), params)) as Record<
          string,
          unknown
        >[];
      },
      async drop() {
        if (dataSource.isInitialized) await dataSource.destroy();
        await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
        await admin.destroy();
      },
    };
  },
};

export function providerFor(masterKey = generateMasterKey()): EnvKeyProvider {
  return new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: masterKey } });
}

export async function memoryRing(store: KeyStore = new MemoryKeyStore()): Promise<KeyRing> {
  return KeyRing.open({ provider: providerFor(), store });
}

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
export async function caught(
  fn: () => unknown,
): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error, none was thrown');
}
