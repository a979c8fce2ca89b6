import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The clinic's own tables, on SQLite or PostgreSQL (the SQL below is valid on both). Encrypted
 * columns are `text` (they hold `bw2.` (or older `bw1.`) envelopes, never plaintext); blind-index columns are
 * indexed `varchar(64)` so lookups by email / SSN stay index scans.
 */
export class ClinicTables1736000000000 implements MigrationInterface {
  name = 'ClinicTables1736000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema;
    const t = (name: string): string => (schema ? `"${schema}"."${name}"` : `"${name}"`);
    await queryRunner.query(
      `CREATE TABLE ${t('clinic_user')} ("id" varchar(64) NOT NULL PRIMARY KEY, ` +
        `"username" varchar(64) NOT NULL, "password_hash" varchar(256) NOT NULL, ` +
        `"role" varchar(32) NOT NULL, "display_name" varchar(128) NOT NULL, ` +
        `CONSTRAINT "UQ_clinic_user_username" UNIQUE ("username"))`,
    );
    await queryRunner.query(
      `CREATE TABLE ${t('patient')} ("id" varchar(64) NOT NULL PRIMARY KEY, "full_name" text NOT NULL, ` +
        `"email" text, "email_index" varchar(64), "ssn" text, "ssn_index" varchar(64), ` +
        `"date_of_birth" text NOT NULL, "diagnosis" text, "ward" varchar(32) NOT NULL, ` +
        `"created_at" varchar(32) NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_patient_email_index" ON ${t('patient')} ("email_index")`);
    await queryRunner.query(`CREATE INDEX "IDX_patient_ssn_index" ON ${t('patient')} ("ssn_index")`);
    await queryRunner.query(
      `CREATE TABLE ${t('clinical_note')} ("id" varchar(64) NOT NULL PRIMARY KEY, ` +
        `"patient_id" varchar(64) NOT NULL, "author_id" varchar(64) NOT NULL, "body" text NOT NULL, ` +
        `"created_at" varchar(32) NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_clinical_note_patient_id" ON ${t('clinical_note')} ("patient_id")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const schema = (queryRunner.connection.options as { schema?: string }).schema;
    const t = (name: string): string => (schema ? `"${schema}"."${name}"` : `"${name}"`);
    for (const name of ['clinical_note', 'patient', 'clinic_user']) {
      await queryRunner.query(`DROP TABLE ${t(name)}`);
    }
  }
}
