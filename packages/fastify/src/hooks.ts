import { SessionEngine, type SessionEngineOptions } from '@bulwark/core';
import {
  BearerAuthenticator,
  CorsPolicy,
  CsrfProtection,
  CsrfTokenIssuer,
  FetchMetadataPolicy,
  InputGuard,
  RequestAuditor,
  RequestRateLimiter,
  TrustedProxies,
  markRouteAudit,
  buildSecurityHeaders,
  checkRouteAuditMarks,
  clearSiteDataValue,
  lingerOnUnreadBody,
  markPrivateResponse,
  rateLimitHeaders,
  watchRequestAudit,
  type BearerAuthenticatorOptions,
  type ClearSiteDataType,
  type CorsOptions,
  type CsrfOptions,
  type CsrfTokenAccess,
  type FetchMetadataOptions,
  type InputGuardOptions,
  type RateLimitOptions,
  type RequestAuditorOptions,
  type RequestIdOptions,
  type RouteAuditMarks,
  type SecurityHeaderOptions,
  type AuditedRequest,
  type AuditedRequestState,
  type HttpPrincipal,
  type RequestArrival,
} from '@bulwark/core/http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { clientIp, requestArrival, requestPath, requestState, vary, type BulwarkHook } from './request-state';

/**
 * Takes the request's arrival facts: a server-generated request id (set as `request.requestId`
 * and echoed in X-Request-Id; a client's own X-Request-Id is kept apart, as `clientRequestId` in
 * the audit event), the client address under `trustProxy`, the user agent. First in the bundle.
 */
export function requestId(options: RequestIdOptions = {}): BulwarkHook {
  const proxies = TrustedProxies.from(options.trustProxy, 'requestId.trustProxy');
  return async (request, reply) => {
    // A fresh capture: an arrival taken earlier without this step's proxies is replaced.
    delete requestState(request).arrival;
    const { requestId: id } = requestArrival(request, proxies);
    request.requestId = id;
    // On the Node response, as helmet's headers are: a hijacked reply (`reply.hijack()`) sends
    // them too, and Fastify merges them into every reply it writes.
    reply.raw.setHeader('x-request-id', id);
  };
}

export type SecurityHeadersHook = BulwarkHook & {
  /** The headers this hook sets (compliance evidence). */
  readonly headers: Readonly<Record<string, string>>;
};

/**
 * helmet itself, called with Fastify's raw req/res, with Bulwark's strict defaults: the Express,
 * Koa and Fastify adapters send the same headers from the same code (`@fastify/helmet` calls the
 * same helmet the same way; Bulwark's defaults and evidence come from core's `buildSecurityHeaders`).
 */
export function securityHeaders(options: SecurityHeaderOptions = {}): SecurityHeadersHook {
  const built = buildSecurityHeaders(options, (o) => helmet(o as HelmetOptions));
  // helmet's middleware is synchronous and calls next() before returning.
  const hook: BulwarkHook = async (request, reply) => {
    built.middleware(request.raw, reply.raw, noop);
  };
  return Object.assign(hook, { headers: built.headers });
}

function noop(): void {}

export type AuditHook = BulwarkHook & {
  readonly auditor: RequestAuditor;
  /** Waits until every recorded event is stored; call on shutdown before closing the AuditLog. */
  close(): Promise<void>;
};

function route(request: FastifyRequest): string {
  // The matched pattern (`/docs/:id`); the path for a request no route matched.
  const url = request.routeOptions?.url;
  return typeof url === 'string' && url.length > 0 && request.is404 !== true ? url : requestPath(request);
}

/** How the audit step reads a Fastify request: one object per request, its methods shared (as on Express and Koa). */
class FastifyAuditedRequest implements AuditedRequest {
  readonly method: string;
  readonly arrival: RequestArrival;
  readonly #request: FastifyRequest;

  constructor(request: FastifyRequest) {
    this.#request = request;
    this.method = request.method;
    this.arrival = requestArrival(request);
  }

  route(): string {
    return route(this.#request);
  }

  requestId(): string | undefined {
    return this.#request.requestId;
  }

  principal(): HttpPrincipal | undefined {
    return this.#request.principal;
  }

  state(): AuditedRequestState {
    return requestState(this.#request);
  }
}

/**
 * One audit event per request, recorded when the response is done (outcome from the final status:
 * 2xx/3xx success, 401/403 denied, else failure), handed to the AuditLog without waiting. A
 * `'fail-closed'` request (routes marked by `auditRoute`, `requireConsent` or a classification
 * category, or every route with `onFailure: 'fail-closed'`) withholds its response until the event
 * is durable: if it cannot be stored, the client gets 503 problem+json and nothing the handler wrote.
 */
export function audit(options: RequestAuditorOptions): AuditHook {
  const auditor = new RequestAuditor(options);
  const hook: BulwarkHook = async (request, reply) => {
    watchRequestAudit(auditor, reply.raw, new FastifyAuditedRequest(request));
  };
  return Object.assign(hook, { auditor, close: () => auditor.close() });
}

/**
 * Route marker for the audit step: `{ preHandler: [auditRoute({ category: 'phi' })] }` makes the
 * route's event carry its action / category and fail closed (see `audit`).
 */
export function auditRoute(options: RouteAuditMarks): BulwarkHook {
  const marks = checkRouteAuditMarks(options, 'auditRoute');
  return async (request) => {
    markRouteAudit(requestState(request), marks);
  };
}

/**
 * CORS by exact-match allowlist (core's CorsPolicy): an allowed Origin gets its CORS headers and
 * `Vary: Origin`; an allowed preflight is answered 204 here; a preflight from an origin, method or
 * header outside the lists is refused with 403 ERR_HTTP_CORS_REFUSED.
 */
export function cors(options: CorsOptions): BulwarkHook {
  const policy = new CorsPolicy(options);
  return async (request, reply) => {
    let decision;
    try {
      decision = policy.decide({ method: request.method, headers: request.raw.headers });
    } catch (err) {
      vary(reply, 'Origin');
      throw err;
    }
    for (const field of decision.vary) vary(reply, field);
    reply.headers(decision.headers);
    if (decision.preflight) return reply.code(204).send();
    return undefined;
  };
}

/**
 * Fetch Metadata resource isolation (core's FetchMetadataPolicy): cross-site requests that are not
 * top-level GET navigations are refused with 403 ERR_HTTP_CROSS_SITE_REFUSED.
 */
export function fetchMetadata(options: FetchMetadataOptions = {}): BulwarkHook {
  const policy = new FetchMetadataPolicy(options);
  return async (request) => {
    policy.check({ method: request.method, path: requestPath(request), headers: request.raw.headers });
  };
}

export type InputGuardHook = BulwarkHook & { readonly guard: InputGuard };

/**
 * The input guard's head check (onRequest): declared body size (413), path traversal, NUL bytes,
 * forbidden and duplicate query keys. The body itself is read by the guard as Fastify's JSON and
 * urlencoded content-type parser (see `bulwark`), or checked after another parser in preValidation.
 */
export function inputGuard(options: InputGuardOptions = {}): InputGuardHook {
  const guard = new InputGuard(options);
  const hook: BulwarkHook = async (request, reply) => {
    try {
      guard.checkHead({ method: request.method, url: request.raw.url ?? '/', headers: request.raw.headers });
    } catch (err) {
      // The body was not read: drop the rest, close the socket if it never ends.
      lingerOnUnreadBody({ request: request.raw, response: reply.raw });
      throw err;
    }
  };
  return Object.assign(hook, { guard });
}

export interface AuthenticateOptions extends BearerAuthenticatorOptions {
  /** Let requests without any Authorization header through without a principal. Default false. */
  optional?: boolean;
  /**
   * `Cache-Control: no-store` on every authenticated response unless the handler sets its own
   * (ASVS 5.0 V14.3.2). Default true.
   */
  noStore?: boolean;
}

/**
 * Bearer JWT authentication through the core TokenService. Sets `request.principal` (a request
 * without an Authorization header that a signed-in `session()` already authenticated passes);
 * failures become 401 with a `WWW-Authenticate` challenge naming the first of `schemes`
 * (default `Bearer`).
 */
export function authenticate(options: AuthenticateOptions): BulwarkHook {
  const { authenticator, optional, noStore, scheme } = BearerAuthenticator.forStep(options);
  return async (request, reply) => {
    requestState(request).authScheme = scheme;
    const authorization = request.raw.headers.authorization;
    if (request.principal === undefined || authorization !== undefined) {
      // A cached or plainly valid token: the principal authenticate() would give, without awaiting.
      const principal =
        authenticator.immediatePrincipal(authorization) ??
        (await authenticator.authenticate(authorization, optional));
      if (principal !== undefined) request.principal = principal;
    }
    if (noStore && request.principal !== undefined) markPrivateResponse(reply.raw);
  };
}

export type RateLimitHook = BulwarkHook & { readonly limiter: RequestRateLimiter };

/**
 * Request rate limiting per principal and per client address (core's RequestRateLimiter, after
 * `authenticate`): IETF `RateLimit-Policy` / `RateLimit` headers on every answer, 429 problem+json
 * with `Retry-After` when spent.
 */
export function rateLimit(options: RateLimitOptions = {}): RateLimitHook {
  const limiter = new RequestRateLimiter(options);
  const hook: BulwarkHook = async (request, reply) => {
    let headers: Readonly<Record<string, string>>;
    try {
      const subject = { principal: request.principal, ip: clientIp(request) };
      // In memory, decided without awaiting a promise.
      ({ headers } = limiter.consumeNow(subject) ?? (await limiter.consume(subject)));
    } catch (err) {
      const refused = rateLimitHeaders(err);
      if (refused !== undefined) reply.headers(refused);
      throw err;
    }
    reply.headers(headers);
  };
  return Object.assign(hook, { limiter });
}

export interface FastifyCsrfOptions extends CsrfOptions {
  /**
   * What the token is bound to. Default: the Bulwark session's id (`session()`), else the
   * principal id, else '' (anonymous: still a signed double-submit, not tied to a session). Read
   * when the token is issued and when it is checked.
   */
  binding?: (request: FastifyRequest) => string | undefined;
}

export type CsrfHook = BulwarkHook & { readonly protection: CsrfProtection };

function defaultBinding(request: FastifyRequest): string {
  return request.bulwarkSession?.id ?? request.principal?.id ?? '';
}

/**
 * csurf-compatible CSRF protection (signed double-submit cookie), run after the body is parsed
 * (preValidation): `request.csrfToken()` returns the token (setting the cookie when a new one is
 * minted); unsafe methods must echo it in a `csrf-token` / `x-csrf-token` (or xsrf) header or a
 * `_csrf` body field, or fail with 403 `code: 'EBADCSRFTOKEN'`.
 */
export function csrf(options: FastifyCsrfOptions): CsrfHook {
  const protection = new CsrfProtection(options);
  const bindingOf = options.binding ?? defaultBinding;
  if (typeof bindingOf !== 'function') throw new TypeError('csrf: binding must be a function');
  // Keyed by the reply, which knows its request (`reply.request`).
  const access: CsrfTokenAccess<FastifyReply> = {
    cookieHeader: (reply) => reply.request.raw.headers.cookie,
    binding: (reply) => bindingOf(reply.request),
    appendSetCookie: (reply, value) => void reply.header('set-cookie', value),
  };
  const hook: BulwarkHook = async (request, reply) => {
    // A bound method, not a closure per request (see core's CsrfTokenIssuer).
    const issuer = new CsrfTokenIssuer(reply, protection, access);
    request.csrfToken = issuer.token.bind(issuer);
    // Safe methods are never checked (the token is still issued on demand above): nothing to build.
    if (protection.exempt(request.method)) return;
    const binding = bindingOf(request) ?? '';
    protection.check({
      method: request.method,
      headers: request.raw.headers,
      body: request.body,
      get query() {
        return request.query;
      },
      binding,
    });
  };
  return Object.assign(hook, { protection });
}

export type SessionHook = BulwarkHook & { readonly engine: SessionEngine };

/**
 * Server-side sessions (an onRequest hook, added before the bundle): opens the request's session
 * (`request.bulwarkSession`) from the `__Host-` cookie and, when it is signed in, sets
 * `request.principal`. A missing, forged or expired cookie gives a fresh anonymous session, never
 * an error; a failing store is a 503 (ERR_SESSION_STORE).
 */
export function session(engine: SessionEngine | SessionEngineOptions): SessionHook {
  const sessions = engine instanceof SessionEngine ? engine : new SessionEngine(engine);
  const hook: BulwarkHook = async (request, reply) => {
    const userAgent = request.raw.headers['user-agent'];
    const ip = clientIp(request);
    const opened = await sessions.open({
      cookieHeader: request.raw.headers.cookie,
      setCookie: (value) => {
        reply.header('set-cookie', value);
      },
      ...(ip !== undefined ? { ip } : {}),
      ...(userAgent !== undefined ? { userAgent } : {}),
      ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
    });
    request.bulwarkSession = opened;
    if (request.principal === undefined && opened.principal !== undefined)
      request.principal = opened.principal;
  };
  return Object.assign(hook, { engine: sessions });
}

/** For the logout route: sets `Clear-Site-Data` (default `"cache", "cookies", "storage"`). */
export function clearSiteData(types?: readonly ClearSiteDataType[]): BulwarkHook {
  const value = clearSiteDataValue(types);
  return async (_request, reply) => {
    reply.header('clear-site-data', value);
  };
}
