import { BulwarkAuditBatchId1735690000000 } from './bulwark-audit-batch-id-1735690000000';
import { BulwarkAuditTables1735689600000 } from './bulwark-audit-tables-1735689600000';

/** Add to your DataSource's `migrations` (in this order) and run them. */
export const bulwarkMigrations = [BulwarkAuditTables1735689600000, BulwarkAuditBatchId1735690000000];
