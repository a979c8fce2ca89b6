import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import { PROBLEM_CONTENT_TYPE, problemFor } from '@bulwark/core/http';
import type { Context, Middleware } from 'koa';
import { bulwarkState, requestState } from './request-state';

export interface ProblemDetailsOptions {
  /** Receives every 5xx error (the body says nothing of it). Default: console.error. */
  log?: (error: unknown, ctx: Context) => void;
  /** Realm of the WWW-Authenticate challenge. Default `bulwark`. */
  realm?: string;
  /** Answer unmatched routes (404 with no body) as problem+json too. Default true. */
  notFound?: boolean;
}

const defaultLog = (error: unknown): void => console.error(error);

/** Writes `error` as RFC 9457 problem+json on the context; records its code for the audit event. */
export function sendProblem(ctx: Context, error: unknown, options: ProblemDetailsOptions = {}): void {
  const requestId = bulwarkState(ctx).requestId;
  const authScheme = bulwarkState(ctx).bulwark?.authScheme;
  const problem = problemFor(error, {
    ...(requestId !== undefined ? { requestId } : {}),
    ...(options.realm !== undefined ? { realm: options.realm } : {}),
    ...(authScheme !== undefined ? { scheme: authScheme } : {}),
  });
  // The audit event gets the precise code and reason (the body may carry a collapsed one).
  const state = requestState(ctx);
  if (problem.errorCode !== undefined) state.errorCode = problem.errorCode;
  if (problem.errorReason !== undefined) state.errorReason = problem.errorReason;
  if (problem.status >= 500) (options.log ?? defaultLog)(error, ctx);
  if (ctx.headerSent) {
    ctx.res.destroy();
    return;
  }
  ctx.status = problem.status;
  for (const [name, value] of Object.entries(problem.headers)) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  ctx.type = PROBLEM_CONTENT_TYPE;
  ctx.body = JSON.stringify(problem.body);
}

/**
 * Koa error-catching middleware (put it first): every error thrown downstream becomes
 * application/problem+json, Bulwark errors with their 4xx status, anything unknown a 500 that
 * leaks no message or stack.
 */
export function problemDetails(options: ProblemDetailsOptions = {}): Middleware {
  if (options.log !== undefined && typeof options.log !== 'function') {
    throw new TypeError('problemDetails: log must be a function');
  }
  const notFound = options.notFound !== false;
  return async (ctx, next) => {
    try {
      await next();
      if (notFound && ctx.status === 404 && ctx.body == null) {
        sendProblem(
          ctx,
          new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.'),
          options,
        );
      }
    } catch (err) {
      sendProblem(ctx, err, options);
    }
  };
}
