import type { DataSubjectRequest, DsrFilter, DsrStore } from './dsr-store';

/** Requests in process memory (tests, demos). Copies in and out, so callers cannot mutate stored state. */
export class MemoryDsrStore implements DsrStore {
  private readonly requests = new Map<string, DataSubjectRequest>();

  async save(request: DataSubjectRequest): Promise<void> {
    this.requests.set(request.id, structuredClone(request));
  }

  async get(id: string): Promise<DataSubjectRequest | undefined> {
    const r = this.requests.get(id);
    return r === undefined ? undefined : structuredClone(r);
  }

  async list(filter: DsrFilter = {}): Promise<DataSubjectRequest[]> {
    const statuses =
      filter.status === undefined
        ? undefined
        : Array.isArray(filter.status)
          ? filter.status
          : [filter.status];
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
