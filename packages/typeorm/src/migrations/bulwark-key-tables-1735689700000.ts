import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Creates the key store tables (bulwark_key, bulwark_key_version, bulwark_ring_secret,
 * bulwark_subject_key) on SQLite or PostgreSQL, in the DataSource's `schema` when set.
 * Add it to `migrations` after bulwarkMigrations.
 */
export class BulwarkKeyTables1735689700000 implements MigrationInterface {
  name = 'BulwarkKeyTables1735689700000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_key')} ("key_id" varchar(64) NOT NULL, "primary_version" integer NOT NULL, ` +
        `"min_decrypt_version" integer NOT NULL, "created_at" text NOT NULL, "rotated_at" text NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_key" PRIMARY KEY ("key_id"), ` +
        `CONSTRAINT "CHK_bulwark_key_versions" CHECK ("min_decrypt_version" >= 1 AND "min_decrypt_version" <= "primary_version"))`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_key_version')} ("key_id" varchar(64) NOT NULL, "version" integer NOT NULL, ` +
        `"algorithm" varchar(32) NOT NULL, "wrapped_key" text NOT NULL, "created_at" text NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_key_version" PRIMARY KEY ("key_id", "version"), ` +
        `CONSTRAINT "FK_bulwark_key_version_key" FOREIGN KEY ("key_id") REFERENCES ${d.table('bulwark_key')} ("key_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_ring_secret')} ("id" integer NOT NULL, "wrapped_key" text NOT NULL, ` +
        `"created_at" text NOT NULL, CONSTRAINT "PK_bulwark_ring_secret" PRIMARY KEY ("id"), ` +
        `CONSTRAINT "CHK_bulwark_ring_secret_id" CHECK ("id" = 1))`,
    );
    await queryRunner.query(
      `CREATE TABLE ${d.table('bulwark_subject_key')} ("subject_ref" varchar(64) NOT NULL, "algorithm" varchar(32) NOT NULL, ` +
        `"wrapped_key" text, "created_at" text NOT NULL, "shredded_at" text, ` +
        `CONSTRAINT "PK_bulwark_subject_key" PRIMARY KEY ("subject_ref"), ` +
        // A tombstone keeps no key: crypto-shredding must not leave the wrapped key behind.
        `CONSTRAINT "CHK_bulwark_subject_key_shred" CHECK (("shredded_at" IS NULL) = ("wrapped_key" IS NOT NULL)))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    for (const t of ['bulwark_subject_key', 'bulwark_ring_secret', 'bulwark_key_version', 'bulwark_key']) {
      await queryRunner.query(`DROP TABLE ${d.table(t)}`);
    }
  }
}
