import type { SubjectDataValue } from './subject-data-source';

/** GDPR Chapter III rights handled as requests (Art. 15, 16, 17, 20). */
export type DsrType = 'access' | 'portability' | 'erasure' | 'rectification';

/**
 * received -> identity-verified -> in-progress -> completed; `rejected` from any open status.
 * Nothing past `received` happens before the identity check passed.
 */
export type DsrStatus = 'received' | 'identity-verified' | 'in-progress' | 'completed' | 'rejected';

export interface DsrHistoryEntry {
  status: DsrStatus;
  at: string;
  note?: string;
}

export interface DataSubjectRequest {
  id: string;
  type: DsrType;
  /** Removed once an erasure completes (the request then keeps `subjectRef` only). */
  subjectId?: string;
  /** SHA-256 prefix of the subject id: a handle for operators and error details. */
  subjectRef: string;
  status: DsrStatus;
  receivedAt: string;
  /** Receipt + responseDays (GDPR Art. 12(3)). */
  dueAt: string;
  /** dueAt plus granted extensions. */
  effectiveDueAt: string;
  extensions: { days: number; reason: string; at: string }[];
  identity: { verified: boolean; at?: string; method?: string; failures: number };
  /** Rectification: the corrections asked for. */
  changes?: Record<string, SubjectDataValue>;
  /** How the request arrived (`web-form`, `email`, `post`). */
  channel?: string;
  /** The caller's key for this submission: a resubmission (on any instance) gets this request back. */
  idempotencyKey?: string;
  history: DsrHistoryEntry[];
  completedAt?: string;
  rejectedReason?: string;
  /** Erasure: the signed receipt (compact JWS). */
  receipt?: string;
  /**
   * Optimistic concurrency: the stored version this copy was read at (set by the store: 1 after
   * the first save, +1 per save). Absent on a request not saved yet.
   */
  version?: number;
}

export interface DsrFilter {
  status?: DsrStatus | DsrStatus[];
  type?: DsrType;
}

/**
 * Where DataSubjectRequests keeps requests. `save` is a compare-and-set, so two instances sharing
 * a store never lose each other's lifecycle steps:
 * - a request without `version` is created; a request with that id already stored is refused
 *   (ERR_PRIVACY_DUPLICATE_ID);
 * - a request with `version` replaces the stored one only if that is still at `version`, else
 *   ERR_PRIVACY_CONFLICT (another instance moved it on: reload and retry).
 * On success the store sets `request.version` to the new stored version.
 */
export interface DsrStore {
  save(request: DataSubjectRequest): Promise<void>;
  get(id: string): Promise<DataSubjectRequest | undefined>;
  /** Requests matching the filter, by receivedAt then id. */
  list(filter?: DsrFilter): Promise<DataSubjectRequest[]>;
  /**
   * The request created with this idempotency key. A store that has it must also refuse a second
   * request with the same key (ERR_PRIVACY_DUPLICATE_ID), atomically (a unique constraint).
   */
  findByIdempotencyKey?(key: string): Promise<DataSubjectRequest | undefined>;
  close?(): Promise<void>;
}
