// @bulwark/typeorm public API: the SQL audit store, its entities and migrations.
export { TypeOrmAuditStore, type TypeOrmAuditStoreOptions } from './typeorm-audit-store';
export { createAuditDataSource, type AuditDataSourceOptions } from './create-audit-data-source';
export {
  AuditEntrySchema,
  AuditHeadSchema,
  bulwarkEntities,
  type AuditEntryRow,
  type AuditHeadRow,
} from './audit-entities';
export { bulwarkMigrations } from './migrations/bulwark-migrations';
export { BulwarkAuditTables1735689600000 } from './migrations/bulwark-audit-tables-1735689600000';
export { STORAGE_FAULT_FIELD } from './audit-row';
