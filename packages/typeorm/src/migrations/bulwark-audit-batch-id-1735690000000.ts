import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

/**
 * Adds `bulwark_audit_entry.batch_id`: the idempotency key of the append that wrote the row (a
 * random UUID per `append` call, the same for every row of the batch). When the connection dies
 * after COMMIT was sent, the store reads it back to learn whether the batch was stored, so an
 * append is never reported failed when it committed, and never written twice. Rows written before
 * this migration keep NULL. Adding a nullable column without a default rewrites nothing.
 */
export class BulwarkAuditBatchId1735690000000 implements MigrationInterface {
  name = 'BulwarkAuditBatchId1735690000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const type = d.kind === 'postgres' ? 'text COLLATE "C"' : 'text';
    await queryRunner.query(`ALTER TABLE ${d.table('bulwark_audit_entry')} ADD COLUMN "batch_id" ${type}`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    await queryRunner.query(`ALTER TABLE ${d.table('bulwark_audit_entry')} DROP COLUMN "batch_id"`);
  }
}
