import * as path from 'node:path';
import {
  BulwarkConsentTables1735689800000,
  BulwarkKeyTables1735689700000,
  bulwarkConsentEntities,
  bulwarkKeyEntities,
  createAuditDataSource,
} from '@bulwark/typeorm';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/**
 * Where the HR app keeps its data. The app's own tables go through @nestjs/typeorm (`app`
 * options); Bulwark's tables get their own DataSources, opened before Nest starts:
 *   - keys:  wrapped data keys and the consent history (Bulwark migrations, never `synchronize`);
 *   - audit: the tamper-evident audit chain. On SQLite it must be another file than the app's:
 *            an append takes the database write lock (`BEGIN IMMEDIATE`), and TypeORM runs every
 *            query of a SQLite DataSource on one connection, i.e. inside any open app transaction.
 * With DATABASE_URL everything lives in that one PostgreSQL database.
 */
export interface HrDatabases {
  readonly kind: 'sqlite' | 'postgres';
  readonly app: TypeOrmModuleOptions;
  readonly keys: DataSource;
  readonly audit: DataSource;
}

const sqliteTuning = (db: { pragma(sql: string): unknown }) => {
  // Every commit fsynced (an acknowledged write survives power loss); deleted rows overwritten.
  db.pragma('synchronous = FULL');
  db.pragma('secure_delete = ON');
};

export async function openDatabases(options: {
  dataDir: string;
  databaseUrl?: string;
  entities: NonNullable<TypeOrmModuleOptions['entities']>;
}): Promise<HrDatabases> {
  const postgres = options.databaseUrl !== undefined && /^postgres(ql)?:\/\//i.test(options.databaseUrl);
  if (options.databaseUrl !== undefined && !postgres) {
    throw new Error('DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)');
  }
  const sqlite = (file: string) =>
    ({
      type: 'better-sqlite3',
      database: path.join(options.dataDir, file),
      enableWAL: true,
      prepareDatabase: sqliteTuning,
    }) as const;
  const pg = { type: 'postgres', url: options.databaseUrl, extra: { max: 5 } } as const;

  // Demo: the app's tables are created by `synchronize`. A production app uses migrations.
  const app: TypeOrmModuleOptions = {
    ...(postgres ? pg : sqlite('hr.sqlite')),
    entities: options.entities,
    synchronize: true,
    logging: false,
    retryAttempts: 0,
  };

  const keys = new DataSource({
    ...(postgres ? pg : sqlite('bulwark.sqlite')),
    entities: [...bulwarkKeyEntities, ...bulwarkConsentEntities],
    migrations: [BulwarkKeyTables1735689700000, BulwarkConsentTables1735689800000],
    migrationsTableName: 'bulwark_store_migrations',
    synchronize: false,
    logging: false,
  });
  await keys.initialize();
  try {
    await keys.runMigrations({ transaction: 'all' });
    const audit = await createAuditDataSource({
      url: postgres ? options.databaseUrl! : path.join(options.dataDir, 'audit.sqlite'),
    });
    return { kind: postgres ? 'postgres' : 'sqlite', app, keys, audit };
  } catch (err) {
    await keys.destroy().catch(() => undefined);
    throw err;
  }
}
