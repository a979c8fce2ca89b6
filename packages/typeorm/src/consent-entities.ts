import { EntitySchema, type ValueTransformer } from 'typeorm';

/**
 * Table of TypeOrmConsentStore (create it with BulwarkConsentTables1735689800000). Append-only:
 * a consent change is a new row, never an update, so the proof of consent (GDPR Art. 7(1)) is
 * never rewritten. `seq` orders the history.
 */
export interface ConsentRecordRow {
  seq: number;
  id: string;
  subjectId: string;
  purposeId: string;
  action: string;
  version: number;
  textHash: string;
  at: string;
  ip: string | null;
  userAgent: string | null;
  source: string | null;
}

/** PostgreSQL returns bigint as a string; consent seqs stay far below 2^53. */
const bigintAsNumber: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (typeof value === 'string' ? Number(value) : value),
};

export const ConsentRecordSchema = new EntitySchema<ConsentRecordRow>({
  name: 'BulwarkConsentRecord',
  tableName: 'bulwark_consent_record',
  columns: {
    seq: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    id: { type: 'varchar', length: 36, unique: true },
    subjectId: { type: 'text', name: 'subject_id' },
    purposeId: { type: 'varchar', length: 128, name: 'purpose_id' },
    action: { type: 'varchar', length: 16 },
    version: { type: 'integer' },
    textHash: { type: 'varchar', length: 64, name: 'text_hash' },
    at: { type: 'text' },
    ip: { type: 'varchar', length: 64, nullable: true },
    userAgent: { type: 'text', name: 'user_agent', nullable: true },
    source: { type: 'varchar', length: 128, nullable: true },
  },
  indices: [
    { name: 'IDX_bulwark_consent_subject', columns: ['subjectId', 'purposeId', 'seq'] },
    { name: 'IDX_bulwark_consent_purpose', columns: ['purposeId', 'subjectId', 'seq'] },
  ],
});

/** Add to your DataSource's `entities` when using TypeOrmConsentStore. */
export const bulwarkConsentEntities = [ConsentRecordSchema];
