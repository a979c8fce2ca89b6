import {
  BulwarkPrivacyError,
  ErrorCodes,
  type RegisterKind,
  type RegisterStore,
  type StoredRecord,
} from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { int, json, RegisterSql } from './register-sql';

const KINDS: readonly RegisterKind[] = [
  'breach',
  'processor',
  'processing-activity',
  'retention-rule',
  'legal-hold',
  'audit-legal-hold',
  'retention-run',
];

function privacyStoreError(message: string, cause?: unknown): BulwarkPrivacyError {
  return new BulwarkPrivacyError(
    ErrorCodes.PRIVACY_STORE,
    `register store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A register (breach incidents, processors, processing activities, retention rules, legal holds,
 * the audit log's legal holds or the retention runs: `kind`) in the application database, table bulwark_register_record (migration
 * BulwarkRegisterTables1735689900000). Every write is one conditional statement: an insert that
 * does nothing on an existing id, an update or delete that matches only the version read, so two
 * instances on one database never overwrite each other's changes.
 */
export class TypeOrmRegisterStore<T extends { id: string }> implements RegisterStore<T> {
  readonly kind: RegisterKind;
  private readonly sql: RegisterSql;
  private readonly t: string;

  constructor(dataSource: DataSource, kind: RegisterKind) {
    if (!KINDS.includes(kind)) {
      throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_INVALID_ARGUMENT, `unknown register kind`, {
        path: 'kind',
      });
    }
    this.kind = kind;
    this.sql = new RegisterSql(dataSource, privacyStoreError);
    this.t = this.sql.table('bulwark_register_record');
  }

  async get(id: string): Promise<StoredRecord<T> | undefined> {
    const rows = await this.sql.rows(
      `SELECT "id", "version", "body" FROM ${this.t} WHERE "kind" = $1 AND "id" = $2`,
      [this.kind, id],
      'read',
    );
    return rows.length === 0 ? undefined : this.record(rows[0]!);
  }

  async list(): Promise<StoredRecord<T>[]> {
    const rows = await this.sql.rows(
      `SELECT "id", "version", "body" FROM ${this.t} WHERE "kind" = $1 ORDER BY "id"`,
      [this.kind],
      'list',
    );
    return rows.map((r) => this.record(r));
  }

  async insert(id: string, value: T): Promise<boolean> {
    const n = await this.sql.affected(
      `INSERT INTO ${this.t} ("kind", "id", "version", "body", "updated_at") VALUES ($1, $2, 1, $3, $4) ` +
        `ON CONFLICT ("kind", "id") DO NOTHING`,
      [this.kind, id, this.body(id, value), new Date().toISOString()],
      'insert',
    );
    return n === 1;
  }

  async update(id: string, expectedVersion: number, value: T): Promise<boolean> {
    const n = await this.sql.affected(
      `UPDATE ${this.t} SET "body" = $1, "version" = "version" + 1, "updated_at" = $2 ` +
        `WHERE "kind" = $3 AND "id" = $4 AND "version" = $5`,
      [this.body(id, value), new Date().toISOString(), this.kind, id, expectedVersion],
      'update',
    );
    return n === 1;
  }

  async delete(id: string, expectedVersion: number): Promise<boolean> {
    const n = await this.sql.affected(
      `DELETE FROM ${this.t} WHERE "kind" = $1 AND "id" = $2 AND "version" = $3`,
      [this.kind, id, expectedVersion],
      'delete',
    );
    return n === 1;
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }

  private body(id: string, value: T): string {
    if (value === null || typeof value !== 'object' || value.id !== id) {
      throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_INVALID_ARGUMENT, 'a record must carry its own id', {
        path: 'id',
      });
    }
    return JSON.stringify(value);
  }

  /** Rows are checked on the way out: a row edited around the store is refused, not trusted. */
  private record(row: Record<string, unknown>): StoredRecord<T> {
    const version = int(row.version);
    const value = json(row.body) as T | undefined;
    if (
      typeof row.id !== 'string' ||
      !(version >= 1) ||
      value === undefined ||
      Array.isArray(value) ||
      value.id !== row.id
    ) {
      throw privacyStoreError(`malformed ${this.kind} record`);
    }
    return { value, version };
  }
}
