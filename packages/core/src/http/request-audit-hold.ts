import type { ServerResponse } from 'node:http';
import { BulwarkAuditError, BulwarkConfigError, ErrorCodes } from '../errors';
import { AUDIT_LIMITS } from '../audit/audit-event';
import { CLASSIFICATION_CATEGORIES } from '../privacy/classification-registry';
import { problemFor, writeNodeProblem } from './problem-details';

/**
 * What happens to a request whose audit event cannot be stored:
 * - `'fail-closed'`: the response is withheld until its event is durable; if the event cannot be
 *   stored the client gets 503 problem+json (ERR_AUDIT_UNAVAILABLE) instead, and nothing the
 *   handler wrote (body or headers) leaves the process.
 * - `'report'`: the response is served; the loss is counted and reported (error level, once per
 *   failure burst).
 */
export type AuditFailurePolicy = 'report' | 'fail-closed';

export const AUDIT_FAILURE_POLICIES: readonly AuditFailurePolicy[] = Object.freeze(['report', 'fail-closed']);

/** What a route says about its audit event (adapters collect it from route markers). */
export interface RouteAuditMarks {
  /** The event's action (default `http.<method>`). */
  action?: string;
  /** The route's own policy: overrides everything else. */
  onFailure?: AuditFailurePolicy;
  /** The event's retention category: a classification category (`personal`, `sensitive`, `phi`, `cardholder`) marks the route as classified. */
  category?: string;
  /** The route reads or changes classified data (set by `requireConsent` and explicit markers). */
  classified?: boolean;
}

/**
 * The policy of one request. The rule:
 * 1. the route's own `onFailure`, when given (the only way to serve a classified route unrecorded);
 * 2. `'fail-closed'` when the route reads or changes classified data: its audit category is a
 *    classification category (`personal`, `sensitive`, `phi`, `cardholder`), it requires consent
 *    (personal data processed under a purpose), or it is marked `classified`;
 * 3. else the global `onFailure` (default `'report'`).
 * A global `'report'` never downgrades a classified route; a global `'fail-closed'` covers every route.
 */
export function auditFailurePolicy(route: RouteAuditMarks, global?: AuditFailurePolicy): AuditFailurePolicy {
  if (route.onFailure !== undefined) return route.onFailure;
  if (route.classified === true || isClassifiedCategory(route.category)) return 'fail-closed';
  return global ?? 'report';
}

const ACTION_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

/**
 * Validates route audit markers once, at start-up (`auditRoute(...)`, `@Audited(...)`); a
 * classification category sets `classified`. `path` names the option in messages.
 */
export function checkRouteAuditMarks(value: unknown, path: string): Readonly<RouteAuditMarks> {
  const fail = (member: string, message: string): never => {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path}.${member} ${message}`, {
      path: `${path}.${member}`,
    });
  };
  if (value === null || typeof value !== 'object') fail('options', 'must be an object');
  const o = value as RouteAuditMarks;
  for (const key of Object.keys(o)) {
    if (!['action', 'category', 'classified', 'onFailure'].includes(key)) fail(key, 'is not an option');
  }
  if (
    o.action !== undefined &&
    (typeof o.action !== 'string' || o.action.length > AUDIT_LIMITS.action || !ACTION_RE.test(o.action))
  ) {
    fail('action', 'must be a dotted verb such as records.read (letters, digits, _ . : / -)');
  }
  if (o.category !== undefined && (typeof o.category !== 'string' || o.category.length === 0)) {
    fail('category', 'must be a non-empty string');
  }
  if (o.classified !== undefined && typeof o.classified !== 'boolean')
    fail('classified', 'must be a boolean');
  if (o.onFailure !== undefined && !AUDIT_FAILURE_POLICIES.includes(o.onFailure)) {
    fail('onFailure', "must be 'report' or 'fail-closed'");
  }
  return Object.freeze({
    ...(o.action !== undefined ? { action: o.action } : {}),
    ...(o.category !== undefined ? { category: o.category } : {}),
    ...(o.classified === true || isClassifiedCategory(o.category) ? { classified: true } : {}),
    ...(o.onFailure !== undefined ? { onFailure: o.onFailure } : {}),
  });
}

export function isClassifiedCategory(category: string | undefined): boolean {
  return category !== undefined && (CLASSIFICATION_CATEGORIES as readonly string[]).includes(category);
}

export interface AuditHoldOptions {
  /**
   * Called at the response's first write (headers, body or end), when every route step has run:
   * true holds the response until `store` settles, false lets it through untouched.
   */
  shouldHold(): boolean;
  /** Stores the request's event (the status is the one the response is about to carry); resolves true once durable. */
  store(status: number): Promise<boolean>;
  /** Request id for the 503 body. */
  requestId?: string;
  /**
   * Longest wait for the store before the response is refused. Default 10 000 ms. A store that
   * succeeds after the refusal still records the event with the status the handler chose (the
   * trail over-records; it never misses a served response).
   */
  timeoutMs?: number;
  /** Called when the response was refused (the adapter notes the code for logs). */
  onRefused?: () => void;
  /**
   * The names of the headers that stay on a 503 refusal (those set by the steps before the
   * handler). Default: the response's header names when the hold is installed.
   */
  headersBefore?: readonly string[];
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';

/**
 * Withholds a response until its audit event is durable (`'fail-closed'`). Installed before the
 * handler runs; at the first write it asks `shouldHold()`: if not, every call passes straight
 * through from then on. If so, every write is queued (headers are not sent, so the
 * status can still change), the event is stored, and then either the queue is replayed in order,
 * or, when the store failed or took longer than `timeoutMs`, the queue is dropped, every header
 * the handler set is removed (those set before, by earlier steps such as security headers and the
 * request id, stay) and a 503 problem+json is sent.
 *
 * Memory: a held response is buffered whole; streams get back-pressure (`write` returns false
 * while held, 'drain' follows the release), so only what the handler wrote before its first
 * `false` is buffered.
 */
export function holdResponseUntilAudited(res: ServerResponse, options: AuditHoldOptions): void {
  // Headers present now were set by the steps before the handler (security headers, request id).
  // (An array: it is read only on the rare refusal path, so no Set is built per request.)
  const before = options.headersBefore ?? res.getHeaderNames();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const original = {
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
  } as unknown as Record<Method, (...args: unknown[]) => unknown>;
  const queue: [Method, unknown[]][] = [];
  let state: 'idle' | 'holding' | 'done' = 'idle';

  // Once decided, the wrappers stay and pass every call through: deleting the response's own
  // properties again would turn it into a slow dictionary-mode object for the rest of its life.
  const call = (m: Method, args: unknown[]): unknown => original[m].apply(res, args);

  const release = (): void => {
    if (state !== 'holding') return;
    state = 'done';
    if (res.destroyed) return;
    let wrote = false;
    for (const [m, args] of queue.splice(0)) {
      call(m, args);
      if (m === 'write') wrote = true;
    }
    // A stream piped into the response saw `false` from write(): it waits for 'drain'.
    if (wrote && !res.writableEnded && !res.writableNeedDrain) res.emit('drain');
  };

  const refuse = (): void => {
    if (state !== 'holding') return;
    state = 'done';
    queue.length = 0;
    try {
      options.onRefused?.();
    } catch {
      // the refusal goes out regardless
    }
    if (res.destroyed || res.headersSent) {
      res.destroy();
      return;
    }
    for (const name of res.getHeaderNames()) if (!before.includes(name)) res.removeHeader(name);
    writeNodeProblem(
      res,
      problemFor(
        new BulwarkAuditError(ErrorCodes.AUDIT_UNAVAILABLE, 'the audit event could not be stored'),
        options.requestId !== undefined ? { requestId: options.requestId } : {},
      ),
    );
  };

  /** True when the call must be queued. */
  const hold = (status: number): boolean => {
    if (state === 'holding') return true;
    if (state === 'done') return false;
    let should: boolean;
    try {
      should = options.shouldHold();
    } catch {
      should = true; // fail closed: a marker that throws does not release the response
    }
    if (!should) {
      state = 'done';
      return false;
    }
    state = 'holding';
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(refuse, timeoutMs);
    timer.unref();
    const settle = (ok: boolean): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (ok) release();
      else refuse();
    };
    let stored: Promise<boolean>;
    try {
      stored = options.store(status);
    } catch {
      stored = Promise.resolve(false);
    }
    stored.then(settle, () => settle(false));
    return true;
  };

  const r = res as unknown as Record<Method, (...args: unknown[]) => unknown>;
  r.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const status = typeof args[0] === 'number' ? args[0] : res.statusCode;
    if (hold(status)) {
      queue.push(['writeHead', args]);
      return res;
    }
    return call('writeHead', args);
  };
  r.write = function (this: ServerResponse, ...args: unknown[]) {
    if (hold(res.statusCode)) {
      queue.push(['write', args]);
      return false;
    }
    return call('write', args);
  };
  r.end = function (this: ServerResponse, ...args: unknown[]) {
    if (hold(res.statusCode)) {
      queue.push(['end', args]);
      return res;
    }
    return call('end', args);
  };
  r.flushHeaders = function (this: ServerResponse, ...args: unknown[]) {
    if (hold(res.statusCode)) {
      queue.push(['flushHeaders', args]);
      return undefined;
    }
    return call('flushHeaders', args);
  };
}
