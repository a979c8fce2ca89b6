import { BulwarkPrivacyError, ErrorCodes } from '../errors';

/**
 * Persistence of the privacy registers (breach incidents, processors, processing activities,
 * retention rules, legal holds). One record per id with a version that every write checks, so
 * two instances sharing one database never lose each other's updates: a write based on a stale
 * read is refused (ERR_PRIVACY_CONFLICT) instead of overwriting.
 *
 * `MemoryRegisterStore` keeps today's single-process behaviour; `@bulwark/typeorm` stores the
 * registers in SQLite or PostgreSQL (`bulwarkStores(dataSource)`).
 */

/** A register record and the version it was read at (1 after the insert, +1 per update). */
export interface StoredRecord<T> {
  readonly value: T;
  readonly version: number;
}

export interface RegisterStore<T> {
  get(id: string): Promise<StoredRecord<T> | undefined>;
  /** Every record, by id. */
  list(): Promise<StoredRecord<T>[]>;
  /** Inserts at version 1. False (changing nothing) when a record with this id exists. */
  insert(id: string, value: T): Promise<boolean>;
  /**
   * Replaces the record if its stored version is still `expectedVersion` (which becomes
   * `expectedVersion + 1`). False, changing nothing, when it is not (or the record is gone).
   */
  update(id: string, expectedVersion: number, value: T): Promise<boolean>;
  /** Deletes the record if its stored version is still `expectedVersion`; false otherwise. */
  delete(id: string, expectedVersion: number): Promise<boolean>;
  close?(): Promise<void> | void;
}

/** What each register keeps. */
export type RegisterKind =
  | 'breach'
  | 'processor'
  | 'processing-activity'
  | 'retention-rule'
  | 'legal-hold'
  | 'audit-legal-hold'
  | 'retention-run';

/**
 * Records in process memory (the default: tests, demos, single-instance apps that keep nothing
 * across restarts). Values are deep-copied in and out; each method runs without an await, so the
 * version checks are atomic on Node's single thread.
 */
export class MemoryRegisterStore<T> implements RegisterStore<T> {
  readonly #records = new Map<string, { value: T; version: number }>();

  async get(id: string): Promise<StoredRecord<T> | undefined> {
    const r = this.#records.get(id);
    return r === undefined ? undefined : { value: structuredClone(r.value), version: r.version };
  }

  async list(): Promise<StoredRecord<T>[]> {
    return [...this.#records.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, r]) => ({ value: structuredClone(r.value), version: r.version }));
  }

  async insert(id: string, value: T): Promise<boolean> {
    if (this.#records.has(id)) return false;
    this.#records.set(id, { value: structuredClone(value), version: 1 });
    return true;
  }

  async update(id: string, expectedVersion: number, value: T): Promise<boolean> {
    const r = this.#records.get(id);
    if (r === undefined || r.version !== expectedVersion) return false;
    this.#records.set(id, { value: structuredClone(value), version: expectedVersion + 1 });
    return true;
  }

  async delete(id: string, expectedVersion: number): Promise<boolean> {
    const r = this.#records.get(id);
    if (r === undefined || r.version !== expectedVersion) return false;
    this.#records.delete(id);
    return true;
  }
}

/** ERR_PRIVACY_CONFLICT: the record changed since it was read (another instance wrote it). */
export function conflict(what: string, id: string): BulwarkPrivacyError {
  return new BulwarkPrivacyError(
    ErrorCodes.PRIVACY_CONFLICT,
    `${what} changed concurrently (another instance updated it); reload and retry`,
    { id: id.slice(0, 128) },
  );
}

/** Checks a store handed to a register (fail at construction, not at the first write). */
/** The methods a RegisterStore must have (checked when one is given). */
export const REGISTER_STORE_METHODS = ['get', 'list', 'insert', 'update', 'delete'] as const;

export function checkRegisterStore<T>(store: unknown, path: string): RegisterStore<T> {
  const s = store as Partial<RegisterStore<T>> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    !REGISTER_STORE_METHODS.every((m) => typeof s[m] === 'function')
  ) {
    throw new BulwarkPrivacyError(
      ErrorCodes.PRIVACY_INVALID_ARGUMENT,
      `${path} must be a RegisterStore (get, list, insert, update, delete)`,
      { path },
    );
  }
  return s as RegisterStore<T>;
}

/**
 * A record read back from a store, checked (a row edited around a shared store is refused with
 * ERR_PRIVACY_STORE, never trusted): `check` re-validates it and returns the value to use.
 */
export function checkedRecord<T>(what: string, value: unknown, check: (value: unknown) => T): T {
  try {
    return check(value);
  } catch (error) {
    throw new BulwarkPrivacyError(
      ErrorCodes.PRIVACY_STORE,
      `${what} store holds a malformed record`,
      undefined,
      {
        cause: error,
      },
    );
  }
}

/**
 * Runs a store call, turning a failure into ERR_PRIVACY_STORE (the cause kept, the message naming
 * only the register: store errors may carry connection strings or values).
 */
export async function storeCall<R>(what: string, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof BulwarkPrivacyError) throw error;
    throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_STORE, `${what} store failed`, undefined, {
      cause: error,
    });
  }
}
