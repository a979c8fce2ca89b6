import type { EntityMetadata, ObjectLiteral, SelectQueryBuilder } from 'typeorm';

/**
 * Keyset pagination in primary-key order (composite keys included), shared by the batch jobs
 * (rewrapEntities, migrateBlindIndexes): unlike OFFSET, a page boundary never skips or repeats a
 * row when rows are inserted or deleted meanwhile. @internal
 */
export function pageAfter<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  metadata: EntityMetadata,
  alias: string,
  after: unknown[] | undefined,
  inclusive: boolean,
): SelectQueryBuilder<T> {
  const pks = metadata.primaryColumns;
  if (after !== undefined) {
    // Lexicographic keyset condition: (k0 > a0) OR (k0 = a0 AND k1 > a1) OR ...
    const ors: string[] = [];
    const params: ObjectLiteral = {};
    pks.forEach((c, i) => {
      const ands = pks.slice(0, i).map((p, j) => `${alias}.${p.propertyPath} = :bwAfter${j}`);
      const last = i === pks.length - 1 && inclusive ? '>=' : '>';
      ands.push(`${alias}.${c.propertyPath} ${last} :bwAfter${i}`);
      params[`bwAfter${i}`] = after[i];
      ors.push(`(${ands.join(' AND ')})`);
    });
    qb.where(`(${ors.join(' OR ')})`, params);
  }
  pks.forEach((c, i) =>
    i === 0
      ? qb.orderBy(`${alias}.${c.propertyPath}`, 'ASC')
      : qb.addOrderBy(`${alias}.${c.propertyPath}`, 'ASC'),
  );
  return qb;
}
