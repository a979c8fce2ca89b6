import { Scope, type Type } from '@nestjs/common';
import { ContextIdFactory, type ModuleRef } from '@nestjs/core';
import { REQUEST_CONTEXT_ID } from '@nestjs/core/internal';
import { BulwarkConfigError, ErrorCodes, type AuthzContext, type AuthzResource } from '@bulwark/core';
import type { BulwarkRequestContext } from './bulwark-request-context';
import { resolveHttpResource } from './core-http';

type Loaded = AuthzResource | string | null | undefined;

/** The context BulwarkGuard decided a request with, for the field filter that runs after it. */
export const decidedContexts = new WeakMap<object, AuthzContext>();

/**
 * A resource loader provided through Nest's dependency injection (an `@Injectable()` with your
 * repositories injected, e.g. `@InjectRepository(Note)`): reads the stored record with the
 * attributes the policy's conditions need (owner, tenant), so the decision is about the record,
 * not an id from the URL (ASVS V8.2.2). `undefined` / `null`: no such record (404). It may be
 * request-scoped (`@Injectable({ scope: Scope.REQUEST })`, injecting `REQUEST` or a request-scoped
 * service): it is then resolved in the request's own DI sub-tree.
 */
export interface ResourceLoader {
  load(request: BulwarkRequestContext): Loaded | Promise<Loaded>;
}

/**
 * A resource: its type (`'records'`), a full resource (`{ type: 'records', id: '1' }`), a function
 * of the request, e.g. `(r) => ({ type: 'records', id: r.params.id })` (it may be async and load
 * the record), or `{ loader: RecordLoader }`, a `ResourceLoader` provider resolved from the module.
 */
export type ResourceSpec =
  | string
  | AuthzResource
  | ((request: BulwarkRequestContext) => Loaded | Promise<Loaded>)
  | { readonly loader: Type<ResourceLoader> };

/** Decoration-time check, so a bad decorator fails when the controller class loads. */
export function checkResourceSpec(spec: unknown, path: string): ResourceSpec {
  const ok =
    (typeof spec === 'string' && spec.length > 0) ||
    typeof spec === 'function' ||
    (typeof spec === 'object' &&
      spec !== null &&
      typeof (spec as { loader?: unknown }).loader === 'function') ||
    (typeof spec === 'object' &&
      spec !== null &&
      typeof (spec as { type?: unknown }).type === 'string' &&
      (spec as { type: string }).type.length > 0);
  if (!ok) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `${path} must be a resource type, a resource { type, id? }, a function of the request or { loader }`,
      { path },
    );
  }
  return spec as ResourceSpec;
}

/**
 * The loader provider: the module's singleton, or, for a request-scoped / transient provider
 * (which `get()` refuses), the instance of this request's DI sub-tree. The request's context id
 * is attached to the request the way Nest's router does it (`REQUEST_CONTEXT_ID`, registered once
 * with the request as `REQUEST`), so the loader, a request-scoped controller, and any later
 * `moduleRef.resolve(X, ContextIdFactory.getByRequest(req))` in an interceptor or handler share
 * one sub-tree, whichever of them comes first. Durable providers (`ContextIdFactory.apply()`) are
 * not supported as loaders: Nest registers a durable tree's payload, not the request, as REQUEST.
 */
async function loaderOf(
  type: Type<ResourceLoader>,
  moduleRef: ModuleRef | undefined,
  platformRequest: object | undefined,
): Promise<ResourceLoader | undefined> {
  if (moduleRef === undefined) return undefined;
  let scope: Scope | undefined;
  try {
    ({ scope } = moduleRef.introspect(type));
  } catch {
    return undefined; // not a provider of the application: the caller's config error names it
  }
  if (scope === Scope.DEFAULT || platformRequest === undefined) return moduleRef.get(type, { strict: false });
  // The request's context id: the one Nest attached (a request-scoped controller on the route),
  // or a new one attached now, as RouterExplorer.getContextId does, so everything resolved later
  // for this request finds it. Registering the request under it makes `@Inject(REQUEST)` this
  // request.
  const contextId = ContextIdFactory.getByRequest(platformRequest);
  const holder = platformRequest as Record<symbol | string, unknown>;
  const raw = holder.raw as Record<symbol, unknown> | undefined;
  // (getByRequest also looks at `req.raw`, where a Fastify request's id may sit.)
  if (holder[REQUEST_CONTEXT_ID] === undefined && raw?.[REQUEST_CONTEXT_ID] === undefined) {
    Object.defineProperty(platformRequest, REQUEST_CONTEXT_ID, {
      value: contextId,
      enumerable: false,
      writable: false,
      configurable: false,
    });
    moduleRef.registerRequestByContextId(platformRequest, contextId);
  }
  return moduleRef.resolve(type, contextId, { strict: false });
}

/**
 * The resource a spec names for this request, through core's resolver (404 when nothing is found,
 * the id normalised to a string and checked for traversal); a `{ loader }` is resolved from the
 * module first. `request` may be given as a function that builds the view: a fixed resource (a
 * type, or `{ type, id }`) never reads the request, so its view is then never built (reading
 * Express's `req.query` parses the query string each time).
 */
export async function resolveResource(
  spec: ResourceSpec,
  request: BulwarkRequestContext | (() => BulwarkRequestContext),
  moduleRef?: ModuleRef,
  platformRequest?: object,
): Promise<AuthzResource> {
  const view = (): BulwarkRequestContext => (typeof request === 'function' ? request() : request);
  if (typeof spec === 'object' && 'loader' in spec && typeof spec.loader === 'function') {
    const loader = await loaderOf(spec.loader as Type<ResourceLoader>, moduleRef, platformRequest);
    if (typeof loader?.load !== 'function') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `@Authorize loader ${spec.loader.name} is not a provider`,
        {
          path: 'Authorize.resource.loader',
        },
      );
    }
    return resolveHttpResource((r: BulwarkRequestContext) => loader.load(r), view());
  }
  if (typeof spec === 'function') return resolveHttpResource(spec, view());
  return resolveHttpResource<undefined>(spec as string | AuthzResource, undefined);
}
