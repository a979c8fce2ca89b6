import type { AccountStore, StoredAccount, StoredResetToken } from './account-store';

/** Account states and reset tokens in this process's memory (tests, single-instance apps). */
export class MemoryAccountStore implements AccountStore {
  readonly #accounts = new Map<string, string>();
  readonly #tokens = new Map<string, StoredResetToken>();

  async get(userId: string): Promise<StoredAccount | undefined> {
    const json = this.#accounts.get(userId);
    return json === undefined ? undefined : (JSON.parse(json) as StoredAccount);
  }

  async put(account: StoredAccount): Promise<void> {
    this.#accounts.set(account.userId, JSON.stringify(account));
  }

  async putResetToken(token: StoredResetToken): Promise<void> {
    this.#tokens.set(token.id, { ...token });
  }

  async getResetToken(id: string): Promise<StoredResetToken | undefined> {
    const t = this.#tokens.get(id);
    return t === undefined ? undefined : { ...t };
  }

  async consumeResetToken(id: string): Promise<boolean> {
    return this.#tokens.delete(id);
  }

  async deleteResetTokens(userId: string): Promise<void> {
    for (const [id, t] of this.#tokens) if (t.userId === userId) this.#tokens.delete(id);
  }
}
