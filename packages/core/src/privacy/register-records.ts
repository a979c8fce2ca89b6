import { BulwarkPrivacyError, ErrorCodes } from '../errors';
import {
  checkRegisterStore,
  checkedRecord,
  conflict,
  MemoryRegisterStore,
  storeCall,
  type RegisterStore,
  type StoredRecord,
} from './register-store';

/**
 * The store plumbing every privacy register shares (breaches, processors, processing activities,
 * retention rules, legal holds): the default in-memory store, store failures turned into
 * ERR_PRIVACY_STORE naming only the register (`what`), records re-validated on the way out, and
 * the insert-or-replace loop that registers converge on for configuration-declared entries.
 * Internal: the registers' public API is unchanged.
 */
export class RegisterRecords<T> {
  private readonly store: RegisterStore<T>;

  /**
   * @param what the register, as error messages name it (`processor register`).
   * @param store the store handed in the options (checked here), or undefined for process memory.
   * @param path the option's path for the construction error (`processors.options.store`).
   * @param check re-validates a stored value (a malformed one is refused with ERR_PRIVACY_STORE).
   */
  constructor(
    private readonly what: string,
    store: unknown,
    path: string,
    private readonly check: (value: unknown) => T,
  ) {
    this.store = store === undefined ? new MemoryRegisterStore<T>() : checkRegisterStore<T>(store, path);
  }

  /** The record with this id, validated; undefined when absent or when `id` is not a non-empty string. */
  async read(id: string): Promise<StoredRecord<T> | undefined> {
    if (typeof id !== 'string' || id === '') return undefined;
    const found = await this.raw(id);
    return found === undefined
      ? undefined
      : { value: checkedRecord(this.what, found.value, this.check), version: found.version };
  }

  /** Every record, validated (in store order: callers sort). */
  async values(): Promise<T[]> {
    const all = await storeCall(this.what, () => this.store.list());
    return all.map((r) => checkedRecord(this.what, r.value, this.check));
  }

  /** The stored record as it is, not validated (to replace or delete whatever is there). */
  raw(id: string): Promise<StoredRecord<T> | undefined> {
    return storeCall(this.what, () => this.store.get(id));
  }

  /** Inserts at version 1; false when the id is taken. */
  insert(id: string, value: T): Promise<boolean> {
    return storeCall(this.what, () => this.store.insert(id, value));
  }

  /** Inserts at version 1; throws `duplicate()` when the id is taken (on any instance sharing the store). */
  async insertNew(id: string, value: T, duplicate: () => BulwarkPrivacyError): Promise<void> {
    if (!(await this.insert(id, value))) throw duplicate();
  }

  /** Replaces the record read at `version`; false when it changed since (or is gone). */
  update(id: string, version: number, value: T): Promise<boolean> {
    return storeCall(this.what, () => this.store.update(id, version, value));
  }

  /** Deletes the record read at `version`; false when it changed since (or is gone). */
  delete(id: string, version: number): Promise<boolean> {
    return storeCall(this.what, () => this.store.delete(id, version));
  }

  /**
   * Stores an entry declared in configuration: inserted when absent, replaced when the stored one
   * differs (the configuration is the source of truth), left alone when equal. Retried on a
   * concurrent write; ERR_PRIVACY_CONFLICT (naming `kind`) after three lost races. `beforeEach`
   * runs at the start of every attempt (checks against the other records).
   */
  async ensure(id: string, value: T, kind: string, beforeEach?: () => Promise<void>): Promise<T> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await beforeEach?.();
      const found = await this.raw(id);
      if (found === undefined) {
        if (await this.insert(id, value)) return value;
      } else if (JSON.stringify(found.value) === JSON.stringify(value)) {
        return value;
      } else if (await this.update(id, found.version, value)) {
        return value;
      }
    }
    throw conflict(kind, id);
  }
}

/** ERR_PRIVACY_DUPLICATE_ID: `message` names the taken id (`breach b-1 exists`). */
export function duplicateId(message: string, id: string): BulwarkPrivacyError {
  return new BulwarkPrivacyError(ErrorCodes.PRIVACY_DUPLICATE_ID, message, { id });
}

/** ERR_PRIVACY_NOT_FOUND for `what` (`processor`), the id (truncated) in the details. */
export function notFound(what: string, id: unknown): BulwarkPrivacyError {
  return new BulwarkPrivacyError(ErrorCodes.PRIVACY_NOT_FOUND, `${what} not found`, {
    id: String(id).slice(0, 128),
  });
}
