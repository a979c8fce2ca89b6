import {
  BulwarkComplianceError,
  ErrorCodes,
  type AttestationRecord,
  type AttestationStore,
} from '@bulwark/core';
import { parseAttestationRecord } from '@bulwark/core/store';
import type { DataSource } from 'typeorm';
import { RegisterSql } from './register-sql';

function attestationStoreError(message: string, cause?: unknown): BulwarkComplianceError {
  return new BulwarkComplianceError(
    ErrorCodes.COMPLIANCE_ATTESTATION_STORE,
    `attestation store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Signed human attestations of manual controls in the application database (table
 * bulwark_attestation, migration BulwarkAttestationTables1735690400000), shared by every instance.
 * Append-only like the other attestation stores: a record is inserted once under its id (a second
 * append of the same id is refused, never an overwrite) and listed in the order it was appended.
 * Each row is checked on the way out, so a row edited around the store fails closed
 * (ERR_COMPLIANCE_ATTESTATION_STORE) instead of counting; its signature is checked by the kit.
 */
export class TypeOrmAttestationStore implements AttestationStore {
  private readonly sql: RegisterSql;
  private readonly t: string;

  constructor(dataSource: DataSource) {
    this.sql = new RegisterSql(dataSource, attestationStoreError);
    this.t = this.sql.table('bulwark_attestation');
  }

  async append(record: AttestationRecord): Promise<void> {
    const checked = parseAttestationRecord(record, 'record');
    const n = await this.sql.affected(
      `INSERT INTO ${this.t} ("id", "control_id", "recorded_at", "body") VALUES ($1, $2, $3, $4) ` +
        `ON CONFLICT ("id") DO NOTHING`,
      [checked.id, checked.controlId, checked.recordedAt, JSON.stringify(checked)],
      'append',
    );
    if (n !== 1) throw attestationStoreError('an attestation with this id is already recorded');
  }

  async list(): Promise<readonly AttestationRecord[]> {
    const rows = await this.sql.rows(`SELECT "id", "body" FROM ${this.t} ORDER BY "position"`, [], 'list');
    return rows.map((row, i) => {
      try {
        const record = parseAttestationRecord(JSON.parse(String(row.body)), `row ${i + 1}`);
        if (record.id !== row.id) throw new TypeError('id column and record disagree');
        return record;
      } catch (error) {
        throw attestationStoreError(`row ${i + 1} is corrupt`, error);
      }
    });
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }
}
