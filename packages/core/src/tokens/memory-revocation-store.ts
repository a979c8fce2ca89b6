import type { RevocationStatus, RevocationStore } from './revocation-store';

/**
 * Revocations in this process's memory: for a single instance, and tests. Lost on restart (a
 * revoked token becomes usable again until it expires): use Redis or SQL when that matters.
 * Expired deny-list entries are swept as new ones arrive, so the map holds at most the tokens
 * revoked within one token lifetime.
 */
export class MemoryRevocationStore implements RevocationStore {
  readonly #tokens = new Map<string, number>();
  readonly #subjects = new Map<string, number>();
  #sweepAt = 0;

  async revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    this.#sweep(Date.now());
    const current = this.#tokens.get(jti);
    if (current === undefined || current < expiresAtMs) this.#tokens.set(jti, expiresAtMs);
  }

  async revokeSubject(subject: string, notBeforeSec: number): Promise<void> {
    const current = this.#subjects.get(subject);
    if (current === undefined || current < notBeforeSec) this.#subjects.set(subject, notBeforeSec);
  }

  async status(jti: string | undefined, subject: string, nowMs: number): Promise<RevocationStatus> {
    const until = jti === undefined ? undefined : this.#tokens.get(jti);
    const notBeforeSec = this.#subjects.get(subject);
    return {
      tokenRevoked: until !== undefined && until > nowMs,
      ...(notBeforeSec !== undefined ? { notBeforeSec } : {}),
    };
  }

  /** Drops expired entries, at most once a minute (amortised O(1) per revocation). */
  #sweep(nowMs: number): void {
    if (nowMs < this.#sweepAt) return;
    this.#sweepAt = nowMs + 60_000;
    for (const [jti, until] of this.#tokens) if (until <= nowMs) this.#tokens.delete(jti);
  }
}
