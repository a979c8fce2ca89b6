import { BULWARK_AUDITED, BULWARK_AUDITED_BY_CLASS, type AuditedMetadata } from './audited';
import type { PlatformRequest } from './request-tracking';

/** @nestjs/common's METHOD_METADATA (`@Get()`, `@Put()`... set it on a controller method). */
const METHOD_METADATA = 'method';
/**
 * @nestjs/platform-fastify's FASTIFY_ROUTE_CONFIG_METADATA (`@RouteConfig()`): the adapter passes
 * it as the Fastify route's `config`, which a request carries as `request.routeOptions.config`.
 */
const FASTIFY_ROUTE_CONFIG_METADATA = '__fastify_route_config__';
/** The route's `@Audited` in its Fastify route config (a symbol: never serialised, never clashes). */
const FASTIFY_AUDITED = Symbol.for('bulwark.nestjs.audited');

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

/** A controller's method names, inherited ones included (as Nest's MetadataScanner walks them). */
function methodNames(proto: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor') names.add(name);
  }
  return [...names];
}

/**
 * On @nestjs/platform-fastify, Fastify binds every route handler, so the metadata Nest copied onto
 * it cannot be read back from a request (`routeOptions.handler` is a bound function). Before the
 * routes are registered, this puts each `@Audited` route's metadata (the method's own, else its
 * controller's) into the method's Fastify route config, merged with any `@RouteConfig()` the app
 * set; Nest then registers the route with it and `routeAudit` reads it from
 * `request.routeOptions.config`. Called by BulwarkModule with its controllers.
 */
export function markAuditedRoutesForFastify(controllers: readonly unknown[]): boolean {
  let any = false;
  for (const controller of controllers) {
    if (typeof controller !== 'function') continue;
    const proto = (controller as { prototype?: object }).prototype;
    if (proto === undefined || proto === null) continue;
    const byClass = Reflect.getMetadata(BULWARK_AUDITED, controller) as AuditedMetadata | undefined;
    for (const name of methodNames(proto)) {
      const method = (proto as Record<string, unknown>)[name];
      if (typeof method !== 'function' || Reflect.getMetadata(METHOD_METADATA, method) === undefined)
        continue;
      const audited = auditOf(method as Handle) ?? byClass;
      if (audited === undefined) continue;
      const config = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, method) as object | undefined;
      Reflect.defineMetadata(
        FASTIFY_ROUTE_CONFIG_METADATA,
        { ...config, [FASTIFY_AUDITED]: audited },
        method,
      );
      any = true;
    }
  }
  return any;
}

/**
 * The route's `@Audited`, linked to the Node request by `linkFastifyRouteAudit`: what Nest
 * middleware on Fastify gets (middie hands it `request.raw`), so its refusals reach the filter
 * with that request only.
 */
const RAW_AUDITED = Symbol('bulwark.nestjs.rawRouteAudited');

/** The Fastify request members `linkFastifyRouteAudit` reads. */
interface FastifyRouted {
  raw: object;
  routeOptions?: { config?: Record<symbol, unknown> };
}

/**
 * Links an audited route's metadata (its Fastify route config) to the Node request, before Nest
 * middleware runs (BulwarkModule calls it from the adapter's request hook): a refusal by a
 * middleware, Bulwark's or the app's, is then audited under the route's action as on Express.
 * Never throws.
 */
export function linkFastifyRouteAudit(request: FastifyRouted): void {
  try {
    const audited = request.routeOptions?.config?.[FASTIFY_AUDITED];
    if (audited !== undefined) (request.raw as Record<symbol, unknown>)[RAW_AUDITED] = audited;
  } catch {
    // An unrouted request (no route context): nothing to link.
  }
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
 * Fastify: the route's config (see markAuditedRoutesForFastify), or for the Node request a Nest
 * middleware refused, what `linkFastifyRouteAudit` linked to it. Undefined when no audited route
 * matches (or the router is not one of these); never throws.
 */
export function routeAudit(req: PlatformRequest, instance: unknown): AuditedMetadata | undefined {
  try {
    const linked = (req as unknown as Record<symbol, unknown>)[RAW_AUDITED];
    if (linked !== undefined) return linked as AuditedMetadata;
    // In a middleware, `req.route` is the middleware's own catch-all route: only a controller
    // route's handler says which route the request is for.
    const routed = controllerHandle((req as { route?: RouteLike }).route?.stack?.map((l) => l.handle) ?? []);
    if (routed !== undefined) return auditOf(routed);
    const fastify = (req as { routeOptions?: { config?: Record<symbol, unknown> } }).routeOptions;
    if (fastify !== undefined) return fastify.config?.[FASTIFY_AUDITED] as AuditedMetadata | undefined;
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
