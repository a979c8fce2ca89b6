import { BulwarkTokenError, ErrorCodes, type RevocationStatus, type RevocationStore } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { int, RegisterSql } from './register-sql';

function storeError(message: string, cause?: unknown): BulwarkTokenError {
  return new BulwarkTokenError(
    ErrorCodes.TOKEN_REVOCATION_STORE,
    `revocation store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * core's RevocationStore in the application database (tables bulwark_revoked_token and
 * bulwark_revoked_subject, migration BulwarkRevocationTables1735690300000): every instance on the
 * database refuses a revoked token on its next request. `status()` is one SELECT of two primary-key
 * lookups; the writes are single upserts that never move an expiry or a "not before" time back.
 * Expired deny-list rows are deleted as new revocations arrive.
 */
export class TypeOrmRevocationStore implements RevocationStore {
  private readonly sql: RegisterSql;
  private readonly tokens: string;
  private readonly subjects: string;

  constructor(dataSource: DataSource) {
    this.sql = new RegisterSql(dataSource, storeError);
    this.tokens = this.sql.table('bulwark_revoked_token');
    this.subjects = this.sql.table('bulwark_revoked_subject');
  }

  async revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    await this.sql.affected(
      `INSERT INTO ${this.tokens} AS cur ("jti", "expires_at_ms") VALUES ($1, $2) ` +
        `ON CONFLICT ("jti") DO UPDATE SET "expires_at_ms" = excluded."expires_at_ms" ` +
        `WHERE cur."expires_at_ms" < excluded."expires_at_ms"`,
      [jti, Math.ceil(expiresAtMs)],
      'revoke token',
    );
    await this.sql.affected(`DELETE FROM ${this.tokens} WHERE "expires_at_ms" <= $1`, [Date.now()], 'sweep');
  }

  async revokeSubject(subject: string, notBeforeSec: number): Promise<void> {
    await this.sql.affected(
      `INSERT INTO ${this.subjects} AS cur ("subject", "not_before_sec") VALUES ($1, $2) ` +
        `ON CONFLICT ("subject") DO UPDATE SET "not_before_sec" = excluded."not_before_sec" ` +
        `WHERE cur."not_before_sec" < excluded."not_before_sec"`,
      [subject, Math.floor(notBeforeSec)],
      'revoke subject',
    );
  }

  async status(jti: string | undefined, subject: string, nowMs: number): Promise<RevocationStatus> {
    const rows = await this.sql.rows(
      `SELECT (SELECT 1 FROM ${this.tokens} WHERE "jti" = $1 AND "expires_at_ms" > $3) AS "revoked", ` +
        `(SELECT "not_before_sec" FROM ${this.subjects} WHERE "subject" = $2) AS "not_before"`,
      [jti ?? '', subject, Math.floor(nowMs)],
      'read',
    );
    const row = rows[0];
    if (row === undefined) throw storeError('read returned no row');
    const notBefore =
      row.not_before === null || row.not_before === undefined ? undefined : int(row.not_before);
    if (Number.isNaN(notBefore)) throw storeError('malformed not-before time');
    return {
      tokenRevoked: jti !== undefined && row.revoked !== null && row.revoked !== undefined,
      ...(notBefore !== undefined ? { notBeforeSec: notBefore } : {}),
    };
  }
}
