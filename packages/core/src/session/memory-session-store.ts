import type { SessionStore, StoredSession } from './session-store';

/**
 * Sessions in this process's memory: for development, tests and single-instance apps. Records are
 * copied in and out (JSON), so a caller mutating an object never changes the store. Expired
 * records are swept on writes.
 */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, string>();
  readonly #now: () => number;
  #writes = 0;

  /** `now`: the clock expired records are swept by (default `Date.now`). */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async get(id: string): Promise<StoredSession | undefined> {
    const json = this.#sessions.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as StoredSession);
  }

  async create(session: StoredSession): Promise<void> {
    this.#sweep();
    this.#sessions.set(session.id, JSON.stringify(session));
  }

  async replace(session: StoredSession): Promise<boolean> {
    if (!this.#sessions.has(session.id)) return false;
    this.#sessions.set(session.id, JSON.stringify(session));
    return true;
  }

  async touch(id: string, lastSeenAt: number, expiresAt: number): Promise<boolean> {
    const current = await this.get(id);
    if (current === undefined) return false;
    this.#sessions.set(id, JSON.stringify({ ...current, lastSeenAt, expiresAt }));
    return true;
  }

  async delete(id: string): Promise<boolean> {
    return this.#sessions.delete(id);
  }

  async listByUser(userId: string): Promise<StoredSession[]> {
    const out: StoredSession[] = [];
    for (const json of this.#sessions.values()) {
      const s = JSON.parse(json) as StoredSession;
      if (s.userId === userId) out.push(s);
    }
    return out;
  }

  async deleteByUser(userId: string): Promise<string[]> {
    const ids = (await this.listByUser(userId)).map((s) => s.id);
    for (const id of ids) this.#sessions.delete(id);
    return ids;
  }

  async deleteAll(): Promise<number> {
    const n = this.#sessions.size;
    this.#sessions.clear();
    return n;
  }

  /** Every 64th write drops records past their `expiresAt`. */
  #sweep(): void {
    if (++this.#writes % 64 !== 0) return;
    const now = this.#now();
    for (const [id, json] of this.#sessions) {
      if ((JSON.parse(json) as StoredSession).expiresAt <= now) this.#sessions.delete(id);
    }
  }
}
