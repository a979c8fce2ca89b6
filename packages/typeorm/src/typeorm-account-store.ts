import { BulwarkIdentityError, ErrorCodes } from '@bulwark/core';
import type { AccountStore, StoredAccount, StoredResetToken } from '@bulwark/core/store';
import type { DataSource } from 'typeorm';
import { int, json, RegisterSql } from './register-sql';

function storeError(message: string, cause?: unknown): BulwarkIdentityError {
  return new BulwarkIdentityError(
    ErrorCodes.ACCOUNT_STORE,
    `account store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

function isAccount(value: unknown, userId: string): value is StoredAccount {
  const a = value as Partial<StoredAccount> | undefined;
  return (
    typeof a === 'object' &&
    a !== null &&
    a.userId === userId &&
    typeof a.disabled === 'boolean' &&
    typeof a.mustChangePassword === 'boolean' &&
    Array.isArray(a.passwordHistory) &&
    a.passwordHistory.every((h) => typeof h === 'string' && h.startsWith('$argon2'))
  );
}

/**
 * core's AccountStore in the application database (tables bulwark_account and
 * bulwark_password_reset, migration BulwarkAccountTables1735690200000, part of
 * `bulwarkStoreMigrations`). A reset token is used up by a DELETE: of two instances redeeming the
 * same link at once, one deletes the row and wins.
 */
export class TypeOrmAccountStore implements AccountStore {
  private readonly sql: RegisterSql;
  private readonly accounts: string;
  private readonly resets: string;

  constructor(dataSource: DataSource) {
    this.sql = new RegisterSql(dataSource, storeError);
    this.accounts = this.sql.table('bulwark_account');
    this.resets = this.sql.table('bulwark_password_reset');
  }

  async get(userId: string): Promise<StoredAccount | undefined> {
    const rows = await this.sql.rows(
      `SELECT "body" FROM ${this.accounts} WHERE "user_id" = $1`,
      [userId],
      'read',
    );
    if (rows.length === 0) return undefined;
    const body = json(rows[0]!.body);
    if (!isAccount(body, userId)) throw storeError('malformed account record');
    return body;
  }

  async put(account: StoredAccount): Promise<void> {
    await this.sql.affected(
      `INSERT INTO ${this.accounts} ("user_id", "body") VALUES ($1, $2) ON CONFLICT ("user_id") DO UPDATE SET "body" = $2`,
      [account.userId, JSON.stringify(account)],
      'write',
    );
  }

  async putResetToken(token: StoredResetToken): Promise<void> {
    await this.sql.affected(
      `INSERT INTO ${this.resets} ("id", "user_id", "hash", "created_at", "expires_at") VALUES ($1, $2, $3, $4, $5)`,
      [token.id, token.userId, token.hash, token.createdAt, token.expiresAt],
      'write reset token',
    );
  }

  async getResetToken(id: string): Promise<StoredResetToken | undefined> {
    const rows = await this.sql.rows(
      `SELECT "id", "user_id", "hash", "created_at", "expires_at" FROM ${this.resets} WHERE "id" = $1`,
      [id],
      'read reset token',
    );
    if (rows.length === 0) return undefined;
    const r = rows[0]!;
    const createdAt = int(r.created_at);
    const expiresAt = int(r.expires_at);
    if (
      typeof r.user_id !== 'string' ||
      typeof r.hash !== 'string' ||
      !/^[A-Za-z0-9_-]{43}$/.test(r.hash) ||
      !(createdAt >= 0) ||
      !(expiresAt > createdAt)
    ) {
      throw storeError('malformed reset token');
    }
    return { id, userId: r.user_id, hash: r.hash, createdAt, expiresAt };
  }

  async consumeResetToken(id: string): Promise<boolean> {
    return (
      (await this.sql.affected(`DELETE FROM ${this.resets} WHERE "id" = $1`, [id], 'use reset token')) === 1
    );
  }

  async deleteResetTokens(userId: string): Promise<void> {
    await this.sql.affected(
      `DELETE FROM ${this.resets} WHERE "user_id" = $1`,
      [userId],
      'delete reset tokens',
    );
  }
}
