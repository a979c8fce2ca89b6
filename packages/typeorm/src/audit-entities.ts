import { EntitySchema, type ValueTransformer } from 'typeorm';

/**
 * TypeORM entities of the SQL audit store. Register them (`bulwarkEntities`) and run
 * `bulwarkMigrations` (never `synchronize`: the migration also adds CHECK constraints, the
 * "C" collation on PostgreSQL and the head row the append lock depends on).
 *
 * The rows are written and read by `TypeOrmAuditStore` with plain SQL; these schemas describe them
 * for TypeORM (migrations, read-only repositories). Do not save through a repository: the only
 * permitted writes are the store's appends and redactions.
 */

/** Row shape of `bulwark_audit_entry` (text columns hold `encodeSqlText` values). */
export interface AuditEntryRow {
  seq: number;
  time: string;
  actorId: string | null;
  actorType: string | null;
  actorIp: string | null;
  actorUserAgent: string | null;
  actorSessionId: string | null;
  action: string | null;
  resourceType: string | null;
  resourceId: string | null;
  outcome: string | null;
  reason: string | null;
  requestId: string | null;
  category: string;
  /** `JSON.stringify` of the entry's details. Text, not jsonb: jsonb reorders keys and rewrites numbers. */
  details: string | null;
  prevHash: string;
  leafHash: string;
  redactedAt: string | null;
  redactedReason: string | null;
  /** Idempotency key of the append that wrote the row (BulwarkAuditBatchId1735690000000); NULL on older rows. */
  batchId: string | null;
}

/** Row shape of `bulwark_audit_head`: the single row (id 1) appends lock and advance. */
export interface AuditHeadRow {
  id: number;
  seq: number;
  leafHash: string;
}

/** PostgreSQL returns bigint as a string; audit seqs stay far below 2^53. */
const bigintAsNumber: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (typeof value === 'string' ? Number(value) : value),
};

const text = (name: string, nullable = true) => ({ type: 'text' as const, name, nullable });

export const AuditEntrySchema = new EntitySchema<AuditEntryRow>({
  name: 'BulwarkAuditEntry',
  tableName: 'bulwark_audit_entry',
  columns: {
    seq: { type: 'bigint', primary: true, transformer: bigintAsNumber },
    time: text('time', false),
    actorId: text('actor_id'),
    actorType: text('actor_type'),
    actorIp: text('actor_ip'),
    actorUserAgent: text('actor_user_agent'),
    actorSessionId: text('actor_session_id'),
    action: text('action'),
    resourceType: text('resource_type'),
    resourceId: text('resource_id'),
    outcome: text('outcome'),
    reason: text('reason'),
    requestId: text('request_id'),
    category: text('category', false),
    details: text('details'),
    prevHash: text('prev_hash', false),
    leafHash: text('leaf_hash', false),
    redactedAt: text('redacted_at'),
    redactedReason: text('redacted_reason'),
    batchId: text('batch_id'),
  },
  checks: [{ name: 'CHK_bulwark_audit_entry_seq', expression: '"seq" >= 1' }],
  // Each filter index ends in seq, so "filter ... ORDER BY seq LIMIT n" walks one index range.
  indices: [
    { name: 'IDX_bulwark_audit_entry_actor', columns: ['actorId', 'seq'] },
    { name: 'IDX_bulwark_audit_entry_action', columns: ['action', 'seq'] },
    { name: 'IDX_bulwark_audit_entry_resource', columns: ['resourceType', 'resourceId', 'seq'] },
    { name: 'IDX_bulwark_audit_entry_outcome', columns: ['outcome', 'seq'] },
    { name: 'IDX_bulwark_audit_entry_time', columns: ['time'] },
    { name: 'IDX_bulwark_audit_entry_category', columns: ['category', 'seq'] },
    { name: 'IDX_bulwark_audit_entry_request', columns: ['requestId'] },
  ],
});

export const AuditHeadSchema = new EntitySchema<AuditHeadRow>({
  name: 'BulwarkAuditHead',
  tableName: 'bulwark_audit_head',
  columns: {
    id: { type: 'integer', primary: true },
    seq: { type: 'bigint', transformer: bigintAsNumber },
    leafHash: { type: 'text', name: 'leaf_hash' },
  },
  checks: [{ name: 'CHK_bulwark_audit_head_id', expression: '"id" = 1' }],
});

/** Add to your DataSource's `entities`. */
export const bulwarkEntities = [AuditEntrySchema, AuditHeadSchema];
