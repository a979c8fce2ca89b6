import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates bulwark_attestation (TypeOrmAttestationStore) on SQLite or PostgreSQL, in the
 * DataSource's `schema` when set: one row per signed attestation, `position` giving the append
 * order the report reads them in (a newer attestation of a control supersedes an older one).
 */
export class BulwarkAttestationTables1735690400000 implements MigrationInterface {
  name = 'BulwarkAttestationTables1735690400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const pg = d.kind === 'postgres';
    const position = pg ? '"position" bigserial NOT NULL' : '"position" integer PRIMARY KEY AUTOINCREMENT';
    const text = (n: string) => `"${n}" text${pg ? ' COLLATE "C"' : ''} NOT NULL`;
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_attestation')} (${position}, "id" varchar(200) NOT NULL, ` +
        `"control_id" varchar(200) NOT NULL, ${text('recorded_at')}, "body" text NOT NULL, ` +
        (pg ? `CONSTRAINT "PK_bulwark_attestation" PRIMARY KEY ("position"), ` : '') +
        `CONSTRAINT "UQ_bulwark_attestation_id" UNIQUE ("id"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${dialectOf(queryRunner.dataSource).table('bulwark_attestation')}`);
  }
}
