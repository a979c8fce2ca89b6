import { configError, invalid, positiveInt } from '../util/options';
import type { AuditEvent } from '../audit/audit-event';
import { BulwarkError } from '../errors';
import { requestAuditEvent, type RequestAuditFacts } from './request-audit';
import {
  AUDIT_FAILURE_POLICIES,
  auditFailurePolicy,
  type AuditFailurePolicy,
  type RouteAuditMarks,
} from './request-audit-hold';

/** What the auditor needs from a log: an `AuditLog` fits (append group-commits; flush drains). */
export interface RequestAuditLog {
  append(event: AuditEvent): Promise<unknown>;
  flush?(): Promise<void>;
}

export interface RequestAuditorOptions {
  log: RequestAuditLog;
  /**
   * Called once per failure burst (the first event that could not be stored after a stored one),
   * never per request. Default: `console.error` of the error's code. Never reaches the request.
   */
  onError?: (error: unknown) => void;
  /**
   * What a route without its own policy does when its event cannot be stored (see
   * `auditFailurePolicy`): `'report'` (default) serves and reports, `'fail-closed'` withholds the
   * response and answers 503. Routes that read or change classified data are `'fail-closed'`
   * whatever this says, unless the route itself says otherwise.
   */
  onFailure?: AuditFailurePolicy;
  /** Longest a `'fail-closed'` response waits for its event to be stored before it is refused. Default 10 000 ms. */
  holdTimeoutMs?: number;
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
  /** Events handed to the log and not yet settled; `close()` waits for zero. */
  #inFlight = 0;
  /** Resolves `close()`'s wait when `#inFlight` comes back to zero. */
  #idle?: { promise: Promise<void>; resolve: () => void };
  /**
   * `record()`'s settlement handlers, made once: a pair of closures per request, alive until its
   * event is stored in a later event-loop turn, kept many of the request's objects alive through
   * young-generation collections under load (bench/README.md).
   */
  readonly #onStored = (): void => {
    this.#ok();
    this.#settled();
  };
  readonly #onLost = (error: unknown): void => {
    this.#fail(error);
    this.#settled();
  };
  readonly #onFailure: AuditFailurePolicy;
  readonly #holdTimeoutMs: number;
  #holdsEveryRequest = false;
  #failed = 0;
  #stored = 0;
  #refused = 0;
  #failing = false;

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
    if (options.onFailure !== undefined && !AUDIT_FAILURE_POLICIES.includes(options.onFailure)) {
      throw invalid('audit.onFailure', "'report' or 'fail-closed'", options.onFailure);
    }
    this.#onFailure = options.onFailure ?? 'report';
    this.#holdTimeoutMs =
      options.holdTimeoutMs === undefined
        ? 10_000
        : positiveInt(options.holdTimeoutMs, 'audit.holdTimeoutMs');
    this.#log = options.log;
    this.#onError =
      options.onError ??
      ((error) =>
        // Error level: requests are being served (or refused) without an audit trail. Only the
        // code: a foreign error's message can quote the event or a value from the store.
        console.error(
          `bulwark: request audit events are not being stored (${
            error instanceof BulwarkError ? error.code : 'unknown error'
          }); reported once until an event is stored again.`,
        ));
    this.#category = options.category ?? 'http';
    this.#skip = options.skip;
    this.#holdsEveryRequest = this.policy({}) === 'fail-closed';
  }

  /**
   * True when a request whose route carries no audit marks fails closed (`onFailure:
   * 'fail-closed'`, or a classification category as the auditor's own category): the audit step
   * then holds every response from the start instead of waiting for a route marker.
   */
  get holdsEveryRequest(): boolean {
    return this.#holdsEveryRequest;
  }

  /** Events that could not be stored since start (an operator alarm should watch this). */
  get failed(): number {
    return this.#failed;
  }

  /** Events stored since start. */
  get stored(): number {
    return this.#stored;
  }

  /** Responses withheld (503) because their event could not be stored. */
  get refused(): number {
    return this.#refused;
  }

  /** The policy of a request with these route marks (see `auditFailurePolicy`). */
  policy(route: RouteAuditMarks): AuditFailurePolicy {
    // The auditor's own category (all request events) counts when the route names none.
    return auditFailurePolicy({ ...route, category: route.category ?? this.#category }, this.#onFailure);
  }

  /** Longest wait of a held response, for `holdResponseUntilAudited`. */
  get holdTimeoutMs(): number {
    return this.#holdTimeoutMs;
  }

  /**
   * Stores the request's event and resolves true once it is durable, false when it could not be
   * stored (counted and reported like `record`). Never rejects. For `'fail-closed'` responses.
   */
  async store(facts: RequestAuditFacts): Promise<boolean> {
    let pending: Promise<unknown>;
    try {
      if (this.#skip?.(facts.method, facts.route) === true) return true;
      pending = this.#log.append(requestAuditEvent(facts, this.#category));
    } catch (error) {
      this.#fail(error);
      return false;
    }
    this.#inFlight++;
    try {
      await pending;
      this.#ok();
      return true;
    } catch (error) {
      this.#fail(error);
      return false;
    } finally {
      this.#settled();
    }
  }

  /** Counts a response withheld because its event was not stored. */
  noteRefused(): void {
    this.#refused++;
  }

  /** Queues the request's event; never throws, never awaits the store. */
  record(facts: RequestAuditFacts): void {
    let pending: Promise<unknown>;
    try {
      if (this.#skip?.(facts.method, facts.route) === true) return;
      pending = this.#log.append(requestAuditEvent(facts, this.#category));
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#inFlight++;
    pending.then(this.#onStored, this.#onLost);
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

  /**
   * Counts what an adapter's listener threw while recording (a lost event) and reports it to
   * `onError`; for listeners that catch their own errors rather than being wrapped by `listener`.
   */
  reportListenerError(error: unknown): void {
    this.#fail(error);
  }

  #settled(): void {
    if (--this.#inFlight === 0 && this.#idle !== undefined) {
      const { resolve } = this.#idle;
      this.#idle = undefined;
      resolve();
    }
  }

  #ok(): void {
    this.#stored++;
    this.#failing = false;
  }

  #fail(error: unknown): void {
    this.#failed++;
    // Once per burst: a store that is down fails every request.
    if (this.#failing) return;
    this.#failing = true;
    try {
      this.#onError(error);
    } catch {
      // a throwing error handler must not reach the request path
    }
  }

  /** Resolves when every recorded event is stored (call on shutdown, before closing the log). */
  async close(): Promise<void> {
    if (this.#inFlight > 0) {
      if (this.#idle === undefined) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.#idle = { promise, resolve };
      }
      await this.#idle.promise;
    }
    await this.#log.flush?.();
  }
}
