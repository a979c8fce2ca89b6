import { BulwarkIdentityError, ErrorCodes } from '@bulwark/core';
import { parseStoredSession, type SessionStore, type StoredSession } from '@bulwark/core/store';
import type { DataSource } from 'typeorm';
import { int, RegisterSql } from './register-sql';

function storeError(message: string, cause?: unknown): BulwarkIdentityError {
  return new BulwarkIdentityError(
    ErrorCodes.SESSION_STORE,
    `session store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * core's SessionStore in the application database (table bulwark_session, migration
 * BulwarkSessionTables1735690100000, part of `bulwarkStoreMigrations`): every instance sharing the
 * database sees a revocation on its next request. `replace` and `touch` are conditional UPDATEs,
 * so a write racing a revocation never brings the session back. Rows past `expires_at` are
 * refused by the engine on read; `purgeExpired()` deletes them (run it from a scheduled job).
 */
export class TypeOrmSessionStore implements SessionStore {
  private readonly sql: RegisterSql;
  private readonly table: string;

  constructor(dataSource: DataSource) {
    this.sql = new RegisterSql(dataSource, storeError);
    this.table = this.sql.table('bulwark_session');
  }

  private parse(row: Record<string, unknown>): StoredSession {
    let body: unknown;
    try {
      body = typeof row.body === 'string' ? JSON.parse(row.body) : undefined;
    } catch {
      body = undefined;
    }
    const session =
      typeof body === 'object' && body !== null
        ? parseStoredSession({ ...body, lastSeenAt: int(row.last_seen_at), expiresAt: int(row.expires_at) })
        : undefined;
    if (session === undefined || session.id !== row.id) throw storeError('malformed session record');
    return session;
  }

  async get(id: string): Promise<StoredSession | undefined> {
    const rows = await this.sql.rows(
      `SELECT "id", "body", "last_seen_at", "expires_at" FROM ${this.table} WHERE "id" = $1`,
      [id],
      'read',
    );
    return rows.length === 0 ? undefined : this.parse(rows[0]!);
  }

  async create(session: StoredSession): Promise<void> {
    await this.sql.affected(
      `INSERT INTO ${this.table} ("id", "user_id", "body", "last_seen_at", "expires_at") VALUES ($1, $2, $3, $4, $5)`,
      [session.id, session.userId ?? null, JSON.stringify(session), session.lastSeenAt, session.expiresAt],
      'create',
    );
  }

  async replace(session: StoredSession): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.table} SET "user_id" = $2, "body" = $3, "last_seen_at" = $4, "expires_at" = $5 WHERE "id" = $1`,
        [session.id, session.userId ?? null, JSON.stringify(session), session.lastSeenAt, session.expiresAt],
        'replace',
      )) === 1
    );
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.table} SET "last_seen_at" = $2, "expires_at" = $3 WHERE "id" = $1`,
        [id, lastSeenAt, expiresAt],
        'touch',
      )) === 1
    );
  }

  async delete(id: string): Promise<boolean> {
    return (await this.sql.affected(`DELETE FROM ${this.table} WHERE "id" = $1`, [id], 'delete')) === 1;
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    const rows = await this.sql.rows(
      `SELECT "id", "body", "last_seen_at", "expires_at" FROM ${this.table} WHERE "user_id" = $1`,
      [userId],
      'list',
    );
    return rows.map((r) => this.parse(r));
  }

  async deleteByUser(userId: string): Promise<string[]> {
    const rows = await this.sql.rows(
      `DELETE FROM ${this.table} WHERE "user_id" = $1 RETURNING "id"`,
      [userId],
      'delete user sessions',
    );
    return rows.map((r) => String(r.id));
  }

  /** Deletes every session (`SessionEngine.revokeAllSessions()`); returns how many. */
  async deleteAll(): Promise<number> {
    return this.sql.affected(`DELETE FROM ${this.table}`, [], 'delete all sessions');
  }

  /** Deletes rows whose `expires_at` (epoch ms) is at or before `now`; returns how many. */
  async purgeExpired(now: number = Date.now()): Promise<number> {
    return this.sql.affected(`DELETE FROM ${this.table} WHERE "expires_at" <= $1`, [now], 'purge');
  }
}
