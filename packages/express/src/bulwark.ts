import {
  BulwarkConfigError,
  ErrorCodes,
  httpAppEvidence,
  type BruteForceGateOptions,
  type BulwarkHttpKit,
  type InputGuardOptions,
  type RequestAuditorOptions,
  type SecurityHeaderOptions,
} from '@bulwark/core';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { audit, type AuditMiddleware } from './audit';
import { authenticate, type AuthenticateOptions } from './authenticate';
import { authorize, type AuthorizeOptions, type ResourceSpec } from './authorize';
import { bruteForce } from './brute-force';
import { csrf, type ExpressCsrfOptions } from './csrf';
import { inputGuard } from './input-guard';
import { problemDetails, sendProblem, type ProblemDetailsOptions } from './problem-details';
import { requestId } from './request-id';
import { requestState } from './request-state';
import { requireConsent } from './require-consent';
import { securityHeaders } from './security-headers';

export interface BulwarkOptions {
  /** App name in compliance evidence. Default `express`. */
  name?: string;
  securityHeaders?: SecurityHeaderOptions | false;
  inputGuard?: InputGuardOptions | false;
  /** On when the kit has an auditLog. */
  audit?: Omit<RequestAuditorOptions, 'log'> | false;
  /** On when the kit has tokens. `publicPaths`: exact paths (or `/prefix/*`) that skip authentication. */
  authenticate?: (Omit<AuthenticateOptions, 'tokens'> & { publicPaths?: readonly string[] }) | false;
  /** Off unless given (it needs a secret). */
  csrf?: ExpressCsrfOptions | false;
  problemDetails?: ProblemDetailsOptions;
}

/** The bundle: a middleware plus route-level helpers bound to the kit. */
export type BulwarkMiddleware = RequestHandler & {
  /** The steps in the order they run. */
  readonly order: readonly string[];
  authorize(
    action: string,
    resource: ResourceSpec,
    options?: Omit<AuthorizeOptions, 'authorizer'>,
  ): RequestHandler;
  requireConsent(purpose: string): RequestHandler;
  bruteForce(options?: Omit<BruteForceGateOptions, 'guard'>): RequestHandler;
  /** The error handler to register after the routes (errors of the bundle itself are already handled). */
  problemDetails(): ErrorRequestHandler;
  /** The protections enabled, in the compliance engine's HttpAppEvidence shape. */
  evidence(): ReturnType<typeof httpAppEvidence>;
  /** Flushes pending audit events. */
  close(): Promise<void>;
};

function isPublic(path: string, publicPaths: readonly string[]): boolean {
  for (const p of publicPaths) {
    if (p.endsWith('/*') ? path.startsWith(p.slice(0, -1)) || path === p.slice(0, -2) : path === p)
      return true;
  }
  return false;
}

function checkOption(value: unknown, path: string): void {
  if (value !== undefined && value !== false && (typeof value !== 'object' || value === null)) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} must be an options object or false`, {
      path,
    });
  }
}

/**
 * The one-line bundle: `app.use(bulwark(kit, options))`. Runs, in this order:
 *   requestId -> problemDetails -> securityHeaders -> audit -> inputGuard -> authenticate -> csrf
 * problemDetails sits second so every refusal of a later step (bad input, 401, EBADCSRFTOKEN) is
 * answered as problem+json with the request id; audit sits before inputGuard so refused bad input
 * is audited too. Route-level steps come from the bundle: `bw.authorize(...)`, `bw.requireConsent(...)`,
 * `bw.bruteForce()`; register `bw.problemDetails()` after the routes for the app's own errors.
 */
export function bulwark(kit: BulwarkHttpKit, options: BulwarkOptions = {}): BulwarkMiddleware {
  if (typeof kit !== 'object' || kit === null) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'bulwark(kit): kit must be an object of services',
      {
        path: 'kit',
      },
    );
  }
  for (const key of ['securityHeaders', 'inputGuard', 'audit', 'authenticate', 'csrf'] as const) {
    checkOption(options[key], key);
  }
  const order: string[] = ['requestId', 'problemDetails'];
  const steps: RequestHandler[] = [requestId()];
  const problemOptions = options.problemDetails ?? {};

  let headers: Readonly<Record<string, string>> = {};
  if (options.securityHeaders !== false) {
    const mw = securityHeaders(options.securityHeaders ?? {});
    headers = mw.headers;
    steps.push(mw);
    order.push('securityHeaders');
  }
  let auditMw: AuditMiddleware | undefined;
  if (options.audit !== false && (kit.auditLog !== undefined || options.audit !== undefined)) {
    if (kit.auditLog === undefined) {
      throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'audit needs kit.auditLog (an AuditLog)', {
        path: 'kit.auditLog',
      });
    }
    auditMw = audit({ ...options.audit, log: kit.auditLog });
    steps.push(auditMw);
    order.push('audit');
  }
  if (options.inputGuard !== false) {
    steps.push(inputGuard(options.inputGuard ?? {}));
    order.push('inputGuard');
  }
  if (options.authenticate !== false && (kit.tokens !== undefined || options.authenticate !== undefined)) {
    if (kit.tokens === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'authenticate needs kit.tokens (a TokenService)',
        {
          path: 'kit.tokens',
        },
      );
    }
    const { publicPaths = [], ...authOptions } = options.authenticate ?? {};
    if (
      !Array.isArray(publicPaths) ||
      !publicPaths.every((p) => typeof p === 'string' && p.startsWith('/'))
    ) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'authenticate.publicPaths must be paths starting with /',
        {
          path: 'authenticate.publicPaths',
        },
      );
    }
    const mw = authenticate({ ...authOptions, tokens: kit.tokens });
    steps.push(
      publicPaths.length === 0
        ? mw
        : (req, res, next) => (isPublic(req.path, publicPaths) ? next() : mw(req, res, next)),
    );
    order.push('authenticate');
  }
  let csrfEnabled = false;
  if (options.csrf !== undefined && options.csrf !== false) {
    steps.push(csrf(options.csrf));
    order.push('csrf');
    csrfEnabled = true;
  }

  const count = steps.length;
  const middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
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
    order: Object.freeze(order),
    authorize: (action: string, resource: ResourceSpec, opts: Omit<AuthorizeOptions, 'authorizer'> = {}) => {
      if (kit.authorizer === undefined) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'authorize needs kit.authorizer (a PolicyEngine)',
          {
            path: 'kit.authorizer',
          },
        );
      }
      return authorize(action, resource, { ...opts, authorizer: kit.authorizer });
    },
    requireConsent: (purpose: string) => {
      if (kit.consent === undefined) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'requireConsent needs kit.consent (a ConsentManager)',
          {
            path: 'kit.consent',
          },
        );
      }
      return requireConsent(purpose, { consent: kit.consent });
    },
    bruteForce: (opts: Omit<BruteForceGateOptions, 'guard'> = {}) => {
      if (kit.bruteForce === undefined) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          'bruteForce needs kit.bruteForce (a BruteForceGuard)',
          {
            path: 'kit.bruteForce',
          },
        );
      }
      return bruteForce({ ...opts, guard: kit.bruteForce });
    },
    problemDetails: () => problemDetails(problemOptions),
    evidence: () =>
      httpAppEvidence(options.name ?? 'express', headers, {
        enabled: csrfEnabled,
        ...(csrfEnabled ? { method: 'signed-double-submit-cookie' } : {}),
      }),
    close: async () => {
      await auditMw?.close();
    },
  });
}
