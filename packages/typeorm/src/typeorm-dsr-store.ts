import {
  BulwarkPrivacyError,
  ErrorCodes,
  type DataSubjectRequest,
  type DsrFilter,
  type DsrStore,
} from '@bulwark/core';
import { dsrFilterStatuses } from '@bulwark/core/store';
import type { DataSource } from 'typeorm';
import { int, json, RegisterSql } from './register-sql';

const STATUSES = new Set(['received', 'identity-verified', 'in-progress', 'completed', 'rejected']);
const TYPES = new Set(['access', 'portability', 'erasure', 'rectification']);

function storeError(message: string, cause?: unknown): BulwarkPrivacyError {
  return new BulwarkPrivacyError(
    ErrorCodes.PRIVACY_STORE,
    `dsr store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * core's DsrStore in the application database (table bulwark_dsr_request, migration
 * BulwarkRegisterTables1735689900000). `save` is a compare-and-set on the request's version: a
 * new request is inserted only if its id is free, a changed one written only over the version it
 * was read at (ERR_PRIVACY_CONFLICT otherwise), so two instances moving one request on at once
 * cannot both succeed. Status, type and receipt time are columns (indexed lists); the request
 * itself is JSON (it holds the subject id until an erasure completes, as the memory store does).
 */
export class TypeOrmDsrStore implements DsrStore {
  private readonly sql: RegisterSql;
  private readonly t: string;

  constructor(dataSource: DataSource) {
    this.sql = new RegisterSql(dataSource, storeError);
    this.t = this.sql.table('bulwark_dsr_request');
  }

  async save(request: DataSubjectRequest): Promise<void> {
    const { version, ...rest } = request;
    if (!STATUSES.has(rest.status) || !TYPES.has(rest.type) || typeof rest.id !== 'string') {
      throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_INVALID_ARGUMENT, 'malformed data-subject request', {
        path: 'request',
      });
    }
    const body = JSON.stringify(rest);
    if (version === undefined) {
      const n = await this.sql.affected(
        // No conflict target: a taken id and a taken idempotency key both leave the row unwritten.
        `INSERT INTO ${this.t} ("id", "version", "status", "type", "received_at", "idempotency_key", "body") ` +
          `VALUES ($1, 1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [rest.id, rest.status, rest.type, rest.receivedAt, rest.idempotencyKey ?? null, body],
        'insert',
      );
      if (n !== 1) {
        throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_DUPLICATE_ID, 'data-subject request exists', {
          id: rest.id.slice(0, 128),
        });
      }
      request.version = 1;
      return;
    }
    const n = await this.sql.affected(
      `UPDATE ${this.t} SET "version" = "version" + 1, "status" = $1, "type" = $2, "received_at" = $3, "body" = $4 ` +
        `WHERE "id" = $5 AND "version" = $6`,
      [rest.status, rest.type, rest.receivedAt, body, rest.id, version],
      'update',
    );
    if (n !== 1) {
      throw new BulwarkPrivacyError(
        ErrorCodes.PRIVACY_CONFLICT,
        'data-subject request changed concurrently (another instance updated it); reload and retry',
        { id: rest.id.slice(0, 128) },
      );
    }
    request.version = version + 1;
  }

  async get(id: string): Promise<DataSubjectRequest | undefined> {
    const rows = await this.sql.rows(
      `SELECT "id", "version", "status", "type", "body" FROM ${this.t} WHERE "id" = $1`,
      [id],
      'read',
    );
    return rows.length === 0 ? undefined : this.request(rows[0]!);
  }

  async findByIdempotencyKey(key: string): Promise<DataSubjectRequest | undefined> {
    const rows = await this.sql.rows(
      `SELECT "id", "version", "status", "type", "body" FROM ${this.t} WHERE "idempotency_key" = $1`,
      [key],
      'read',
    );
    return rows.length === 0 ? undefined : this.request(rows[0]!);
  }

  async list(filter: DsrFilter = {}): Promise<DataSubjectRequest[]> {
    const statuses = dsrFilterStatuses(filter);
    const where: string[] = [];
    const params: unknown[] = [];
    if (statuses !== undefined) {
      if (statuses.length === 0) return [];
      where.push(`"status" IN (${statuses.map((s) => `$${params.push(s)}`).join(', ')})`);
    }
    if (filter.type !== undefined) where.push(`"type" = $${params.push(filter.type)}`);
    const rows = await this.sql.rows(
      `SELECT "id", "version", "status", "type", "body" FROM ${this.t}` +
        (where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`) +
        ` ORDER BY "received_at", "id"`,
      params,
      'list',
    );
    return rows.map((r) => this.request(r));
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }

  /** Rows are checked on the way out: a row edited around the store is refused, not trusted. */
  private request(row: Record<string, unknown>): DataSubjectRequest {
    const version = int(row.version);
    const body = json(row.body) as Partial<DataSubjectRequest> | undefined;
    if (
      body === undefined ||
      Array.isArray(body) ||
      !(version >= 1) ||
      body.id !== row.id ||
      body.status !== row.status ||
      body.type !== row.type ||
      typeof body.subjectRef !== 'string' ||
      typeof body.receivedAt !== 'string' ||
      typeof body.effectiveDueAt !== 'string' ||
      !Number.isFinite(Date.parse(body.effectiveDueAt)) ||
      !Array.isArray(body.history) ||
      !Array.isArray(body.extensions) ||
      body.identity === null ||
      typeof body.identity !== 'object' ||
      typeof body.identity.verified !== 'boolean'
    ) {
      throw storeError('malformed data-subject request');
    }
    return { ...(body as DataSubjectRequest), version };
  }
}
