import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates the tables of the register stores (`bulwarkStores(dataSource)`) on SQLite or PostgreSQL,
 * in the DataSource's `schema` when set:
 * - bulwark_dsr_request: data-subject requests and their lifecycle (version-checked saves);
 * - bulwark_register_record: breach incidents, processors, processing activities, retention rules
 *   and legal holds (one row per record, `kind` + `id`, version-checked);
 * - bulwark_break_glass_grant: break-glass grants shared by every instance;
 * - bulwark_mfa_totp, bulwark_mfa_recovery_code: MFA enrolments (the TOTP secret as the KeyRing
 *   envelope the factor wrote) and recovery code hashes.
 * CHECK constraints keep rows written around the stores within what the stores accept.
 */
export class BulwarkRegisterTables1735689900000 implements MigrationInterface {
  name = 'BulwarkRegisterTables1735689900000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const pg = d.kind === 'postgres';
    // Byte-order text on PostgreSQL, so ids and ISO times sort as the memory stores sort them.
    const key = (n: string, len: number) => `"${n}" varchar(${len})${pg ? ' COLLATE "C"' : ''} NOT NULL`;
    const text = (n: string, notNull = true) =>
      `"${n}" text${pg ? ' COLLATE "C"' : ''}${notNull ? ' NOT NULL' : ''}`;
    const big = pg ? 'bigint' : 'integer';

    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_dsr_request')} (${key('id', 64)}, "version" integer NOT NULL, ` +
        `${key('status', 32)}, ${key('type', 32)}, ${text('received_at')}, "idempotency_key" varchar(128), ` +
        `"body" text NOT NULL, CONSTRAINT "PK_bulwark_dsr_request" PRIMARY KEY ("id"), ` +
        // One request per submission, across instances (NULLs do not collide).
        `CONSTRAINT "UQ_bulwark_dsr_request_idempotency" UNIQUE ("idempotency_key"), ` +
        `CONSTRAINT "CHK_bulwark_dsr_request_version" CHECK ("version" >= 1), ` +
        `CONSTRAINT "CHK_bulwark_dsr_request_status" CHECK ("status" IN ('received', 'identity-verified', 'in-progress', 'completed', 'rejected')), ` +
        `CONSTRAINT "CHK_bulwark_dsr_request_type" CHECK ("type" IN ('access', 'portability', 'erasure', 'rectification')))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_dsr_request_status')} ON ${d.table('bulwark_dsr_request')} ("status", "received_at", "id")`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_register_record')} (${key('kind', 32)}, ${key('id', 256)}, ` +
        `"version" integer NOT NULL, "body" text NOT NULL, ${text('updated_at')}, ` +
        `CONSTRAINT "PK_bulwark_register_record" PRIMARY KEY ("kind", "id"), ` +
        `CONSTRAINT "CHK_bulwark_register_record_version" CHECK ("version" >= 1), ` +
        `CONSTRAINT "CHK_bulwark_register_record_kind" CHECK ("kind" IN ('breach', 'processor', 'processing-activity', 'retention-rule', 'legal-hold')))`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_break_glass_grant')} (${key('id', 64)}, ${key('subject_id', 256)}, ` +
        `"actor" text NOT NULL, "reason" text NOT NULL, "actions" text NOT NULL, "resources" text NOT NULL, ` +
        `"granted_at_ms" ${big} NOT NULL, "expires_at_ms" ${big} NOT NULL, "revoked_at_ms" ${big}, ` +
        `"expired_audited" integer NOT NULL DEFAULT 0, "uses" integer NOT NULL DEFAULT 0, ` +
        `CONSTRAINT "PK_bulwark_break_glass_grant" PRIMARY KEY ("id"), ` +
        `CONSTRAINT "CHK_bulwark_break_glass_expiry" CHECK ("expires_at_ms" > "granted_at_ms"), ` +
        `CONSTRAINT "CHK_bulwark_break_glass_flags" CHECK ("expired_audited" IN (0, 1) AND "uses" >= 0))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_break_glass_subject')} ON ${d.table('bulwark_break_glass_grant')} ("subject_id", "expires_at_ms")`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_mfa_totp')} (${key('user_id', 256)}, "secret" text NOT NULL, ` +
        `"encrypted" integer NOT NULL, "algorithm" varchar(8) NOT NULL, "digits" integer NOT NULL, ` +
        `"period" integer NOT NULL, "confirmed" integer NOT NULL, ${text('created_at')}, ${text('confirmed_at', false)}, ` +
        `"last_used_step" ${big}, ` +
        `CONSTRAINT "PK_bulwark_mfa_totp" PRIMARY KEY ("user_id"), ` +
        `CONSTRAINT "CHK_bulwark_mfa_totp_algorithm" CHECK ("algorithm" IN ('sha1', 'sha256', 'sha512')), ` +
        `CONSTRAINT "CHK_bulwark_mfa_totp_digits" CHECK ("digits" IN (6, 8)), ` +
        `CONSTRAINT "CHK_bulwark_mfa_totp_flags" CHECK ("encrypted" IN (0, 1) AND "confirmed" IN (0, 1) AND "period" > 0))`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_mfa_recovery_code')} (${key('user_id', 256)}, ${key('id', 64)}, ` +
        `"position" integer NOT NULL, "hash" text NOT NULL, ${text('used_at', false)}, ` +
        `CONSTRAINT "PK_bulwark_mfa_recovery_code" PRIMARY KEY ("user_id", "id"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    for (const t of [
      'bulwark_mfa_recovery_code',
      'bulwark_mfa_totp',
      'bulwark_break_glass_grant',
      'bulwark_register_record',
      'bulwark_dsr_request',
    ]) {
      await queryRunner.query(`DROP TABLE ${d.table(t)}`);
    }
  }
}
