import { BulwarkConfigError, BulwarkError, ErrorCodes, envelopeKind } from '@bulwark/core';
import type { DataSource, EntityMetadata, ObjectLiteral, QueryRunner } from 'typeorm';
import { computeIndex, lookupIndexes } from './blind-index-column';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import {
  peekActiveContext,
  type EncryptionContext,
  type ResolvedBlindIndex,
  type ResolvedField,
} from './encryption-context';
import { open, seal } from './field-cipher';
import { fieldRegistry, type EntityClass } from './field-registry';
import { exactKeyExpression } from './keyset-page';
import { plaintextValue } from './plaintext-value';

export interface EncryptExistingRowsOptions {
  /** Entity classes or names to process (default: every entity with an @EncryptedField). */
  entities?: Array<EntityClass | string>;
  /** Rows read per page (default 100). */
  batchSize?: number;
  /** After each page of each phase. */
  onProgress?: (progress: EncryptProgress) => void;
  /** Stops between rows; the report then says `complete: false` (run again to continue). */
  signal?: AbortSignal;
  /** Re-read every processed column at the end and check it (default true). */
  verify?: boolean;
  /** Read and count only: nothing is written, no verification. */
  dryRun?: boolean;
  /**
   * Columns left out of this plaintext pass: typeorm-encrypted ones (convert those with
   * migrateFromTypeormEncrypted). Columns registered with registerBulwarkEncryption's
   * `typeormEncrypted` are always left out.
   */
  exclude?: Array<{ entity: EntityClass | string; columns: string[] }>;
  /**
   * Primary keys (as the report prints them, e.g. `[7]`) of values that look like an envelope
   * but do not open under any key (`ambiguous` in the report) and are plaintext after all: they
   * are encrypted as such. Opt-in per row, after checking them.
   */
  plaintextIds?: string[];
  /**
   * SQLite (one connection shared with the application): how long to wait for a transaction the
   * application has open on it before each write and before verification (default 30000 ms);
   * then ERR_TYPEORM_TRANSACTION_OPEN. The job never writes or verifies inside the app's transaction.
   */
  transactionWaitMs?: number;
}

export interface EncryptProgress {
  phase: 'encrypt' | 'verify';
  entity: string;
  /** Rows of this entity read so far in this phase. */
  rows: number;
  /** Values encrypted so far, every entity (dry run: values that would be). */
  encrypted: number;
  /** Compare-and-set conflicts so far (the row changed between read and write, and was re-read). */
  conflicts: number;
  /** Values that could not be encrypted so far. */
  failed: number;
}

/** Counts for one encrypted column. Ids are primary keys as JSON arrays; never values. */
export interface EncryptColumnReport {
  entity: string;
  column: string;
  /** Non-null values read. */
  scanned: number;
  /** Plaintext values replaced by an envelope (dry run: that would be). */
  encrypted: number;
  /** Values that were already envelopes (an earlier run, or the application wrote the row since). */
  skipped: number;
  /** Compare-and-set conflicts: the row changed under us, was read again and retried. */
  conflicts: number;
  failed: Array<{ id: string; code: string }>;
  /**
   * Values that start like an envelope but do not open under any key (a plaintext such as
   * `bw2.hello`, or a damaged envelope): left as they are, listed by id. Encrypt the ones that
   * are plaintext with `plaintextIds`.
   */
  ambiguous: Array<{ id: string; code: string }>;
}

export interface EncryptBlindIndexReport {
  entity: string;
  index: string;
  source: string;
  /** Index values written (with the envelope of their source, or for envelopes without an index). */
  built: number;
}

export interface EncryptVerification {
  /** No plaintext left, every envelope opens, every blind index matches its source. */
  ok: boolean;
  rows: number;
  plaintext: Array<{ entity: string; column: string; id: string }>;
  unreadable: Array<{ entity: string; column: string; id: string; code: string }>;
  indexMismatches: Array<{ entity: string; index: string; id: string }>;
}

export interface EncryptExistingRowsReport {
  /** complete, nothing failed, and (unless dry run / verify: false) verification passed. */
  ok: boolean;
  /** Every row of every entity was read (false when `signal` stopped the run). */
  complete: boolean;
  dryRun: boolean;
  /** Rows read in the encryption pass. */
  rows: number;
  columns: EncryptColumnReport[];
  blindIndexes: EncryptBlindIndexReport[];
  /** Absent on a dry run, with `verify: false`, or when the run was stopped. */
  verification?: EncryptVerification;
}

/** How a stored value is turned into the field value to encrypt (plaintext, or a legacy ciphertext). */
export type StoredValueReader = (field: ResolvedField, raw: unknown, id: string) => unknown;

/** One entity's work: the fields to convert and the indexes to build. @internal */
export interface ConversionPlan {
  metadata: EntityMetadata;
  fields: ResolvedField[];
  indexes: ResolvedBlindIndex[];
}

const MAX_ATTEMPTS = 5;

function config(message: string, path: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, message, { path });
}

/** The registration of `dataSource` (encryptExistingRows reuses its key ring and key ids). @internal */
export function registeredContext(dataSource: DataSource, caller: string): EncryptionContext {
  const ctx = peekActiveContext();
  if (ctx === undefined || ctx.dataSource !== dataSource) {
    throw config(
      `${caller}: register the DataSource first (await registerBulwarkEncryption(dataSource, { keyRing }))`,
      'dataSource',
    );
  }
  return ctx;
}

export function checkBatchSize(batchSize: number, caller: string): void {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw config(`${caller}: batchSize must be a positive integer`, 'batchSize');
  }
}

type ColumnMetadata = EntityMetadata['primaryColumns'][number];

/** SQL pieces for the drivers whose placeholders and affected-row counts this job knows. */
interface Sql {
  table: string;
  col(name: string): string;
  /** How a primary-key column is read for paging and compare-and-set, if not as itself (see exactKeyExpression). */
  keyExpression(column: ColumnMetadata): string | undefined;
  param(params: unknown[], value: unknown): string;
  /**
   * `column = value` compared byte for byte when the value read was text (never under a
   * case- or accent-insensitive collation, `citext` or `COLLATE NOCASE`).
   */
  same(column: string, params: unknown[], value: unknown): string;
}

function sqlOf(dataSource: DataSource, metadata: EntityMetadata, caller: string): Sql {
  const type = dataSource.options.type;
  const escape = (name: string) => dataSource.driver.escape(name);
  const numbered = type === 'postgres';
  const mysql = type === 'mysql' || type === 'mariadb';
  if (!['postgres', 'better-sqlite3', 'sqlite', 'mysql', 'mariadb'].includes(type)) {
    throw config(
      `${caller}: DataSource type '${type}' is not supported (postgres, better-sqlite3, sqlite, mysql, mariadb)`,
      'dataSource',
    );
  }
  const param = (params: unknown[], value: unknown) => {
    params.push(value);
    return numbered ? `$${params.length}` : '?';
  };
  return {
    table: metadata.tablePath.split('.').map(escape).join('.'),
    col: escape,
    keyExpression: (column) => exactKeyExpression(dataSource, column, escape(column.databaseName)),
    param,
    same(column, params, value) {
      const col = escape(column);
      if (typeof value !== 'string') return `${col} = ${param(params, value)}`;
      if (mysql) return `BINARY ${col} = ${param(params, value)}`;
      return numbered
        ? `${col}::text COLLATE "C" = ${param(params, value)}::text COLLATE "C"`
        : `CAST(${col} AS BLOB) = CAST(${param(params, value)} AS BLOB)`;
    },
  };
}

/**
 * Encrypts, in place, the values of @EncryptedField columns that still hold plaintext (rows
 * written before the column was encrypted), and builds their @BlindIndex columns. Safe while the
 * application runs and writes (register it with `plaintextReads: 'accept'` meanwhile):
 *   - rows are read in primary-key pages (keyset, no OFFSET);
 *   - each row is written with ONE compare-and-set UPDATE (`WHERE pk = ... AND column = <the
 *     plaintext read>` for every column it converts), so a value the application changed in
 *     between is never overwritten: the row is read again and retried (`conflicts`);
 *   - values that are already envelopes are skipped, so a re-run continues where a stopped or
 *     crashed one left off, never encrypting twice; a crash leaves each row either as it was or
 *     fully converted (one statement per row);
 *   - at the end every processed column is read again: no plaintext left, every envelope opens
 *     (associated data, row binding and data subject included) and every blind index matches its
 *     decrypted source (`verification`).
 * Values are converted to the field's declared type first (`42` for a number field, `t`/`1` for
 * a boolean...); a value that is not one is reported as failed (ERR_TYPEORM_INVALID_VALUE) and
 * left as it was. Reports name entities, columns and primary keys, never values.
 */
export async function encryptExistingRows(
  dataSource: DataSource,
  options: EncryptExistingRowsOptions = {},
): Promise<EncryptExistingRowsReport> {
  const caller = 'encryptExistingRows';
  const ctx = registeredContext(dataSource, caller);
  const batchSize = options.batchSize ?? 100;
  checkBatchSize(batchSize, caller);
  if (
    options.plaintextIds !== undefined &&
    !(Array.isArray(options.plaintextIds) && options.plaintextIds.every((i) => typeof i === 'string'))
  ) {
    throw config(
      `${caller}: plaintextIds must be an array of row ids (as the report prints them)`,
      'plaintextIds',
    );
  }
  const excluded = new Set(ctx.legacyColumns);
  for (const e of options.exclude ?? []) {
    if (e === null || typeof e !== 'object' || !Array.isArray(e.columns)) {
      throw config(`${caller}: exclude entries are { entity, columns }`, 'exclude');
    }
    if (!ctx.dataSource.hasMetadata(e.entity)) {
      throw config(
        `${caller}: exclude names ${typeof e.entity === 'string' ? e.entity : e.entity.name}, not an entity of this DataSource`,
        'exclude',
      );
    }
    const name = ctx.dataSource.getMetadata(e.entity).name;
    for (const c of e.columns) excluded.add(`${name}\u0000${c}`);
  }
  const plans = plansFor(ctx, options.entities, caller, undefined, excluded);
  const zoneless = ctx.zonelessDates;
  const readPlaintext: StoredValueReader = (field, raw) =>
    plaintextValue(raw, field.spec.type, field.where, zoneless);
  return convertRows(ctx, plans, readPlaintext, {
    plaintextIds: new Set(options.plaintextIds ?? []),
    transactionWaitMs: options.transactionWaitMs ?? 30_000,
    batchSize,
    onProgress: options.onProgress,
    signal: options.signal,
    verify: options.verify !== false,
    dryRun: options.dryRun === true,
    failFast: false,
  });
}

/** The entities to process, each with its encrypted fields and their blind indexes. @internal */
export function plansFor(
  ctx: EncryptionContext,
  entities: Array<EntityClass | string> | undefined,
  caller: string,
  columns?: readonly string[],
  excluded?: ReadonlySet<string>,
): ConversionPlan[] {
  const ds = ctx.dataSource;
  const named = entities !== undefined;
  const metadatas = (entities ?? ds.entityMetadatas.map((m) => m.target as EntityClass)).map((t) => {
    if (!ds.hasMetadata(t)) {
      const name = typeof t === 'string' ? t : t.name;
      throw config(`${caller}: ${name} is not an entity of this DataSource`, 'entities');
    }
    return ds.getMetadata(t);
  });
  const plans: ConversionPlan[] = [];
  for (const metadata of metadatas.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    let specs = fieldRegistry.encrypted(metadata.target);
    if (columns !== undefined) {
      for (const c of columns) {
        if (!specs.some((s) => s.property === c)) {
          throw config(`${caller}: ${metadata.name}.${c} is not an @EncryptedField`, 'columns');
        }
      }
      specs = specs.filter((s) => columns.includes(s.property));
    }
    const all = specs.length;
    if (excluded !== undefined)
      specs = specs.filter((s) => !excluded.has(`${metadata.name}\u0000${s.property}`));
    if (specs.length === 0) {
      if (named && all > 0) {
        throw config(
          `${caller}: the encrypted columns of ${metadata.name} hold typeorm-encrypted values: convert them with migrateFromTypeormEncrypted (bulwark typeorm encrypt --from-typeorm-encrypted), not as plaintext`,
          'entities',
        );
      }
      if (named) throw config(`${caller}: ${metadata.name} has no @EncryptedField`, 'entities');
      continue;
    }
    const fields = specs.map((s) => ctx.field(s));
    const sources = new Set(fields.map((f) => f.spec.property));
    const indexes = fieldRegistry
      .blindIndexes(metadata.target)
      .filter((s) => sources.has(s.source))
      .map((s) => ctx.blindIndex(s));
    plans.push({ metadata, fields, indexes });
  }
  return plans;
}

interface RunOptions {
  batchSize: number;
  /** Ids whose envelope-looking values that do not open are plaintext (encryptExistingRows only). */
  plaintextIds?: ReadonlySet<string>;
  /** SQLite: wait this long for the application's transaction on the shared connection. */
  transactionWaitMs: number;
  onProgress?: (progress: EncryptProgress) => void;
  signal?: AbortSignal;
  verify: boolean;
  dryRun: boolean;
  /** A value the reader cannot read stops the run (legacy ciphertexts: a wrong key is not a row's fault). */
  failFast: boolean;
}

/** Raw columns read per row: primary key, converted fields, their indexes, subject columns. */
interface Layout {
  pks: EntityMetadata['primaryColumns'];
  /** Select expressions (quoted columns, or a primary key's exact text), in order; aliases c0, c1... */
  columns: string[];
  /** Property name -> index in `columns` (the value as the driver reads it: associated data). */
  at: Map<string, number>;
  /** Per primary column, the index in `columns` of its key for SQL (see Sql.keyExpression). */
  keyAt: number[];
}

function layoutOf(plan: ConversionPlan, sql: Sql): Layout {
  const { metadata } = plan;
  const columns: string[] = [];
  const at = new Map<string, number>();
  const add = (property: string) => {
    if (at.has(property)) return;
    const column = metadata.findColumnWithPropertyPath(property);
    if (column === undefined) return;
    at.set(property, columns.length);
    columns.push(sql.col(column.databaseName));
  };
  for (const pk of metadata.primaryColumns) add(pk.propertyPath);
  for (const f of plan.fields) {
    add(f.spec.property);
    if (f.spec.subject !== undefined) add(f.spec.subject);
  }
  for (const i of plan.indexes) add(i.spec.property);
  const keyAt = metadata.primaryColumns.map((pk) => {
    const expression = sql.keyExpression(pk);
    if (expression === undefined) return at.get(pk.propertyPath)!;
    columns.push(expression);
    return columns.length - 1;
  });
  return { pks: metadata.primaryColumns, columns, at, keyAt };
}

/** The row's primary key as the SQL statements compare it. */
function keyOf(layout: Layout, raw: RawRow): unknown[] {
  return layout.keyAt.map((i) => raw[i]);
}

type RawRow = unknown[];

async function readPage(
  runner: QueryRunner,
  sql: Sql,
  layout: Layout,
  after: unknown[] | undefined,
  limit: number,
): Promise<RawRow[]> {
  const params: unknown[] = [];
  const select = layout.columns.map((c, i) => `${c} AS ${sql.col(`c${i}`)}`).join(', ');
  const pkCols = layout.pks.map((p) => sql.col(p.databaseName));
  let where = '';
  if (after !== undefined) {
    const ors = pkCols.map((col, i) => {
      const ands = pkCols.slice(0, i).map((prev, j) => `${prev} = ${sql.param(params, after[j])}`);
      ands.push(`${col} > ${sql.param(params, after[i])}`);
      return `(${ands.join(' AND ')})`;
    });
    where = ` WHERE ${ors.join(' OR ')}`;
  }
  const text = `SELECT ${select} FROM ${sql.table}${where} ORDER BY ${pkCols.map((c) => `${c} ASC`).join(', ')} LIMIT ${limit}`;
  const rows = (await runner.query(text, params)) as ObjectLiteral[];
  return rows.map((r) => layout.columns.map((_, i) => r[`c${i}`]));
}

async function readRow(
  runner: QueryRunner,
  sql: Sql,
  layout: Layout,
  key: unknown[],
): Promise<RawRow | undefined> {
  const params: unknown[] = [];
  const select = layout.columns.map((c, i) => `${c} AS ${sql.col(`c${i}`)}`).join(', ');
  const where = layout.pks
    .map((p, i) => `${sql.col(p.databaseName)} = ${sql.param(params, key[i])}`)
    .join(' AND ');
  const rows = (await runner.query(
    `SELECT ${select} FROM ${sql.table} WHERE ${where}`,
    params,
  )) as ObjectLiteral[];
  const r = rows[0];
  return r === undefined ? undefined : layout.columns.map((_, i) => r[`c${i}`]);
}

/** The row as entity property values (primary key and subject columns) for associated data. */
function rowObject(plan: ConversionPlan, layout: Layout, raw: RawRow): ObjectLiteral {
  const row: ObjectLiteral = {};
  for (const [property, i] of layout.at) {
    const column = plan.metadata.findColumnWithPropertyPath(property);
    if (column !== undefined && (column.isPrimary || plan.fields.some((f) => f.spec.subject === property))) {
      column.setEntityValue(row, raw[i]);
    }
  }
  return row;
}

interface Change {
  column: string;
  value: string | null;
  /** The value read (the compare-and-set condition). */
  expect: unknown;
}

async function compareAndSet(
  runner: QueryRunner,
  sql: Sql,
  layout: Layout,
  key: unknown[],
  changes: Change[],
): Promise<boolean> {
  const params: unknown[] = [];
  const set = changes.map((c) => `${sql.col(c.column)} = ${sql.param(params, c.value)}`).join(', ');
  const conditions = layout.pks.map((p, i) => `${sql.col(p.databaseName)} = ${sql.param(params, key[i])}`);
  for (const c of changes) {
    conditions.push(
      c.expect === null || c.expect === undefined
        ? `${sql.col(c.column)} IS NULL`
        : sql.same(c.column, params, c.expect),
    );
  }
  const result = (await runner.query(
    `UPDATE ${sql.table} SET ${set} WHERE ${conditions.join(' AND ')}`,
    params,
    true,
  )) as { affected?: number };
  return (result.affected ?? 0) > 0;
}

/** better-sqlite3 / sqlite: TypeORM shares ONE connection between the application and this job. */
function sharesConnection(ds: DataSource): boolean {
  const type: string = ds.options.type;
  return type === 'better-sqlite3' || type === 'sqlite';
}

/** Whether the application has a transaction open on SQLite's shared connection. */
function sharedTransactionOpen(ds: DataSource): boolean {
  const driver = ds.driver as unknown as {
    databaseConnection?: { inTransaction?: unknown };
    queryRunner?: { isTransactionActive?: unknown };
  };
  return (
    driver.databaseConnection?.inTransaction === true || driver.queryRunner?.isTransactionActive === true
  );
}

/**
 * On SQLite, waits until no transaction is open on the shared connection: a write made inside
 * the application's transaction would be committed or rolled back with it, and a verification
 * read inside it would vouch for rows a rollback undoes. Returning at a moment with no transaction
 * open also means every earlier write of this job is committed.
 */
async function outsideTransactions(ds: DataSource, waitMs: number, caller: string): Promise<void> {
  if (!sharesConnection(ds)) return;
  const deadline = Date.now() + waitMs;
  while (sharedTransactionOpen(ds)) {
    if (Date.now() >= deadline) {
      throw new BulwarkTypeOrmError(
        TypeOrmErrorCodes.TRANSACTION_OPEN,
        `${caller}: a transaction stayed open on the SQLite connection this DataSource shares with the application for ${waitMs} ms; the job never writes or verifies inside it. Run it outside the application's transactions, or with its own connection (bulwark typeorm encrypt)`,
        { waitMs },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function codeOf(error: unknown, fallback: string): string {
  return error instanceof BulwarkError ? error.code : fallback;
}

/**
 * The shared engine of encryptExistingRows and migrateFromTypeormEncrypted: page through each
 * plan's rows, turn every stored value that is not an envelope into one (through `read`), build
 * the blind indexes, compare-and-set each row, then verify. @internal
 */
export async function convertRows(
  ctx: EncryptionContext,
  plans: ConversionPlan[],
  read: StoredValueReader,
  options: RunOptions,
): Promise<EncryptExistingRowsReport> {
  const ds = ctx.dataSource;
  const report: EncryptExistingRowsReport = {
    ok: false,
    complete: true,
    dryRun: options.dryRun,
    rows: 0,
    columns: [],
    blindIndexes: [],
  };
  const totals = { encrypted: 0, conflicts: 0, failed: 0 };
  const runner = ds.createQueryRunner();
  // MySQL / MariaDB outside strict mode truncate a too-long envelope with a warning (the plaintext
  // would be lost): this job's session is strict, and gets its mode back at the end.
  const mysql = ds.options.type === 'mysql' || ds.options.type === 'mariadb';
  let sqlMode: string | undefined;
  if (mysql && !options.dryRun) {
    const [row] = (await runner.query('SELECT @@SESSION.sql_mode AS m')) as Array<{ m: string }>;
    sqlMode = row?.m ?? '';
    await runner.query("SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, 'STRICT_ALL_TABLES')");
  }
  try {
    for (const plan of plans) {
      const sql = sqlOf(ds, plan.metadata, 'encryptExistingRows');
      const layout = layoutOf(plan, sql);
      const entity = plan.metadata.name;
      const columns = new Map(
        plan.fields.map((f) => [
          f.spec.property,
          {
            entity,
            column: f.spec.property,
            scanned: 0,
            encrypted: 0,
            skipped: 0,
            conflicts: 0,
            failed: [],
            ambiguous: [],
          } as EncryptColumnReport,
        ]),
      );
      const indexReports = new Map(
        plan.indexes.map((i) => [
          i.spec.property,
          { entity, index: i.spec.property, source: i.spec.source, built: 0 } as EncryptBlindIndexReport,
        ]),
      );
      report.columns.push(...columns.values());
      report.blindIndexes.push(...indexReports.values());
      let after: unknown[] | undefined;
      let rows = 0;
      pages: while (true) {
        const page = await readPage(runner, sql, layout, after, options.batchSize);
        for (const first of page) {
          if (options.signal?.aborted) {
            report.complete = false;
            break pages;
          }
          const key = keyOf(layout, first);
          after = key;
          rows += 1;
          report.rows += 1;
          await convertRow(
            ctx,
            plan,
            layout,
            sql,
            runner,
            read,
            options,
            first,
            key,
            columns,
            indexReports,
            totals,
          );
        }
        options.onProgress?.({ phase: 'encrypt', entity, rows, ...totals });
        if (page.length < options.batchSize) break;
      }
      if (!report.complete) break;
    }
    const failed = report.columns.some((c) => c.failed.length > 0 || c.ambiguous.length > 0);
    if (report.complete && options.verify && !options.dryRun) {
      // SQLite: from here on, every write above is committed (no transaction is open).
      await outsideTransactions(ds, options.transactionWaitMs, 'encryptExistingRows');
      report.verification = await verifyRows(ctx, plans, runner, options);
      if (options.signal?.aborted) report.complete = false;
    }
    report.ok =
      report.complete &&
      !failed &&
      (report.verification === undefined ? !options.verify || options.dryRun : report.verification.ok);
    return report;
  } finally {
    try {
      if (sqlMode !== undefined) await runner.query('SET SESSION sql_mode = ?', [sqlMode]);
    } finally {
      await runner.release();
    }
  }
}

async function convertRow(
  ctx: EncryptionContext,
  plan: ConversionPlan,
  layout: Layout,
  sql: Sql,
  runner: QueryRunner,
  read: StoredValueReader,
  options: RunOptions,
  first: RawRow,
  key: unknown[],
  columns: Map<string, EncryptColumnReport>,
  indexReports: Map<string, EncryptBlindIndexReport>,
  totals: { encrypted: number; conflicts: number; failed: number },
): Promise<void> {
  const id = JSON.stringify(key);
  let raw: RawRow | undefined = first;
  let counted = false;
  // Each scanned value ends in exactly one of encrypted / skipped / failed / ambiguous, even when a
  // retry finds that the application encrypted it meanwhile (the per-column totals add up); a
  // value that cannot be converted is reported once, however often the row is retried.
  const settled = new Set<string>();
  const fail = (field: ResolvedField, code: string) => {
    if (settled.has(field.spec.property)) return;
    settled.add(field.spec.property);
    columns.get(field.spec.property)!.failed.push({ id, code });
    totals.failed += 1;
  };
  for (let attempt = 1; raw !== undefined; attempt++) {
    const changes: Change[] = [];
    const converted: ResolvedField[] = [];
    const plain = new Map<string, unknown>();
    const row = rowObject(plan, layout, raw);
    for (const field of plan.fields) {
      const value = raw[layout.at.get(field.spec.property)!];
      const stats = columns.get(field.spec.property)!;
      if (value === null || value === undefined) continue;
      if (!counted) stats.scanned += 1;
      if (typeof value === 'string' && envelopeKind(value) !== undefined) {
        // An envelope is a value that parses AND opens: a prefix alone (a plaintext `bw2.hi`) is not.
        let source: unknown;
        let opened = false;
        try {
          source = await open(ctx, field, value, row);
          opened = true;
        } catch (error) {
          if (options.plaintextIds?.has(id) !== true) {
            if (!settled.has(field.spec.property)) {
              settled.add(field.spec.property);
              stats.ambiguous.push({ id, code: codeOf(error, ErrorCodes.CRYPTO_MALFORMED) });
            }
            continue;
          }
          // The operator checked this row: its value is plaintext that starts like an envelope.
        }
        if (opened) {
          if (!settled.has(field.spec.property)) {
            settled.add(field.spec.property);
            stats.skipped += 1;
          }
          // An envelope whose blind index is missing (e.g. the index column was added later).
          for (const index of plan.indexes) {
            if (index.spec.source !== field.spec.property) continue;
            const stored = raw[layout.at.get(index.spec.property)!];
            if (stored !== null && stored !== undefined) continue;
            changes.push({
              column: index.column.databaseName,
              value: computeIndex(ctx, index, source),
              expect: null,
            });
            changes.push({ column: field.column.databaseName, value, expect: value });
          }
          continue;
        }
      }
      let next: unknown;
      try {
        next = read(field, value, id);
      } catch (error) {
        if (options.failFast) throw error;
        fail(field, codeOf(error, TypeOrmErrorCodes.INVALID_VALUE));
        continue;
      }
      plain.set(field.spec.property, next);
      converted.push(field);
      if (options.dryRun) continue;
      let envelope: string;
      try {
        envelope = await seal(ctx, field, next, row);
      } catch (error) {
        if (options.failFast) throw error;
        fail(field, codeOf(error, TypeOrmErrorCodes.INVALID_VALUE));
        plain.delete(field.spec.property);
        converted.pop();
        continue;
      }
      changes.push({ column: field.column.databaseName, value: envelope, expect: value });
    }
    counted = true;
    if (options.dryRun) {
      for (const f of converted) columns.get(f.spec.property)!.encrypted += 1;
      totals.encrypted += converted.length;
      return;
    }
    for (const index of plan.indexes) {
      if (!plain.has(index.spec.source)) continue;
      const stored = raw[layout.at.get(index.spec.property)!];
      changes.push({
        column: index.column.databaseName,
        value: computeIndex(ctx, index, plain.get(index.spec.source)),
        expect: stored ?? null,
      });
    }
    if (changes.length === 0) return;
    await outsideTransactions(ctx.dataSource, options.transactionWaitMs, 'encryptExistingRows');
    let written: boolean;
    try {
      written = await compareAndSet(runner, sql, layout, key, dedupe(changes));
    } catch {
      // A driver error (e.g. a varchar column too short for an envelope): left as it was.
      for (const f of converted) fail(f, TypeOrmErrorCodes.ROW_NOT_WRITTEN);
      return;
    }
    if (written) {
      for (const f of converted) columns.get(f.spec.property)!.encrypted += 1;
      totals.encrypted += converted.length;
      for (const index of plan.indexes) {
        if (changes.some((c) => c.column === index.column.databaseName))
          indexReports.get(index.spec.property)!.built += 1;
      }
      return;
    }
    // The row changed since it was read (the application wrote it): read it again and retry.
    for (const f of converted) columns.get(f.spec.property)!.conflicts += 1;
    totals.conflicts += 1;
    if (attempt >= MAX_ATTEMPTS) {
      for (const f of converted) fail(f, TypeOrmErrorCodes.CONCURRENT_UPDATE);
      return;
    }
    raw = await readRow(runner, sql, layout, key);
  }
}

/** One SET per column (an envelope kept as it is to build its index is set to itself once). */
function dedupe(changes: Change[]): Change[] {
  const seen = new Map<string, Change>();
  for (const c of changes) if (!seen.has(c.column)) seen.set(c.column, c);
  return [...seen.values()];
}

async function verifyRows(
  ctx: EncryptionContext,
  plans: ConversionPlan[],
  runner: QueryRunner,
  options: RunOptions,
): Promise<EncryptVerification> {
  const out: EncryptVerification = { ok: true, rows: 0, plaintext: [], unreadable: [], indexMismatches: [] };
  for (const plan of plans) {
    const sql = sqlOf(ctx.dataSource, plan.metadata, 'encryptExistingRows');
    const layout = layoutOf(plan, sql);
    const entity = plan.metadata.name;
    let after: unknown[] | undefined;
    let rows = 0;
    while (true) {
      if (options.signal?.aborted) return { ...out, ok: false };
      await outsideTransactions(ctx.dataSource, options.transactionWaitMs, 'encryptExistingRows');
      const page = await readPage(runner, sql, layout, after, options.batchSize);
      for (const raw of page) {
        const key = keyOf(layout, raw);
        after = key;
        rows += 1;
        out.rows += 1;
        const id = JSON.stringify(key);
        const row = rowObject(plan, layout, raw);
        const opened = new Map<string, unknown>();
        for (const field of plan.fields) {
          const value = raw[layout.at.get(field.spec.property)!];
          if (value === null || value === undefined) {
            opened.set(field.spec.property, null);
            continue;
          }
          if (typeof value !== 'string' || envelopeKind(value) === undefined) {
            out.plaintext.push({ entity, column: field.spec.property, id });
            continue;
          }
          try {
            opened.set(field.spec.property, await open(ctx, field, value, row));
          } catch (error) {
            out.unreadable.push({
              entity,
              column: field.spec.property,
              id,
              code: codeOf(error, ErrorCodes.CRYPTO_MALFORMED),
            });
          }
        }
        for (const index of plan.indexes) {
          if (!opened.has(index.spec.source)) continue;
          const source = opened.get(index.spec.source);
          const stored = raw[layout.at.get(index.spec.property)!];
          const wanted = lookupIndexes(ctx, index, source);
          const match =
            wanted.length === 0
              ? stored === null || stored === undefined
              : typeof stored === 'string' && wanted.includes(stored);
          if (!match) out.indexMismatches.push({ entity, index: index.spec.property, id });
        }
      }
      options.onProgress?.({ phase: 'verify', entity, rows, encrypted: 0, conflicts: 0, failed: 0 });
      if (page.length < options.batchSize) break;
    }
  }
  out.ok = out.plaintext.length === 0 && out.unreadable.length === 0 && out.indexMismatches.length === 0;
  return out;
}
