import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { assembleBundleSteps, planBulwarkBundle, type HttpAppEvidence } from '@bulwark/core/http';
import type { ServerResponse } from 'node:http';
import type { BulwarkModuleOptions } from './bulwark-module-options';
import { cors } from './cors';
import { csrf, type BulwarkCsrfOptions } from './csrf';
import { fetchMetadata } from './fetch-metadata';
import { inputGuard } from './input-guard';
import type { MiddlewareRequest, PlatformMiddleware } from './platform-middleware';
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
}

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
  const secured = new WeakSet<object>();
  let headerStep: PlatformMiddleware | undefined;
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
            secured.add(req);
            mw(req, res, next);
          },
          { headers: mw.headers },
        );
      },
      inputGuard,
      csrf,
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
      if (headerStep === undefined || secured.has(req) || res.headersSent) return;
      secured.add(req);
      headerStep(req, res, () => undefined);
    },
    evidence: () => built.recorder.evidence(),
  };
}
