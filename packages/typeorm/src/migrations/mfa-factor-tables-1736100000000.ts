import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates the tables of `TypeOrmWebAuthnStore` and `TypeOrmOtpStore` (SQLite or PostgreSQL, in the
 * DataSource's `schema` when set):
 * - bulwark_webauthn_credential: registered passkeys / security keys (public keys only) with their
 *   signature counter;
 * - bulwark_webauthn_challenge: pending ceremonies' challenges, deleted when answered or expired;
 * - bulwark_mfa_otp: each user's pending e-mail / SMS code, as an HMAC, with its attempt count.
 */
export class BulwarkMfaFactorTables1736100000000 implements MigrationInterface {
  name = 'BulwarkMfaFactorTables1736100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const pg = d.kind === 'postgres';
    const key = (n: string, len: number) => `"${n}" varchar(${len})${pg ? ' COLLATE "C"' : ''} NOT NULL`;
    const big = pg ? 'bigint' : 'integer';
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_webauthn_credential')} (${key('id', 1366)}, ${key('user_id', 256)}, ` +
        `${key('user_handle', 128)}, "public_key" text NOT NULL, "counter" ${big} NOT NULL, ` +
        `"body" text NOT NULL, "created_at" varchar(40) NOT NULL, "last_used_at" varchar(40), ` +
        `CONSTRAINT "PK_bulwark_webauthn_credential" PRIMARY KEY ("id"), ` +
        `CONSTRAINT "CHK_bulwark_webauthn_counter" CHECK ("counter" >= 0))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_webauthn_credential_user')} ON ${d.table('bulwark_webauthn_credential')} ("user_id")`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_webauthn_challenge')} (${key('challenge', 128)}, "body" text NOT NULL, ` +
        `"expires_at_ms" ${big} NOT NULL, CONSTRAINT "PK_bulwark_webauthn_challenge" PRIMARY KEY ("challenge"))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_webauthn_challenge_expiry')} ON ${d.table('bulwark_webauthn_challenge')} ("expires_at_ms")`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_mfa_otp')} (${key('user_id', 256)}, "hash" varchar(64) NOT NULL, ` +
        `"channel" varchar(16) NOT NULL, "expires_at_ms" ${big} NOT NULL, "attempts" integer NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_mfa_otp" PRIMARY KEY ("user_id"), ` +
        `CONSTRAINT "CHK_bulwark_mfa_otp_attempts" CHECK ("attempts" >= 0))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    for (const t of ['bulwark_mfa_otp', 'bulwark_webauthn_challenge', 'bulwark_webauthn_credential']) {
      await queryRunner.query(`DROP TABLE ${d.table(t)}`);
    }
  }
}
