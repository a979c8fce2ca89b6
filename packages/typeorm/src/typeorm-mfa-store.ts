import { BulwarkMfaError, ErrorCodes } from '@bulwark/core';
import type { MfaStore, StoredRecoveryCode, StoredTotp } from '@bulwark/core/store';
import type { DataSource } from 'typeorm';
import { int, RegisterSql } from './register-sql';

const ALGORITHMS = new Set(['sha1', 'sha256', 'sha512']);
/** A named-key KeyRing envelope, key-committing (bw2) or older (bw1). */
const ENVELOPE = /^bw[12]\./;

function storeError(message: string, cause?: unknown): BulwarkMfaError {
  return new BulwarkMfaError(
    ErrorCodes.MFA_STORE,
    `mfa store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * core's MfaStore in the application database (tables bulwark_mfa_totp and
 * bulwark_mfa_recovery_code, migration BulwarkRegisterTables1735689900000). The TOTP secret is
 * stored as the factor hands it over: a KeyRing envelope (`bw2.…`, so it is encrypted at rest and
 * re-wrapped with the ring); a row claiming `encrypted` without an envelope is refused, and so is
 * a plaintext secret (TotpFactor's `allowPlaintextSecrets`) unless this store is built with
 * `{ allowPlaintextSecrets: true }` (development only: the secret is then readable in the
 * database and its backups). Replay
 * protection and single-use recovery codes are conditional UPDATEs: of two instances accepting the
 * same code at once, one wins.
 */
export class TypeOrmMfaStore implements MfaStore {
  private readonly sql: RegisterSql;
  private readonly totp: string;
  private readonly codes: string;

  private readonly allowPlaintext: boolean;

  constructor(dataSource: DataSource, options: { allowPlaintextSecrets?: boolean } = {}) {
    this.allowPlaintext = options.allowPlaintextSecrets === true;
    this.sql = new RegisterSql(dataSource, storeError);
    this.totp = this.sql.table('bulwark_mfa_totp');
    this.codes = this.sql.table('bulwark_mfa_recovery_code');
  }

  async getTotp(userId: string): Promise<StoredTotp | undefined> {
    const rows = await this.sql.rows(
      `SELECT "secret", "encrypted", "algorithm", "digits", "period", "confirmed", "created_at", "confirmed_at", "last_used_step" ` +
        `FROM ${this.totp} WHERE "user_id" = $1`,
      [userId],
      'read',
    );
    if (rows.length === 0) return undefined;
    const r = rows[0]!;
    const encrypted = int(r.encrypted) === 1;
    const digits = int(r.digits);
    const period = int(r.period);
    const step = r.last_used_step === null ? undefined : int(r.last_used_step);
    if (
      typeof r.secret !== 'string' ||
      (encrypted ? !ENVELOPE.test(r.secret) : !this.allowPlaintext) ||
      !ALGORITHMS.has(r.algorithm as string) ||
      (digits !== 6 && digits !== 8) ||
      !(period > 0) ||
      typeof r.created_at !== 'string' ||
      (step !== undefined && !(step >= 0))
    ) {
      throw storeError('malformed TOTP enrolment');
    }
    return {
      secret: r.secret,
      encrypted,
      algorithm: r.algorithm as StoredTotp['algorithm'],
      digits,
      period,
      confirmed: int(r.confirmed) === 1,
      createdAt: r.created_at,
      ...(typeof r.confirmed_at === 'string' ? { confirmedAt: r.confirmed_at } : {}),
      ...(step === undefined ? {} : { lastUsedStep: step }),
    };
  }

  async putTotp(userId: string, record: StoredTotp): Promise<void> {
    if (record.encrypted && !ENVELOPE.test(record.secret)) {
      throw storeError('an encrypted TOTP secret must be a KeyRing envelope');
    }
    if (!record.encrypted && !this.allowPlaintext) {
      throw storeError('refusing to store a TOTP secret in plaintext: configure a key ring');
    }
    const values = [
      userId,
      record.secret,
      record.encrypted ? 1 : 0,
      record.algorithm,
      record.digits,
      record.period,
      record.confirmed ? 1 : 0,
      record.createdAt,
      record.confirmedAt ?? null,
      record.lastUsedStep ?? null,
    ];
    await this.sql.affected(
      `INSERT INTO ${this.totp} ("user_id", "secret", "encrypted", "algorithm", "digits", "period", "confirmed", ` +
        `"created_at", "confirmed_at", "last_used_step") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ` +
        `ON CONFLICT ("user_id") DO UPDATE SET "secret" = $2, "encrypted" = $3, "algorithm" = $4, "digits" = $5, ` +
        `"period" = $6, "confirmed" = $7, "created_at" = $8, "confirmed_at" = $9, "last_used_step" = $10`,
      values,
      'write',
    );
  }

  async deleteTotp(userId: string): Promise<void> {
    await this.sql.affected(`DELETE FROM ${this.totp} WHERE "user_id" = $1`, [userId], 'delete');
  }

  async advanceTotpStep(userId: string, step: number): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.totp} SET "last_used_step" = $1 WHERE "user_id" = $2 AND ("last_used_step" IS NULL OR "last_used_step" < $1)`,
        [step, userId],
        'advance step',
      )) === 1
    );
  }

  async confirmTotp(userId: string, at: string, step: number): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.totp} SET "confirmed" = 1, "confirmed_at" = $1, "last_used_step" = $2 ` +
          `WHERE "user_id" = $3 AND "confirmed" = 0 AND ("last_used_step" IS NULL OR "last_used_step" < $2)`,
        [at, step, userId],
        'confirm',
      )) === 1
    );
  }

  /** Enrolments in userId order, for TotpFactor.rewrapSecrets. */
  async listTotpSecrets(
    after: string | undefined,
    limit: number,
  ): Promise<Array<{ userId: string; secret: string; encrypted: boolean }>> {
    const rows = await this.sql.rows(
      after === undefined
        ? `SELECT "user_id", "secret", "encrypted" FROM ${this.totp} ORDER BY "user_id" LIMIT $1`
        : `SELECT "user_id", "secret", "encrypted" FROM ${this.totp} WHERE "user_id" > $1 ORDER BY "user_id" LIMIT $2`,
      after === undefined ? [limit] : [after, limit],
      'list',
    );
    return rows.map((r) => {
      if (typeof r.user_id !== 'string' || typeof r.secret !== 'string') {
        throw storeError('malformed TOTP enrolment');
      }
      return { userId: r.user_id, secret: r.secret, encrypted: int(r.encrypted) === 1 };
    });
  }

  /** Compare-and-swap of the secret alone; the replay step and confirmation are left as they are. */
  async replaceTotpSecret(userId: string, expected: string, next: string): Promise<boolean> {
    if (!ENVELOPE.test(next)) throw storeError('an encrypted TOTP secret must be a KeyRing envelope');
    return (
      (await this.sql.affected(
        `UPDATE ${this.totp} SET "secret" = $1 WHERE "user_id" = $2 AND "secret" = $3 AND "encrypted" = 1`,
        [next, userId, expected],
        'rewrap',
      )) === 1
    );
  }

  async getRecoveryCodes(userId: string): Promise<StoredRecoveryCode[]> {
    const rows = await this.sql.rows(
      `SELECT "id", "hash", "used_at" FROM ${this.codes} WHERE "user_id" = $1 ORDER BY "position"`,
      [userId],
      'read',
    );
    return rows.map((r) => {
      if (typeof r.id !== 'string' || typeof r.hash !== 'string' || !r.hash.startsWith('$argon2')) {
        throw storeError('malformed recovery code');
      }
      return { id: r.id, hash: r.hash, ...(typeof r.used_at === 'string' ? { usedAt: r.used_at } : {}) };
    });
  }

  async putRecoveryCodes(userId: string, codes: readonly StoredRecoveryCode[]): Promise<void> {
    // One transaction: the old codes stop working exactly when the new ones start.
    await this.sql.inTransaction(
      [
        [`DELETE FROM ${this.codes} WHERE "user_id" = $1`, [userId]],
        ...codes.map((c, i): [string, unknown[]] => [
          `INSERT INTO ${this.codes} ("user_id", "id", "position", "hash", "used_at") VALUES ($1, $2, $3, $4, $5)`,
          [userId, c.id, i, c.hash, c.usedAt ?? null],
        ]),
      ],
      'replace recovery codes',
    );
  }

  async consumeRecoveryCode(userId: string, id: string, at: string): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.codes} SET "used_at" = $1 WHERE "user_id" = $2 AND "id" = $3 AND "used_at" IS NULL`,
        [at, userId, id],
        'consume recovery code',
      )) === 1
    );
  }

  async deleteRecoveryCodes(userId: string): Promise<void> {
    await this.sql.affected(`DELETE FROM ${this.codes} WHERE "user_id" = $1`, [userId], 'delete');
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }
}
