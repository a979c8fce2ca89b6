import type { ClassificationCategory } from './classification-registry';

/** A JSON value as it appears in a subject export. */
export type SubjectDataValue =
  string | number | boolean | null | SubjectDataValue[] | { [key: string]: SubjectDataValue };

/** Label of an exported field: one of the four classes, or `none` for unclassified data. */
export type SubjectDataLabel = ClassificationCategory | 'none';

/**
 * One record a data source holds about a subject (a row, a document, a file's metadata).
 * `classification` labels fields; unlabelled fields are looked up in the ClassificationRegistry
 * under `type` (the entity name) and fall back to `none`.
 */
export interface SubjectRecord {
  /** Record type, normally the entity name used in the ClassificationRegistry (`User`, `Order`). */
  type: string;
  /** Record id within its type (optional: some records have none). */
  id?: string;
  fields: Record<string, SubjectDataValue>;
  classification?: Record<string, SubjectDataLabel>;
}

/**
 * A place that holds personal data, registered with DataSubjectRequests: the export is what the
 * subject receives (GDPR Art. 15 access, Art. 20 portability); `erase` / `rectify` are called for
 * Art. 17 erasure and Art. 16 rectification. All three must be idempotent: a failed request is
 * retried as a whole.
 */
export interface SubjectDataSource {
  /** Stable id (`users-db`, `crm`, `consent`). */
  id: string;
  /** What the source holds, in words a data subject understands (appears in exports). */
  describe: string;
  export(subjectId: string): Promise<SubjectRecord[]> | SubjectRecord[];
  /** Deletes the subject's records; returns how many (or nothing if unknown). */
  erase?(subjectId: string): Promise<number | void> | number | void;
  /** Applies corrections (`field -> new value`); returns how many records changed. */
  rectify?(
    subjectId: string,
    changes: Record<string, SubjectDataValue>,
  ): Promise<number | void> | number | void;
}
