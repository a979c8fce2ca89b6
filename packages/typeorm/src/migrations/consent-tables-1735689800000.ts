import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates bulwark_consent_record (TypeOrmConsentStore) on SQLite or PostgreSQL, in the
 * DataSource's `schema` when set. CHECK constraints keep malformed proof out even when rows are
 * written around the store.
 */
export class BulwarkConsentTables1735689800000 implements MigrationInterface {
  name = 'BulwarkConsentTables1735689800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const t = d.table('bulwark_consent_record');
    const seq =
      d.kind === 'postgres'
        ? '"seq" bigint GENERATED ALWAYS AS IDENTITY NOT NULL'
        : '"seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL';
    await queryRunner.query(
      `CREATE TABLE ${t} (${seq}, "id" varchar(36) NOT NULL, "subject_id" text NOT NULL, ` +
        `"purpose_id" varchar(128) NOT NULL, "action" varchar(16) NOT NULL, "version" integer NOT NULL, ` +
        `"text_hash" varchar(64) NOT NULL, "at" text NOT NULL, "ip" varchar(64), "user_agent" text, "source" varchar(128), ` +
        (d.kind === 'postgres' ? `CONSTRAINT "PK_bulwark_consent_record" PRIMARY KEY ("seq"), ` : '') +
        `CONSTRAINT "UQ_bulwark_consent_record_id" UNIQUE ("id"), ` +
        `CONSTRAINT "CHK_bulwark_consent_action" CHECK ("action" IN ('granted', 'withdrawn')), ` +
        `CONSTRAINT "CHK_bulwark_consent_version" CHECK ("version" >= 1), ` +
        `CONSTRAINT "CHK_bulwark_consent_hash" CHECK (length("text_hash") = 64))`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_consent_subject')} ON ${t} ("subject_id", "purpose_id", "seq")`,
    );
    await queryRunner.query(
      `CREATE INDEX ${d.indexName('IDX_bulwark_consent_purpose')} ON ${t} ("purpose_id", "subject_id", "seq")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    await queryRunner.query(`DROP TABLE ${d.table('bulwark_consent_record')}`);
  }
}
