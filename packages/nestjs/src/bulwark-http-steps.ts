import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import {
  assembleBundleSteps,
  lingerOnUnreadBody,
  planBulwarkBundle,
  type HttpAppEvidence,
  type InputGuard,
} from '@bulwark/core/http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BulwarkModuleOptions } from './bulwark-module-options';
import { cors } from './cors';
import { csrf, type BulwarkCsrfOptions } from './csrf';
import { fetchMetadata } from './fetch-metadata';
import { inputGuard } from './input-guard';
import type { MiddlewareRequest, PlatformMiddleware } from './platform-middleware';
import { requestState } from './request-tracking';
import { securityHeaders } from './security-headers';
import { sessionStep } from './session';

/** The request-level protections of the module, built once from its options. */
export interface BulwarkHttpSteps {
  /** In run order (request id first). */
  readonly steps: readonly PlatformMiddleware[];
  /** The steps by name, in run order: `['requestId', 'session', 'securityHeaders', 'cors', 'fetchMetadata', 'inputGuard', 'csrf']`. */
  readonly order: readonly string[];
  /**
   * Sets the security headers on a response that never passed the header step (an error raised
   * before Bulwark's middleware, e.g. by Nest's body parser). A no-op when headers are off or set.
   */
  secure(req: MiddlewareRequest, res: ServerResponse): void;
  /**
   * What the steps did on real traffic since start (headers sent, CSRF decisions, TLS seen), as
   * observed compliance evidence (`HttpAppEvidence`, app name `nestjs`): register it with
   * `kit.registerHttpApp(() => runtime.http.evidence())`.
   */
  evidence(): HttpAppEvidence;
  /**
   * On @nestjs/platform-fastify, middleware runs in Fastify's onRequest hook, before the body is
   * read: the input guard becomes Fastify's JSON and urlencoded body parser (same limits and
   * refusals as on Express) and the CSRF check runs in a preValidation hook, once the body (a
   * `_csrf` field) is known. Called by BulwarkModule when the platform is Fastify.
   */
  attachToFastify(instance: FastifyBodyStages): void;
}

/** The request Fastify hands its hooks and body parsers (only what Bulwark reads). */
interface FastifyStageRequest {
  raw: MiddlewareRequest;
  headers: IncomingMessage['headers'];
  body?: unknown;
  query?: unknown;
  routeOptions?: { bodyLimit?: number };
  rawBody?: Buffer;
}

/** The members of a Fastify instance BulwarkModule uses on @nestjs/platform-fastify. */
export interface FastifyBodyStages {
  hasContentTypeParser(type: string): boolean;
  removeContentTypeParser(type: string): unknown;
  addContentTypeParser(
    type: string | string[] | RegExp,
    parser: (request: FastifyStageRequest, payload: IncomingMessage) => Promise<unknown>,
  ): unknown;
  addHook(
    name: 'preValidation',
    hook: (request: FastifyStageRequest, reply: { raw: ServerResponse }) => Promise<void>,
  ): unknown;
}

/** Media types the input guard parses itself. */
const GUARDED_TYPES = ['application/json', 'application/x-www-form-urlencoded'];
const JSON_SUFFIX = /^application\/[a-z0-9!#$&^_.+-]+\+json(?:\s*;.*)?$/i;

function unreachable(step: string): never {
  // The plan is made with `audit`, `authenticate` and `rateLimit` false: Nest audits in its
  // interceptor, authenticates and rate-limits in its guard, which run after middleware and know
  // the route's decorators.
  throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `BulwarkModule: ${step} is not a middleware step`, {
    path: step,
  });
}

/**
 * Plans the steps with core's `planBulwarkBundle` (the plan @bulwark/express and @bulwark/koa use)
 * and builds them with core's `assembleBundleSteps`: security headers and the input guard are on
 * unless set to `false`, CSRF is on when `csrf` is given (it needs a secret). Bad options throw a
 * BulwarkConfigError naming the path, when the application is created.
 */
export function bulwarkHttpSteps(
  options: BulwarkModuleOptions,
  requestId: PlatformMiddleware,
): BulwarkHttpSteps {
  const plan = planBulwarkBundle<object, BulwarkCsrfOptions>(
    {},
    {
      ...(options.securityHeaders !== undefined ? { securityHeaders: options.securityHeaders } : {}),
      ...(options.inputGuard !== undefined ? { inputGuard: options.inputGuard } : {}),
      ...(options.csrf !== undefined ? { csrf: options.csrf } : {}),
      ...(options.cors !== undefined ? { cors: options.cors } : {}),
      ...(options.fetchMetadata !== undefined ? { fetchMetadata: options.fetchMetadata } : {}),
      ...(options.production !== undefined ? { production: options.production } : {}),
      audit: false,
      authenticate: false,
      // Counted by BulwarkGuard, after authentication (per principal).
      rateLimit: false,
    },
  );
  let headerStep: PlatformMiddleware | undefined;
  // Fastify (see attachToFastify): the body is read after middleware, by the guard as a parser.
  let onFastify = false;
  let guard: InputGuard | undefined;
  let csrfStep: PlatformMiddleware | undefined;
  const responses = new WeakMap<object, ServerResponse>();
  // The request whose response the header step handled (`secure()` then sets nothing again for
  // it) is noted in the request's state, which the request id step (and the exception filter,
  // before it calls `secure()`) has made: no property added to the request (slow on Express's).
  const markSecured = (req: object): void => {
    const state = requestState(req);
    if (state !== undefined) state.secured = req;
  };
  const built = assembleBundleSteps<PlatformMiddleware, object, BulwarkCsrfOptions>(
    plan,
    {
      // The recorder counts each request as the first step starts on it.
      requestId: () => (req, res, next) => {
        built.recorder.request(req, res);
        requestId(req, res, next);
      },
      securityHeaders: (o) => {
        const mw = securityHeaders(o);
        headerStep = mw;
        return Object.assign<PlatformMiddleware, { headers: Readonly<Record<string, string>> }>(
          (req, res, next) => {
            markSecured(req);
            mw(req, res, next);
          },
          { headers: mw.headers },
        );
      },
      inputGuard: (o) => {
        const mw = inputGuard(o, () => onFastify);
        guard = mw.guard;
        return Object.assign<PlatformMiddleware, { guard: InputGuard }>(
          (req, res, next) => {
            if (onFastify) responses.set(req, res);
            mw(req, res, next);
          },
          { guard: mw.guard },
        );
      },
      csrf: (o) => {
        const mw = csrf(o);
        csrfStep = mw;
        return Object.assign<PlatformMiddleware, { protection: typeof mw.protection }>(
          (req, res, next) => (onFastify ? next() : mw(req, res, next)),
          { protection: mw.protection },
        );
      },
      cors,
      fetchMetadata,
      audit: () => unreachable('audit'),
      authenticate: () => unreachable('authenticate'),
      rateLimit: () => unreachable('rateLimit'),
      unless: (mw, skip) => (req, res, next) =>
        skip((req.originalUrl ?? req.url ?? '/').split('?')[0]!) ? next() : mw(req, res, next),
    },
    'nestjs',
  );
  const order: string[] = plan.order.filter((s) => s !== 'problemDetails');
  let steps = built.steps;
  if (options.sessions !== undefined) {
    // Right after the request id: every later step (CSRF, the guard) sees the session.
    steps = [steps[0]!, sessionStep(options.sessions), ...steps.slice(1)];
    order.splice(1, 0, 'session');
  }
  return {
    steps,
    order,
    secure(req, res) {
      if (headerStep === undefined || res.headersSent) return;
      if (requestState(req)?.secured === req) return;
      markSecured(req);
      headerStep(req, res, () => undefined);
    },
    evidence: () => built.recorder.evidence(),
    attachToFastify(instance) {
      onFastify = true;
      const bodyGuard = guard;
      const parsed = new WeakSet<object>();
      if (bodyGuard !== undefined && bodyGuard.parseBody) {
        for (const type of GUARDED_TYPES) {
          if (instance.hasContentTypeParser(type)) instance.removeContentTypeParser(type);
        }
        const parse = async (request: FastifyStageRequest, payload: IncomingMessage): Promise<unknown> => {
          try {
            // Fastify's bodyLimit (the route's, else the server's) applies only to its own
            // parsers: the guard reads under the lower of it and its own limit.
            const body = await bodyGuard.readBody(payload, request.headers, {
              maxBodyBytes: request.routeOptions?.bodyLimit,
              // What Nest's own parser keeps with `rawBody: true` (webhook signatures): the
              // bytes are read anyway, so they are always kept (`RawBodyRequest#rawBody`).
              bytes: (raw) => {
                request.rawBody = raw;
              },
            });
            parsed.add(request.raw);
            return body;
          } catch (error) {
            const response = responses.get(request.raw);
            if (response !== undefined) lingerOnUnreadBody({ request: request.raw, response });
            throw error;
          }
        };
        instance.addContentTypeParser(GUARDED_TYPES, parse);
        instance.addContentTypeParser(JSON_SUFFIX, parse);
      }
      const csrfCheck = csrfStep;
      instance.addHook('preValidation', async (request, reply) => {
        const req = request.raw;
        // A body another parser produced (a content type the guard does not read) is still checked.
        if (bodyGuard !== undefined && !parsed.has(req) && request.body !== undefined) {
          bodyGuard.checkValue(request.body, 'body');
        }
        if (csrfCheck === undefined) return;
        req.body = request.body;
        req.query = request.query;
        await new Promise<void>((resolve, reject) => {
          csrfCheck(req, reply.raw, (error) =>
            error !== undefined && error !== null ? reject(error) : resolve(),
          );
        });
      });
    },
  };
}
