import { BulwarkMfaError, ErrorCodes } from '@bulwark/core';
import type { StoredChallenge, StoredWebAuthnCredential, WebAuthnStore } from '@bulwark/core/store';
import type { DataSource } from 'typeorm';
import { int, json, RegisterSql } from './register-sql';

function storeError(message: string, cause?: unknown): BulwarkMfaError {
  return new BulwarkMfaError(
    ErrorCodes.MFA_STORE,
    `webauthn store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * core's WebAuthnStore in the application database (tables bulwark_webauthn_credential and
 * bulwark_webauthn_challenge, migration BulwarkMfaFactorTables1736100000000, part of
 * `bulwarkStoreMigrations`). Every instance sharing the database sees the same credentials and
 * challenges: a challenge is taken with `DELETE ... RETURNING` (one instance gets it), the counter
 * is a conditional UPDATE (of two instances accepting one assertion, one wins). Expired
 * challenges are deleted as new ones are stored.
 */
export class TypeOrmWebAuthnStore implements WebAuthnStore {
  private readonly sql: RegisterSql;
  private readonly credentials: string;
  private readonly challenges: string;
  private readonly now: () => number;

  constructor(dataSource: DataSource, options: { now?: () => number } = {}) {
    this.sql = new RegisterSql(dataSource, storeError);
    this.credentials = this.sql.table('bulwark_webauthn_credential');
    this.challenges = this.sql.table('bulwark_webauthn_challenge');
    this.now = options.now ?? Date.now;
  }

  async addCredential(c: StoredWebAuthnCredential): Promise<boolean> {
    const { id, userId, userHandle, publicKey, counter, createdAt, lastUsedAt, ...rest } = c;
    const rows = await this.sql.rows(
      `INSERT INTO ${this.credentials} ("id", "user_id", "user_handle", "public_key", "counter", "body", "created_at", "last_used_at") ` +
        `VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT ("id") DO NOTHING RETURNING "id"`,
      [id, userId, userHandle, publicKey, counter, JSON.stringify(rest), createdAt, lastUsedAt ?? null],
      'add credential',
    );
    return rows.length === 1;
  }

  async getCredential(id: string): Promise<StoredWebAuthnCredential | undefined> {
    const rows = await this.sql.rows(`SELECT * FROM ${this.credentials} WHERE "id" = $1`, [id], 'read');
    return rows.length === 0 ? undefined : this.credential(rows[0]!);
  }

  async listCredentials(userId: string): Promise<StoredWebAuthnCredential[]> {
    const rows = await this.sql.rows(
      `SELECT * FROM ${this.credentials} WHERE "user_id" = $1 ORDER BY "created_at", "id"`,
      [userId],
      'list',
    );
    return rows.map((r) => this.credential(r));
  }

  async deleteCredential(userId: string, id: string): Promise<boolean> {
    return (
      (await this.sql.affected(
        `DELETE FROM ${this.credentials} WHERE "id" = $1 AND "user_id" = $2`,
        [id, userId],
        'delete credential',
      )) === 1
    );
  }

  async updateCounter(id: string, expected: number, next: number, usedAt: string): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.credentials} SET "counter" = $1, "last_used_at" = $2 WHERE "id" = $3 AND "counter" = $4`,
        [next, usedAt, id, expected],
        'update counter',
      )) === 1
    );
  }

  async putChallenge(challenge: string, record: StoredChallenge): Promise<void> {
    await this.sql.affected(
      `DELETE FROM ${this.challenges} WHERE "expires_at_ms" <= $1`,
      [this.now()],
      'sweep challenges',
    );
    const { expiresAt, ...rest } = record;
    await this.sql.affected(
      `INSERT INTO ${this.challenges} ("challenge", "body", "expires_at_ms") VALUES ($1, $2, $3)`,
      [challenge, JSON.stringify(rest), expiresAt],
      'store challenge',
    );
  }

  async takeChallenge(challenge: string): Promise<StoredChallenge | undefined> {
    const rows = await this.sql.rows(
      `DELETE FROM ${this.challenges} WHERE "challenge" = $1 RETURNING "body", "expires_at_ms"`,
      [challenge],
      'take challenge',
    );
    if (rows.length === 0) return undefined;
    const body = json(rows[0]!.body) as Partial<StoredChallenge> | undefined;
    const expiresAt = int(rows[0]!.expires_at_ms);
    if (
      body === undefined ||
      (body.purpose !== 'registration' && body.purpose !== 'authentication') ||
      !Number.isFinite(expiresAt)
    ) {
      throw storeError('malformed challenge');
    }
    return {
      purpose: body.purpose,
      ...(typeof body.userId === 'string' ? { userId: body.userId } : {}),
      ...(typeof body.userHandle === 'string' ? { userHandle: body.userHandle } : {}),
      expiresAt,
    };
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }

  private credential(r: Record<string, unknown>): StoredWebAuthnCredential {
    const body = json(r.body) as Partial<StoredWebAuthnCredential> | undefined;
    const counter = int(r.counter);
    if (
      typeof r.id !== 'string' ||
      typeof r.user_id !== 'string' ||
      typeof r.user_handle !== 'string' ||
      typeof r.public_key !== 'string' ||
      !B64URL.test(r.public_key) ||
      !(counter >= 0) ||
      typeof r.created_at !== 'string' ||
      body === undefined ||
      (body.deviceType !== 'singleDevice' && body.deviceType !== 'multiDevice')
    ) {
      throw storeError('malformed credential');
    }
    return {
      ...body,
      id: r.id,
      userId: r.user_id,
      userHandle: r.user_handle,
      publicKey: r.public_key,
      counter,
      deviceType: body.deviceType,
      backedUp: body.backedUp === true,
      createdAt: r.created_at,
      ...(typeof r.last_used_at === 'string' ? { lastUsedAt: r.last_used_at } : {}),
    };
  }
}
