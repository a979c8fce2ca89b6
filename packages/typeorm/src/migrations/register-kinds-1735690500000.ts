import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

const BEFORE = ['breach', 'processor', 'processing-activity', 'retention-rule', 'legal-hold'];
const AFTER = [...BEFORE, 'audit-legal-hold', 'retention-run'];

const kindCheck = (kinds: readonly string[]): string =>
  `CONSTRAINT "CHK_bulwark_register_record_kind" CHECK ("kind" IN (${kinds.map((k) => `'${k}'`).join(', ')}))`;

/**
 * Lets bulwark_register_record keep two more registers: the audit log's run-time legal holds
 * (`audit-legal-hold`) and the last purge of each data-retention source (`retention-run`).
 * PostgreSQL swaps the CHECK constraint; SQLite, which cannot alter one, rebuilds the table (rows
 * copied as they are, in one transaction with the migration).
 */
export class BulwarkRegisterKinds1735690500000 implements MigrationInterface {
  name = 'BulwarkRegisterKinds1735690500000';

  up(queryRunner: QueryRunner): Promise<void> {
    return this.#allow(queryRunner, AFTER);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = dialectOf(queryRunner.dataSource).table('bulwark_register_record');
    await queryRunner.query(`DELETE FROM ${t} WHERE "kind" IN ('audit-legal-hold', 'retention-run')`);
    await this.#allow(queryRunner, BEFORE);
  }

  async #allow(queryRunner: QueryRunner, kinds: readonly string[]): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const t = d.table('bulwark_register_record');
    if (d.kind === 'postgres') {
      await queryRunner.query(`ALTER TABLE ${t} DROP CONSTRAINT "CHK_bulwark_register_record_kind"`);
      await queryRunner.query(`ALTER TABLE ${t} ADD ${kindCheck(kinds)}`);
      return;
    }
    await queryRunner.query(
      `CREATE TABLE "bulwark_register_record_new" ("kind" varchar(32) NOT NULL, "id" varchar(256) NOT NULL, ` +
        `"version" integer NOT NULL, "body" text NOT NULL, "updated_at" text NOT NULL, ` +
        `CONSTRAINT "PK_bulwark_register_record" PRIMARY KEY ("kind", "id"), ` +
        `CONSTRAINT "CHK_bulwark_register_record_version" CHECK ("version" >= 1), ${kindCheck(kinds)})`,
    );
    await queryRunner.query(
      `INSERT INTO "bulwark_register_record_new" ("kind", "id", "version", "body", "updated_at") ` +
        `SELECT "kind", "id", "version", "body", "updated_at" FROM ${t}`,
    );
    await queryRunner.query(`DROP TABLE ${t}`);
    await queryRunner.query(`ALTER TABLE "bulwark_register_record_new" RENAME TO "bulwark_register_record"`);
  }
}
