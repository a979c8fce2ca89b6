import type { Authorizer, AuthzContext, AuthzResource } from '../authz/authorizer';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import { checkResourceId } from './input-guard';
import { isThenable, requirePrincipal, type AuthorizeStepUp } from './authorize-request';
import type { HttpPrincipal } from './http-principal';
import { stepUpRequirement, type PrincipalMfaPolicy, type StepUpRequirement } from './step-up';

/**
 * A resource type, a full resource, or a function of the framework's request. The function may be
 * an async loader that reads the record and returns it with the attributes the policy's
 * conditions need (`ownerId`, `tenantId`...), so the decision is about the stored record, not
 * about an id from the URL (ASVS V8.2.2). A loader returning `undefined` / `null` answers 404.
 */
export type HttpResourceSpec<Req> =
  | string
  | AuthzResource
  | ((
      req: Req,
    ) => AuthzResource | string | null | undefined | Promise<AuthzResource | string | null | undefined>);

/** Options of an adapter's `authorize(action, resource, options)`; `Req` is the framework's request. */
export interface HttpAuthorizeOptions<Req> {
  /** Default: the authorizer of the `bulwark()` bundle in front of this route. */
  authorizer?: Authorizer;
  /** Extra server-side context facts; `ip` is always the request's. */
  context?: (req: Req) => AuthzContext;
  /**
   * Refuse (403, reason `field_denied`) a request body that sets a field the policy's field rules
   * do not let the subject write for this action (ASVS V8.2.3, V15.3.3). Default false.
   */
  checkBody?: boolean;
  /**
   * Remove from the JSON response the fields the subject may not read (field rules of `action`,
   * or of the action given here, e.g. `{ action: 'read' }` on a list route). An array answer is
   * filtered item by item, each item decided as a resource of the route's type. Default false.
   */
  filterResponse?: boolean | { action?: string };
  /**
   * The MFA policy enforced after an allow (a second factor for the roles it names). Default: the
   * bundle's `mfaPolicy` (createBulwark's `mfa.policy`); `false` turns it off for this route.
   */
  mfa?: PrincipalMfaPolicy | false;
  /** A recent sign-in (seconds, or `{ maxAgeSec, factors }`) this route needs on top. */
  recentAuth?: number | StepUpRequirement;
  /**
   * Explain a 403 in its body (`explanation`: the deciding deny rule, or the nearest allow rule
   * and the condition that failed; ids, policy text and type names, never attribute values).
   * Default: on when `NODE_ENV=development` only. The audit entry has it in every mode.
   */
  explainDenials?: boolean;
}

/** The step-up part of a route's `authorize()` options, checked at start-up. */
export interface RouteStepUp {
  /** The route's MFA policy; `false`: none; absent: the bundle's (see `forKit`). */
  readonly mfa?: PrincipalMfaPolicy | false;
  readonly requirement?: StepUpRequirement;
  /**
   * What `authorizeRequest` checks for this route, given the bundle kit's `mfaPolicy`: a new object
   * on every call (the caller may add `explainDenials` to it).
   */
  forKit(kitPolicy: PrincipalMfaPolicy | undefined): AuthorizeStepUp;
}

/**
 * The step-up part of `authorize()` options, validated at start-up: the route's MFA policy
 * (`undefined` means the bundle's, resolved per request) and its recent-authentication requirement.
 */
export function authorizeStepUpOptions(options: { mfa?: unknown; recentAuth?: unknown }): RouteStepUp {
  const mfa = options.mfa;
  if (
    mfa !== undefined &&
    mfa !== false &&
    typeof (mfa as PrincipalMfaPolicy)?.evaluatePrincipal !== 'function'
  ) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authorize: mfa must be an MfaPolicy or false', {
      path: 'authorize.mfa',
    });
  }
  const own = mfa as PrincipalMfaPolicy | false | undefined;
  const requirement =
    options.recentAuth !== undefined
      ? stepUpRequirement(options.recentAuth, 'authorize.recentAuth')
      : undefined;
  return {
    ...(own !== undefined ? { mfa: own } : {}),
    ...(requirement !== undefined ? { requirement } : {}),
    forKit(kitPolicy) {
      const mfaPolicy = own === false ? undefined : (own ?? kitPolicy);
      // Per request: built by assignment, no temporary objects to spread.
      const steps: AuthorizeStepUp = {};
      if (mfaPolicy !== undefined) steps.mfaPolicy = mfaPolicy;
      if (requirement !== undefined) steps.requirement = requirement;
      return steps;
    },
  };
}

/** Start-up checks of `authorize(action, resource, { authorizer })`, so a typo fails the boot. */
export function checkAuthorizeArgs(
  action: unknown,
  resource: unknown,
  authorizer: unknown,
  options?: { filterResponse?: unknown; checkBody?: unknown; explainDenials?: unknown },
): void {
  if (options?.explainDenials !== undefined && typeof options.explainDenials !== 'boolean') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authorize: explainDenials must be a boolean', {
      path: 'authorize.explainDenials',
    });
  }
  const filter = options?.filterResponse;
  if (
    filter !== undefined &&
    typeof filter !== 'boolean' &&
    (typeof filter !== 'object' ||
      filter === null ||
      ((filter as { action?: unknown }).action !== undefined &&
        (typeof (filter as { action?: unknown }).action !== 'string' ||
          (filter as { action: string }).action.length === 0)))
  ) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'authorize: filterResponse must be a boolean or { action }',
      { path: 'authorize.filterResponse' },
    );
  }
  if (options?.checkBody !== undefined && typeof options.checkBody !== 'boolean') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authorize: checkBody must be a boolean', {
      path: 'authorize.checkBody',
    });
  }
  if (typeof action !== 'string' || action.length === 0) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authorize: action must be a non-empty string', {
      path: 'authorize.action',
    });
  }
  if (!['string', 'function', 'object'].includes(typeof resource) || resource === null) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'authorize: resource must be a type, a resource or a function',
      {
        path: 'authorize.resource',
      },
    );
  }
  if (authorizer !== undefined && typeof (authorizer as Partial<Authorizer>)?.check !== 'function') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'authorize: authorizer must implement check()', {
      path: 'authorize.authorizer',
    });
  }
}

/** What one request is authorized against, and the resource its audit event names. */
export interface ResolvedAuthorization {
  authorizer: Authorizer;
  resource: AuthzResource;
  audited: { type: string; id?: string };
}

/**
 * The resource a spec names for one request: the spec itself, or what its function (an async
 * loader) returns. A loader that finds nothing is a 404 (ERR_HTTP_NOT_FOUND). The id is
 * normalised to a string, so a loader returning a numeric primary key (`42`) meets the same
 * id-specific rules (`records/42`) as the URL's `'42'`; an id straight from the URL must not walk
 * out of its collection (`../../admin`), so it is checked like any other resource id.
 */
export async function resolveHttpResource<Req>(
  spec: HttpResourceSpec<Req>,
  req: Req,
): Promise<AuthzResource> {
  return resourceOf(typeof spec === 'function' ? await spec(req) : spec);
}

/** The resource a spec's value names (`resolveHttpResource` once the value is known). */
function resourceOf(value: AuthzResource | string | null | undefined): AuthzResource {
  if (value === undefined || value === null) {
    throw new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.');
  }
  const resource = typeof value === 'string' ? { type: value } : value;
  if (typeof resource.type !== 'string' || resource.type.length === 0) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'authorize: the resource loader returned no type',
      {
        path: 'authorize.resource',
      },
    );
  }
  if (resource.id === undefined) return resource;
  return { ...resource, id: checkResourceId(String(resource.id)) };
}

/**
 * The authorizer (the route's own, else the bundle's) and the resource for one request
 * (`resolveHttpResource`). The spec is resolved (a loader awaited) only once an authorizer is known
 * and the caller is signed in: an anonymous caller gets the 401 before any loader runs.
 */
export async function resolveAuthorization<Req>(
  authorizer: Authorizer | undefined,
  spec: HttpResourceSpec<Req>,
  req: Req,
  principal: HttpPrincipal | undefined,
): Promise<ResolvedAuthorization> {
  return resolveAuthorizationNow(authorizer, spec, req, principal);
}

/**
 * `resolveAuthorization` without a promise when nothing needs awaiting: a resource type, a fixed
 * resource, or a function that returns its resource directly (not a promise). The same result and
 * the same errors, thrown instead of rejected; a loader that returns a promise (or thenable) gets a
 * native Promise back, so `instanceof Promise` tells the two apart.
 */
export function resolveAuthorizationNow<Req>(
  authorizer: Authorizer | undefined,
  spec: HttpResourceSpec<Req>,
  req: Req,
  principal: HttpPrincipal | undefined,
): ResolvedAuthorization | Promise<ResolvedAuthorization> {
  if (authorizer === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'authorize: no authorizer (pass { authorizer } or mount bulwark(kit) with kit.authorizer first)',
      { path: 'authorize.authorizer' },
    );
  }
  requirePrincipal(principal);
  const value = typeof spec === 'function' ? spec(req) : spec;
  if (isThenable(value)) return Promise.resolve(value).then((v) => resolvedWith(authorizer, resourceOf(v)));
  return resolvedWith(authorizer, resourceOf(value));
}

function resolvedWith(authorizer: Authorizer, resource: AuthzResource): ResolvedAuthorization {
  const audited =
    resource.id !== undefined ? { type: resource.type, id: resource.id } : { type: resource.type };
  return { authorizer, resource, audited };
}
