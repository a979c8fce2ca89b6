import type { ServerResponse } from 'node:http';
import { AUDIT_LIMITS } from '../audit/audit-event';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import type { BulwarkHttpKit } from './http-kit';
import type { HttpPrincipal } from './http-principal';
import type { RequestArrival } from './request-arrival';
import type { RequestAuditFacts } from './request-audit';
import type { DenialExplanation } from '../authz/denial-explanation';
import { holdResponseUntilAudited, type RouteAuditMarks } from './request-audit-hold';
import type { RequestAuditor } from './request-auditor';

/** What the adapter's steps learned about a request, read when its audit event is built. */
export interface AuditedRequestState {
  resource?: { type: string; id?: string };
  reasonId?: string;
  /** Why authorization denied the request (set by `authorize` on a deny), for the audit event. */
  denial?: DenialExplanation;
  errorCode?: string;
  errorReason?: string;
  /** Route audit markers (`auditRoute`, `requireConsent`): action, category, classified, failure policy. */
  audit?: RouteAuditMarks;
  /**
   * The account an anonymous request acted as, named by the handler (`auditActor`): a login route
   * knows the user only after it checked the password. A principal, when there is one, wins.
   */
  actor?: AuditActorId;
  /**
   * Set by the audit step (`watchRequestAudit`) when it did not hold the response from the start:
   * installs the fail-closed hold once the route marks call for it. Route markers call it through
   * `markRouteAudit`; never set by hand.
   */
  armAuditHold?: () => void;
}

/** An account named by `auditActor`. */
export interface AuditActorId {
  readonly id: string;
  readonly type: 'user' | 'service';
}

/**
 * Checks what a handler passes to an adapter's `auditActor(req, id, type?)`: a non-empty string id
 * of at most 256 characters (the audit log's limit), type `user` or `service`. Throws a
 * BulwarkConfigError (a programming error, never client input).
 */
export function checkAuditActor(id: unknown, type: unknown = 'user'): AuditActorId {
  if (typeof id !== 'string' || id.length === 0 || id.length > AUDIT_LIMITS.actorId) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'auditActor: id must be a string of 1 to 256 characters',
      {
        path: 'auditActor.id',
      },
    );
  }
  if (type !== 'user' && type !== 'service') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, "auditActor: type must be 'user' or 'service'", {
      path: 'auditActor.type',
    });
  }
  return Object.freeze({ id, type });
}

/**
 * What Bulwark's Express and Koa middlewares learn about a request (`BulwarkRequestState` of
 * either adapter), read by `audit` when the response ends.
 */
export interface HttpRequestState extends AuditedRequestState {
  /** What the request was when it arrived (request id, client address, user agent). */
  arrival?: RequestArrival;
  /** Services of the `bulwark()` bundle, for `authorize` / `requireConsent` used without explicit ones. */
  kit?: BulwarkHttpKit;
  /** Set by `authenticate`: the auth scheme a 401 challenge names (its first accepted scheme). */
  authScheme?: string;
}

/**
 * How `watchRequestAudit` reads one request of an adapter (Express `req`, Koa `ctx`). Everything
 * but `method` and `arrival` is read late, when the event is built: the router, `authenticate`
 * and the route markers run after the audit step.
 */
export interface AuditedRequest {
  method: string;
  /** Taken when the request arrived: by 'close' the socket may be gone. */
  arrival: RequestArrival;
  /** The matched route pattern (`/patients/:id`), else the path. */
  route(): string;
  /** The request id the `requestId` step set, if any (else the arrival's). */
  requestId(): string | undefined;
  principal(): HttpPrincipal | undefined;
  /** The request's Bulwark state (created on first use: `errorCode` is written back to it). */
  state(): AuditedRequestState;
  /**
   * The audit markers of the route the request is for, when its own markers never ran (a step
   * before the router refused it): the event then carries the route's action and category.
   */
  routeMarks?(): RouteAuditMarks | undefined;
}

/**
 * The audit step shared by the Express and Koa adapters, started when a request arrives: one
 * audit event per request, recorded when the response is done (2xx/3xx success, 401/403 denied,
 * else failure; 499 for a response the client abandoned), handed to the AuditLog without waiting.
 * A `'fail-closed'` request (see `auditFailurePolicy`) is recorded when its response starts
 * instead, and the response is withheld until the event is durable: if it cannot be stored, the
 * client gets 503 problem+json (ERR_AUDIT_UNAVAILABLE) and nothing the handler wrote. The 'close'
 * listener never throws (what it would throw goes to the auditor's `onError`).
 */
export function watchRequestAudit(
  auditor: RequestAuditor,
  res: ServerResponse,
  request: AuditedRequest,
): void {
  const watch = new RequestAuditWatch(auditor, res, request);
  if (auditor.holdsEveryRequest) watch.arm();
  else {
    // Most routes never fail closed: the hold (four wrapped response methods) is installed only
    // when a route marker makes this request's policy 'fail-closed' (`markRouteAudit`), which
    // happens before the handler writes. A marker that runs after the response started cannot
    // withhold it (the old behaviour too: the hold decided at the first write).
    const state = request.state();
    // A bound method, not a closure: see RequestAuditWatch.
    state.armAuditHold = watch.armIfFailClosed.bind(watch);
    // Marks set before this step (by a step ahead of the audit step) count as well.
    if (state.audit !== undefined) watch.armIfFailClosed();
  }
  // 'finish' says the whole response was handed over; `writableFinished` alone is false on
  // responses that are not a socket's (light-my-request's, behind Fastify's `app.inject()`).
  // `on`, not `once`: each event fires once per response, and `once` allocates a wrapper per
  // listener. Both listeners are shared by every response: they find the request's watch on it.
  // A response watched again (a second audit step, another auditor) chains the watches: the
  // listeners, registered once, reach each of them.
  const watched = res as WatchedResponse;
  const earlier = watched[WATCH];
  watched[WATCH] = watch;
  if (earlier !== undefined) {
    watch.earlier = earlier;
    return;
  }
  res.on('finish', onResponseFinish);
  res.on('close', onResponseClose);
}

/** Where a watched response keeps its RequestAuditWatch, for the shared listeners. */
const WATCH = Symbol('bulwark.requestAuditWatch');
type WatchedResponse = ServerResponse & { [WATCH]?: RequestAuditWatch };

function onResponseFinish(this: WatchedResponse): void {
  for (let watch = this[WATCH]; watch !== undefined; watch = watch.earlier) watch.finished = true;
}

function onResponseClose(this: WatchedResponse): void {
  const last = this[WATCH];
  // Let go of the request once it is recorded. Measured on the Fastify bundle under load: a watch
  // left on the response kept the request's objects alive through young-generation collections
  // (about 2.5 MB copied per collection, against 67 KB with this line), as if the response
  // outlived its request in the old generation.
  this[WATCH] = undefined;
  if (last?.earlier === undefined) {
    last?.closed();
    return;
  }
  // The first watch first: the order the events were recorded in before the watches were chained.
  const watches: RequestAuditWatch[] = [];
  for (let watch: RequestAuditWatch | undefined = last; watch !== undefined; watch = watch.earlier) {
    watches.push(watch);
  }
  for (let i = watches.length - 1; i >= 0; i--) watches[i]!.closed();
}

/**
 * One request's audit state, as one object whose response listeners are shared by every response.
 * A response keeps its listeners after 'close', so listeners made per request would hold the
 * request until the response itself is collected; the shared ones find the watch on the response,
 * which lets go of it at 'close' (measured on Fastify, see onResponseClose and bench/README.md).
 */
class RequestAuditWatch {
  finished = false;
  /** The watch of an audit step that watched this response before (rare), or undefined. */
  earlier?: RequestAuditWatch;
  #recorded = false;
  #armed = false;
  readonly #start = performance.now();
  readonly #auditor: RequestAuditor;
  readonly #res: ServerResponse;
  readonly #request: AuditedRequest;
  /** Header names present now (set by the steps before this one) survive a 503 refusal. */
  readonly #headersBefore: readonly string[];

  constructor(auditor: RequestAuditor, res: ServerResponse, request: AuditedRequest) {
    this.#auditor = auditor;
    this.#res = res;
    this.#request = request;
    this.#headersBefore = res.getHeaderNames();
  }

  /** The event's facts, read when the event is built (the router and later steps have run). */
  facts(status: number): RequestAuditFacts {
    const request = this.#request;
    const { arrival } = request;
    const state = request.state();
    const principal = request.principal() ?? state.actor;
    const audit = state.audit ?? request.routeMarks?.();
    // Built by assignment (no spread of a temporary object per optional field): one object per event.
    const f: RequestAuditFacts = {
      method: request.method,
      route: request.route(),
      status,
      latencyMs: performance.now() - this.#start,
      requestId: request.requestId() ?? arrival.requestId,
    };
    if (arrival.clientRequestId !== undefined) f.clientRequestId = arrival.clientRequestId;
    if (principal !== undefined) f.principal = principal;
    if (arrival.ip !== undefined) f.ip = arrival.ip;
    if (arrival.userAgent !== undefined) f.userAgent = arrival.userAgent;
    if (state.resource !== undefined) f.resource = state.resource;
    if (state.errorCode !== undefined) f.errorCode = state.errorCode;
    if (state.errorReason !== undefined) f.errorReason = state.errorReason;
    if (state.reasonId !== undefined) f.reasonId = state.reasonId;
    if (state.denial !== undefined) f.denial = state.denial;
    if (audit?.action !== undefined) f.action = audit.action;
    if (audit?.category !== undefined) f.category = audit.category;
    return f;
  }

  /** `state.armAuditHold`: installs the hold once the route marks make the policy 'fail-closed'. */
  armIfFailClosed(): void {
    if (this.#armed || this.#res.headersSent) return;
    if (this.#auditor.policy(this.#request.state().audit ?? {}) === 'fail-closed') this.arm();
  }

  /** Withholds the response until its event is durable (rare: fail-closed routes only). */
  arm(): void {
    this.#armed = true;
    const auditor = this.#auditor;
    const request = this.#request;
    holdResponseUntilAudited(this.#res, {
      shouldHold: () => auditor.policy(request.state().audit ?? {}) === 'fail-closed',
      store: (status) => {
        this.#recorded = true;
        return auditor.store(this.facts(status));
      },
      requestId: request.requestId() ?? request.arrival.requestId,
      timeoutMs: auditor.holdTimeoutMs,
      onRefused: () => {
        auditor.noteRefused();
        request.state().errorCode = ErrorCodes.AUDIT_UNAVAILABLE;
      },
      headersBefore: this.#headersBefore,
    });
  }

  /** The response's 'close': records the event unless the hold did. Never throws. */
  closed(): void {
    try {
      if (this.#recorded) return;
      this.#recorded = true;
      const res = this.#res;
      // A response the client abandoned before it finished: 499 (nginx's "client closed request").
      this.#auditor.record(this.facts(this.finished || res.writableFinished ? res.statusCode : 499));
    } catch (error) {
      // Never into the emitter, where it would be an uncaught exception that ends the process.
      this.#auditor.reportListenerError(error);
    }
  }
}

/**
 * Adds a route's audit markers to the request (`auditRoute`, `requireConsent`), and
 * installs the audit step's fail-closed hold when they make the request's policy 'fail-closed'.
 * Adapters set route marks only through this: a mark written to `state.audit` directly would not
 * withhold the response.
 */
export function markRouteAudit(state: AuditedRequestState, marks: Readonly<RouteAuditMarks>): void {
  state.audit = addRouteAuditMarks(state.audit, marks);
  state.armAuditHold?.();
}

/**
 * A route's audit markers added to those already on the request (`auditRoute` after
 * `requireConsent`): later markers win, except that `classified` once set stays set.
 */
export function addRouteAuditMarks(
  current: RouteAuditMarks | undefined,
  marks: Readonly<RouteAuditMarks>,
): RouteAuditMarks {
  return { ...current, ...marks, classified: current?.classified === true || marks.classified === true };
}
