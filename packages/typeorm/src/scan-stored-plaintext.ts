import type { DataSource } from 'typeorm';
import {
  defaultClassificationSink,
  registerClassifications,
  type ClassificationSink,
} from './classification';
import { checkBatchSize, convertRows, plansFor, registeredContext } from './encrypt-existing-rows';
import type { EntityClass } from './field-registry';

export interface StoredPlaintextScanOptions {
  /** Entities to scan (default: every entity with an @EncryptedField). */
  entities?: Array<EntityClass | string>;
  /** Rows read per page (default 500). */
  batchSize?: number;
  /**
   * Where each classified field's count is recorded (default core's process-wide registry), as
   * the `plaintextReads` of its classification: what `encryption.classified-fields` fails on.
   * `null`: record nothing, only return the counts.
   */
  classificationRegistry?: ClassificationSink | null;
}

/** Stored values of one encrypted column that are not envelopes; names only, never values. */
export interface StoredPlaintextColumn {
  entity: string;
  column: string;
  /** Non-null values that are not an envelope that opens (plaintext, a typeorm-encrypted value, an envelope-looking plaintext). */
  plaintext: number;
}

export interface StoredPlaintextScan {
  rows: number;
  total: number;
  columns: StoredPlaintextColumn[];
}

/**
 * Evidence from the DATA, not from one process's reads: reads every @EncryptedField column of
 * the registered DataSource (keyset pages, nothing written) and counts the values that are not
 * envelopes that open, including columns registered as `typeormEncrypted`. Each classified
 * field's count is recorded in the classification registry, so a compliance kit built in any
 * process (e.g. the module behind `bulwark report --config`) fails `encryption.classified-fields`
 * while a table still holds plaintext, whatever read mode the application runs in, and passes
 * again once a scan finds none. Cost: one full read of each encrypted table.
 */
export async function scanStoredPlaintext(
  dataSource: DataSource,
  options: StoredPlaintextScanOptions = {},
): Promise<StoredPlaintextScan> {
  const caller = 'scanStoredPlaintext';
  const ctx = registeredContext(dataSource, caller);
  const batchSize = options.batchSize ?? 500;
  checkBatchSize(batchSize, caller);
  const plans = plansFor(ctx, options.entities, caller);
  // A dry run whose reader takes every stored value as it is: each non-envelope is counted.
  const report = await convertRows(ctx, plans, (_field, raw) => raw, {
    batchSize,
    transactionWaitMs: 30_000,
    verify: false,
    dryRun: true,
    failFast: false,
  });
  const columns = report.columns.map((c) => ({
    entity: c.entity,
    column: c.column,
    plaintext: c.encrypted + c.failed.length + c.ambiguous.length,
  }));
  const sink =
    options.classificationRegistry === null
      ? undefined
      : (options.classificationRegistry ?? defaultClassificationSink());
  if (sink !== undefined) {
    for (const c of columns) {
      registerClassifications(dataSource, sink, {
        entity: c.entity,
        field: c.column,
        plaintextReads: c.plaintext,
      });
    }
  }
  return { rows: report.rows, total: columns.reduce((n, c) => n + c.plaintext, 0), columns };
}
