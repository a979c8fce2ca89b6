import * as path from 'node:path';
import {
  BulwarkConsentTables1735689800000,
  BulwarkKeyTables1735689700000,
  bulwarkConsentEntities,
  bulwarkKeyEntities,
  createAuditDataSource,
} from '@bulwark/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';

/**
 * The shop's three DataSources. They may point at one PostgreSQL database, but on SQLite each is
 * its own file, because TypeORM runs every query of a SQLite DataSource on one connection:
 *   - app:     the shop's tables (customers, cards, orders), field-encrypted by @bulwark/typeorm;
 *   - keys:    Bulwark's wrapped data keys and the consent history (Bulwark migrations);
 *   - audit:   the tamper-evident audit chain, whose appends take the database write lock
 *              (`BEGIN IMMEDIATE`) and must never run inside an application transaction.
 */
export interface ShopDatabases {
  readonly kind: 'sqlite' | 'postgres';
  readonly app: DataSource;
  readonly keys: DataSource;
  readonly audit: DataSource;
}

export interface OpenDatabasesOptions {
  dataDir: string;
  /** `postgres://...`: every table goes to that database. Otherwise SQLite files in `dataDir`. */
  databaseUrl?: string;
  entities: DataSourceOptions['entities'];
}

const sqliteTuning = (db: { pragma(sql: string): unknown }) => {
  // Every commit fsynced (an acknowledged write survives power loss); deleted rows overwritten.
  db.pragma('synchronous = FULL');
  db.pragma('secure_delete = ON');
};

export async function openDatabases(options: OpenDatabasesOptions): Promise<ShopDatabases> {
  const postgres = options.databaseUrl !== undefined && /^postgres(ql)?:\/\//i.test(options.databaseUrl);
  if (options.databaseUrl !== undefined && !postgres) {
    throw new Error('DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)');
  }
  const opened: DataSource[] = [];
  try {
    const sqlite = (file: string) =>
      ({
        type: 'better-sqlite3',
        database: path.join(options.dataDir, file),
        enableWAL: true,
        prepareDatabase: sqliteTuning,
      }) as const;
    const pg = { type: 'postgres', url: options.databaseUrl, extra: { max: 5 } } as const;

    // Demo: the app's own tables are created by `synchronize`. A production app uses migrations.
    const app = new DataSource({
      ...(postgres ? pg : sqlite('shop.sqlite')),
      entities: options.entities,
      synchronize: true,
      logging: false,
    });
    await app.initialize();
    opened.push(app);

    // Bulwark's key and consent tables come from Bulwark's own migrations (never `synchronize`).
    const keys = new DataSource({
      ...(postgres ? pg : sqlite('bulwark.sqlite')),
      entities: [...bulwarkKeyEntities, ...bulwarkConsentEntities],
      migrations: [BulwarkKeyTables1735689700000, BulwarkConsentTables1735689800000],
      migrationsTableName: 'bulwark_store_migrations',
      synchronize: false,
      logging: false,
    });
    await keys.initialize();
    opened.push(keys);
    await keys.runMigrations({ transaction: 'all' });

    const audit = await createAuditDataSource({
      url: postgres ? options.databaseUrl! : path.join(options.dataDir, 'audit.sqlite'),
    });
    opened.push(audit);
    return { kind: postgres ? 'postgres' : 'sqlite', app, keys, audit };
  } catch (err) {
    for (const ds of opened.reverse()) await ds.destroy().catch(() => undefined);
    throw err;
  }
}
