/** @nestjs/common's METHOD_METADATA (`@Get()`, `@Put()`... set it on a controller method). */
const METHOD_METADATA = 'method';
import { BULWARK_AUDITED, BULWARK_AUDITED_BY_CLASS, type AuditedMetadata } from './audited';
import type { PlatformRequest } from './request-tracking';

type Handle = (...args: never[]) => unknown;
interface RouteLike {
  stack?: readonly { handle?: Handle }[];
  _handlesMethod?(method: string): boolean;
  _handles_method?(method: string): boolean;
}
interface LayerLike {
  route?: RouteLike;
  match?(path: string): boolean;
}
interface ExpressLike {
  router?: { stack?: readonly LayerLike[] };
  _router?: { stack?: readonly LayerLike[] };
}

/** A controller route's handler: Nest copied the method's route metadata (`method`) onto it. */
function controllerHandle(handles: readonly (Handle | undefined)[]): Handle | undefined {
  return handles.find(
    (h): h is Handle => typeof h === 'function' && Reflect.getMetadata(METHOD_METADATA, h) !== undefined,
  );
}

function auditOf(handle: Handle): AuditedMetadata | undefined {
  return (Reflect.getMetadata(BULWARK_AUDITED, handle) ??
    Reflect.getMetadata(BULWARK_AUDITED_BY_CLASS, handle)) as AuditedMetadata | undefined;
}

/**
 * The `@Audited` metadata of the route a request is for, read from the handler Nest registered
 * with the router (Nest copies the controller method's metadata onto it): for a request refused
 * before Bulwark's guard saw the route (the app's own guard or auth ran first, or Bulwark's
 * middleware refused it: CSRF, input guard), so the refusal is audited under the route's action.
 * Express: the matched route (`req.route`), else the app router's route for the method and path;
 * Fastify: the route's handler. Undefined when no audited route matches (or the router is not one
 * of these); never throws.
 */
export function routeAudit(req: PlatformRequest, instance: unknown): AuditedMetadata | undefined {
  try {
    // In a middleware, `req.route` is the middleware's own catch-all route: only a controller
    // route's handler says which route the request is for.
    const routed = controllerHandle((req as { route?: RouteLike }).route?.stack?.map((l) => l.handle) ?? []);
    if (routed !== undefined) return auditOf(routed);
    const fastify = (req as { routeOptions?: { handler?: Handle } }).routeOptions?.handler;
    if (typeof fastify === 'function') return auditOf(fastify);
    const app = instance as ExpressLike | undefined;
    const stack = app?.router?.stack ?? app?._router?.stack;
    if (stack === undefined) return undefined;
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method.toLowerCase();
    for (const layer of stack) {
      const route = layer.route;
      if (route === undefined || typeof layer.match !== 'function') continue;
      const handle = controllerHandle((route.stack ?? []).map((l) => l.handle));
      if (handle === undefined) continue;
      const handles = route._handlesMethod?.(method) ?? route._handles_method?.(method) ?? false;
      // The first controller route that matches is the one Express dispatches to.
      if (handles && layer.match(path)) return auditOf(handle);
    }
  } catch {
    // A router of another shape: no audit found, never a failed response.
  }
  return undefined;
}
