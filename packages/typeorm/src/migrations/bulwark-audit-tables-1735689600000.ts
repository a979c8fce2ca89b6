import { GENESIS_HASH } from '@bulwark/core/store';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../sql-dialect';

const INDEXES: [string, string][] = [
  ['IDX_bulwark_audit_entry_actor', '"actor_id", "seq"'],
  ['IDX_bulwark_audit_entry_action', '"action", "seq"'],
  ['IDX_bulwark_audit_entry_resource', '"resource_type", "resource_id", "seq"'],
  ['IDX_bulwark_audit_entry_outcome', '"outcome", "seq"'],
  ['IDX_bulwark_audit_entry_time', '"time"'],
  ['IDX_bulwark_audit_entry_category', '"category", "seq"'],
  ['IDX_bulwark_audit_entry_request', '"request_id"'],
];

const TEXT_COLUMNS = [
  'actor_id',
  'actor_type',
  'actor_ip',
  'actor_user_agent',
  'actor_session_id',
  'action',
  'resource_type',
  'resource_id',
  'outcome',
  'reason',
  'request_id',
];

/**
 * Creates `bulwark_audit_entry` (one row per entry) and `bulwark_audit_head` (the single lock row
 * every append takes, holding the last seq and leaf hash). Works on SQLite and PostgreSQL; on
 * PostgreSQL the tables go to the DataSource's `schema` when one is set.
 */
export class BulwarkAuditTables1735689600000 implements MigrationInterface {
  name = 'BulwarkAuditTables1735689600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    const entry = d.table('bulwark_audit_entry');
    const head = d.table('bulwark_audit_head');
    if (d.kind === 'postgres') {
      // COLLATE "C": byte order, so ISO times compare as instants whatever the database locale,
      // and `action LIKE 'prefix%'` can use the btree index.
      const c = (name: string, notNull = false) => `"${name}" text COLLATE "C"${notNull ? ' NOT NULL' : ''}`;
      await queryRunner.query(
        `CREATE TABLE ${entry} ("seq" bigint NOT NULL, ${c('time', true)}, ` +
          `${TEXT_COLUMNS.map((n) => c(n)).join(', ')}, ${c('category', true)}, "details" text, ` +
          `${c('prev_hash', true)}, ${c('leaf_hash', true)}, ${c('redacted_at')}, ${c('redacted_reason')}, ` +
          `CONSTRAINT "PK_bulwark_audit_entry" PRIMARY KEY ("seq"), ` +
          `CONSTRAINT "CHK_bulwark_audit_entry_seq" CHECK ("seq" >= 1))`,
      );
      await queryRunner.query(
        `CREATE TABLE ${head} ("id" integer NOT NULL, "seq" bigint NOT NULL, "leaf_hash" text COLLATE "C" NOT NULL, ` +
          `CONSTRAINT "PK_bulwark_audit_head" PRIMARY KEY ("id"), CONSTRAINT "CHK_bulwark_audit_head_id" CHECK ("id" = 1))`,
      );
    } else {
      // INTEGER PRIMARY KEY makes seq the rowid: integer-only, and the table is stored in seq order.
      await queryRunner.query(
        `CREATE TABLE ${entry} ("seq" integer PRIMARY KEY NOT NULL, "time" text NOT NULL, ` +
          `${TEXT_COLUMNS.map((n) => `"${n}" text`).join(', ')}, "category" text NOT NULL, "details" text, ` +
          `"prev_hash" text NOT NULL, "leaf_hash" text NOT NULL, "redacted_at" text, "redacted_reason" text, ` +
          `CONSTRAINT "CHK_bulwark_audit_entry_seq" CHECK ("seq" >= 1))`,
      );
      await queryRunner.query(
        `CREATE TABLE ${head} ("id" integer PRIMARY KEY NOT NULL, "seq" integer NOT NULL, "leaf_hash" text NOT NULL, ` +
          `CONSTRAINT "CHK_bulwark_audit_head_id" CHECK ("id" = 1))`,
      );
    }
    for (const [name, columns] of INDEXES) {
      await queryRunner.query(`CREATE INDEX ${d.indexName(name)} ON ${entry} (${columns})`);
    }
    await queryRunner.query(
      `INSERT INTO ${head} ("id", "seq", "leaf_hash") VALUES (1, 0, '${GENESIS_HASH}')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const d = dialectOf(queryRunner.dataSource);
    await queryRunner.query(`DROP TABLE ${d.table('bulwark_audit_head')}`);
    await queryRunner.query(`DROP TABLE ${d.table('bulwark_audit_entry')}`);
  }
}
