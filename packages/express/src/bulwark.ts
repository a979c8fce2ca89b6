import {
  assembleBundleSteps,
  kitService,
  planBulwarkBundle,
  type BruteForceGateOptions,
  type BulwarkBundleApi,
  type BulwarkBundleOptions,
  type BulwarkHttpKit,
} from '@bulwark/core/http';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { audit } from './audit';
import { authenticate, type AuthenticateOptions } from './authenticate';
import { authorize, type AuthorizeOptions, type ResourceSpec } from './authorize';
import { bruteForce } from './brute-force';
import { cors } from './cors';
import { csrf, type ExpressCsrfOptions } from './csrf';
import { fetchMetadata } from './fetch-metadata';
import { inputGuard } from './input-guard';
import { problemDetails, sendProblem, type ProblemDetailsOptions } from './problem-details';
import { rateLimit } from './rate-limit';
import { requestId } from './request-id';
import { requestState } from './request-state';
import { requireConsent } from './require-consent';
import { securityHeaders } from './security-headers';

export interface BulwarkOptions extends BulwarkBundleOptions<
  Omit<AuthenticateOptions, 'tokens'>,
  ExpressCsrfOptions
> {
  /** App name in compliance evidence. Default `express`. */
  name?: string;
  problemDetails?: ProblemDetailsOptions;
}

/** The bundle: a middleware plus route-level helpers bound to the kit. */
export type BulwarkMiddleware = RequestHandler &
  BulwarkBundleApi<RequestHandler, ResourceSpec, Omit<AuthorizeOptions, 'authorizer'>> & {
    /** The error handler to register after the routes (errors of the bundle itself are already handled). */
    problemDetails(): ErrorRequestHandler;
  };

/**
 * The one-line bundle: `app.use(bulwark(kit, options))`. Runs, in this order:
 *   requestId -> problemDetails -> securityHeaders -> audit -> cors -> fetchMetadata -> inputGuard
 *   -> authenticate -> rateLimit -> csrf
 * (cors and rateLimit only when given; fetchMetadata on unless `false`)
 * problemDetails sits second so every refusal of a later step (bad input, 401, EBADCSRFTOKEN) is
 * answered as problem+json with the request id; audit sits before inputGuard so refused bad input
 * is audited too. Route-level steps come from the bundle: `bw.authorize(...)`, `bw.requireConsent(...)`,
 * `bw.bruteForce()`; register `bw.problemDetails()` after the routes for the app's own errors.
 * The plan (which steps, validated options) is core's `planBulwarkBundle`, shared with Koa.
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
      unless: (mw, skip) => (req, res, next) => (skip(req.path) ? next() : mw(req, res, next)),
    },
    options.name ?? 'express',
  );
  const count = steps.length;
  const middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    recorder.request(req, res);
    requestState(req).kit = kit;
    let i = 0;
    // The bundle is its own problemDetails step: a refusal from any later step is answered here.
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null && err !== 'route' && err !== 'router') {
        sendProblem(req, res, err, problemOptions);
        return;
      }
      if (i === count) return next();
      try {
        steps[i++]!(req, res, step);
      } catch (error) {
        sendProblem(req, res, error, problemOptions);
      }
    };
    step();
  };

  return Object.assign(middleware, {
    order: plan.order,
    authorize: (action: string, resource: ResourceSpec, opts: Omit<AuthorizeOptions, 'authorizer'> = {}) =>
      authorize(action, resource, { ...opts, authorizer: kitService(kit, 'authorizer') }),
    requireConsent: (purpose: string) => requireConsent(purpose, { consent: kitService(kit, 'consent') }),
    bruteForce: (opts: Omit<BruteForceGateOptions, 'guard'> = {}) =>
      bruteForce({ ...opts, guard: kitService(kit, 'bruteForce') }),
    problemDetails: () => problemDetails(problemOptions),
    evidence: () => recorder.evidence(),
    close,
  });
}
