import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, throwError, type Observable } from 'rxjs';
import { BULWARK_AUDITED, type AuditedMetadata } from './audited';
import { BulwarkRuntime } from './bulwark-runtime';
import {
  noteError,
  trackedRuntime,
  trackRequest,
  type PlatformRequest,
  type PlatformResponse,
} from './request-tracking';

/** @nestjs/common's INTERCEPTORS_METADATA (what `@UseInterceptors()` sets on a method). */
const INTERCEPTORS_METADATA = '__interceptors__';
/** @nestjs/common's METHOD_METADATA (`@Get()`, `@Put()`... set it on a controller method). */
const METHOD_METADATA = 'method';

/** No `@Audited` on the route (cached as such: `undefined` means "not read yet"). */
const NOT_AUDITED = null;
/** `@Audited` of a route, by handler then controller (one handler can be inherited by several). */
const routeAudits = new WeakMap<object, WeakMap<object, AuditedMetadata | null>>();

/**
 * The route's `@Audited` (the method's own, else its controller's), read once per handler and
 * class: decorators are applied when the class is defined, not per request.
 */
export function auditedRoute(handler: object, controller: object): AuditedMetadata | undefined {
  let byClass = routeAudits.get(handler);
  if (byClass === undefined) routeAudits.set(handler, (byClass = new WeakMap()));
  let found = byClass.get(controller);
  if (found === undefined) {
    found = (Reflect.getMetadata(BULWARK_AUDITED, handler) ??
      Reflect.getMetadata(BULWARK_AUDITED, controller) ??
      NOT_AUDITED) as AuditedMetadata | null;
    byClass.set(controller, found);
  }
  return found ?? undefined;
}

/**
 * One call of an audited route: starts the request's audit (trackRequest) and notes the stable
 * code of an error the handler (or an inner interceptor) throws, then re-throws it untouched.
 */
function auditCall(
  runtime: BulwarkRuntime,
  execution: ExecutionContext,
  next: CallHandler,
): Observable<unknown> {
  const http = execution.switchToHttp();
  const audited = auditedRoute(execution.getHandler(), execution.getClass());
  const state = trackRequest(
    runtime,
    http.getRequest<PlatformRequest>(),
    http.getResponse<PlatformResponse>(),
    audited,
    execution,
  );
  // Nothing of this request is audited (no @Audited here, no `audit.allRequests`, or no audit
  // log): an error's code would be noted for no event.
  if (!state.auditing) return next.handle();
  return next.handle().pipe(
    catchError((error: unknown) => {
      noteError(state, error);
      return throwError(() => error);
    }),
  );
}

/**
 * Audits `@Audited` routes (or every route with `audit.allRequests`): one event per call, queued
 * when the response closes so that its outcome is the status the client really got, including
 * exceptions thrown by the handler (answered by the exception filter after this interceptor) and
 * refusals by guards that ran before it. The handler's stream is passed through untouched: the
 * response is never delayed by the audit log. Thrown errors are only noted (their stable code goes
 * into the event's details) and re-thrown.
 *
 * With the module's global enhancers (the default) BulwarkModule does not register this class as a
 * global interceptor: at start-up it puts {@link ROUTE_AUDIT_INTERCEPTOR} on the routes that are
 * audited (every route with `audit.allRequests`), so the others run without an interceptor chain.
 * Apply this class yourself (`@UseInterceptors`, `useGlobalInterceptors`) with `globalEnhancers: false`.
 */
@Injectable()
export class BulwarkAuditInterceptor implements NestInterceptor {
  constructor(
    // Kept for the constructor's signature: the route's @Audited is read once per route (auditedRoute).
    readonly reflector: Reflector,
    private readonly runtime: BulwarkRuntime,
  ) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'http') return next.handle();
    return auditCall(this.runtime, execution, next);
  }
}

/**
 * The audit interceptor BulwarkModule puts on audited routes at start-up (see
 * {@link attachRouteAuditInterceptor}). One shared, stateless object: the route metadata it sits in
 * belongs to the controller class, which several applications of one process may share (tests), so
 * it finds the application's BulwarkRuntime on the request (set by Bulwark's middleware and guard)
 * and passes the call through when there is none (an application without BulwarkModule).
 */
export const ROUTE_AUDIT_INTERCEPTOR: NestInterceptor = Object.freeze({
  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'http') return next.handle();
    const runtime = trackedRuntime(execution.switchToHttp().getRequest<object>());
    return runtime === undefined ? next.handle() : auditCall(runtime, execution, next);
  },
});

/** A controller's method names, inherited ones included (as Nest's MetadataScanner walks them). */
function methodNames(proto: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor') names.add(name);
  }
  return [...names];
}

/**
 * Before Nest registers the routes (BulwarkModule.configure), puts {@link ROUTE_AUDIT_INTERCEPTOR}
 * first among each audited route's own interceptors (`@Audited` on the method or its controller;
 * with `all`, `audit.allRequests`, every route). Nest builds a route's interceptor chain once, at
 * registration, from the global, controller and method interceptors: a route without any runs its
 * handler without rxjs, which a global audit interceptor would impose on every route. Idempotent
 * (a second application over the same controllers adds nothing). `needed(controller, method)`
 * false: the route runs without it (BulwarkModule, when only Bulwark's global filter can catch the
 * route's errors and nothing else can intercept them).
 */
export function attachRouteAuditInterceptor(
  controllers: readonly unknown[],
  all: boolean,
  needed: (controller: object, method: object) => boolean = () => true,
): void {
  for (const controller of controllers) {
    if (typeof controller !== 'function') continue;
    const proto = (controller as { prototype?: object }).prototype;
    if (proto === undefined || proto === null) continue;
    for (const name of methodNames(proto)) {
      const method = (proto as Record<string, unknown>)[name];
      if (typeof method !== 'function' || Reflect.getMetadata(METHOD_METADATA, method) === undefined)
        continue;
      if (!all && auditedRoute(method, controller) === undefined) continue;
      if (!needed(controller, method)) continue;
      const own = (Reflect.getMetadata(INTERCEPTORS_METADATA, method) as unknown[] | undefined) ?? [];
      if (own.includes(ROUTE_AUDIT_INTERCEPTOR)) continue;
      Reflect.defineMetadata(INTERCEPTORS_METADATA, [ROUTE_AUDIT_INTERCEPTOR, ...own], method);
    }
  }
}
