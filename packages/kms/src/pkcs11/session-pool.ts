import type * as Pkcs11js from 'pkcs11js';
import { closedError } from '../lib/provider-errors';
import type { Cryptoki } from './cryptoki';

/**
 * A bounded pool of logged-in sessions on one token. A PKCS#11 session runs one operation at a
 * time (C_EncryptInit … C_Encrypt), so concurrent wraps each take their own session; beyond `size`
 * they wait. A session that saw an error is closed, not reused: a failed C_Encrypt may leave its
 * operation active (SoftHSM2 does on CKR_ARGUMENTS_BAD).
 * @internal
 */
export class SessionPool {
  private readonly idle: Pkcs11js.Handle[] = [];
  private readonly waiting: Array<(session: Pkcs11js.Handle | undefined) => void> = [];
  private open = 0;
  private closed = false;
  private drained: (() => void) | undefined;

  constructor(
    private readonly cryptoki: Cryptoki,
    private readonly slot: Pkcs11js.Handle,
    private readonly pin: () => string,
    private readonly size: number,
    private readonly provider: string,
  ) {}

  /** Runs `fn` on a session of its own; the session returns to the pool, or is closed if `fn` threw. */
  async use<T>(fn: (session: Pkcs11js.Handle) => Promise<T> | T): Promise<T> {
    const session = await this.acquire();
    let ok = false;
    try {
      const result = await fn(session);
      ok = true;
      return result;
    } finally {
      if (ok) this.release(session);
      else this.discard(session);
    }
  }

  private async acquire(): Promise<Pkcs11js.Handle> {
    if (this.closed) throw closedError(this.provider);
    const idle = this.idle.pop();
    if (idle !== undefined) return idle;
    if (this.open < this.size) {
      this.open++;
      try {
        return this.cryptoki.openSession(this.slot, this.pin(), this.provider);
      } catch (error) {
        this.open--;
        throw error;
      }
    }
    const session = await new Promise<Pkcs11js.Handle | undefined>((resolve) => this.waiting.push(resolve));
    if (session === undefined) throw closedError(this.provider);
    return session;
  }

  private release(session: Pkcs11js.Handle): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(session);
    else if (this.closed) this.discard(session);
    else this.idle.push(session);
  }

  private discard(session: Pkcs11js.Handle): void {
    this.open--;
    this.cryptoki.closeSession(this.slot, session);
    if (this.closed && this.open === 0) this.drained?.();
    // A waiter may now open a fresh session in the freed place.
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.acquire().then(next, () => next(undefined));
    }
  }

  /**
   * Closes the idle sessions and resolves once the sessions in use are released and closed too
   * (so the library is not finalized under a running operation). Waiters get ERR_CRYPTO_CLOSED.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter(undefined);
    for (const session of this.idle.splice(0)) {
      this.open--;
      this.cryptoki.closeSession(this.slot, session);
    }
    if (this.open > 0) await new Promise<void>((resolve) => (this.drained = resolve));
  }
}
