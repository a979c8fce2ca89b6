import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import {
  assembleBundleSteps,
  kitService,
  planBulwarkBundle,
  type BruteForceGateOptions,
  type BulwarkBundleApi,
  type BulwarkBundleOptions,
  type BulwarkHttpKit,
} from '@bulwark/core/http';
import type { Context, Middleware, Next } from 'koa';
import { audit } from './audit';
import { authenticate, type AuthenticateOptions } from './authenticate';
import { authorize, type AuthorizeOptions, type ResourceSpec } from './authorize';
import { bruteForce } from './brute-force';
import { cors } from './cors';
import { csrf, type KoaCsrfOptions } from './csrf';
import { fetchMetadata } from './fetch-metadata';
import { inputGuard } from './input-guard';
import { sendProblem, type ProblemDetailsOptions } from './problem-details';
import { rateLimit } from './rate-limit';
import { requestId } from './request-id';
import { requestState } from './request-state';
import { requireConsent } from './require-consent';
import { securityHeaders } from './security-headers';

export interface BulwarkOptions extends BulwarkBundleOptions<
  Omit<AuthenticateOptions, 'tokens'>,
  KoaCsrfOptions
> {
  /** App name in compliance evidence. Default `koa`. */
  name?: string;
  problemDetails?: ProblemDetailsOptions;
}

/** The bundle: a middleware plus route-level helpers bound to the kit. */
export type BulwarkMiddleware = Middleware &
  BulwarkBundleApi<Middleware, ResourceSpec, Omit<AuthorizeOptions, 'authorizer'>>;

/**
 * The one-line bundle: `app.use(bulwark(kit, options))` before the router. Runs, in this order:
 *   requestId -> problemDetails -> securityHeaders -> audit -> cors -> fetchMetadata -> inputGuard
 *   -> authenticate -> rateLimit -> csrf
 * (cors and rateLimit only when given; fetchMetadata on unless `false`)
 * problemDetails sits second and wraps everything after it (routes included), so every refusal (bad
 * input, 401, EBADCSRFTOKEN) and every route error is answered as problem+json with the request id;
 * audit sits before inputGuard so refused bad input is audited too. Route-level steps come from the
 * bundle: `bw.authorize(...)`, `bw.requireConsent(...)`, `bw.bruteForce()`.
 * The plan (which steps, validated options) is core's `planBulwarkBundle`, shared with Express.
 */
export function bulwark(kit: BulwarkHttpKit, options: BulwarkOptions = {}): BulwarkMiddleware {
  const plan = planBulwarkBundle(kit, options);
  const problemOptions = options.problemDetails ?? {};
  const { steps, close, recorder } = assembleBundleSteps(
    plan,
    {
      requestId,
      securityHeaders,
      audit,
      cors,
      fetchMetadata,
      inputGuard,
      authenticate,
      rateLimit,
      csrf,
      unless: (mw, skip) => (ctx, next) => (skip(ctx.path) ? next() : mw(ctx, next)),
    },
    options.name ?? 'koa',
  );
  const count = steps.length;
  const notFound = problemOptions.notFound !== false;
  const middleware: Middleware = async (ctx: Context, next: Next) => {
    recorder.request(ctx.req, ctx.res);
    requestState(ctx).kit = kit;
    // One `next` for every step, walking an index (as the Express bundle does): no closure and no
    // Promise.resolve per step. Each step is one of the bundle's own and calls `next` at most once;
    // a step's synchronous throw unwinds to the try below like a rejection.
    let i = 0;
    const step = (): Promise<void> => (i === count ? next() : steps[i++]!(ctx, step));
    // The bundle is its own problemDetails step: errors of any later step or route are answered here.
    try {
      await step();
      if (notFound && ctx.status === 404 && ctx.body == null) {
        sendProblem(
          ctx,
          new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.'),
          problemOptions,
        );
      }
    } catch (err) {
      sendProblem(ctx, err, problemOptions);
    }
  };

  return Object.assign(middleware, {
    order: plan.order,
    authorize: (action: string, resource: ResourceSpec, opts: Omit<AuthorizeOptions, 'authorizer'> = {}) =>
      authorize(action, resource, { ...opts, authorizer: kitService(kit, 'authorizer') }),
    requireConsent: (purpose: string) => requireConsent(purpose, { consent: kitService(kit, 'consent') }),
    bruteForce: (opts: Omit<BruteForceGateOptions, 'guard'> = {}) =>
      bruteForce({ ...opts, guard: kitService(kit, 'bruteForce') }),
    evidence: () => recorder.evidence(),
    close,
  });
}
