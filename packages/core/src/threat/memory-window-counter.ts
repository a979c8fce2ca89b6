import type { CounterState } from './attempt-counter';

interface Window {
  count: number;
  /** When the window ends (ms since the epoch). */
  readonly endsAt: number;
}

/**
 * Fixed-window request counts per key in this process's memory, answered synchronously: the
 * request rate limiter's store when it has no Redis (one Map lookup per request, no promise).
 * Windows behave as rate-limiter-flexible's memory store does for the brute-force guard: a key's
 * window starts at its first request and lasts `windowSec`; `msBeforeNext` is the time left in
 * it. Ended windows are dropped on the first count after each window length, so memory holds at
 * most the keys seen in about two windows. Internal to core.
 */
export class MemoryWindowCounter {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();
  #sweepAt = 0;

  constructor(windowSec: number, now: () => number = Date.now) {
    this.#windowMs = windowSec * 1000;
    this.#now = now;
  }

  /** Adds one to the key's count in its current window and returns the count including it. */
  take(key: string): CounterState {
    const now = this.#now();
    if (now >= this.#sweepAt) this.#sweep(now);
    let window = this.#windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      window = { count: 0, endsAt: now + this.#windowMs };
      this.#windows.set(key, window);
    }
    window.count++;
    return { count: window.count, msBeforeNext: window.endsAt - now };
  }

  /** Keys with a window open (for tests and diagnostics). */
  get size(): number {
    return this.#windows.size;
  }

  #sweep(now: number): void {
    for (const [key, window] of this.#windows) if (window.endsAt <= now) this.#windows.delete(key);
    this.#sweepAt = now + this.#windowMs;
  }
}
