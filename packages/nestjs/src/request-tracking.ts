import type { ExecutionContext } from '@nestjs/common';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { BulwarkError, type DenialExplanation } from '@bulwark/core';
import type { AuditedMetadata } from './audited';
import type { BulwarkRequestContext } from './bulwark-request-context';
import type { BulwarkRuntime } from './bulwark-runtime';
import { ErrorCodes } from '@bulwark/core';
import {
  TrustedProxies,
  captureRequestArrival,
  detachExpressRequestShape,
  checkAuditActor,
  type AuditActorId,
  holdResponseUntilAudited,
  noteDenial,
  refusalReason,
  type HttpPrincipal,
  type RequestArrival,
} from './core-http';
import { resolveResource } from './resource-spec';

/**
 * The request as Bulwark reads it. Express requests have these members; Fastify requests too,
 * except the route pattern (`routeOptions.url` instead of `route.path`).
 */
export interface PlatformRequest {
  method: string;
  url?: string;
  headers: IncomingHttpHeaders;
  ip?: string;
  socket?: { remoteAddress?: string } | null;
  params?: Record<string, string>;
  query?: Record<string, unknown>;
  body?: unknown;
  route?: { path?: unknown };
  routeOptions?: { url?: string };
  principal?: HttpPrincipal;
  user?: unknown;
  requestId?: string;
}

/** Express's response is a ServerResponse; Fastify's reply wraps one in `raw`. */
export type PlatformResponse = ServerResponse | { raw: ServerResponse };

/** What Bulwark learns while handling one request; read when the response ends. */
export interface BulwarkRequestState {
  /** The application's Bulwark objects (ROUTE_AUDIT_INTERCEPTOR finds them here). */
  readonly runtime: BulwarkRuntime;
  requestId: string;
  /** Request id, client address (under `trustProxy`) and user agent, taken when Bulwark first saw the request. */
  arrival: RequestArrival;
  startedAt: number;
  auditing: boolean;
  resource?: { type: string; id?: string };
  reasonId?: string;
  /** Why `@Authorize` denied the request (no values), for the audit event's `details.denial`. */
  denial?: DenialExplanation;
  errorCode?: string;
  /** What exactly failed (`aud.check_failed`): audited, never answered. */
  errorReason?: string;
  /**
   * BulwarkGuard let the request in: an error from here on was thrown by a pipe, the handler or
   * its response, and is noted as thrown (BulwarkExceptionFilter; the route's audit interceptor
   * when it has one).
   */
  admitted?: boolean;
  /** The route's `@Audited` metadata, once a guard or interceptor has seen the route. */
  audited?: AuditedMetadata;
  /** The execution context the route was seen in (resource resolvers need it). */
  execution?: ExecutionContext;
  /** The route reads or changes classified data (`@RequireConsent`): its audit fails closed. */
  classified?: boolean;
  /** The account an anonymous request acted as (`auditActor`, e.g. on a login route). */
  actor?: AuditActorId;
  /**
   * The request object (Node's, or on Fastify the wrapper the exception filter sees) whose response
   * the module's security-header step handled: BulwarkHttpSteps.secure sets nothing again for it.
   */
  secured?: object;
  /** Holds the response until its event is durable, when the request's policy is fail-closed (once). */
  hold?: () => void;
}

const STATE = Symbol.for('bulwark.nestjs.request-state');
type Tracked = PlatformRequest & { [STATE]?: BulwarkRequestState };

/**
 * Names the account this request acted as, for the `@Audited` event, when the request has no
 * principal: a login route learns the user only after it checked the password
 * (`auditActor(req, user.id)` in the handler). Pass the user's id, never the e-mail or user name
 * unless the app classifies them. A principal (a verified token, a signed-in session) always wins.
 */
export function auditActor(req: unknown, id: string, type: 'user' | 'service' = 'user'): void {
  const actor = checkAuditActor(id, type);
  // The state lives on the Node request (trackRequest): on platform-fastify `@Req()` is the
  // FastifyRequest, whose `.raw` holds it.
  const state = req !== null && typeof req === 'object' ? (nodeRequest(req) as Tracked)[STATE] : undefined;
  if (state !== undefined) state.actor = actor;
}

/** Bulwark's state of a request (the Node request or a platform request wrapping it), once tracked. */
export function requestState(req: object): BulwarkRequestState | undefined {
  return (nodeRequest(req) as Tracked)[STATE];
}

/** The BulwarkRuntime of the application that tracks this request, if one does. */
export function trackedRuntime(req: object): BulwarkRuntime | undefined {
  return (nodeRequest(req) as Tracked)[STATE]?.runtime;
}

export function rawResponse(res: PlatformResponse): ServerResponse {
  return 'raw' in res ? res.raw : res;
}

/**
 * The Node request under a platform request: Express's req is one; @nestjs/platform-fastify hands
 * middleware the raw IncomingMessage and guards, interceptors and filters the FastifyRequest that
 * wraps it (as `raw`). Bulwark keeps its per-request state, and what its middleware sets (request
 * id, session, CSRF token), on the Node request, so every stage of one request sees the same.
 */
export function nodeRequest<T extends object>(req: T): T {
  // The request Bulwark tracks (Express's, from the first step on) holds the state itself: no
  // lookup of a `raw` member it does not have, a walk up its long prototype chain.
  if ((req as Tracked)[STATE] !== undefined) return req;
  const raw = (req as { raw?: unknown }).raw;
  return (typeof raw === 'object' && raw !== null ? raw : req) as T;
}

function routeOf(req: PlatformRequest): string {
  const pattern = req.route?.path ?? req.routeOptions?.url;
  if (typeof pattern === 'string') return pattern;
  // No matched route (404, or refused before routing): the path without its query string.
  return (req.url ?? '/').split('?')[0];
}

/** The view resource resolvers and `authzContext` get. */
export function requestContext(req: PlatformRequest, execution: ExecutionContext): BulwarkRequestContext {
  return {
    params: req.params ?? {},
    query: req.query ?? {},
    body: req.body,
    headers: req.headers,
    principal: req.principal,
    user: req.principal,
    execution,
  };
}

/** Keeps the stable code (and a deny's reason id) of an error for the request's audit event. */
export function noteError(state: BulwarkRequestState, error: unknown): void {
  if (state.errorCode !== undefined) return;
  if (error instanceof BulwarkError) {
    state.errorCode = error.code;
    const errorReason = refusalReason(error);
    if (errorReason !== undefined) state.errorReason = errorReason;
    const reasonId = error.details?.reasonId;
    if (typeof reasonId === 'string') state.reasonId = reasonId;
    noteDenial(state, error);
  } else if (error instanceof Error) {
    // Only the class name (e.g. NotFoundException): messages of app errors can hold anything.
    state.errorCode = error.name.slice(0, 64);
  }
}

/**
 * Starts (once per request, whichever of guard, interceptor or filter runs first) Bulwark's
 * handling: the request id, echoed as X-Request-Id; and, when the route is audited, one audit event
 * queued when the response closes, with the outcome taken from the final status. Audit happens on
 * 'close' rather than in the interceptor's stream because guards run before interceptors and
 * exception filters after them: only the finished response knows the status the client got.
 */
export function trackRequest(
  runtime: BulwarkRuntime,
  req: PlatformRequest,
  res: PlatformResponse,
  audited?: AuditedMetadata,
  execution?: ExecutionContext,
  /** The route reads or changes classified data (`@RequireConsent`): its audit fails closed. */
  classified = false,
): BulwarkRequestState {
  const tracked = nodeRequest(req) as Tracked;
  let state = tracked[STATE];
  const raw = rawResponse(res);
  if (state !== undefined) {
    // Later calls (guard, interceptor, filter): the ids are set; a Fastify request (the wrapper
    // of the tracked Node request) gets the id once.
    if (req !== tracked && req.requestId !== state.requestId) req.requestId = state.requestId;
  } else {
    // On platform-express: the request and its response leave their per-request hidden classes for
    // dictionary properties before Bulwark adds its own (core's express-object-shape.ts).
    detachExpressRequestShape(tracked);
    const arrival = captureRequestArrival(
      { headers: req.headers, remoteAddress: req.socket?.remoteAddress },
      runtime.proxies,
    );
    // `req.requestId` can only have been set by server code (an earlier Bulwark middleware);
    // a client's X-Request-Id is never adopted (it is kept as arrival.clientRequestId).
    const requestId = tracked.requestId ?? arrival.requestId;
    state = { runtime, requestId, arrival, startedAt: performance.now(), auditing: false };
    tracked[STATE] = state;
    tracked.requestId = requestId;
    if (req !== tracked) req.requestId = requestId;
    if (!raw.headersSent) raw.setHeader('X-Request-Id', requestId);
  }
  // What the route says is read when the response starts / ends: a guard may see the route after
  // the middleware started tracking the request.
  // Whether this call tells something the request's audit policy depends on that it did not know
  // (the guard and then the route's interceptor name the same route: nothing new the second time).
  const news =
    (audited !== undefined && audited !== state.audited) || (classified && state.classified !== true);
  if (audited !== undefined) {
    state.audited = audited;
    if (execution !== undefined) state.execution = execution;
  }
  if (classified) state.classified = true;
  const auditor = runtime.auditor;
  if (state.auditing) {
    // The route's marks may have made the request fail-closed (audit started by the middleware).
    if (news) state.hold?.();
  } else if (auditor !== undefined && (audited !== undefined || runtime.auditAll)) {
    state.auditing = true;
    const current = state;
    const { arrival } = current;
    const facts = (status: number, latencyMs: number, resource?: { type: string; id?: string }) => ({
      method: req.method,
      route: routeOf(req),
      status,
      latencyMs,
      requestId: current.requestId,
      ...(arrival.clientRequestId !== undefined ? { clientRequestId: arrival.clientRequestId } : {}),
      ...(req.principal !== undefined
        ? { principal: req.principal }
        : current.actor !== undefined
          ? { principal: current.actor }
          : {}),
      ...(arrival.ip !== undefined ? { ip: arrival.ip } : {}),
      ...(arrival.userAgent !== undefined ? { userAgent: arrival.userAgent } : {}),
      ...(resource !== undefined ? { resource } : {}),
      ...(current.errorCode !== undefined ? { errorCode: current.errorCode } : {}),
      ...(current.errorReason !== undefined ? { errorReason: current.errorReason } : {}),
      ...(current.reasonId !== undefined ? { reasonId: current.reasonId } : {}),
      ...(current.denial !== undefined ? { denial: current.denial } : {}),
      ...(current.audited !== undefined ? { action: current.audited.action } : {}),
      ...(current.audited?.category !== undefined ? { category: current.audited.category } : {}),
    });
    // Both the listener and the deferred write are wrapped: nothing they throw may reach the
    // emitter (an uncaught exception) or the promise chain (an unhandled rejection).
    const write = auditor.listener(
      (status: number, latencyMs: number, resource?: { type: string; id?: string }) =>
        auditor.record(facts(status, latencyMs, resource)),
    );
    let recorded = false;
    const failsClosed = (): boolean =>
      current.audited !== undefined || runtime.auditAll
        ? auditor.policy({
            ...(current.audited?.onFailure !== undefined ? { onFailure: current.audited.onFailure } : {}),
            ...(current.audited?.category !== undefined ? { category: current.audited.category } : {}),
            ...(current.classified === true ? { classified: true } : {}),
          }) === 'fail-closed'
        : false;
    // Fail-closed routes: the event is stored when the response starts, and the response waits.
    // The hold wraps the response's write methods; it is put on only once the request's policy
    // is fail-closed (now, or when a later guard / filter call names the route or marks it
    // classified, always before the response's first write), and it still asks at that write.
    let holding = false;
    current.hold = () => {
      if (holding || raw.headersSent || !failsClosed()) return;
      holding = true;
      holdResponseUntilAudited(raw, {
        shouldHold: failsClosed,
        store: async (status) => {
          recorded = true;
          const latencyMs = performance.now() - current.startedAt;
          let resource: { type: string; id?: string } | undefined;
          try {
            resource = await auditedResource(current.audited, req, current.execution, current);
          } catch {
            resource = current.resource;
          }
          return auditor.store(facts(status, latencyMs, resource));
        },
        requestId: current.requestId,
        timeoutMs: auditor.holdTimeoutMs,
        onRefused: () => {
          auditor.noteRefused();
          current.errorCode = ErrorCodes.AUDIT_UNAVAILABLE;
        },
      });
    };
    current.hold();
    raw.once(
      'close',
      auditor.listener(() => {
        if (recorded) return;
        // A response the client abandoned before it finished: 499 (nginx's "client closed request").
        const status = raw.writableFinished ? raw.statusCode : 499;
        const latencyMs = performance.now() - current.startedAt;
        // Most routes name no resource or a type: the event is queued now, without a promise.
        const known = knownAuditedResource(current.audited, current.execution, current);
        if (known !== RESOLVE) {
          write(status, latencyMs, known);
          return;
        }
        runtime.defer(
          auditedResource(current.audited, req, current.execution, current).then(
            (resource) => write(status, latencyMs, resource),
            () => write(status, latencyMs, current.resource),
          ),
        );
      }),
    );
  }
  return state;
}

/** A resource spec that must be resolved against the request (a function or a loader). */
const RESOLVE = Symbol('resolve');

/**
 * What auditedResource would give, when that needs no resolution: no `@Audited` resource (the one
 * `@Authorize` checked, if any) or a resource type; RESOLVE for a spec that reads the request.
 */
function knownAuditedResource(
  audited: AuditedMetadata | undefined,
  execution: ExecutionContext | undefined,
  state: BulwarkRequestState,
): { type: string; id?: string } | undefined | typeof RESOLVE {
  const spec = audited?.resource;
  if (spec === undefined || execution === undefined) return state.resource;
  // checkResourceSpec (at decoration) allows only non-empty type names.
  if (typeof spec === 'string') return { type: spec };
  return RESOLVE;
}

/** The `@Audited` resource, else the one `@Authorize` checked. Never throws: the event is written regardless. */
async function auditedResource(
  audited: AuditedMetadata | undefined,
  req: PlatformRequest,
  execution: ExecutionContext | undefined,
  state: BulwarkRequestState,
): Promise<{ type: string; id?: string } | undefined> {
  if (audited?.resource !== undefined && execution !== undefined) {
    try {
      const r = await resolveResource(audited.resource, () => requestContext(req, execution));
      return r.id !== undefined ? { type: r.type, id: r.id } : { type: r.type };
    } catch {
      // A resolver that fails (e.g. on a refused request's incomplete body) must not suppress the event.
    }
  }
  return state.resource;
}

const NO_PROXIES = new TrustedProxies(false);

/**
 * The client address Bulwark uses (audit events, `context.ip` conditions), decided by
 * @bulwark/core's TrustedProxies from the socket and X-Forwarded-For with the module's
 * `trustProxy` setting; use it for brute-force counters too. Express's `req.ip` (its own
 * `trust proxy` setting) is not consulted. On a request Bulwark has not tracked (no global
 * guard), the socket's peer address.
 */
export function clientIp(req: object): string | undefined {
  const state = (nodeRequest(req) as Tracked)[STATE];
  if (state !== undefined) return state.arrival.ip;
  const socket = (req as { socket?: { remoteAddress?: string } | null }).socket;
  return NO_PROXIES.clientAddress(socket?.remoteAddress, undefined);
}
