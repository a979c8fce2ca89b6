import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates bulwark_session (TypeOrmSessionStore) on SQLite or PostgreSQL, in the DataSource's
 * `schema` when set. `id` is the HMAC of the cookie token (never the token); `user_id` is indexed
 * for "revoke all of a user's sessions", `expires_at` for the purge of dead rows.
 */
export class BulwarkSessionTables1735690100000 implements MigrationInterface {
  name = 'BulwarkSessionTables1735690100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const pg = d.kind === 'postgres';
    const big = pg ? 'bigint' : 'integer';
    const collate = pg ? ' COLLATE "C"' : '';
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_session')} ("id" varchar(64)${collate} NOT NULL, ` +
        `"user_id" varchar(256)${collate}, "body" text NOT NULL, ` +
        `"last_seen_at" ${big} NOT NULL, "expires_at" ${big} NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_session" PRIMARY KEY ("id"), ` +
        `CONSTRAINT "CHK_bulwark_session_times" CHECK ("expires_at" >= 0 AND "last_seen_at" >= 0))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_session_user')} ON ${d.table('bulwark_session')} ("user_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_session_expires')} ON ${d.table('bulwark_session')} ("expires_at")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${dialectOf(queryRunner.dataSource).table('bulwark_session')}`);
  }
}
