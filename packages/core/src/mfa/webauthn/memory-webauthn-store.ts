import { configError } from '../../util/options';
import type { StoredChallenge, StoredWebAuthnCredential, WebAuthnStore } from './webauthn-store';

/** Default cap on pending challenges (see `maxChallenges`). */
const MAX_CHALLENGES = 10_000;

/**
 * In-process WebAuthnStore (tests, single-instance apps). Records are copied in and out; each
 * method body runs without an await, so the compare-and-set operations are atomic on Node's
 * single thread. Use a shared store when several instances serve the same users.
 */
export class MemoryWebAuthnStore implements WebAuthnStore {
  readonly #credentials = new Map<string, StoredWebAuthnCredential>();
  readonly #challenges = new Map<string, StoredChallenge>();
  readonly #now: () => number;
  readonly #maxChallenges: number;

  /**
   * `maxChallenges` (default 10 000) bounds the pending ceremonies: sign-in options are handed to
   * anyone who asks, so at the cap the expired ones are swept and then the oldest evicted (that
   * ceremony must start again), and memory stays bounded however many are abandoned.
   */
  constructor(options: { now?: () => number; maxChallenges?: number } = {}) {
    const max = options.maxChallenges ?? MAX_CHALLENGES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw configError('mfa.webauthn.store.maxChallenges', 'must be a positive integer');
    }
    this.#now = options.now ?? Date.now;
    this.#maxChallenges = max;
  }

  async addCredential(credential: StoredWebAuthnCredential): Promise<boolean> {
    if (this.#credentials.has(credential.id)) return false;
    this.#credentials.set(credential.id, copy(credential));
    return true;
  }

  async getCredential(id: string): Promise<StoredWebAuthnCredential | undefined> {
    const record = this.#credentials.get(id);
    return record === undefined ? undefined : copy(record);
  }

  async listCredentials(userId: string): Promise<StoredWebAuthnCredential[]> {
    return [...this.#credentials.values()].filter((c) => c.userId === userId).map(copy);
  }

  async deleteCredential(userId: string, id: string): Promise<boolean> {
    const record = this.#credentials.get(id);
    if (record === undefined || record.userId !== userId) return false;
    return this.#credentials.delete(id);
  }

  async updateCounter(id: string, expected: number, next: number, usedAt: string): Promise<boolean> {
    const record = this.#credentials.get(id);
    if (record === undefined || record.counter !== expected) return false;
    record.counter = next;
    record.lastUsedAt = usedAt;
    return true;
  }

  async putChallenge(challenge: string, record: StoredChallenge): Promise<void> {
    if (this.#challenges.size >= this.#maxChallenges) {
      const now = this.#now();
      for (const [key, value] of this.#challenges) if (value.expiresAt <= now) this.#challenges.delete(key);
      // A Map iterates in insertion order: the first keys are the oldest challenges.
      for (const key of this.#challenges.keys()) {
        if (this.#challenges.size < this.#maxChallenges) break;
        this.#challenges.delete(key);
      }
    }
    this.#challenges.set(challenge, { ...record });
  }

  async takeChallenge(challenge: string): Promise<StoredChallenge | undefined> {
    const record = this.#challenges.get(challenge);
    this.#challenges.delete(challenge);
    return record;
  }
}

function copy(credential: StoredWebAuthnCredential): StoredWebAuthnCredential {
  return {
    ...credential,
    ...(credential.transports !== undefined ? { transports: [...credential.transports] } : {}),
  };
}
