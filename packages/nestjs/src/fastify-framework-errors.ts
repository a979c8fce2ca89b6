import type { ServerResponse } from 'node:http';
import type { ArgumentsHost } from '@nestjs/common';
import { fastifyFrameworkError, writeNodeProblem } from '@bulwark/core/http';
import { problemFor } from './core-http';

/**
 * The request Fastify hands `frameworkErrors` (only what Bulwark reads; typed loosely enough that
 * Fastify's own request type, with its HTTP/2 variants, fits).
 */
export interface FrameworkErrorRequest {
  /** The Fastify instance the request came to (the adapter's `getInstance()`). */
  readonly server: object;
  /** The Node request. */
  readonly raw: object;
}

/** The reply Fastify hands `frameworkErrors`: its `raw` is the Node response. */
export interface FrameworkErrorReply {
  readonly raw: object;
}

type FrameworkErrorsHandler = (
  error: Error,
  request: FrameworkErrorRequest,
  reply: FrameworkErrorReply,
) => void;

/** BulwarkModule's answer per Fastify instance, registered when the module configures its routes. */
const handlers = new WeakMap<object, FrameworkErrorsHandler>();

/** @internal Used by BulwarkModule.configure on @nestjs/platform-fastify. */
export function answerFrameworkErrors(instance: object, handler: FrameworkErrorsHandler): void {
  handlers.set(instance, handler);
}

/**
 * For the `frameworkErrors` option of @nestjs/platform-fastify's adapter:
 * `new FastifyAdapter({ frameworkErrors: bulwarkFrameworkErrors })`.
 *
 * Fastify's router refuses some URLs before any hook, middleware or Nest error handler runs (a
 * malformed percent-encoding, a route parameter longer than `maxParamLength`) and answers them
 * itself, with a JSON body that quotes the URL and none of Bulwark's headers. With this option
 * BulwarkModule answers them as its other refusals: its middleware steps run (request id,
 * security headers, Fetch Metadata, the input guard's checks of the URL), then
 * BulwarkExceptionFilter answers 400 problem+json with a fixed detail (`ERR_HTTP_BAD_REQUEST`,
 * `location: 'path'`), audited like an unmatched route (with `audit.allRequests`).
 *
 * Before the module is configured (or on an instance without it), the answer is the same 400
 * problem+json without the module's steps: never Fastify's body.
 */
export function bulwarkFrameworkErrors(
  error: Error,
  request: FrameworkErrorRequest,
  reply: FrameworkErrorReply,
): void {
  const handler = handlers.get(request.server);
  if (handler !== undefined) {
    try {
      handler(error, request, reply);
      return;
    } catch {
      // Answered below: a throw here would escape Fastify's router.
    }
  }
  answerAlone(error, reply.raw as ServerResponse);
}

/** The refusal without the module's steps: problem+json, no store, never Fastify's body. */
function answerAlone(error: Error, res: ServerResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  writeNodeProblem(res, problemFor(fastifyFrameworkError(error) ?? error, {}));
}

/** The ArgumentsHost of an HTTP request outside Nest's routing (for the exception filter). */
export function httpArgumentsHost(request: unknown, reply: unknown): ArgumentsHost {
  const http = {
    getRequest: <T>() => request as T,
    getResponse: <T>() => reply as T,
    getNext: <T>() => undefined as T,
  };
  return {
    getType: <T extends string>() => 'http' as T,
    getArgs: <T extends unknown[]>() => [request, reply] as unknown as T,
    getArgByIndex: <T>(index: number) => [request, reply][index] as T,
    switchToHttp: () => http,
    switchToRpc: () => {
      throw new Error('not an RPC context');
    },
    switchToWs: () => {
      throw new Error('not a websocket context');
    },
  } as ArgumentsHost;
}
