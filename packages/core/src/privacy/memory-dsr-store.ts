import { BulwarkPrivacyError, ErrorCodes } from '../errors';
import type { DataSubjectRequest, DsrFilter, DsrStore } from './dsr-store';
import { dsrFilterStatuses } from '../util/dsr-filter-statuses';
import { conflict } from './register-store';

/**
 * Requests in process memory (tests, demos). Copies in and out, so callers cannot mutate stored
 * state; `save` checks versions like a shared store does (see DsrStore).
 */
export class MemoryDsrStore implements DsrStore {
  private readonly requests = new Map<string, DataSubjectRequest>();

  async save(request: DataSubjectRequest): Promise<void> {
    const stored = this.requests.get(request.id);
    if (request.version === undefined) {
      const key = request.idempotencyKey;
      // No await before the write: the check and the insert are one step on Node's single thread.
      if (stored !== undefined || (key !== undefined && this.byKey(key) !== undefined)) {
        throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_DUPLICATE_ID, 'data-subject request exists', {
          id: request.id.slice(0, 128),
        });
      }
    } else if (stored === undefined || stored.version !== request.version) {
      throw conflict('data-subject request', request.id);
    }
    const version = (request.version ?? 0) + 1;
    this.requests.set(request.id, structuredClone({ ...request, version }));
    request.version = version;
  }

  async findByIdempotencyKey(key: string): Promise<DataSubjectRequest | undefined> {
    const r = this.byKey(key);
    return r === undefined ? undefined : structuredClone(r);
  }

  private byKey(key: string): DataSubjectRequest | undefined {
    for (const r of this.requests.values()) if (r.idempotencyKey === key) return r;
    return undefined;
  }

  async get(id: string): Promise<DataSubjectRequest | undefined> {
    const r = this.requests.get(id);
    return r === undefined ? undefined : structuredClone(r);
  }

  async list(filter: DsrFilter = {}): Promise<DataSubjectRequest[]> {
    const statuses = dsrFilterStatuses(filter);
    return [...this.requests.values()]
      .filter(
        (r) =>
          (statuses === undefined || statuses.includes(r.status)) &&
          (filter.type === undefined || r.type === filter.type),
      )
      .sort((a, b) =>
        a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : a.id < b.id ? -1 : 1,
      )
      .map((r) => structuredClone(r));
  }
}
