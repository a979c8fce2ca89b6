import { configError } from '../util/options';
import type { AuditEvent } from '../audit/audit-event';
import { requestAuditEvent, type RequestAuditFacts } from './request-audit';

/** What the auditor needs from a log: an `AuditLog` fits (append group-commits; flush drains). */
export interface RequestAuditLog {
  append(event: AuditEvent): Promise<unknown>;
  flush?(): Promise<void>;
}

export interface RequestAuditorOptions {
  log: RequestAuditLog;
  /** Called when an event could not be stored. Default: a process warning (never a thrown error). */
  onError?: (error: unknown) => void;
  /** Retention category of request events. Default `http`. */
  category?: string;
  /** Skip requests (health checks...). Receives method and route. */
  skip?: (method: string, route: string) => boolean;
}

/**
 * Writes one audit event per request without ever delaying or failing the response: `record()`
 * hands the event to the log and returns at once; the log batches every append of the same tick
 * into one store write (group commit). `close()` waits until every recorded event is durable.
 */
export class RequestAuditor {
  readonly #log: RequestAuditLog;
  readonly #onError: (error: unknown) => void;
  readonly #category: string;
  readonly #skip?: (method: string, route: string) => boolean;
  readonly #inFlight = new Set<Promise<unknown>>();
  #failed = 0;

  constructor(options: RequestAuditorOptions) {
    if (typeof options?.log?.append !== 'function') {
      throw configError('audit.log', 'must be an AuditLog (with append())');
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw configError('audit.onError', 'must be a function');
    }
    if (options.skip !== undefined && typeof options.skip !== 'function') {
      throw configError('audit.skip', 'must be a function');
    }
    this.#log = options.log;
    this.#onError =
      options.onError ??
      ((error) =>
        process.emitWarning(`bulwark: request audit event not stored: ${(error as Error)?.message}`));
    this.#category = options.category ?? 'http';
    this.#skip = options.skip;
  }

  /** Events that could not be stored since start (an operator alarm should watch this). */
  get failed(): number {
    return this.#failed;
  }

  /** Queues the request's event; never throws, never awaits the store. */
  record(facts: RequestAuditFacts): void {
    let pending: Promise<unknown>;
    try {
      if (this.#skip?.(facts.method, facts.route) === true) return;
      pending = this.#log.append(requestAuditEvent({ category: this.#category, ...facts }));
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#inFlight.add(pending);
    pending.then(
      () => this.#inFlight.delete(pending),
      (error: unknown) => {
        this.#inFlight.delete(pending);
        this.#fail(error);
      },
    );
  }

  /**
   * Wraps a listener an adapter registers (a response's 'close'): whatever it throws is counted as a
   * lost event and reported to `onError`, never thrown into the emitter, where it would be an
   * uncaught exception that ends the process.
   */
  listener<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (error) {
        this.#fail(error);
      }
    };
  }

  #fail(error: unknown): void {
    this.#failed++;
    try {
      this.#onError(error);
    } catch {
      // a throwing error handler must not reach the request path
    }
  }

  /** Resolves when every recorded event is stored (call on shutdown, before closing the log). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
    await this.#log.flush?.();
  }
}
