import { TypeOrmErrorCodes } from './bulwark-typeorm-error';
import { BulwarkConfigError, BulwarkError, ErrorCodes, type KeyRing } from '@bulwark/core';
import type { DataSource, EntityMetadata, ObjectLiteral } from 'typeorm';
import { computeIndex } from './blind-index-column';
import { activeContext } from './encryption-context';
import { fieldRegistry, type EntityClass } from './field-registry';
import { exactKeyExpression, keyCondition, pageAfter } from './keyset-page';
import { runWithoutStringGuards } from './query-guards';

export interface MigrateBlindIndexesOptions {
  /** Entity classes to process (default: every entity with a `followKeyRotation` @BlindIndex). */
  entities?: EntityClass[];
  /** Rows per page (default 100). */
  batchSize?: number;
  /** After each page. */
  onProgress?(progress: MigrateBlindIndexesProgress): void;
  /** Stops between pages. */
  signal?: AbortSignal;
}

export interface MigrateBlindIndexesProgress {
  entity: string;
  processed: number;
  migrated: number;
}

export interface MigrateBlindIndexesReport {
  /** Rows read. */
  processed: number;
  /** Index values rewritten under the primary key version. */
  migrated: number;
  /** True when every page of every entity was read (false if `signal` stopped it). */
  complete: boolean;
  /** Rows that could not be read (e.g. a tampered value): their indexes were left as they were. */
  failed: Array<{ entity: string; id: string; code: string }>;
}

/**
 * Moves every `followKeyRotation` @BlindIndex value to the index key of its key's CURRENT primary
 * version (after `keyRing.rotate`), page by page in primary-key order. The blind-index key
 * rotation without downtime, in three steps (CipherSweet's rotation, with the key ring's versions
 * as the index-key generations):
 *   1. rotate the key: new rows are indexed under the new version at once, and lookups
 *      (findByBlindIndex, blindIndexes) match the index under every live version, old or new;
 *   2. run this (and rewrapEntities for the ciphertexts): each stale index is replaced by a
 *      compare-and-set UPDATE (`WHERE pk = ... AND index = <old value>`), so a row the
 *      application rewrote meanwhile keeps its newer value; re-running it is safe;
 *   3. finish: `keyRing.retire(keyId, primaryVersion)`: lookups then use the new index key only,
 *      and the old one is gone from memory.
 * Rows are loaded through the repository (so values are decrypted as the app reads them); the
 * DataSource must be registered with registerBulwarkEncryption.
 */
export async function migrateBlindIndexes(
  dataSource: DataSource,
  keyRing: KeyRing,
  options: MigrateBlindIndexesOptions = {},
): Promise<MigrateBlindIndexesReport> {
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'migrateBlindIndexes: batchSize must be a positive integer',
      {
        path: 'batchSize',
      },
    );
  }
  const targets = options.entities ?? dataSource.entityMetadatas.map((m) => m.target as EntityClass);
  const report: MigrateBlindIndexesReport = { processed: 0, migrated: 0, complete: true, failed: [] };
  await keyRing.refresh();
  for (const metadata of targets.map((t) => dataSource.getMetadata(t))) {
    const specs = fieldRegistry.blindIndexes(metadata.target).filter((s) => s.followKeyRotation === true);
    if (specs.length === 0) continue;
    const ctx = activeContext({ entity: metadata.name, column: specs[0]!.property });
    if (ctx.keyRing !== keyRing || ctx.dataSource !== dataSource) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'migrateBlindIndexes: pass the DataSource and KeyRing given to registerBulwarkEncryption',
        { path: 'keyRing' },
      );
    }
    const indexes = specs.map((s) => ctx.blindIndex(s));
    let after: unknown[] | undefined;
    while (true) {
      if (options.signal?.aborted) {
        report.complete = false;
        return report;
      }
      const { rows, keys } = await readPage(dataSource, metadata, after, batchSize, report.failed);
      for (const { row, key } of rows) {
        report.processed += 1;
        for (const index of indexes) {
          const stored = row[index.spec.property] as string | null | undefined;
          const wanted = computeIndex(ctx, index, row[index.spec.source]);
          if (stored === wanted || stored === undefined) continue;
          if (
            await compareAndSet(
              dataSource,
              metadata,
              key,
              index.spec.property,
              index.column.databaseName,
              stored,
              wanted,
            )
          ) {
            report.migrated += 1;
          }
        }
      }
      if (keys.length > 0) after = keys[keys.length - 1];
      options.onProgress?.({ entity: metadata.name, processed: report.processed, migrated: report.migrated });
      if (keys.length < batchSize) break;
    }
  }
  return report;
}

/**
 * One page of rows in primary-key order, loaded (and decrypted) through the repository, each with
 * its key read exactly (see exactKeyExpression): paging and the compare-and-set use that key, never
 * the entity's values, which the driver may have rounded. If the page fails to load (a row that
 * does not decrypt), its rows are loaded one by one and the ones that fail are reported instead of
 * stopping the migration.
 */
async function readPage(
  dataSource: DataSource,
  metadata: EntityMetadata,
  after: unknown[] | undefined,
  batchSize: number,
  failed: MigrateBlindIndexesReport['failed'],
): Promise<{ rows: Array<{ row: ObjectLiteral; key: unknown[] }>; keys: unknown[][] }> {
  const repository = dataSource.getRepository(metadata.target);
  const pks = metadata.primaryColumns;
  const keySelects = pks.map(
    (c) => exactKeyExpression(dataSource, c, `e.${c.propertyPath}`) ?? `e.${c.propertyPath}`,
  );
  const keyOf = (raw: ObjectLiteral) => pks.map((_, i) => raw[`bwk${i}`]);
  try {
    const qb = pageAfter(repository.createQueryBuilder('e'), metadata, 'e', after, false);
    keySelects.forEach((x, i) => qb.addSelect(x, `bwk${i}`));
    const { entities, raw } = await qb.limit(batchSize).getRawAndEntities();
    // One entity per row read (no joins): they pair up in order. Rows the ORM merged into one
    // entity (keys equal once rounded) are loaded one by one below instead.
    if (entities.length === raw.length) {
      const keys = raw.map(keyOf);
      return { rows: entities.map((row, i) => ({ row, key: keys[i]! })), keys };
    }
  } catch {
    // a row that does not decrypt: one by one below
  }
  const qb = dataSource.createQueryBuilder().from(metadata.target, 'e');
  keySelects.forEach((x, i) => qb.addSelect(x, `bwk${i}`));
  const raw = (await pageAfter(qb, metadata, 'e', after, false)
    .limit(batchSize)
    .getRawMany()) as ObjectLiteral[];
  const keys = raw.map(keyOf);
  const rows: Array<{ row: ObjectLiteral; key: unknown[] }> = [];
  for (const key of keys) {
    const one = repository.createQueryBuilder('e');
    pks.forEach((c, i) => one.andWhere(`e.${c.propertyPath} = :bwKey${i}`, { [`bwKey${i}`]: key[i] }));
    try {
      const row = (await one.getOne()) as ObjectLiteral | null;
      if (row !== null) rows.push({ row, key });
    } catch (error) {
      const code = error instanceof BulwarkError ? error.code : TypeOrmErrorCodes.ROW_UNREADABLE;
      failed.push({ entity: metadata.name, id: JSON.stringify(key), code });
    }
  }
  return { rows, keys };
}

async function compareAndSet(
  dataSource: DataSource,
  metadata: EntityMetadata,
  key: unknown[],
  property: string,
  column: string,
  previous: string | null,
  next: string | null,
): Promise<boolean> {
  // The key as read (exactly, see exactKeyExpression), compared by the database.
  const [where, params] = keyCondition(dataSource, metadata, key);
  const escaped = dataSource.driver.escape(column);
  const qb = dataSource
    .createQueryBuilder()
    .update(metadata.target)
    .set({ [property]: next })
    .where(where, params)
    .callListeners(false)
    .updateEntity(false);
  if (previous === null) qb.andWhere(`${escaped} IS NULL`);
  else qb.andWhere(`${escaped} = :bwPrevious`, { bwPrevious: previous });
  // The stored value may be anything (another width, upper case, written around the ORM): the
  // compare-and-set repairs it, so the string-condition guard's "index value" test does not apply.
  const result = await runWithoutStringGuards(() => qb.execute());
  return (result.affected ?? 1) > 0;
}
