import type { DataSource } from 'typeorm';
import { dialectOf, type SqlDialect } from './sql-dialect';

/**
 * The few SQL calls the register stores make, for both dialects: `$n` placeholders (rebound
 * for SQLite), rows of a SELECT / RETURNING, and the affected-row count that every
 * compare-and-set reads (1: this call won; 0: the condition no longer held). A driver error
 * becomes the store's typed error, its message naming only the operation.
 */
export class RegisterSql {
  readonly dialect: SqlDialect;

  constructor(
    readonly dataSource: DataSource,
    private readonly fail: (message: string, cause?: unknown) => Error,
  ) {
    this.dialect = dialectOf(dataSource);
  }

  table(name: string): string {
    return this.dialect.table(name);
  }

  /**
   * SQLite (better-sqlite3) binds `?` by position only: each `$n` becomes `?` and the values are
   * laid out in placeholder order, so one value can appear twice in a statement.
   */
  private bind(sql: string, params: unknown[]): [string, unknown[]] {
    if (this.dialect.kind !== 'sqlite') return [sql, params];
    const ordered: unknown[] = [];
    const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
      ordered.push(params[Number(n) - 1]);
      return '?';
    });
    return [text, ordered];
  }

  /** One statement on a pooled runner (PostgreSQL) or the connection (SQLite), as a QueryResult. */
  private async structured(sql: string, params: unknown[]): Promise<unknown> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await runner.query(...this.bind(sql, params), true);
    } finally {
      await runner.release();
    }
  }

  async rows(sql: string, params: unknown[], what: string): Promise<Record<string, unknown>[]> {
    try {
      const result = (await this.structured(sql, params)) as { records?: unknown[] };
      return Array.isArray(result.records) ? (result.records as Record<string, unknown>[]) : [];
    } catch (error) {
      throw this.fail(`${what} failed`, error);
    }
  }

  async affected(sql: string, params: unknown[], what: string): Promise<number> {
    try {
      const result = (await this.structured(sql, params)) as { affected?: number };
      return Number(result.affected ?? 0);
    } catch (error) {
      throw this.fail(`${what} failed`, error);
    }
  }

  /** Runs `statements` in one transaction (both dialects); a failure rolls all of them back. */
  async inTransaction(statements: [string, unknown[]][], what: string): Promise<void> {
    try {
      await this.dataSource.transaction(async (manager) => {
        for (const [sql, params] of statements) await manager.query(...this.bind(sql, params));
      });
    } catch (error) {
      throw this.fail(`${what} failed`, error);
    }
  }
}

/** An integer column (PostgreSQL returns bigint as text); NaN when it is not one. */
export function int(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : NaN;
}

/** A JSON text column, parsed; undefined when it does not parse to a plain object / array. */
export function json(value: unknown): unknown {
  if (typeof value !== 'string') return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
