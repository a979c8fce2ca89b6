import {
  BulwarkConfigError,
  ErrorCodes,
  rewrap,
  type KeyRing,
  type RewrapItem,
  type RewrapProgress,
} from '@bulwark/core';
import type { DataSource, EntityMetadata, ObjectLiteral } from 'typeorm';
import { EncryptionContext, peekActiveContext, type ResolvedField } from './encryption-context';
import { fieldAad } from './field-cipher';
import { fieldRegistry, type EntityClass } from './field-registry';
import { exactKeyExpression, keyCondition, pageAfter } from './keyset-page';
import { runWithoutStringGuards } from './query-guards';
import { SealedValue } from './sealed-value';

export interface RewrapEntitiesOptions {
  /** Entity classes to process (default: every entity of the DataSource with an @EncryptedField). */
  entities?: EntityClass[];
  /** Rows read per page, and values re-encrypted per batch (default 100). */
  batchSize?: number;
  /** After each batch; `cursor` is what `resumeFrom` takes to continue after an interruption. */
  onProgress?(progress: RewrapEntitiesProgress): void;
  /** A `cursor` from a previous run's progress: processing restarts at that row (idempotent). */
  resumeFrom?: string;
  /** Stops between batches. */
  signal?: AbortSignal;
}

export interface RewrapEntitiesProgress extends RewrapProgress {
  entity: string;
  cursor: string | undefined;
}

export interface RewrapEntitiesReport {
  processed: number;
  rewrapped: number;
  skipped: number;
  failed: Array<{ entity: string; column: string; id: string; code: string }>;
}

type Cursor = [entity: string, key: unknown[], column: string];

function parseCursor(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (
      Array.isArray(value) &&
      value.length === 3 &&
      typeof value[0] === 'string' &&
      Array.isArray(value[1])
    ) {
      return value as Cursor;
    }
  } catch {
    // fall through
  }
  throw new BulwarkConfigError(
    ErrorCodes.CONFIG_INVALID,
    'rewrapEntities: resumeFrom is not a cursor from onProgress',
    {
      path: 'resumeFrom',
    },
  );
}

/**
 * Re-encrypts every stored envelope of the entities' @EncryptedFields under its key's primary
 * version (after `keyRing.rotate`), page by page in primary-key order (composite keys included),
 * so it resumes from a cursor. Built on core `rewrap`: values already at primary are skipped
 * without decrypting, failures (tampered, retired key) are reported and left untouched.
 *
 * Reads keep working throughout: old versions decrypt until retired, and each value is replaced
 * by a compare-and-set UPDATE (`WHERE pk = ... AND column = <old envelope>`), so a value the
 * application changed meanwhile is never overwritten with a stale re-encryption. Subject-keyed
 * envelopes are never rewrapped (their key is the subject's, see KeyRing.needsRewrap).
 */
export async function rewrapEntities(
  dataSource: DataSource,
  keyRing: KeyRing,
  options: RewrapEntitiesOptions = {},
): Promise<RewrapEntitiesReport> {
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'rewrapEntities: batchSize must be a positive integer',
      {
        path: 'batchSize',
      },
    );
  }
  const ctx = new EncryptionContext(keyRing, peekActiveContext()?.defaultKeyId ?? 'default', dataSource);
  const targets = options.entities ?? dataSource.entityMetadatas.map((m) => m.target as EntityClass);
  const metadatas = targets
    .map((t) => dataSource.getMetadata(t))
    .filter((m) => fieldRegistry.encrypted(m.target).length > 0)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let resume = parseCursor(options.resumeFrom);
  const report: RewrapEntitiesReport = { processed: 0, rewrapped: 0, skipped: 0, failed: [] };
  for (const metadata of metadatas) {
    if (resume !== undefined && metadata.name < resume[0]) continue;
    const from = resume !== undefined && resume[0] === metadata.name ? resume[1] : undefined;
    resume = undefined;
    if (options.signal?.aborted) break;
    const fields = fieldRegistry.encrypted(metadata.target).map((s) => ctx.field(s));
    const old = new Map<string, string>();
    const result = await rewrap(keyRing, rows(dataSource, metadata, fields, batchSize, from, old), {
      batchSize,
      signal: options.signal,
      write: async (id, value) => {
        const [, key, column] = JSON.parse(id) as Cursor;
        const previous = old.get(id) as string;
        old.delete(id);
        await compareAndSet(dataSource, metadata, key, column, previous, value);
      },
      onProgress: (p) => options.onProgress?.({ ...p, entity: metadata.name, cursor: p.lastId }),
    });
    report.processed += result.processed;
    report.rewrapped += result.rewrapped;
    report.skipped += result.skipped;
    for (const f of result.failed) {
      const [entity, , column] = JSON.parse(f.id) as Cursor;
      report.failed.push({ entity, column, id: f.id, code: f.code });
    }
  }
  return report;
}

async function* rows(
  dataSource: DataSource,
  metadata: EntityMetadata,
  fields: ResolvedField[],
  batchSize: number,
  from: unknown[] | undefined,
  old: Map<string, string>,
): AsyncGenerator<RewrapItem> {
  const pks = metadata.primaryColumns;
  // Keys for paging and compare-and-set read exactly (`x${i}`, see exactKeyExpression); the
  // driver's values (`k${i}`) are what the ORM binds the envelopes to.
  const exact = pks.map((c) => exactKeyExpression(dataSource, c, `e.${c.propertyPath}`));
  let after = from;
  let inclusive = from !== undefined;
  while (true) {
    const qb = dataSource.createQueryBuilder().from(metadata.target, 'e');
    pks.forEach((c, i) => qb.addSelect(`e.${c.propertyPath}`, `k${i}`));
    exact.forEach((x, i) => x !== undefined && qb.addSelect(x, `x${i}`));
    fields.forEach((f, i) => qb.addSelect(`e.${f.column.propertyPath}`, `v${i}`));
    pageAfter(qb, metadata, 'e', after, inclusive);
    const page = (await qb.limit(batchSize).getRawMany()) as ObjectLiteral[];
    for (const raw of page) {
      const key = pks.map((_, i) => raw[exact[i] === undefined ? `k${i}` : `x${i}`]);
      const row: ObjectLiteral = {};
      pks.forEach((c, i) => c.setEntityValue(row, raw[`k${i}`]));
      for (const [i, field] of fields.entries()) {
        const value: unknown = raw[`v${i}`];
        if (typeof value !== 'string') continue;
        const id = JSON.stringify([metadata.name, key, field.spec.property]);
        old.set(id, value);
        yield { id, value, aad: fieldAad(field, row) };
      }
      after = key;
    }
    inclusive = false;
    if (page.length < batchSize) return;
  }
}

async function compareAndSet(
  dataSource: DataSource,
  metadata: EntityMetadata,
  key: unknown[],
  property: string,
  previous: string,
  next: string,
): Promise<void> {
  const column = metadata.findColumnWithPropertyPath(property);
  if (column === undefined) return;
  // The key as read (exactly, see exactKeyExpression), compared by the database.
  const [where, params] = keyCondition(dataSource, metadata, key);
  const qb = dataSource
    .createQueryBuilder()
    .update(metadata.target)
    .set({ [property]: new SealedValue(next, undefined) })
    .where(where, params)
    .andWhere(`${dataSource.driver.escape(column.databaseName)} = :bwPrevious`, { bwPrevious: previous })
    .callListeners(false)
    .updateEntity(false);
  // A compare-and-set on the exact stored bytes: Bulwark's own maintenance query, not an app lookup.
  await runWithoutStringGuards(() => qb.execute());
}
