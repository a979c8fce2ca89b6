import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import type { DataSource } from 'typeorm';

/** The two databases the SQL audit store supports, and how to name their tables. */
export interface SqlDialect {
  kind: 'postgres' | 'sqlite';
  /** Quoted, schema-qualified (PostgreSQL `schema` option) table name. */
  table(name: string): string;
  /** Quoted index / constraint name (PostgreSQL indexes live in the table's schema). */
  indexName(name: string): string;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Only better-sqlite3 and PostgreSQL: the store's locking relies on `BEGIN IMMEDIATE` on one
 * synchronous connection, or on a row lock inside a pooled connection's transaction. Other
 * drivers would silently lose the guarantee, so they are refused.
 */
export function dialectOf(dataSource: DataSource): SqlDialect {
  const type = dataSource.options.type;
  if (type === 'postgres') {
    const schema = (dataSource.options as { schema?: string }).schema;
    const prefix = schema === undefined || schema === '' ? '' : `${quoteIdentifier(schema)}.`;
    return { kind: 'postgres', table: (n) => prefix + quoteIdentifier(n), indexName: quoteIdentifier };
  }
  if (type === 'better-sqlite3') {
    return { kind: 'sqlite', table: quoteIdentifier, indexName: quoteIdentifier };
  }
  throw new BulwarkConfigError(
    ErrorCodes.CONFIG_INVALID,
    `audit.dataSource type '${String(type)}' is not supported; use 'postgres' or 'better-sqlite3'`,
    { path: 'audit.dataSource.type' },
  );
}
