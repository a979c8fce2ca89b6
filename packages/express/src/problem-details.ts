import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import { PROBLEM_CONTENT_TYPE, problemFor, type ProblemResponse } from '@bulwark/core/http';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { requestState } from './request-state';

export interface ProblemDetailsOptions {
  /** Receives every 5xx error (the body says nothing of it). Default: console.error. */
  log?: (error: unknown, req: Request) => void;
  /** Realm of the WWW-Authenticate challenge. Default `bulwark`. */
  realm?: string;
}

const defaultLog = (error: unknown): void => console.error(error);

/** Writes `error` as RFC 9457 problem+json; records its code for the audit event. */
export function sendProblem(
  req: Request,
  res: Response,
  error: unknown,
  options: ProblemDetailsOptions = {},
): void {
  const problem: ProblemResponse = problemFor(error, {
    ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
    ...(options.realm !== undefined ? { realm: options.realm } : {}),
    ...(req.bulwark?.authScheme !== undefined ? { scheme: req.bulwark.authScheme } : {}),
  });
  // The audit event gets the precise code and reason (the body may carry a collapsed one).
  const state = requestState(req);
  if (problem.errorCode !== undefined) state.errorCode = problem.errorCode;
  if (problem.errorReason !== undefined) state.errorReason = problem.errorReason;
  if (problem.status >= 500) (options.log ?? defaultLog)(error, req);
  if (res.headersSent) {
    // Too late for a status: end the response so the client sees a truncated reply, not a hang.
    res.destroy();
    return;
  }
  res.statusCode = problem.status;
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : JSON.stringify(problem.body));
}

/**
 * Express error handler (register after the routes): every error becomes application/problem+json,
 * Bulwark errors with their 4xx status, anything unknown a 500 that leaks no message or stack.
 */
export function problemDetails(options: ProblemDetailsOptions = {}): ErrorRequestHandler {
  if (options.log !== undefined && typeof options.log !== 'function') {
    throw new TypeError('problemDetails: log must be a function');
  }
  return (err, req, res, _next) => sendProblem(req, res, err, options);
}

/**
 * Catch-all for unmatched routes (register after the routes, before `problemDetails()`): a 404
 * application/problem+json instead of Express's HTML page, so every error the app returns has one
 * shape (Koa's bundle does this itself).
 */
export function notFound(options: ProblemDetailsOptions = {}): RequestHandler {
  return (req, res) =>
    sendProblem(
      req,
      res,
      new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.'),
      options,
    );
}
