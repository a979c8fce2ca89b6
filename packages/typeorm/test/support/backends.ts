import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SERVICE_URLS } from '../../../../test/support/services';
import { createAuditDataSource } from '../../src';

/** A fresh, migrated audit database, and plain SQL access to it (for tampering and raw checks). */
export interface TestDatabase {
  /** What a worker process needs to open the same database. */
  url: string;
  schema?: string;
  dataSource: DataSource;
  /** Runs SQL with `$1`-style placeholders (rewritten to `?` on SQLite) on a separate connection. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Schema-qualified, quoted table name. */
  table(name: 'bulwark_audit_entry' | 'bulwark_audit_head'): string;
  drop(): Promise<void>;
}

export interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  create(): Promise<TestDatabase>;
}

export const sqliteBackend: Backend = {
  name: 'SQLite',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-typeorm-'));
    const url = path.join(dir, 'audit.sqlite');
    const dataSource = await createAuditDataSource({ url });
    const Database = require('better-sqlite3');
    const other = new Database(url, { timeout: 5000 });
    return {
      url,
      dataSource,
      table: (name) => `"${name}"`,
      async raw(sql, params = []) {
        const stmt = other.prepare(sql.replace(/\$\d+/g, '?'));
        return stmt.reader ? stmt.all(...params) : (stmt.run(...params), []);
      },
      async drop() {
        other.close();
        if (dataSource.isInitialized) await dataSource.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgresBackend: Backend = {
  name: 'PostgreSQL',
  async create() {
    const url = SERVICE_URLS.postgres;
    const schema = `bw_test_${randomBytes(6).toString('hex')}`;
    // A separate plain connection, as an attacker or operator with SQL access would have.
    const admin = await new DataSource({ type: 'postgres', url }).initialize();
    const dataSource = await createAuditDataSource({ url, schema });
    return {
      url,
      schema,
      dataSource,
      table: (name) => `"${schema}"."${name}"`,
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
