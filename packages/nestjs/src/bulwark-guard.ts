import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { BulwarkConfigError, ErrorCodes, type HttpSession } from '@bulwark/core';
import {
  markPrivateResponse,
  rateLimitHeaders,
  type BodyAllowlist,
  type RequestRateLimiter,
} from '@bulwark/core/http';
import type { ServerResponse } from 'node:http';
import { BULWARK_ALLOW_FIELDS } from './allow-fields';
import { BULWARK_CLEAR_SITE_DATA } from './clear-site-data';
import { BULWARK_RATE_LIMIT, type RateLimitMetadata } from './rate-limit';
import { BULWARK_AUDITED, type AuditedMetadata } from './audited';
import { BULWARK_AUTHORIZE, type AuthorizeMetadata } from './authorize';
import type { BulwarkRequestContext } from './bulwark-request-context';
import { BulwarkRuntime } from './bulwark-runtime';
import {
  authorizeRequest,
  checkBodyFields,
  requireConsentFor,
  requirePrincipal,
  requireStepUp,
  type HttpPrincipal,
  type StepUpRequirement,
} from './core-http';
import { BULWARK_PUBLIC } from './public';
import { BULWARK_REQUIRE_CONSENT } from './require-consent';
import { BULWARK_REQUIRE_RECENT_AUTH } from './require-recent-auth';
import { decidedContexts, resolveResource } from './resource-spec';
import {
  clientIp,
  nodeRequest,
  noteError,
  requestContext,
  trackRequest,
  type BulwarkRequestState,
  type PlatformRequest,
  type PlatformResponse,
} from './request-tracking';

/**
 * The global guard, in order: bearer authentication (every route unless `@Public()`; an
 * authenticated response gets `Cache-Control: no-store`), `@ClearSiteData`, the rate limits (the
 * module's app-wide one, then the route's `@RateLimit`), the `@AllowFields` body allowlist, then
 * `@Authorize` through the Authorizer (and the module's `mfaPolicy`), then `@RequireRecentAuth`
 * (step-up), then `@RequireConsent` through the ConsentManager.
 * Method metadata overrides class metadata. Refusals are thrown as Bulwark errors, which
 * BulwarkExceptionFilter answers as RFC 9457 problem details (401 with a Bearer challenge, 403
 * with only `reasonId` or `purposeId`). Fails closed: a missing service or a throwing resolver or
 * authorizer refuses the request.
 */
@Injectable()
export class BulwarkGuard implements CanActivate {
  /**
   * The route's Bulwark decorators, read once per handler (and class: one handler can be
   * inherited by several controllers): decorators are applied when the class is defined, so
   * the seven reflector lookups need not run on every request.
   */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteDecorators>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly runtime: BulwarkRuntime,
    private readonly moduleRef: ModuleRef,
  ) {}

  private decorators(execution: ExecutionContext): RouteDecorators {
    const handler = execution.getHandler();
    const controller = execution.getClass();
    let byClass = this.routes.get(handler);
    if (byClass === undefined) this.routes.set(handler, (byClass = new WeakMap()));
    let found = byClass.get(controller);
    if (found === undefined) {
      const targets = [handler, controller];
      const read = <T>(key: string): T | undefined =>
        this.reflector.getAllAndOverride<T | undefined>(key, targets);
      found = Object.freeze({
        isPublic: read<boolean>(BULWARK_PUBLIC) === true,
        audited: read<AuditedMetadata>(BULWARK_AUDITED),
        purposes: read<readonly string[]>(BULWARK_REQUIRE_CONSENT),
        clearSiteData: read<string>(BULWARK_CLEAR_SITE_DATA),
        routeLimit: read<RateLimitMetadata | false>(BULWARK_RATE_LIMIT),
        allowlist: read<BodyAllowlist>(BULWARK_ALLOW_FIELDS),
        authorize: read<AuthorizeMetadata>(BULWARK_AUTHORIZE),
        recentAuth: read<StepUpRequirement>(BULWARK_REQUIRE_RECENT_AUTH),
      });
      byClass.set(controller, found);
    }
    return found;
  }

  canActivate(execution: ExecutionContext): boolean | Promise<boolean> {
    const route = this.decorators(execution);
    // Bulwark speaks HTTP only; other transports (microservices, websockets) get nothing but @Public routes.
    if (execution.getType() !== 'http') return route.isPublic;

    const http = execution.switchToHttp();
    const req = http.getRequest<PlatformRequest>();
    // A route that needs consent processes personal data: its audit fails closed (auditFailurePolicy).
    const response = http.getResponse<PlatformResponse>();
    const state = trackRequest(
      this.runtime,
      req,
      response,
      route.audited,
      execution,
      route.purposes !== undefined,
    );
    // A signed-in Bulwark session (module option `sessions`) authenticates a request that
    // carries no token of an accepted scheme; such a token, when sent, is always the one
    // verified. A @Public route (or a signed-in session) ignores an Authorization header it
    // does not need: another scheme's (the app's own auth) or a malformed one.
    const fromSession = nodeRequest(req as { bulwarkSession?: HttpSession }).bulwarkSession?.principal;
    const header = req.headers.authorization;
    if (header === undefined && fromSession !== undefined) {
      return this.admit(route, req, response, fromSession, state, execution);
    }
    // A token the authenticator still caches, or one plainly valid for the token service's
    // synchronous check (never with a revocation check, which must run each time): the principal
    // authenticate() would give, without a promise; a route that needs nothing asynchronous after
    // it then passes synchronously.
    const immediate = this.runtime.authenticator.immediatePrincipal(header);
    if (immediate !== undefined) return this.admit(route, req, response, immediate, state, execution);
    return this.authenticateThenAdmit(route, req, response, fromSession, state, execution);
  }

  private async authenticateThenAdmit(
    route: RouteDecorators,
    req: PlatformRequest,
    response: PlatformResponse,
    fromSession: HttpPrincipal | undefined,
    state: BulwarkRequestState,
    execution: ExecutionContext,
  ): Promise<boolean> {
    let principal: HttpPrincipal | undefined;
    try {
      principal =
        (await this.runtime.authenticator.authenticate(
          req.headers.authorization,
          route.isPublic || fromSession !== undefined,
        )) ?? fromSession;
    } catch (error) {
      noteError(state, error);
      throw error;
    }
    return this.admit(route, req, response, principal, state, execution);
  }

  /**
   * Everything after authentication, in the guard's order. Synchronous (no promise) when the route
   * has no rate limit, `@Authorize` or `@RequireConsent`, the steps that wait on a store or a
   * resolver; a refusal is noted for the audit event and thrown either way.
   */
  private admit(
    route: RouteDecorators,
    req: PlatformRequest,
    response: PlatformResponse,
    principal: HttpPrincipal | undefined,
    state: BulwarkRequestState,
    execution: ExecutionContext,
  ): boolean | Promise<boolean> {
    try {
      // The raw Node response: Express's res is one; with the Fastify platform it is reply.raw.
      const raw = ((response as { raw?: ServerResponse }).raw ?? response) as unknown as ServerResponse;
      if (principal !== undefined) {
        req.principal = principal;
        // Nest / Passport code reads req.user; never overwrite one another guard has set.
        req.user ??= principal;
        if (this.runtime.noStore) markPrivateResponse(raw);
      }
      if (route.clearSiteData !== undefined) raw.setHeader('Clear-Site-Data', route.clearSiteData);

      const limited =
        (route.routeLimit !== false && this.runtime.rateLimiter !== undefined) ||
        (route.routeLimit !== undefined && route.routeLimit !== false);
      if (limited || route.authorize !== undefined || route.purposes !== undefined) {
        return this.admitAsync(route, req, raw, principal, state, execution);
      }
      if (route.allowlist !== undefined) applyAllowlist(route.allowlist, req);
      if (route.recentAuth !== undefined) requireStepUp(principal, route.recentAuth);
      state.admitted = true;
      return true;
    } catch (error) {
      noteError(state, error);
      throw error;
    }
  }

  private async admitAsync(
    route: RouteDecorators,
    req: PlatformRequest,
    raw: ServerResponse,
    principal: HttpPrincipal | undefined,
    state: BulwarkRequestState,
    execution: ExecutionContext,
  ): Promise<boolean> {
    const { routeLimit, allowlist, authorize, recentAuth, purposes } = route;
    try {
      const limiters: RequestRateLimiter[] = [];
      if (routeLimit !== false && this.runtime.rateLimiter !== undefined)
        limiters.push(this.runtime.rateLimiter);
      if (routeLimit !== undefined && routeLimit !== false)
        limiters.push(this.runtime.routeLimiter(routeLimit));
      for (const limiter of limiters) await consume(limiter, principal, clientIp(req), raw);

      if (allowlist !== undefined) applyAllowlist(allowlist, req);

      if (authorize !== undefined) {
        const authorizer = this.runtime.options.authorizer;
        if (authorizer === undefined) {
          throw new BulwarkConfigError(
            ErrorCodes.CONFIG_INVALID,
            '@Authorize needs BulwarkModule options.authorizer',
            {
              path: 'authorizer',
            },
          );
        }
        // 401 before the loader runs: an anonymous caller never reaches the database.
        requirePrincipal(principal);
        // Built only when read: by a resolver, a loader or `authzContext` (a fixed resource reads nothing).
        let view: BulwarkRequestContext | undefined;
        const viewOf = (): BulwarkRequestContext => (view ??= requestContext(req, execution));
        // A resource type needs no resolution (what core's resolver gives for it), so no await.
        const resource =
          typeof authorize.resource === 'string'
            ? { type: authorize.resource }
            : await resolveResource(authorize.resource, viewOf, this.moduleRef, req);
        state.resource =
          resource.id !== undefined ? { type: resource.type, id: resource.id } : { type: resource.type };
        // `ip` last: a context function must not be able to replace the server-observed address.
        const ip = clientIp(req);
        const context = {
          ...this.runtime.options.authzContext?.(viewOf()),
          ...(ip !== undefined ? { ip } : {}),
        };
        const { mfaPolicy, explainDenials } = this.runtime.options;
        const decision = await authorizeRequest(authorizer, principal, authorize.action, resource, context, {
          ...(mfaPolicy !== undefined ? { mfaPolicy } : {}),
          ...(explainDenials !== undefined ? { explainDenials } : {}),
        });
        state.reasonId = decision.reasonId;
        (req as { authorizedResource?: unknown }).authorizedResource = resource;
        // For BulwarkFieldFilterInterceptor, which only `filterResponse` routes have.
        const filter = authorize.options?.filterResponse;
        if (filter !== undefined && filter !== false) decidedContexts.set(req, context);
        if (authorize.options?.checkBody === true) {
          await checkBodyFields(authorizer, principal, authorize.action, resource, req.body, context);
        }
      }

      if (recentAuth !== undefined) requireStepUp(principal, recentAuth);

      if (purposes !== undefined) {
        const consent = this.runtime.options.consent;
        if (consent === undefined) {
          throw new BulwarkConfigError(
            ErrorCodes.CONFIG_INVALID,
            '@RequireConsent needs BulwarkModule options.consent',
            {
              path: 'consent',
            },
          );
        }
        for (const purpose of purposes) await requireConsentFor(consent, principal, purpose);
      }
      state.admitted = true;
      return true;
    } catch (error) {
      noteError(state, error);
      throw error;
    }
  }
}

/** `@AllowFields`: the request's body reduced to the allowed fields (replaced only when it changed). */
function applyAllowlist(allowlist: BodyAllowlist, req: PlatformRequest): void {
  const body = allowlist.apply(req.body);
  if (body !== req.body) req.body = body;
}

/** Counts the request on one limiter and sets its RateLimit headers, also on a 429. */
async function consume(
  limiter: RequestRateLimiter,
  principal: { type: string; id: string } | undefined,
  ip: string | undefined,
  res: ServerResponse,
): Promise<void> {
  let headers: Readonly<Record<string, string>>;
  try {
    // In memory, decided without awaiting a promise.
    ({ headers } = limiter.consumeNow({ principal, ip }) ?? (await limiter.consume({ principal, ip })));
  } catch (error) {
    const refused = rateLimitHeaders(error);
    if (refused !== undefined)
      for (const [name, value] of Object.entries(refused)) res.setHeader(name, value);
    throw error;
  }
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
}

/** What a route's Bulwark decorators say (method metadata overriding class metadata). */
interface RouteDecorators {
  readonly isPublic: boolean;
  readonly audited?: AuditedMetadata;
  readonly purposes?: readonly string[];
  readonly clearSiteData?: string;
  readonly routeLimit?: RateLimitMetadata | false;
  readonly allowlist?: BodyAllowlist;
  readonly authorize?: AuthorizeMetadata;
  readonly recentAuth?: StepUpRequirement;
}
