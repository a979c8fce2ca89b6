import { BulwarkConsentError, ErrorCodes, type ConsentRecord, type ConsentStore } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { dialectOf, type SqlDialect } from './sql-dialect';

/** @deprecated use `ConsentRecord` from @bulwark/core (same shape). */
export type ConsentRecordShape = ConsentRecord;

const HEX64 = /^[0-9a-f]{64}$/;
const COLUMNS =
  '"id", "subject_id", "purpose_id", "action", "version", "text_hash", "at", "ip", "user_agent", "source"';

function storeError(message: string, cause?: unknown): BulwarkConsentError {
  return new BulwarkConsentError(
    ErrorCodes.CONSENT_STORE,
    message,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

const optionalText = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * core's ConsentStore in the application database (SQLite through better-sqlite3, or PostgreSQL).
 * Register `bulwarkConsentEntities` and run BulwarkConsentTables1735689800000. Only INSERT and
 * SELECT are issued (and DELETE for `deleteSubject`, which ConsentManager calls only when an app
 * opts in): the history that proves consent is never updated in place.
 */
export class TypeOrmConsentStore implements ConsentStore {
  readonly name: string;
  private readonly dialect: SqlDialect;
  private readonly table: string;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
    this.table = this.dialect.table('bulwark_consent_record');
    this.name = `typeorm:${this.dialect.kind}`;
  }

  async append(record: ConsentRecordShape): Promise<void> {
    await this.run(
      `INSERT INTO ${this.table} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        record.id,
        record.subjectId,
        record.purposeId,
        record.action,
        record.version,
        record.textHash,
        record.at,
        record.ip ?? null,
        record.userAgent ?? null,
        record.source ?? null,
      ],
    );
  }

  async latest(subjectId: string, purposeId: string): Promise<ConsentRecordShape | undefined> {
    const rows = await this.run(
      `SELECT ${COLUMNS} FROM ${this.table} WHERE "subject_id" = $1 AND "purpose_id" = $2 ORDER BY "seq" DESC LIMIT 1`,
      [subjectId, purposeId],
    );
    return rows.length === 0 ? undefined : this.toRecord(rows[0]!);
  }

  async history(subjectId: string, purposeId?: string): Promise<ConsentRecordShape[]> {
    const rows =
      purposeId === undefined
        ? await this.run(`SELECT ${COLUMNS} FROM ${this.table} WHERE "subject_id" = $1 ORDER BY "seq" ASC`, [
            subjectId,
          ])
        : await this.run(
            `SELECT ${COLUMNS} FROM ${this.table} WHERE "subject_id" = $1 AND "purpose_id" = $2 ORDER BY "seq" ASC`,
            [subjectId, purposeId],
          );
    return rows.map((r) => this.toRecord(r));
  }

  /** Subjects whose latest record for the purpose is a grant (no ids leave the database). */
  async countGranted(purposeId: string): Promise<number> {
    const rows = await this.run(
      `SELECT COUNT(*) AS "n" FROM ${this.table} r WHERE r."purpose_id" = $1 AND r."action" = 'granted' AND r."seq" = ` +
        `(SELECT MAX(r2."seq") FROM ${this.table} r2 WHERE r2."subject_id" = r."subject_id" AND r2."purpose_id" = r."purpose_id")`,
      [purposeId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async deleteSubject(subjectId: string): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      try {
        const [row] = (await manager.query(
          this.sql(`SELECT COUNT(*) AS "n" FROM ${this.table} WHERE "subject_id" = $1`),
          [subjectId],
        )) as { n: unknown }[];
        await manager.query(this.sql(`DELETE FROM ${this.table} WHERE "subject_id" = $1`), [subjectId]);
        return Number(row?.n ?? 0);
      } catch (error) {
        throw storeError('consent store delete failed', error);
      }
    });
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }

  private sql(text: string): string {
    return this.dialect.kind === 'sqlite' ? text.replace(/\$\d+/g, '?') : text;
  }

  private async run(text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      const result = (await this.dataSource.query(this.sql(text), params)) as unknown;
      return Array.isArray(result) ? (result as Record<string, unknown>[]) : [];
    } catch (error) {
      throw storeError('consent store query failed', error);
    }
  }

  /** Rows are checked on the way out: a row edited around the store is refused, not trusted. */
  private toRecord(row: Record<string, unknown>): ConsentRecordShape {
    const version = typeof row.version === 'string' ? Number(row.version) : row.version;
    if (
      typeof row.id !== 'string' ||
      typeof row.subject_id !== 'string' ||
      typeof row.purpose_id !== 'string' ||
      (row.action !== 'granted' && row.action !== 'withdrawn') ||
      !Number.isSafeInteger(version) ||
      (version as number) < 1 ||
      typeof row.text_hash !== 'string' ||
      !HEX64.test(row.text_hash) ||
      typeof row.at !== 'string' ||
      !Number.isFinite(Date.parse(row.at))
    ) {
      throw storeError('consent store holds a malformed record');
    }
    const ip = optionalText(row.ip);
    const userAgent = optionalText(row.user_agent);
    const source = optionalText(row.source);
    return Object.freeze({
      id: row.id,
      subjectId: row.subject_id,
      purposeId: row.purpose_id,
      action: row.action,
      version: version as number,
      textHash: row.text_hash,
      at: row.at,
      ...(ip === undefined ? {} : { ip }),
      ...(userAgent === undefined ? {} : { userAgent }),
      ...(source === undefined ? {} : { source }),
    });
  }
}
