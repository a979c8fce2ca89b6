import { BulwarkMfaError, ErrorCodes } from '@bulwark/core';
import type { OtpStore, StoredOtp } from '@bulwark/core/store';
import type { DataSource } from 'typeorm';
import { int, RegisterSql } from './register-sql';

function storeError(message: string, cause?: unknown): BulwarkMfaError {
  return new BulwarkMfaError(
    ErrorCodes.MFA_STORE,
    `otp store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

const HASH = /^[0-9a-f]{64}$/;

/**
 * core's OtpStore in the application database (table bulwark_mfa_otp, migration
 * BulwarkMfaFactorTables1736100000000, part of `bulwarkStoreMigrations`), so an e-mail or SMS
 * code sent by one instance is verified by any other. Only the code's HMAC is stored. An attempt
 * is an `UPDATE ... RETURNING` increment and using a code a delete-if-equal: the attempt limit
 * and single use hold across instances.
 */
export class TypeOrmOtpStore implements OtpStore {
  private readonly sql: RegisterSql;
  private readonly codes: string;

  constructor(dataSource: DataSource) {
    this.sql = new RegisterSql(dataSource, storeError);
    this.codes = this.sql.table('bulwark_mfa_otp');
  }

  async getCode(userId: string): Promise<StoredOtp | undefined> {
    const rows = await this.sql.rows(
      `SELECT "hash", "channel", "expires_at_ms", "attempts" FROM ${this.codes} WHERE "user_id" = $1`,
      [userId],
      'read',
    );
    return rows.length === 0 ? undefined : this.record(rows[0]!);
  }

  async putCode(userId: string, record: StoredOtp): Promise<void> {
    if (!HASH.test(record.hash)) throw storeError('a code must be stored as its HMAC');
    await this.sql.affected(
      `INSERT INTO ${this.codes} ("user_id", "hash", "channel", "expires_at_ms", "attempts") VALUES ($1, $2, $3, $4, $5) ` +
        `ON CONFLICT ("user_id") DO UPDATE SET "hash" = $2, "channel" = $3, "expires_at_ms" = $4, "attempts" = $5`,
      [userId, record.hash, record.channel, record.expiresAt, record.attempts],
      'store code',
    );
  }

  async attemptCode(userId: string): Promise<StoredOtp | undefined> {
    const rows = await this.sql.rows(
      `UPDATE ${this.codes} SET "attempts" = "attempts" + 1 WHERE "user_id" = $1 ` +
        `RETURNING "hash", "channel", "expires_at_ms", "attempts"`,
      [userId],
      'count attempt',
    );
    return rows.length === 0 ? undefined : this.record(rows[0]!);
  }

  async consumeCode(userId: string, hash: string): Promise<boolean> {
    return (
      (await this.sql.affected(
        `DELETE FROM ${this.codes} WHERE "user_id" = $1 AND "hash" = $2`,
        [userId, hash],
        'use code',
      )) === 1
    );
  }

  async deleteCode(userId: string): Promise<void> {
    await this.sql.affected(`DELETE FROM ${this.codes} WHERE "user_id" = $1`, [userId], 'delete code');
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }

  private record(r: Record<string, unknown>): StoredOtp {
    const expiresAt = int(r.expires_at_ms);
    const attempts = int(r.attempts);
    if (
      typeof r.hash !== 'string' ||
      !HASH.test(r.hash) ||
      typeof r.channel !== 'string' ||
      !Number.isFinite(expiresAt) ||
      !(attempts >= 0)
    ) {
      throw storeError('malformed code record');
    }
    return { hash: r.hash, channel: r.channel, expiresAt, attempts };
  }
}
