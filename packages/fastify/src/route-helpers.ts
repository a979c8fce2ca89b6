import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import {
  BodyAllowlist,
  BruteForceGate,
  authorizeRequest,
  authorizeStepUpOptions,
  checkAuthorizeArgs,
  checkBodyFields,
  checkRequireConsent,
  consentCheckerFor,
  markRouteAudit,
  filterResponseFields,
  requireConsentFor,
  requireStepUp,
  resolveAuthorization,
  stepUpRequirement,
  type BodyAllowlistOptions,
  type BruteForceGateOptions,
  type ConsentChecker,
  type HttpAuthorizeOptions,
  type HttpResourceSpec,
  type StepUpRequirement,
} from '@bulwark/core/http';
import type { FastifyRequest } from 'fastify';
import { clientIp, requestState, type BulwarkHook } from './request-state';

/**
 * A resource type, a full resource, or a function of the request: `(request) => ({ type: 'records',
 * id: request.params.id })`, or an async loader reading the stored record with its owner / tenant
 * attributes (`undefined`: 404).
 */
export type ResourceSpec = HttpResourceSpec<FastifyRequest>;

export type AuthorizeOptions = HttpAuthorizeOptions<FastifyRequest>;

type ResponseFilter = (payload: unknown) => Promise<unknown>;

/** Response filters set by `authorize({ filterResponse })`, applied by the bundle's preSerialization hook. */
const responseFilters = new WeakMap<FastifyRequest, ResponseFilter>();
/** Requests the bundle runs on (it installs the preSerialization hook that applies the filters). */
const filteredRequests = new WeakSet<FastifyRequest>();

/** @internal the bundle marks a request as having the response filter hook. */
export function markFilterable(request: FastifyRequest): void {
  filteredRequests.add(request);
}

/** @internal the bundle's preSerialization hook. */
export async function applyResponseFilter(request: FastifyRequest, payload: unknown): Promise<unknown> {
  const filter = responseFilters.get(request);
  return filter === undefined ? payload : filter(payload);
}

/**
 * A route `preHandler` allowing the request only if the authorizer allows `action` on the resource
 * for `request.principal`: 401 without a principal, 404 when a loader finds no record, 403 with
 * only the decision's reason id otherwise. The resource decided on is `request.authorizedResource`.
 * With `checkBody`, a body field the subject may not write is a 403 (`field_denied`); with
 * `filterResponse`, an object the handler returns keeps only the fields the subject may read
 * (applied by the `bulwark` plugin's preSerialization hook: without the plugin the route fails
 * closed with a 500 rather than send unfiltered fields).
 */
export function authorize(
  action: string,
  resource: ResourceSpec,
  options: AuthorizeOptions = {},
): BulwarkHook {
  checkAuthorizeArgs(action, resource, options.authorizer, options);
  const stepUp = authorizeStepUpOptions(options);
  const filter = options.filterResponse !== undefined && options.filterResponse !== false;
  const readAction =
    typeof options.filterResponse === 'object' ? (options.filterResponse.action ?? action) : action;
  return async (request) => {
    if (filter && !filteredRequests.has(request)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'authorize({ filterResponse }) needs the bulwark plugin registered (it filters the response)',
        { path: 'authorize.filterResponse' },
      );
    }
    const state = requestState(request);
    const resolved = await resolveAuthorization(
      options.authorizer ?? state.kit?.authorizer,
      resource,
      request,
      request.principal,
    );
    state.resource = resolved.audited;
    const ip = clientIp(request);
    const context = { ...options.context?.(request), ...(ip !== undefined ? { ip } : {}) };
    const { authorizer } = resolved;
    const steps = stepUp.forKit(state.kit?.mfaPolicy);
    const decision = await authorizeRequest(
      authorizer,
      request.principal,
      action,
      resolved.resource,
      context,
      steps,
    );
    state.reasonId = decision.reasonId;
    request.authorizedResource = resolved.resource;
    const principal = request.principal!;
    if (options.checkBody === true) {
      await checkBodyFields(authorizer, principal, action, resolved.resource, request.body, context);
    }
    if (filter) {
      responseFilters.set(request, (payload) =>
        filterResponseFields(authorizer, principal, readAction, resolved.resource, payload, context),
      );
    }
  };
}

/**
 * 403 (with the purpose id) unless `request.principal` consented to the purpose's current valid
 * text version. With `options.consent` the purpose is checked at start-up; without it the bundle's
 * ConsentManager is used. The route's audit fails closed (personal data processed under a purpose).
 */
export function requireConsent(purpose: string, options: { consent?: ConsentChecker } = {}): BulwarkHook {
  checkRequireConsent(purpose, options.consent);
  return async (request) => {
    const state = requestState(request);
    markRouteAudit(state, { classified: true });
    const consent = consentCheckerFor(options.consent ?? state.kit?.consent);
    await requireConsentFor(consent, request.principal, purpose);
  };
}

/**
 * Step-up for a sensitive route (ASVS 5.0 V6.3.3): the caller must have signed in or proved a
 * second factor at most `maxAgeSec` ago, and / or proved one of `factors`; otherwise 401
 * ERR_MFA_STEP_UP_REQUIRED with an RFC 9470 challenge.
 *
 * @example app.post('/account/email', { preHandler: requireRecentAuth(300) }, changeEmail)
 */
export function requireRecentAuth(requirement: number | StepUpRequirement): BulwarkHook {
  const checked = stepUpRequirement(requirement);
  return async (request) => {
    requireStepUp(request.principal, checked);
  };
}

/**
 * A route's request-body allowlist against mass assignment: a field outside the list is refused
 * with 400 ERR_HTTP_UNKNOWN_FIELD naming it, or dropped with `{ unknown: 'strip' }`.
 */
export function allowFields(fields: readonly string[], options: BodyAllowlistOptions = {}): BulwarkHook {
  const allowlist = new BodyAllowlist(fields, options);
  return async (request) => {
    const body = allowlist.apply(request.body);
    if (body !== request.body) request.body = body;
  };
}

/**
 * For login routes: reserves the attempt before the handler checks the credentials (429 +
 * Retry-After when the IP, account or pair is full or locked), then settles it from the final
 * status: 401/403 stays counted, 2xx refunds it and clears the pair's counter.
 */
export function bruteForce(options: BruteForceGateOptions): BulwarkHook {
  const gate = new BruteForceGate(options);
  return async (request, reply) => {
    const body = request.body;
    const ticket = await gate.before(gate.attempt(clientIp(request), body), {
      headers: request.raw.headers,
      body,
    });
    const res = reply.raw;
    res.once('finish', () => gate.after(ticket, res.statusCode));
    // 'close' without 'finish': the client went away, maybe after the check ran.
    res.once('close', () => gate.after(ticket, res.writableFinished ? res.statusCode : undefined));
  };
}
