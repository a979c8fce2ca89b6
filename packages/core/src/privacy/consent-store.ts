/**
 * Persistence of consent events. A store only appends and reads: a consent change is a new
 * record, never an update, so the history that proves consent (GDPR Art. 7(1): the controller
 * must be able to demonstrate that the data subject consented) is never rewritten.
 */

export type ConsentAction = 'granted' | 'withdrawn';

/** One consent event: a subject granted or withdrew consent to one version of a purpose's text. */
export interface ConsentRecord {
  /** Random id of the event. */
  readonly id: string;
  readonly subjectId: string;
  readonly purposeId: string;
  readonly action: ConsentAction;
  /** Version of the purpose's consent text the subject saw. */
  readonly version: number;
  /** SHA-256 (hex) of that text, UTF-8: proof of exactly what was agreed to. */
  readonly textHash: string;
  /** UTC ISO-8601 time with milliseconds. */
  readonly at: string;
  readonly ip?: string;
  readonly userAgent?: string;
  /** Where consent was captured, e.g. `signup-form`, `cookie-banner`, `api`. */
  readonly source?: string;
}

/**
 * Where ConsentManager keeps consent events. `latest` and `history` order by insertion (the
 * order of `append` calls that resolved), not by `at`, so two events in one millisecond keep
 * their order.
 */
export interface ConsentStore {
  append(record: ConsentRecord): Promise<void>;
  /** The most recently appended record of this subject and purpose. */
  latest(subjectId: string, purposeId: string): Promise<ConsentRecord | undefined>;
  /** All records of the subject (optionally of one purpose), oldest first. */
  history(subjectId: string, purposeId?: string): Promise<ConsentRecord[]>;
  /**
   * How many subjects' latest record per purpose is `granted` (evidence for reports; never
   * returns subject ids). Optional: stores without it report no counts.
   */
  countGranted?(purposeId: string): Promise<number>;
  /**
   * Deletes every record of a subject; returns how many. Optional, and not called by default:
   * consent records are the proof GDPR Art. 7(1) asks for and may be kept after erasure
   * (Art. 17(3)(e)); `ConsentManager.dataSource({ eraseRecords: true })` opts in.
   */
  deleteSubject?(subjectId: string): Promise<number>;
  close?(): Promise<void>;
}
