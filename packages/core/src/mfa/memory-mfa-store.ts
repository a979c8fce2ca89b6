import type { MfaStore, StoredRecoveryCode, StoredTotp } from './mfa-store';

/**
 * In-process MfaStore (tests, single-instance apps). Records are copied in and out so callers
 * cannot mutate stored state; each method body runs without an await, so the compare-and-set
 * operations are atomic on Node's single thread.
 */
export class MemoryMfaStore implements MfaStore {
  readonly #totp = new Map<string, StoredTotp>();
  readonly #codes = new Map<string, StoredRecoveryCode[]>();

  async getTotp(userId: string): Promise<StoredTotp | undefined> {
    const record = this.#totp.get(userId);
    return record === undefined ? undefined : { ...record };
  }

  async putTotp(userId: string, record: StoredTotp): Promise<void> {
    this.#totp.set(userId, { ...record });
  }

  async deleteTotp(userId: string): Promise<void> {
    this.#totp.delete(userId);
  }

  async advanceTotpStep(userId: string, step: number): Promise<boolean> {
    const record = this.#totp.get(userId);
    if (record === undefined) return false;
    if (record.lastUsedStep !== undefined && step <= record.lastUsedStep) return false;
    record.lastUsedStep = step;
    return true;
  }

  async confirmTotp(userId: string, at: string, step: number): Promise<boolean> {
    const record = this.#totp.get(userId);
    if (record === undefined || record.confirmed) return false;
    if (record.lastUsedStep !== undefined && step <= record.lastUsedStep) return false;
    record.confirmed = true;
    record.confirmedAt = at;
    record.lastUsedStep = step;
    return true;
  }

  async getRecoveryCodes(userId: string): Promise<StoredRecoveryCode[]> {
    return (this.#codes.get(userId) ?? []).map((c) => ({ ...c }));
  }

  async putRecoveryCodes(userId: string, codes: readonly StoredRecoveryCode[]): Promise<void> {
    this.#codes.set(
      userId,
      codes.map((c) => ({ ...c })),
    );
  }

  async consumeRecoveryCode(userId: string, id: string, at: string): Promise<boolean> {
    const code = this.#codes.get(userId)?.find((c) => c.id === id);
    if (code === undefined || code.usedAt !== undefined) return false;
    code.usedAt = at;
    return true;
  }

  async deleteRecoveryCodes(userId: string): Promise<void> {
    this.#codes.delete(userId);
  }

  async listTotpSecrets(
    after: string | undefined,
    limit: number,
  ): Promise<Array<{ userId: string; secret: string; encrypted: boolean }>> {
    return [...this.#totp.keys()]
      .filter((id) => after === undefined || id > after)
      .sort()
      .slice(0, limit)
      .map((userId) => {
        const { secret, encrypted } = this.#totp.get(userId)!;
        return { userId, secret, encrypted };
      });
  }

  async replaceTotpSecret(userId: string, expected: string, next: string): Promise<boolean> {
    const record = this.#totp.get(userId);
    if (record === undefined || !record.encrypted || record.secret !== expected) return false;
    record.secret = next;
    return true;
  }
}
