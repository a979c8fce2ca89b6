import type { Authorizer, AuthzContext, AuthzResource } from '../authz/authorizer';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import { checkResourceId } from './input-guard';
import type { AuthorizeStepUp } from './authorize-request';
import { stepUpRequirement, type PrincipalMfaPolicy, type StepUpRequirement } from './step-up';

/** A resource type, a full resource, or a function of the framework's request (e.g. its URL id). */
export type HttpResourceSpec<Req> = string | AuthzResource | ((req: Req) => AuthzResource | string);

/** Options of an adapter's `authorize(action, resource, options)`; `Req` is the framework's request. */
export interface HttpAuthorizeOptions<Req> {
  /** Default: the authorizer of the `bulwark()` bundle in front of this route. */
  authorizer?: Authorizer;
  /** Extra server-side context facts; `ip` is always the request's. */
  context?: (req: Req) => AuthzContext;
  /**
   * The MFA policy enforced after an allow (a second factor for the roles it names). Default: the
   * bundle's `mfaPolicy` (createBulwark's `mfa.policy`); `false` turns it off for this route.
   */
  mfa?: PrincipalMfaPolicy | false;
  /** A recent sign-in (seconds, or `{ maxAgeSec, factors }`) this route needs on top. */
  recentAuth?: number | StepUpRequirement;
}

/** The step-up part of a route's `authorize()` options, checked at start-up. */
export interface RouteStepUp {
  /** The route's MFA policy; `false`: none; absent: the bundle's (see `forKit`). */
  readonly mfa?: PrincipalMfaPolicy | false;
  readonly requirement?: StepUpRequirement;
  /** What `authorizeRequest` checks for this route, given the bundle kit's `mfaPolicy`. */
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
      return {
        ...(mfaPolicy !== undefined ? { mfaPolicy } : {}),
        ...(requirement !== undefined ? { requirement } : {}),
      };
    },
  };
}

/** Start-up checks of `authorize(action, resource, { authorizer })`, so a typo fails the boot. */
export function checkAuthorizeArgs(action: unknown, resource: unknown, authorizer: unknown): void {
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
 * The authorizer (the route's own, else the bundle's) and the resource for one request. The
 * spec is resolved only once an authorizer is known; an id straight from the URL must not walk out
 * of its collection (`../../admin`), so it is checked like any other resource id.
 */
export function resolveAuthorization<Req>(
  authorizer: Authorizer | undefined,
  spec: HttpResourceSpec<Req>,
  req: Req,
): ResolvedAuthorization {
  if (authorizer === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'authorize: no authorizer (pass { authorizer } or mount bulwark(kit) with kit.authorizer first)',
      { path: 'authorize.authorizer' },
    );
  }
  const value = typeof spec === 'function' ? spec(req) : spec;
  const resource = typeof value === 'string' ? { type: value } : value;
  if (resource.id !== undefined) checkResourceId(String(resource.id));
  const audited =
    resource.id !== undefined ? { type: resource.type, id: String(resource.id) } : { type: resource.type };
  return { authorizer, resource, audited };
}
