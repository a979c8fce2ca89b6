import type { DataSource, EntityMetadata, ObjectLiteral, SelectQueryBuilder } from 'typeorm';

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

type KeyColumn = EntityMetadata['primaryColumns'][number];

/**
 * The SQL expression that reads a primary-key column exactly, when the driver would not: pg and
 * mysql2 hand date/time columns back as a JS Date, rounded to the millisecond, while PostgreSQL
 * (`now()`) and MySQL/MariaDB (`DATETIME(6)`) keep microseconds. A job that pages or writes by such
 * a rounded key re-reads a page's last row (forever with a batch of one) and its compare-and-set
 * UPDATE matches no row. The exact text compares back against the column: the database casts it.
 * `column` is the quoted column reference to cast. Undefined: the driver's value is exact. @internal
 */
export function exactKeyExpression(
  dataSource: DataSource,
  pk: KeyColumn,
  column: string,
): string | undefined {
  const type: unknown = pk.type;
  if (!(type === Date || (typeof type === 'string' && /date|time/i.test(type)))) return undefined;
  const driver: string = dataSource.options.type;
  if (driver === 'postgres') return `CAST(${column} AS text)`;
  if (driver === 'mysql' || driver === 'mariadb') return `CAST(${column} AS CHAR)`;
  return undefined; // SQLite stores dates as text already
}

/**
 * `pk0 = :bwKey0 AND pk1 = :bwKey1 ...` for an UPDATE of one row by its key as a job read it (the
 * exact text where exactKeyExpression applies: the database casts it back). @internal
 */
export function keyCondition(
  dataSource: DataSource,
  metadata: EntityMetadata,
  key: readonly unknown[],
): [condition: string, parameters: ObjectLiteral] {
  const parameters: ObjectLiteral = {};
  const condition = metadata.primaryColumns
    .map((c, i) => {
      parameters[`bwKey${i}`] = key[i];
      return `${dataSource.driver.escape(c.databaseName)} = :bwKey${i}`;
    })
    .join(' AND ');
  return [condition, parameters];
}
