import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { DataSource } from 'typeorm';
import { bulwarkEntities } from './audit-entities';
import { bulwarkMigrations } from './migrations/bulwark-migrations';
import { quoteIdentifier } from './sql-dialect';

export interface AuditDataSourceOptions {
  /** `postgres://` / `postgresql://` URL, or a SQLite file path (`:memory:` for tests). */
  url: string;
  /** PostgreSQL only: schema for the tables (created if missing). Default: the server's search_path. */
  schema?: string;
  /** Run `bulwarkMigrations` (default true). Concurrent starters are serialised. */
  migrate?: boolean;
  /** SQLite: how long a statement waits for another process's lock before SQLITE_BUSY. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * PostgreSQL: node-postgres' `connectionTimeoutMillis`, the longest a new connection (or a wait
   * for a free pooled one) may take before it fails. Default 10000 ms.
   */
  connectTimeoutMs?: number;
  /**
   * PostgreSQL: node-postgres' client-side `query_timeout` for every query of this DataSource
   * (migrations included), a backstop behind TypeOrmAuditStore's own per-statement deadline.
   * Default 120000 ms; 0 turns it off.
   */
  queryTimeoutMs?: number;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function configError(message: string, path: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, message, { path });
}

/**
 * An initialised DataSource holding only the Bulwark tables, with migrations applied: what the
 * `bulwark audit ... --db <url-or-path>` CLI and apps that keep the audit log apart use.
 *
 * SQLite connections get WAL (readers never block the writer), `synchronous = FULL` (every commit
 * fsynced: an acknowledged append survives power loss, not just a process crash) and
 * `secure_delete = ON` (redacted content is overwritten in the file, not left in free pages).
 */
export async function createAuditDataSource(options: AuditDataSourceOptions): Promise<DataSource> {
  if (
    options === null ||
    typeof options !== 'object' ||
    typeof options.url !== 'string' ||
    options.url === ''
  ) {
    throw configError('audit.db must be a postgres:// URL or a SQLite file path', 'audit.db');
  }
  const {
    url,
    schema,
    migrate = true,
    busyTimeoutMs = 5000,
    connectTimeoutMs = 10_000,
    queryTimeoutMs = 120_000,
  } = options;
  if (schema !== undefined && (typeof schema !== 'string' || !SCHEMA_NAME.test(schema))) {
    throw configError('audit.db.schema must be an identifier ([A-Za-z_][A-Za-z0-9_]*)', 'audit.db.schema');
  }
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw configError('audit.db.busyTimeoutMs must be a non-negative integer', 'audit.db.busyTimeoutMs');
  }
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
    throw configError('audit.db.connectTimeoutMs must be a positive integer', 'audit.db.connectTimeoutMs');
  }
  if (!Number.isInteger(queryTimeoutMs) || queryTimeoutMs < 0) {
    throw configError('audit.db.queryTimeoutMs must be a non-negative integer', 'audit.db.queryTimeoutMs');
  }
  const isPostgres = /^postgres(ql)?:\/\//i.test(url);
  if (!isPostgres && SCHEME.test(url)) {
    throw configError(
      `audit.db scheme ${url.slice(0, url.indexOf(':'))} is not supported; use postgres:// or a SQLite file path`,
      'audit.db',
    );
  }
  if (!isPostgres && schema !== undefined) {
    throw configError('audit.db.schema applies to PostgreSQL only', 'audit.db.schema');
  }
  const dataSource = isPostgres
    ? new DataSource({
        type: 'postgres',
        url,
        schema,
        entities: bulwarkEntities,
        migrations: bulwarkMigrations,
        synchronize: false,
        migrationsRun: false,
        logging: false,
        // A partition must fail, not hang: bounded connects, a client-side query backstop, and TCP
        // keepalive so a silently dead peer is noticed on idle pooled connections.
        connectTimeoutMS: connectTimeoutMs,
        extra: {
          keepAlive: true,
          ...(queryTimeoutMs > 0 ? { query_timeout: queryTimeoutMs } : {}),
        },
      })
    : new DataSource({
        type: 'better-sqlite3',
        database: url,
        entities: bulwarkEntities,
        migrations: bulwarkMigrations,
        synchronize: false,
        migrationsRun: false,
        logging: false,
        enableWAL: url !== ':memory:',
        timeout: busyTimeoutMs,
        prepareDatabase: (db: { pragma(sql: string): unknown }) => {
          db.pragma('synchronous = FULL');
          db.pragma('secure_delete = ON');
        },
      });
  await dataSource.initialize();
  try {
    if (migrate) await (isPostgres ? migratePostgres(dataSource, schema) : migrateSqlite(dataSource));
  } catch (err) {
    await dataSource.destroy().catch(() => undefined);
    throw err;
  }
  return dataSource;
}

/** Several app instances starting at once must not run the migration twice: a session advisory lock. */
async function migratePostgres(dataSource: DataSource, schema: string | undefined): Promise<void> {
  const qr = dataSource.createQueryRunner('master');
  await qr.connect();
  try {
    await qr.query(`SELECT pg_advisory_lock(hashtext('bulwark:migrations'))`);
    try {
      if (schema !== undefined) await qr.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await qr.query(`SELECT pg_advisory_unlock(hashtext('bulwark:migrations'))`);
    }
  } finally {
    await qr.release();
  }
}

/**
 * SQLite: the whole migration run inside one `BEGIN IMMEDIATE` (DDL is transactional in SQLite), so
 * a second process waits and then finds the migration recorded.
 */
async function migrateSqlite(dataSource: DataSource): Promise<void> {
  const db = (dataSource.driver as unknown as { databaseConnection: { exec(sql: string): unknown } })
    .databaseConnection;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      db.exec('BEGIN IMMEDIATE');
      break;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    await dataSource.runMigrations({ transaction: 'none' });
    db.exec('COMMIT');
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // keep the migration error
    }
    throw err;
  }
}
