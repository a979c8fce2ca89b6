import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates the tables of TypeOrmRevocationStore (token revocation, ASVS V7.4) on SQLite or
 * PostgreSQL, in the DataSource's `schema` when set:
 * - bulwark_revoked_token: the `jti` deny-list, one row per revoked token until it expires;
 * - bulwark_revoked_subject: per subject, the time at or before which its tokens are refused.
 */
export class BulwarkRevocationTables1735690300000 implements MigrationInterface {
  name = 'BulwarkRevocationTables1735690300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const pg = d.kind === 'postgres';
    const key = (n: string) => `"${n}" varchar(256)${pg ? ' COLLATE "C"' : ''} NOT NULL`;
    const big = pg ? 'bigint' : 'integer';
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_revoked_token')} (${key('jti')}, "expires_at_ms" ${big} NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_revoked_token" PRIMARY KEY ("jti"))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_revoked_token_expiry')} ON ${d.table('bulwark_revoked_token')} ("expires_at_ms")`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_revoked_subject')} (${key('subject')}, "not_before_sec" ${big} NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_revoked_subject" PRIMARY KEY ("subject"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    await queryRunner.query(`DROP TABLE ${d.table('bulwark_revoked_subject')}`);
    await queryRunner.query(`DROP TABLE ${d.table('bulwark_revoked_token')}`);
  }
}
