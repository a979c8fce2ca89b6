import {
  assembleBundleSteps,
  kitService,
  lingerOnUnreadBody,
  planBulwarkBundle,
  type BruteForceGateOptions,
  type BulwarkBundleApi,
  type BulwarkBundleOptions,
  type BulwarkHttpKit,
  type InputGuard,
} from '@bulwark/core/http';
import { BulwarkError } from '@bulwark/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  audit,
  authenticate,
  cors,
  csrf,
  fetchMetadata,
  inputGuard,
  rateLimit,
  requestId,
  securityHeaders,
  type AuthenticateOptions,
  type FastifyCsrfOptions,
} from './hooks';
import { answeredByBulwark, notFoundError, sendProblem, type ProblemDetailsOptions } from './problem-details';
import { requestPath, requestState, type BulwarkHook } from './request-state';
import {
  applyResponseFilter,
  authorize,
  bruteForce,
  markFilterable,
  requireConsent,
  type AuthorizeOptions,
  type ResourceSpec,
} from './route-helpers';

export interface BulwarkOptions extends BulwarkBundleOptions<
  Omit<AuthenticateOptions, 'tokens'>,
  FastifyCsrfOptions
> {
  /** App name in compliance evidence. Default `fastify`. */
  name?: string;
  problemDetails?: ProblemDetailsOptions;
}

/** The bundle: a Fastify plugin plus route-level `preHandler`s bound to the kit. */
export type BulwarkPlugin = FastifyPluginAsync &
  BulwarkBundleApi<BulwarkHook, ResourceSpec, Omit<AuthorizeOptions, 'authorizer'>> & {
    /**
     * For Fastify's `frameworkErrors` server option (`Fastify({ frameworkErrors: bw.frameworkErrors })`):
     * URLs Fastify's router refuses before any hook (malformed percent-encoding, an over-long
     * parameter) are answered 400 problem+json, with the bundle's request id, headers and audit.
     */
    frameworkErrors(error: Error, request: FastifyRequest, reply: FastifyReply): void;
  };

/** Media types the input guard parses itself (as Express's and Koa's bundles do). */
const GUARDED_TYPES = ['application/json', 'application/x-www-form-urlencoded'];
const JSON_SUFFIX = /^application\/[a-z0-9!#$&^_.+-]+\+json(?:\s*;.*)?$/i;

/**
 * The one-line bundle as a Fastify plugin: `await app.register(bulwark(kit, options))` before the
 * routes. Runs the steps of core's `planBulwarkBundle`, in the order Express and Koa run them:
 *   requestId -> problemDetails -> securityHeaders -> audit -> cors -> fetchMetadata -> inputGuard
 *   -> authenticate -> rateLimit -> csrf
 * The steps up to the input guard's head check run in an `onRequest` hook; the body is read by the
 * input guard as Fastify's JSON and urlencoded content-type parser (same limits and refusals as
 * the other adapters); authenticate, rateLimit and csrf run in `preValidation` (after the body,
 * before the route's schema). problemDetails is Fastify's error handler and not-found handler:
 * every refusal, Fastify's own errors (bad JSON, body too large, schema validation) and every route
 * error are answered as problem+json with the request id. The plugin is not encapsulated
 * (fastify-plugin), so its hooks apply to every route of the instance it is registered on.
 * Route-level steps come from the bundle: `{ preHandler: [bw.authorize(...), bw.requireConsent(...)] }`.
 */
export function bulwark(kit: BulwarkHttpKit, options: BulwarkOptions = {}): BulwarkPlugin {
  const plan = planBulwarkBundle(kit, options);
  const problemOptions = options.problemDetails ?? {};
  if (problemOptions.log !== undefined && typeof problemOptions.log !== 'function') {
    throw new TypeError('problemDetails: log must be a function');
  }
  const late = new Set<BulwarkHook>();
  const afterBody = <T extends BulwarkHook>(hook: T): T => {
    late.add(hook);
    return hook;
  };
  let guard: InputGuard | undefined;
  const { steps, close, recorder } = assembleBundleSteps<
    BulwarkHook,
    Omit<AuthenticateOptions, 'tokens'>,
    FastifyCsrfOptions
  >(
    plan,
    {
      requestId,
      securityHeaders,
      audit,
      cors,
      fetchMetadata,
      inputGuard: (o) => {
        const hook = inputGuard(o);
        guard = hook.guard;
        return hook;
      },
      authenticate: (o) => afterBody(authenticate(o)),
      rateLimit: (o) => afterBody(rateLimit(o)),
      csrf: (o) => afterBody(csrf(o)),
      unless: (hook, skip) => {
        const wrapped: BulwarkHook = async (request, reply) =>
          skip(requestPath(request)) ? undefined : hook(request, reply);
        return late.has(hook) ? afterBody(wrapped) : wrapped;
      },
    },
    options.name ?? 'fastify',
  );
  const early = steps.filter((s) => !late.has(s));
  const afterParse = steps.filter((s) => late.has(s));
  const bodyGuard = guard;
  const parsedByGuard = new WeakSet<FastifyRequest>();
  const responses = new WeakMap<FastifyRequest, ServerResponse>();

  const run = async (
    hooks: readonly BulwarkHook[],
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    for (const hook of hooks) {
      // A step that answers (a CORS preflight) returns the reply: the lifecycle stops there.
      if ((await hook(request, reply)) === reply) return reply;
    }
    return undefined;
  };

  const plugin = async (fastify: FastifyInstance): Promise<void> => {
    fastify.addHook('onRequest', async (request, reply) => {
      recorder.request(request.raw, reply.raw);
      requestState(request).kit = kit;
      markFilterable(request);
      responses.set(request, reply.raw);
      return run(early, request, reply);
    });
    if (bodyGuard !== undefined && bodyGuard.parseBody) {
      // The guard reads JSON and urlencoded bodies itself (bounded, checked), in place of
      // Fastify's JSON parser: the same limits and refusals as the Express and Koa bundles.
      for (const type of GUARDED_TYPES) {
        if (fastify.hasContentTypeParser(type)) fastify.removeContentTypeParser(type);
      }
      const parse = async (request: FastifyRequest, payload: IncomingMessage): Promise<unknown> => {
        try {
          // Fastify's bodyLimit (the route's, else the server's) applies only to its own parsers:
          // the guard reads under the lower of it and its own limit.
          const body = await bodyGuard.readBody(payload, request.headers, {
            maxBodyBytes: request.routeOptions.bodyLimit,
          });
          parsedByGuard.add(request);
          return body;
        } catch (err) {
          const response = responses.get(request);
          if (response !== undefined) lingerOnUnreadBody({ request: request.raw, response });
          throw err;
        }
      };
      fastify.addContentTypeParser(GUARDED_TYPES, parse);
      fastify.addContentTypeParser(JSON_SUFFIX, parse);
    }
    fastify.addHook('preValidation', async (request, reply) => {
      // A body another parser produced (a content type the guard does not read) is still checked.
      if (bodyGuard !== undefined && !parsedByGuard.has(request) && request.body !== undefined) {
        bodyGuard.checkValue(request.body, 'body');
      }
      return run(afterParse, request, reply);
    });
    fastify.addHook('preSerialization', async (request, _reply, payload) =>
      applyResponseFilter(request, payload),
    );
    fastify.setErrorHandler((error, request, reply) => sendProblem(request, reply, error, problemOptions));
    // Bulwark's hooks reach routes of a context created before `register(bw)` (or with its own
    // `setErrorHandler`), but its error handler does not: their refusals go out as Fastify JSON
    // (a 401 without its challenge). Said once, so the registration order gets fixed.
    const refused = new WeakSet<FastifyRequest>();
    let warned = false;
    fastify.addHook('onError', async (request, _reply, error) => {
      if (error instanceof BulwarkError) refused.add(request);
    });
    fastify.addHook('onResponse', async (request) => {
      if (warned || !refused.has(request) || answeredByBulwark(request)) return;
      warned = true;
      request.log.warn(
        `@bulwark/fastify: a refusal on ${request.routeOptions.url ?? 'a route'} was answered by another error handler (not problem+json, no WWW-Authenticate): register the bulwark plugin before the plugins that declare routes, and do not replace its error handler`,
      );
    });
    if (problemOptions.notFound !== false) {
      fastify.setNotFoundHandler((request, reply) =>
        sendProblem(request, reply, notFoundError(), problemOptions),
      );
    }
    fastify.addHook('onClose', async () => close());
  };

  return Object.assign(fp(plugin, { fastify: '5.x', name: '@bulwark/fastify' }), {
    order: plan.order,
    authorize: (action: string, resource: ResourceSpec, opts: Omit<AuthorizeOptions, 'authorizer'> = {}) =>
      authorize(action, resource, { ...opts, authorizer: kitService(kit, 'authorizer') }),
    requireConsent: (purpose: string) => requireConsent(purpose, { consent: kitService(kit, 'consent') }),
    bruteForce: (opts: Omit<BruteForceGateOptions, 'guard'> = {}) =>
      bruteForce({ ...opts, guard: kitService(kit, 'bruteForce') }),
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply): void => {
      recorder.request(request.raw, reply.raw);
      requestState(request).kit = kit;
      run(early, request, reply).then(
        (answered) => {
          if (answered === undefined) sendProblem(request, reply, error, problemOptions);
        },
        // A step refused the request first (a path trick): that refusal is the answer.
        (refusal: unknown) => sendProblem(request, reply, refusal, problemOptions),
      );
    },
    evidence: () => recorder.evidence(),
    close,
  });
}
