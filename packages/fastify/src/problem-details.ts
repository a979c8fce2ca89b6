import { BulwarkHttpError, ErrorCodes } from '@bulwark/core';
import { PROBLEM_CONTENT_TYPE, problemFor, type ProblemResponse } from '@bulwark/core/http';
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

type FastifyErrorShape = { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };

/** Fastify's own refusals (body parser, content type, schema validation) by `err.code`. */
const FASTIFY_CODES: Readonly<Record<string, readonly [code: string, status: number, detail: string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [ErrorCodes.HTTP_BODY_TOO_LARGE, 413, 'The request body is too large.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body media type is not supported.',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    ErrorCodes.HTTP_BAD_REQUEST,
    400,
    'The request body size does not match its Content-Length.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: [ErrorCodes.HTTP_MALFORMED_BODY, 400, 'The request body is not valid JSON.'],
  FST_ERR_CTP_INVALID_JSON_BODY: [ErrorCodes.HTTP_MALFORMED_BODY, 400, 'The request body is not valid JSON.'],
  FST_ERR_CTP_EMPTY_TYPE: [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body has no media type.',
  ],
  FST_ERR_CTP_INVALID_TYPE: [
    ErrorCodes.HTTP_UNSUPPORTED_MEDIA_TYPE,
    415,
    'The request body media type is not valid.',
  ],
  FST_ERR_BAD_URL: [ErrorCodes.HTTP_BAD_REQUEST, 400, 'The request URL is not valid.'],
  FST_ERR_MAX_PARAM_LENGTH: [ErrorCodes.HTTP_BAD_REQUEST, 400, 'A URL parameter is too long.'],
};

/**
 * Bulwark's refusal for an error Fastify raised itself before the handler: its body parser
 * (too large, invalid JSON, unsupported media type, `__proto__` keys refused by secure-json-parse)
 * and schema validation. The parser's message is never used (for invalid JSON it quotes the body,
 * which may be personal data); a validation message is kept when it is short plain ASCII (Ajv's
 * `body/name must be string` names schema paths, not values). `undefined` for anything else.
 */
export function fastifyProblem(error: unknown): BulwarkHttpError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as FastifyErrorShape;
  const status = e.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (e.validation !== undefined || e.code === 'FST_ERR_VALIDATION') {
    const message = typeof e.message === 'string' ? e.message : '';
    const detail =
      message.length > 0 && message.length <= 200 && /^[\x20-\x7e]+$/.test(message)
        ? message
        : 'The request does not match the route schema.';
    return new BulwarkHttpError(
      ErrorCodes.HTTP_BAD_REQUEST,
      400,
      detail,
      { location: 'schema' },
      { cause: error },
    );
  }
  if (typeof e.code === 'string' && Object.hasOwn(FASTIFY_CODES, e.code)) {
    const [code, s, detail] = FASTIFY_CODES[e.code]!;
    const location = e.code === 'FST_ERR_BAD_URL' || e.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'path' : 'body';
    return new BulwarkHttpError(code, s, detail, { location }, { cause: error });
  }
  // secure-json-parse / JSON.parse errors Fastify's JSON parser tags with statusCode 400.
  if (error instanceof SyntaxError && status === 400) {
    return new BulwarkHttpError(
      ErrorCodes.HTTP_MALFORMED_BODY,
      400,
      'The request body is not valid JSON.',
      { location: 'body' },
      { cause: error },
    );
  }
  return undefined;
}

/** Writes `error` as RFC 9457 problem+json on the reply; records its code for the audit event. */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  options: ProblemDetailsOptions = {},
): FastifyReply {
  const problem: ProblemResponse = problemFor(fastifyProblem(error) ?? error, {
    ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
    ...(options.realm !== undefined ? { realm: options.realm } : {}),
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
