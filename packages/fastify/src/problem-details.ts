import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import {
  fastifyFrameworkError,
  PROBLEM_CONTENT_TYPE,
  problemFor,
  type ProblemResponse,
} from '@bulwark/core/http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { requestState } from './request-state';

export interface ProblemDetailsOptions {
  /** Receives every 5xx error (the body says nothing of it). Default: `request.log.error`. */
  log?: (error: unknown, request: FastifyRequest) => void;
  /** Realm of the WWW-Authenticate challenge. Default `bulwark`. */
  realm?: string;
  /** Answer unmatched routes as a 404 problem+json (Fastify's not-found handler). Default true. */
  notFound?: boolean;
}

/**
 * Bulwark's refusal for an error Fastify raised itself before the handler: its body parser
 * (too large, invalid JSON, unsupported media type, `__proto__` keys refused by secure-json-parse),
 * its router (bad URL, over-long parameter) and schema validation; the parser's message is never
 * used. `undefined` for anything else. Core's `fastifyFrameworkError` (NestJS on Fastify uses it too).
 */
export const fastifyProblem: (error: unknown) => BulwarkHttpError | undefined = fastifyFrameworkError;

const answered = new WeakSet<FastifyRequest>();

/** Whether `sendProblem` answered the request (Bulwark's error handler, not another one). */
export function answeredByBulwark(request: FastifyRequest): boolean {
  return answered.has(request);
}

/** Writes `error` as RFC 9457 problem+json on the reply; records its code for the audit event. */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  options: ProblemDetailsOptions = {},
): FastifyReply {
  answered.add(request);
  const problem: ProblemResponse = problemFor(fastifyProblem(error) ?? error, {
    ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
    ...(options.realm !== undefined ? { realm: options.realm } : {}),
    ...(request.bulwark?.authScheme !== undefined ? { scheme: request.bulwark.authScheme } : {}),
  });
  // The audit event gets the precise code and reason (the body may carry a collapsed one).
  const state = requestState(request);
  if (problem.errorCode !== undefined) state.errorCode = problem.errorCode;
  if (problem.errorReason !== undefined) state.errorReason = problem.errorReason;
  if (problem.status >= 500) {
    if (options.log !== undefined) options.log(error, request);
    else request.log.error({ err: error }, 'request failed');
  }
  if (reply.sent || reply.raw.headersSent) {
    // Too late for a status: end the response so the client sees a truncated reply, not a hang.
    reply.raw.destroy();
    return reply;
  }
  reply.code(problem.status);
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  reply.header('content-type', PROBLEM_CONTENT_TYPE);
  reply.header('cache-control', 'no-store');
  return reply.send(JSON.stringify(problem.body));
}

/** The 404 refusal for a URL no route matches. */
export function notFoundError(): BulwarkHttpError {
  return new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No resource at this URL.');
}

/**
 * Problem details on their own, for an app that composes the hooks itself (the `bulwark` plugin
 * does this already): Fastify's error handler and not-found handler answer every error as
 * application/problem+json, Bulwark errors and Fastify's own refusals with their 4xx status,
 * anything unknown a 500 that leaks no message or stack. Not encapsulated (fastify-plugin).
 */
export function problemDetails(options: ProblemDetailsOptions = {}): FastifyPluginAsync {
  if (options.log !== undefined && typeof options.log !== 'function') {
    throw new TypeError('problemDetails: log must be a function');
  }
  const plugin = async (fastify: FastifyInstance): Promise<void> => {
    fastify.setErrorHandler((error, request, reply) => sendProblem(request, reply, error, options));
    if (options.notFound !== false) {
      fastify.setNotFoundHandler((request, reply) => sendProblem(request, reply, notFoundError(), options));
    }
  };
  return fp(plugin, { fastify: '5.x', name: '@bulwark/fastify/problem-details' });
}
