import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates the tables of TypeOrmAccountStore on SQLite or PostgreSQL, in the DataSource's `schema`
 * when set: bulwark_account (one lifecycle state per user, as JSON) and bulwark_password_reset
 * (reset tokens: the SHA-256 of the secret, never the secret).
 */
export class BulwarkAccountTables1735690200000 implements MigrationInterface {
  name = 'BulwarkAccountTables1735690200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const pg = d.kind === 'postgres';
    const big = pg ? 'bigint' : 'integer';
    const collate = pg ? ' COLLATE "C"' : '';
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_account')} ("user_id" varchar(256)${collate} NOT NULL, "body" text NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_account" PRIMARY KEY ("user_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_password_reset')} ("id" varchar(32)${collate} NOT NULL, ` +
        `"user_id" varchar(256)${collate} NOT NULL, "hash" varchar(64) NOT NULL, ` +
        `"created_at" ${big} NOT NULL, "expires_at" ${big} NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_password_reset" PRIMARY KEY ("id"), ` +
        `CONSTRAINT "CHK_bulwark_password_reset_times" CHECK ("expires_at" > "created_at"))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_password_reset_user')} ON ${d.table('bulwark_password_reset')} ("user_id")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    await queryRunner.query(`DROP TABLE ${d.table('bulwark_password_reset')}`);
    await queryRunner.query(`DROP TABLE ${d.table('bulwark_account')}`);
  }
}
