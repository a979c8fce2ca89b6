import type { Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { BulwarkConfigError, ErrorCodes, type AuthzContext, type AuthzResource } from '@bulwark/core';
import type { BulwarkRequestContext } from './bulwark-request-context';
import { resolveHttpResource } from './core-http';

type Loaded = AuthzResource | string | null | undefined;

/** The context BulwarkGuard decided a request with, for the field filter that runs after it. */
export const decidedContexts = new WeakMap<object, AuthzContext>();

/**
 * A resource loader provided through Nest's dependency injection (an `@Injectable()` with your
 * repositories injected): reads the stored record with the attributes the policy's conditions
 * need (owner, tenant), so the decision is about the record, not an id from the URL (ASVS
 * V8.2.2). `undefined` / `null`: no such record (404).
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
 * The resource a spec names for this request, through core's resolver (404 when nothing is found,
 * the id normalised to a string and checked for traversal); a `{ loader }` is resolved from the
 * module first.
 */
export async function resolveResource(
  spec: ResourceSpec,
  request: BulwarkRequestContext,
  moduleRef?: ModuleRef,
): Promise<AuthzResource> {
  if (typeof spec === 'object' && 'loader' in spec && typeof spec.loader === 'function') {
    const loader = moduleRef?.get(spec.loader, { strict: false });
    if (typeof loader?.load !== 'function') {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `@Authorize loader ${spec.loader.name} is not a provider`,
        {
          path: 'Authorize.resource.loader',
        },
      );
    }
    return resolveHttpResource((r: BulwarkRequestContext) => loader.load(r), request);
  }
  return resolveHttpResource(spec as Exclude<ResourceSpec, { loader: unknown }>, request);
}
